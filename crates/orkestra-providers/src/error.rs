//! Classification: every way a provider call fails becomes an [`orkestra_core::Error`] with
//! its [`ErrorClass`], whatever the wire format.
//!
//! The functions here know the three error body shapes (`OpenAI`, Anthropic, Ollama) and the
//! wordings servers use, so every client shares one table. Clients add the provider and model
//! with [`Error::with_provider`] and [`Error::with_model`].
//!
//! # HTTP status
//!
//! | status | category | retryable | why |
//! |---|---|---|---|
//! | 400, 413, 422, other 4xx | `invalid_request` | no | the caller must change the request |
//! | 401, 403 | `auth` | no | try another key or provider, never the same one |
//! | 402 | `resource_exhausted(quota)` | no | the account is out of credit: like `auth`, only money helps, and the class says which resource |
//! | 404 | `not_found` | no | unknown model or route |
//! | 408 | `timeout` | yes | the server gave up waiting for us |
//! | 409 | `internal` | yes | a conflict on the server's side; `OpenAI`'s own SDKs retry it |
//! | 429 | `rate_limited` | yes | honours `Retry-After` |
//! | 500, 502, other 5xx | `internal` | yes | |
//! | 503, 529 | `overloaded` | yes | |
//! | 504 | `timeout` | yes | a gateway in front of the model gave up |
//!
//! The body, when it says more, wins over the status: a context-length code or wording gives
//! `context_length`, a content-policy code `content_filter`, `insufficient_quota` (which
//! `OpenAI` sends with 429) `resource_exhausted(quota)`, a rate-limit code `rate_limited`,
//! `overloaded_error` `overloaded`. `Retry-After` (seconds or an HTTP date), `retry-after-ms`
//! and, on a 429 without them, `x-ratelimit-reset-requests` / `-tokens` set `retry_after` on
//! any status.
//!
//! # Everything else
//!
//! | failure | category | retryable |
//! |---|---|---|
//! | connection refused, reset, closed early | `network` | yes |
//! | connect, first-byte, idle or total timeout (named in the message) | `timeout` | yes |
//! | response body over the size cap | `internal` | no: the same call returns the same body |
//! | malformed JSON, wrong content type, malformed SSE | `internal` | yes: often a proxy's error page |
//! | a stream that ends without its terminator | `network` | yes |
//!
//! A stream that ends without its terminator (`[DONE]`, `message_stop`, `done: true`) is a cut
//! connection: a proxy or the server dropped it mid-answer. The answer is incomplete, so it is
//! an error, never a truncated success; calling again can succeed, so it is retryable, and it
//! is `network` rather than `internal` because nothing the server said was wrong.

use std::error::Error as StdError;
use std::time::{Duration, SystemTime};

use orkestra_core::{Error, ErrorCategory, ErrorClass, Resource, UpstreamDetails};
use reqwest::header::HeaderMap;
use serde_json::Value;

/// Which of the HTTP timeouts fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum TimeoutKind {
    /// Opening the TCP (and TLS) connection.
    Connect,
    /// Waiting for the response headers after sending the request.
    FirstByte,
    /// Waiting for the next body chunk.
    Idle,
    /// The whole call, from sending to the last body byte.
    Total,
}

impl TimeoutKind {
    /// The configuration name of this timeout, as in [`crate::HttpConfig`].
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect_timeout",
            Self::FirstByte => "first_byte_timeout",
            Self::Idle => "idle_timeout",
            Self::Total => "total_timeout",
        }
    }
}

/// A timeout error: which timeout fired and its limit.
pub(crate) fn timeout(kind: TimeoutKind, limit: Duration) -> Error {
    let what = match kind {
        TimeoutKind::Connect => "no connection",
        TimeoutKind::FirstByte => "no response headers",
        TimeoutKind::Idle => "no body bytes",
        TimeoutKind::Total => "call not finished",
    };
    Error::new(
        ErrorCategory::Timeout,
        format!("{what} within {limit:?} ({})", kind.as_str()),
    )
}

