//! Errors in the `OpenAI` shape, and the status code of each error class.
//!
//! Every error the gateway answers is `{"error": {"message", "type", "code", "param"}}`, the
//! body `OpenAI` clients parse. The status follows who is at fault: the caller's mistakes are
//! 4xx; a failure of every upstream model tried is a gateway error (5xx), because the caller
//! cannot fix it by changing the request. An upstream `401` in particular is the gateway's key
//! that failed, not the caller's, so it is a `502`, never a `401` the client would take for its
//! own credentials.
//!
//! | class | status | `type` | `code` |
//! |---|---|---|---|
//! | `invalid_request` | 400 | `invalid_request_error` | `invalid_request` |
//! | `context_length` | 400 | `invalid_request_error` | `context_length_exceeded` |
//! | `content_filter` | 400 | `invalid_request_error` | `content_filter` |
//! | `cancelled` | 400 | `invalid_request_error` | `cancelled` |
//! | `not_found` | 404 | `invalid_request_error` | `model_not_found` |
//! | `resource_exhausted` (quota) | 402 | `insufficient_quota` | `insufficient_quota` |
//! | `rate_limited` | 429 | `rate_limit_error` | `rate_limit_exceeded` |
//! | `overloaded` | 503 | `server_error` | `overloaded` |
//! | `resource_exhausted` (memory, disk, other) | 503 | `server_error` | `resource_exhausted` |
//! | `timeout` | 504 | `server_error` | `upstream_timeout` |
//! | `auth` | 502 | `upstream_error` | `upstream_auth_failed` |
//! | `network` | 502 | `upstream_error` | `upstream_unreachable` |
//! | `internal` | 502 | `upstream_error` | `upstream_failed` |
//!
//! A `429` or `503` whose class carries `retry_after` also sends a `retry-after` header, in whole
//! seconds rounded up.
//!
//! An error that came from an upstream model keeps what the upstream said: its `message`
//! verbatim, and its own `type`, `code` and `param` when its error body had them (each falls
//! back to the table above when it did not). The status is always the table's, so a caller
//! never reads an upstream `401` as its own. The model that failed is named in a field of its
//! own, `model`, which `OpenAI` clients ignore; it is left out when no model was involved.
//!
//! The gateway's own refusals use the same shape: a body that is not a chat request is `400`
//! (`invalid_json`, the message naming the JSON path, line and column), a parameter out of its
//! range is `400` (`invalid_value`, `param` naming it), a body over the limit `413`
//! (`request_too_large`), a body still arriving at `server.body_read_timeout` `408`
//! (`request_timeout`), an unknown model id in `GET /v1/models/{id}` `404` (`model_not_found`),
//! an unknown path `404` (`unknown_url`) and a wrong method `405` (`method_not_allowed`).

use std::borrow::Cow;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use orkestra_core::{Error, ErrorCategory, ErrorClass, Resource};
use serde::Serialize;

use crate::connection::BodyTimedOut;

