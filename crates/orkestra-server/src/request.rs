//! Reading a request: the body under its limit, the chat request it holds (parsed, then
//! checked by [`ChatRequest::validate`]), the request id.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use bytes::Bytes;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use orkestra_core::{ChatRequest, Syntax, plain_words};

use crate::connection::BodyTimedOut;
use crate::error::ApiError;

/// The request id header, read from the client and always answered.
pub(crate) const REQUEST_ID: &str = "x-request-id";

/// Reads the whole body under `limit` bytes, with `http_body_util::Limited`.
///
/// A declared `Content-Length` over the limit is refused before reading anything. A body that
/// arrives in one frame (the usual case on a keep-alive connection) is kept as it came, without
/// a copy. A body still arriving at `server.body_read_timeout` is `408`.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(ApiError::too_large(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(ApiError::too_large(limit)),
        Err(error) => Err(unreadable(error.as_ref())),
    }
}

/// The answer to a body that could not be read: `408` when it was too slow, else `400`.
fn unreadable(error: &(dyn std::error::Error + 'static)) -> ApiError {
    // axum wraps the connection's errors; the timeout is found down the chain.
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(timed_out) = error.downcast_ref::<BodyTimedOut>() {
            return ApiError::body_timeout(timed_out);
        }
        cause = error.source();
    }
    ApiError::invalid_request(
        "invalid_body",
        format!("the request body could not be read: {error}"),
        None,
    )
}

/// Parses a chat completions body, naming where and why a bad one is wrong.
#[expect(
    clippy::result_large_err,
    reason = "the Ok variant, a ChatRequest, is larger still: boxing the error would not shrink the Result"
)]
pub(crate) fn parse_chat(body: &[u8]) -> Result<ChatRequest, ApiError> {
    let request: ChatRequest = match orkestra_core::json::from_slice(body) {
        Some(request) => request,
        // serde_json reads it again to say what is wrong and where.
        None => serde_json::from_slice(body).map_err(|error| json_error(body, &error))?,
    };
    // The ranges are the chat format's, so they are checked by the request type itself
    // (orkestra-core), for every user of it and not only for the gateway.
    request.validate().map_err(|invalid| {
        ApiError::invalid_request("invalid_value", invalid.message, Some(invalid.param))
    })?;
    Ok(request)
}

/// The 400 for a body that did not parse: the JSON path, line and column, and what serde
/// expected there.
fn json_error(body: &[u8], error: &serde_json::Error) -> ApiError {
    // Parsing again with the path tracked costs a second pass, paid only by bad requests; the
    // good ones parse without the tracking.
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let path = match serde_path_to_error::deserialize::<_, ChatRequest>(&mut deserializer) {
        Err(tracked) => tracked.path().to_string(),
        Ok(_) => ".".to_owned(),
    };
    let full = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    let what = full.strip_suffix(&position).unwrap_or(&full);
    let (line, column) = (error.line(), error.column());
    // Some chat types read through their own visitors, which can report a wrong value as a
    // syntax error; whether the body is JSON at all is asked of the body itself.
    let what_is_wrong = if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
        "the request body is not a chat completions request"
    } else {
        "the request body is not valid JSON"
    };
    // serde's wording names Rust types (`expected u32`); the caller reads plain words.
    let said = plain_words(what, Syntax::Json);
    let (message, param) = if path == "." {
        let param = what
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'))
            .map(str::to_owned);
        (
            format!("{what_is_wrong} (line {line}, column {column}): {said}"),
            param,
        )
    } else {
        (
            format!("{what_is_wrong}: at `{path}` (line {line}, column {column}): {said}"),
            Some(path),
        )
    };
    ApiError::invalid_request("invalid_json", message, param)
}

/// The client's request id when it sent a usable one, else a new one.
pub(crate) fn request_id(headers: &HeaderMap) -> HeaderValue {
    if let Some(sent) = headers.get(REQUEST_ID)
        && !sent.is_empty()
        && sent.len() <= 200
        && sent.to_str().is_ok()
    {
        return sent.clone();
    }
    new_request_id()
}

/// A process-unique id: a random prefix chosen at start, then a counter.
fn new_request_id() -> HeaderValue {
    static PREFIX: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        // The hasher's keys are random per process; hashing the start time draws 32 bits from
        // them without a random number generator dependency.
        use std::hash::{BuildHasher as _, Hasher as _};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        #[expect(
            clippy::cast_possible_truncation,
            reason = "32 bits of the hash are enough for the id's process prefix"
        )]
        let bits = hasher.finish() as u32;
        bits
    });
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let id = format!("req-{prefix:08x}-{count:x}");
    HeaderValue::try_from(id).unwrap_or_else(|_| HeaderValue::from_static("req-unknown"))
}

#[cfg(test)]
mod tests;