/// A provider's error body, read from any of the three shapes:
///
/// - `OpenAI` and most compatible servers: `{"error": {"message", "type", "param", "code"}}`;
/// - Anthropic: `{"type": "error", "error": {"type", "message"}}`;
/// - Ollama: `{"error": "..."}`;
///
/// and two looser ones seen in the wild: vLLM's `{"object": "error", "message", "type",
/// "code"}` and `FastAPI`'s `{"detail": "..."}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) struct ErrorBody {
    /// The human-readable message.
    pub message: Option<String>,
    /// The error `type` (`invalid_request_error`, `rate_limit_error`, ...).
    pub kind: Option<String>,
    /// The error `code` (`context_length_exceeded`, ...), numbers written as text.
    pub code: Option<String>,
    /// The request parameter at fault, when named.
    pub param: Option<String>,
}

impl ErrorBody {
    /// Reads an error body; `None` when `body` is not JSON or has no recognisable error.
    pub(crate) fn parse(body: &[u8]) -> Option<Self> {
        let value: Value = serde_json::from_slice(body).ok()?;
        Self::from_value(&value)
    }

    /// Reads an error from a parsed JSON value (an in-stream `error` event, for instance).
    pub(crate) fn from_value(value: &Value) -> Option<Self> {
        let object = value.as_object()?;
        match object.get("error") {
            Some(Value::String(message)) => Some(Self {
                message: Some(message.clone()),
                ..Self::default()
            }),
            Some(Value::Object(error)) => Some(Self::from_fields(error)),
            _ => {
                if let Some(Value::String(detail)) = object.get("detail") {
                    return Some(Self {
                        message: Some(detail.clone()),
                        ..Self::default()
                    });
                }
                object
                    .get("message")
                    .is_some_and(Value::is_string)
                    .then(|| Self::from_fields(object))
            }
        }
    }

    fn from_fields(fields: &serde_json::Map<String, Value>) -> Self {
        let text = |key: &str| match fields.get(key) {
            Some(Value::String(text)) => Some(text.clone()),
            Some(Value::Number(number)) => Some(number.to_string()),
            _ => None,
        };
        Self {
            message: text("message"),
            kind: text("type"),
            code: text("code"),
            param: text("param"),
        }
    }

    /// What the body says the failure is, when it says something more precise than a status.
    pub(crate) fn category(&self) -> Option<ErrorCategory> {
        let code = self.code.as_deref().unwrap_or_default();
        let kind = self.kind.as_deref().unwrap_or_default();
        let message = self
            .message
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let is = |names: &[&str]| names.iter().any(|name| code == *name || kind == *name);
        let says = |phrases: &[&str]| phrases.iter().any(|phrase| message.contains(phrase));

        if is(&[
            "context_length_exceeded",
            "exceed_context_size_error",
            "context_window_exceeded",
        ]) || says(&[
            "maximum context length",
            "context length",
            "context_length_exceeded",
            "context window",
            "context size",
            "prompt is too long",
            "input is too long",
        ]) {
            return Some(ErrorCategory::ContextLength);
        }
        if is(&[
            "content_filter",
            "content_policy_violation",
            "content_filter_error",
        ]) || says(&[
            "content management policy",
            "content policy",
            "content filter",
        ]) {
            return Some(ErrorCategory::ContentFilter);
        }
        if is(&[
            "insufficient_quota",
            "billing_hard_limit_reached",
            "billing_error",
        ]) || says(&[
            "exceeded your current quota",
            "insufficient credits",
            "credit balance is too low",
        ]) {
            return Some(ErrorCategory::ResourceExhausted(Resource::Quota));
        }
        if is(&["rate_limit_exceeded", "rate_limit_error", "rate_limit"]) || says(&["rate limit"]) {
            return Some(ErrorCategory::RateLimited);
        }
        if is(&["overloaded_error", "overloaded", "server_overloaded"]) || says(&["overloaded"]) {
            return Some(ErrorCategory::Overloaded);
        }
        if is(&[
            "invalid_api_key",
            "authentication_error",
            "permission_error",
            "permission_denied",
        ]) {
            return Some(ErrorCategory::Auth);
        }
        if is(&["model_not_found", "not_found_error"]) {
            return Some(ErrorCategory::NotFound);
        }
        None
    }