/// An error answered in the `OpenAI` shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `type` field: `invalid_request_error`, `rate_limit_error`, `server_error`, ...
    pub kind: Cow<'static, str>,
    /// The `code` field, a stable name for programs.
    pub code: Option<Cow<'static, str>>,
    /// What went wrong, for people.
    pub message: String,
    /// The request field at fault, when known.
    pub param: Option<String>,
    /// The model the error came from, when one was involved.
    pub model: Option<String>,
    /// How long the caller should wait before trying again, sent as `retry-after`.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// An error of the caller's request: `400 invalid_request_error`.
    pub fn invalid_request(
        code: &'static str,
        message: impl Into<String>,
        param: Option<String>,
    ) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: Cow::Borrowed("invalid_request_error"),
            code: Some(Cow::Borrowed(code)),
            message: message.into(),
            param,
            model: None,
            retry_after: None,
        }
    }

    /// A body over the configured limit: `413 request_too_large`.
    pub fn too_large(limit: usize) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            ..Self::invalid_request(
                "request_too_large",
                format!("the request body exceeds the limit of {limit} bytes (server.body_limit)"),
                None,
            )
        }
    }

    /// A body still arriving at its deadline: `408 request_timeout`.
    pub(crate) fn body_timeout(timed_out: &BodyTimedOut) -> Self {
        Self {
            status: StatusCode::REQUEST_TIMEOUT,
            ..Self::invalid_request("request_timeout", timed_out.to_string(), None)
        }
    }

    /// A model id that is not served: `404 model_not_found`, naming `model` as the parameter.
    pub fn model_not_found(id: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            ..Self::invalid_request(
                "model_not_found",
                format!("the model `{id}` does not exist: GET /v1/models lists the models served"),
                Some("model".to_owned()),
            )
        }
    }

    /// The answer to a failed call, by the class table in the [module docs](self), keeping
    /// what an upstream said.
    pub fn from_error(error: &Error) -> Self {
        let (status, kind, code) = classify(&error.class);
        let retry_after = match status {
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                error.class.retry_after
            }
            _ => None,
        };
        let upstream = error.upstream.as_deref();
        let owned = |field: Option<&Option<String>>, ours: &'static str| {
            field
                .and_then(Option::as_ref)
                .map_or(Cow::Borrowed(ours), |theirs| Cow::Owned(theirs.clone()))
        };
        Self {
            status,
            kind: owned(upstream.map(|details| &details.kind), kind),
            code: Some(owned(upstream.map(|details| &details.code), code)),
            message: error.message.clone(),
            param: upstream.and_then(|details| details.param.clone()),
            model: error.model.clone(),
            retry_after,
        }
    }

    /// The `{"error": {...}}` body.
    pub fn body(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Envelope<'a> {
            error: Fields<'a>,
        }
        #[derive(Serialize)]
        struct Fields<'a> {
            message: &'a str,
            #[serde(rename = "type")]
            kind: &'a str,
            code: Option<&'a str>,
            param: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            model: Option<&'a str>,
        }
        let envelope = Envelope {
            error: Fields {
                message: &self.message,
                kind: &self.kind,
                code: self.code.as_deref(),
                param: self.param.as_deref(),
                model: self.model.as_deref(),
            },
        };
        // Serializing borrowed strings into a vector cannot fail.
        serde_json::to_vec(&envelope).unwrap_or_default()
    }
}

/// Status, `type` and `code` of an error class.
pub fn classify(class: &ErrorClass) -> (StatusCode, &'static str, &'static str) {
    const INVALID: &str = "invalid_request_error";
    const SERVER: &str = "server_error";
    const UPSTREAM: &str = "upstream_error";
    match class.category {
        ErrorCategory::InvalidRequest => (StatusCode::BAD_REQUEST, INVALID, "invalid_request"),
        ErrorCategory::ContextLength => {
            (StatusCode::BAD_REQUEST, INVALID, "context_length_exceeded")
        }
        ErrorCategory::ContentFilter => (StatusCode::BAD_REQUEST, INVALID, "content_filter"),
        ErrorCategory::Cancelled => (StatusCode::BAD_REQUEST, INVALID, "cancelled"),
        ErrorCategory::NotFound => (StatusCode::NOT_FOUND, INVALID, "model_not_found"),
        ErrorCategory::ResourceExhausted(Resource::Quota) => (
            StatusCode::PAYMENT_REQUIRED,
            "insufficient_quota",
            "insufficient_quota",
        ),
        ErrorCategory::ResourceExhausted(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            SERVER,
            "resource_exhausted",
        ),
        ErrorCategory::RateLimited => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "rate_limit_exceeded",
        ),
        ErrorCategory::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, SERVER, "overloaded"),
        ErrorCategory::Timeout => (StatusCode::GATEWAY_TIMEOUT, SERVER, "upstream_timeout"),
        ErrorCategory::Auth => (StatusCode::BAD_GATEWAY, UPSTREAM, "upstream_auth_failed"),
        ErrorCategory::Network => (StatusCode::BAD_GATEWAY, UPSTREAM, "upstream_unreachable"),
        // Internal, and any category added later: the upstream failed in a way we cannot name.
        _ => (StatusCode::BAD_GATEWAY, UPSTREAM, "upstream_failed"),
    }
}

/// `retry-after` in whole seconds, rounded up so a client never comes back too early.
fn retry_after_seconds(after: Duration) -> u64 {
    let seconds = after.as_secs();
    if after.subsec_nanos() > 0 {
        seconds + 1
    } else {
        seconds
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body()));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(after) = self.retry_after {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_seconds(after)),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests;