    /// The classified error this body describes, `category` unless the body says more: the
    /// upstream's message exactly as it wrote it, and its `type`, `code` and `param` in
    /// [`Error::upstream`], so a gateway can pass them on unchanged.
    pub(crate) fn into_error(self, category: ErrorCategory) -> Error {
        let category = self.category().unwrap_or(category);
        self.into_error_of(ErrorClass::new(category))
    }

    fn into_error_of(self, class: ErrorClass) -> Error {
        let message = match self.message {
            Some(message) => message,
            None => match self.code.as_deref().or(self.kind.as_deref()) {
                Some(label) => format!("{label} (the error body has no message)"),
                None => "an error body without a message".to_owned(),
            },
        };
        let error = Error::with_class(class, message);
        if self.kind.is_none() && self.code.is_none() && self.param.is_none() {
            return error;
        }
        error.with_upstream(UpstreamDetails::new(self.kind, self.code, self.param))
    }
}

/// The category an HTTP status means on its own (see the [module docs](self)).
pub(crate) const fn status_category(status: u16) -> ErrorCategory {
    match status {
        401 | 403 => ErrorCategory::Auth,
        402 => ErrorCategory::ResourceExhausted(Resource::Quota),
        404 => ErrorCategory::NotFound,
        408 | 504 => ErrorCategory::Timeout,
        429 => ErrorCategory::RateLimited,
        503 | 529 => ErrorCategory::Overloaded,
        400..=499 if status != 409 => ErrorCategory::InvalidRequest,
        _ => ErrorCategory::Internal,
    }
}

/// Classifies a non-success HTTP answer from its status, headers and (possibly truncated) body.
pub(crate) fn from_status(status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    from_status_at(status, headers, body, SystemTime::now())
}

/// [`from_status`] with the current time given, for `Retry-After` dates.
pub(crate) fn from_status_at(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Error {
    let parsed = ErrorBody::parse(body);
    let category = parsed
        .as_ref()
        .and_then(ErrorBody::category)
        .unwrap_or_else(|| status_category(status));
    let mut class = ErrorClass::new(category);
    if let Some(after) = retry_after_at(headers, now, category == ErrorCategory::RateLimited) {
        class = class.with_retry_after(after);
    }
    let error = match parsed {
        Some(parsed) => parsed.into_error_of(class),
        None if body.is_empty() => Error::with_class(class, "empty error body"),
        None => {
            let kind = content_type(headers).unwrap_or("no content type");
            Error::with_class(
                class,
                format!("non-JSON error body ({kind}): {}", snippet(body)),
            )
        }
    };
    error.with_status(status)
}

/// Classifies an `error` object a server sent inside a stream (after a 200 status).
pub(crate) fn from_stream_error(value: &Value) -> Error {
    ErrorBody::from_value(value)
        .unwrap_or_default()
        .into_error(ErrorCategory::Internal)
}

/// How long the server asked us to wait, from `retry-after-ms`, `Retry-After` (seconds or an
/// HTTP date), or with `rate_limit_headers` `x-ratelimit-reset-requests` / `-tokens`
/// (`OpenAI`'s `"6m0s"` form; the longer of the two).
pub(crate) fn retry_after_at(
    headers: &HeaderMap,
    now: SystemTime,
    rate_limit_headers: bool,
) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(millis) = header("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok())
        && millis.is_finite()
        && millis >= 0.0
    {
        return Some(Duration::from_secs_f64(millis / 1000.0));
    }
    if let Some(value) = header("retry-after").map(str::trim) {
        if let Ok(seconds) = value.parse::<f64>()
            && seconds.is_finite()
            && seconds >= 0.0
        {
            return Some(Duration::from_secs_f64(seconds.min(1e9)));
        }
        if let Ok(date) = httpdate::parse_http_date(value) {
            return Some(date.duration_since(now).unwrap_or(Duration::ZERO));
        }
    }
    if rate_limit_headers {
        return ["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"]
            .into_iter()
            .filter_map(|name| header(name).and_then(parse_go_duration))
            .max();
    }
    None
}

/// Parses a Go-style duration such as `1s`, `6m0s`, `20ms`, `1h2m3.5s`.
fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0_f64;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit_end..];
    }
    (total.is_finite() && total < 1e9).then(|| Duration::from_secs_f64(total))
}

/// Classifies a `reqwest` failure (connect, send, body read).
///
/// Timeouts we enforce ourselves come from [`timeout`]; the only `reqwest` timeout configured
/// is the connect timeout.
pub(crate) fn from_reqwest(error: reqwest::Error) -> Error {
    let cause = root_cause(&error);
    let (category, message) = if error.is_builder() {
        (
            ErrorCategory::InvalidRequest,
            format!("invalid request: {cause}"),
        )
    } else if error.is_timeout() {
        let kind = if error.is_connect() {
            TimeoutKind::Connect
        } else {
            TimeoutKind::Total
        };
        (
            ErrorCategory::Timeout,
            format!("{cause} ({})", kind.as_str()),
        )
    } else if error.is_connect() {
        (
            ErrorCategory::Network,
            format!(
                "connect failed: {}",
                io_description(&error).unwrap_or(cause)
            ),
        )
    } else if error.is_body() || error.is_decode() {
        // `reqwest` reports a connection lost mid-body as a body or a decode error; only one
        // without an I/O cause is a body that is really undecodable.
        match io_description(&error) {
            Some(lost) => (ErrorCategory::Network, format!("body read failed: {lost}")),
            None if error.is_decode() => (
                ErrorCategory::Internal,
                format!("body could not be decoded: {cause}"),
            ),
            None => (ErrorCategory::Network, format!("body read failed: {cause}")),
        }
    } else if error.is_request() {
        (
            ErrorCategory::Network,
            format!(
                "request failed: {}",
                io_description(&error).unwrap_or(cause)
            ),
        )
    } else {
        (ErrorCategory::Internal, cause)
    };
    Error::new(category, message).with_source(error)
}

/// Classifies a failure while reading a response body from `hyper_util`'s client: the
/// connection was lost, or the server sent something that is not HTTP/1.1. Every one is
/// `network`, retryable. Timeouts we enforce ourselves come from [`timeout`].
pub(crate) fn from_hyper(error: hyper::Error) -> Error {
    let reason = if error.is_parse() || error.is_parse_status() {
        format!("the answer is not valid HTTP/1.1: {}", root_cause(&error))
    } else if error.is_incomplete_message() {
        "connection closed before the response was complete".to_owned()
    } else {
        io_description(&error).unwrap_or_else(|| root_cause(&error))
    };
    Error::new(
        ErrorCategory::Network,
        format!("body read failed: {reason}"),
    )
    .with_source(error)
}

/// Classifies a failure of `hyper_util`'s client before the response headers: a connect that
/// failed (refused, reset, unreachable), or the connection lost while sending.
pub(crate) fn from_client(error: hyper_util::client::legacy::Error) -> Error {
    if error.is_connect() {
        let reason = io_description(&error).unwrap_or_else(|| root_cause(&error));
        return Error::new(ErrorCategory::Network, format!("connect failed: {reason}"))
            .with_source(error);
    }
    let hyper =
        std::error::Error::source(&error).and_then(|source| source.downcast_ref::<hyper::Error>());
    let reason = match hyper {
        Some(hyper) if hyper.is_parse() || hyper.is_parse_status() => {
            format!("the answer is not valid HTTP/1.1: {}", root_cause(hyper))
        }
        Some(hyper) if hyper.is_incomplete_message() => {
            "connection closed before the response was complete".to_owned()
        }
        _ => io_description(&error).unwrap_or_else(|| root_cause(&error)),
    };
    Error::new(ErrorCategory::Network, format!("request failed: {reason}")).with_source(error)
}

/// The innermost cause's text: `reqwest`'s own text repeats the URL and hides the reason.
fn root_cause(error: &(dyn StdError + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// A short name for the first I/O error in the chain, such as "connection refused".
fn io_description(error: &(dyn StdError + 'static)) -> Option<String> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            let name = match io.kind() {
                K::ConnectionRefused => "connection refused",
                K::ConnectionReset => "connection reset",
                K::ConnectionAborted => "connection aborted",
                K::BrokenPipe => "broken pipe",
                K::UnexpectedEof => "connection closed early",
                K::TimedOut => "timed out",
                _ => return Some(io.to_string()),
            };
            return Some(name.to_owned());
        }
        current = error.source();
    }
    // Hyper reports a server that closed the connection mid-message without an I/O error.
    let cause = root_cause(error);
    cause
        .contains("connection closed before message completed")
        .then(|| "connection closed before the response was complete".to_owned())
}

/// A response body larger than the configured cap.
pub(crate) fn body_too_large(limit: usize) -> Error {
    Error::with_class(
        ErrorClass::new(ErrorCategory::Internal).with_retryable(false),
        format!("response body exceeds the {limit}-byte limit (max_body_bytes)"),
    )
}

/// A body that is not the JSON `what` should be: names the line, column and nearby text.
pub(crate) fn malformed_json(what: &str, error: serde_json::Error, body: &[u8]) -> Error {
    let message = if error.is_eof() {
        format!(
            "{what}: JSON ends early at line {} column {} (body cut?)",
            error.line(),
            error.column()
        )
    } else {
        format!(
            "{what}: invalid JSON at line {} column {}: {}; near `{}`",
            error.line(),
            error.column(),
            json_reason(&error),
            near(body, error.line(), error.column())
        )
    };
    Error::new(ErrorCategory::Internal, message).with_source(error)
}

/// `serde_json`'s message without its own "at line .. column .." suffix.
fn json_reason(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// Up to 40 bytes around a line/column position of `body`.
fn near(body: &[u8], line: usize, column: usize) -> String {
    let mut offset = 0;
    for _ in 1..line {
        match body[offset..].iter().position(|&b| b == b'\n') {
            Some(newline) => offset += newline + 1,
            None => break,
        }
    }
    let at = (offset + column.saturating_sub(1)).min(body.len());
    let start = at.saturating_sub(20);
    let end = (at + 20).min(body.len());
    one_line(&String::from_utf8_lossy(&body[start..end]), 40)
}

/// A 2xx answer whose content type is not the one the format uses (a proxy's HTML page).
pub(crate) fn unexpected_content_type(expected: &str, got: Option<&str>, body: &[u8]) -> Error {
    Error::new(
        ErrorCategory::Internal,
        format!(
            "expected {expected}, got {}: {}",
            got.unwrap_or("no content type"),
            snippet(body)
        ),
    )
}

/// A stream chunk that breaks the event-stream or JSON rules.
pub(crate) fn malformed_stream(detail: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCategory::Internal,
        format!("malformed stream chunk: {detail}"),
    )
}

/// A stream that ended without `terminator`: a cut connection (see the [module docs](self)).
pub(crate) fn stream_cut(terminator: &str) -> Error {
    Error::new(
        ErrorCategory::Network,
        format!("stream ended without {terminator}: the connection was cut mid-answer"),
    )
}

/// The `content-type` header's media type, without parameters.
pub(crate) fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(reqwest::header::CONTENT_TYPE)?
        .to_str()
        .ok()
        .map(|value| value.split(';').next().unwrap_or_default().trim())
}

/// The first 200 bytes of a body, as one line of text.
pub(crate) fn snippet(body: &[u8]) -> String {
    let head = &body[..body.len().min(200)];
    let mut text = one_line(&String::from_utf8_lossy(head), 200);
    if body.len() > head.len() {
        text.push_str("...");
    }
    if text.is_empty() {
        text.push_str("(empty body)");
    }
    text
}

/// `text` with runs of whitespace folded to one space, at most `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let mut line = String::with_capacity(text.len().min(max));
    for (count, word) in text.split_whitespace().enumerate() {
        if count > 0 {
            line.push(' ');
        }
        line.push_str(word);
        if line.chars().count() > max {
            line = line.chars().take(max).collect();
            line.push_str("...");
            break;
        }
    }
    line
}

#[cfg(test)]
mod tests;
