//! `POST /v1/chat/completions`: plain and streamed answers, with the routing headers.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse as _, Response};
use bytes::{BufMut as _, Bytes, BytesMut};
use futures_util::StreamExt as _;
use orkestra::{CallContext, RouteReport};
use orkestra_core::{ChatChunk, ChatStream, StreamEvent};

use crate::App;
use crate::error::ApiError;
use crate::request::{self, REQUEST_ID};

/// The model that answered (or the last one tried, on a failure).
pub const MODEL_HEADER: &str = "x-orkestra-model";
/// How many model calls the request took, retries and fallbacks included.
pub const ATTEMPTS_HEADER: &str = "x-orkestra-attempts";
/// How many candidates their own policy refused without a call (an open circuit breaker, a
/// full bulkhead, a rate limit).
pub const SKIPPED_HEADER: &str = "x-orkestra-skipped";
/// Time spent in the gateway itself: the handler's time minus upstream calls and waits.
pub const OVERHEAD_HEADER: &str = "x-orkestra-overhead-ms";
/// A request header: the caller's deadline in milliseconds, which may lower `routing.deadline`.
pub const DEADLINE_HEADER: &str = "x-orkestra-deadline-ms";

pub(crate) async fn completions(State(app): State<App>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let request_id = request::request_id(&parts.headers);
    let mut response = answer(&app, &parts.headers, body, &request_id, started).await;
    response
        .headers_mut()
        .insert(HeaderName::from_static(REQUEST_ID), request_id);
    response
}

async fn answer(
    app: &App,
    headers: &HeaderMap,
    body: Body,
    request_id: &HeaderValue,
    started: Instant,
) -> Response {
    let body = match request::read_body(headers, body, app.body_limit).await {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    let chat = match request::parse_chat(&body) {
        Ok(chat) => chat,
        Err(error) => return error.into_response(),
    };
    drop(body);
    let deadline = match deadline(headers) {
        Ok(deadline) => deadline,
        Err(problem) => {
            return ApiError::invalid_request(
                "invalid_request",
                problem,
                Some(DEADLINE_HEADER.to_owned()),
            )
            .into_response();
        }
    };
    let context = CallContext {
        request_id: request_id.to_str().ok().map(str::to_owned),
        deadline,
        ..CallContext::default()
    };
    if chat.is_stream() {
        let include_usage = chat
            .stream_options
            .as_ref()
            .and_then(|options| options.include_usage)
            .unwrap_or(false);
        match app.orchestrator.complete_stream(&chat, &context).await {
            Ok(routed) => {
                let model = routed
                    .report
                    .model()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let id = context.request_id.as_deref().unwrap_or("orkestra");
                let sse = Sse::new(routed.stream, model, id, include_usage);
                let mut response = Response::new(Body::from_stream(sse.into_stream()));
                let headers = response.headers_mut();
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/event-stream"),
                );
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                report_headers(headers, &routed.report, started);
                response
            }
            Err(failure) => failed(&failure.error, &failure.report, started),
        }
    } else {
        match app.orchestrator.complete(&chat, &context).await {
            Ok(completion) => {
                // Serialized once, straight into the body.
                let json = match orkestra_core::json::to_vec(&completion.response) {
                    Ok(json) => json,
                    Err(error) => {
                        return ApiError::from_error(&orkestra_core::Error::new(
                            orkestra_core::ErrorCategory::Internal,
                            format!("the answer could not be serialized: {error}"),
                        ))
                        .into_response();
                    }
                };
                let mut response = Response::new(Body::from(json));
                let headers = response.headers_mut();
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                report_headers(headers, &completion.report, started);
                response
            }
            Err(failure) => failed(&failure.error, &failure.report, started),
        }
    }
}

/// The caller's deadline from [`DEADLINE_HEADER`], if it sent one; for a bad one, what is
/// wrong with it.
fn deadline(headers: &HeaderMap) -> Result<Option<Duration>, String> {
    let Some(value) = headers.get(DEADLINE_HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .filter(|&millis| millis > 0)
        .map(|millis| Some(Duration::from_millis(millis)))
        .ok_or_else(|| {
            format!(
                "header {DEADLINE_HEADER}: expected a whole number of milliseconds above zero, such as 5000, got {:?}",
                String::from_utf8_lossy(value.as_bytes())
            )
        })
}

fn failed(error: &orkestra_core::Error, report: &RouteReport, started: Instant) -> Response {
    let mut response = ApiError::from_error(error).into_response();
    report_headers(response.headers_mut(), report, started);
    response
}

/// `x-orkestra-model`, `x-orkestra-attempts`, `x-orkestra-skipped` and
/// `x-orkestra-overhead-ms`.
fn report_headers(headers: &mut HeaderMap, report: &RouteReport, started: Instant) {
    let model = report
        .model()
        .or_else(|| report.attempts.last().map(|attempt| &attempt.model));
    if let Some(model) = model
        && let Ok(value) = HeaderValue::from_str(model.as_str())
    {
        headers.insert(HeaderName::from_static(MODEL_HEADER), value);
    }
    headers.insert(
        HeaderName::from_static(ATTEMPTS_HEADER),
        HeaderValue::from(report.calls()),
    );
    headers.insert(
        HeaderName::from_static(SKIPPED_HEADER),
        HeaderValue::from(report.skipped()),
    );
    let overhead = started
        .elapsed()
        .saturating_sub(report.upstream)
        .saturating_sub(report.waited);
    let overhead = format!("{:.3}", overhead.as_secs_f64() * 1e3);
    if let Ok(value) = HeaderValue::try_from(overhead) {
        headers.insert(HeaderName::from_static(OVERHEAD_HEADER), value);
    }
}

/// Turns a routed stream into server-sent events: one `data:` line per `OpenAI` chunk, then
/// `data: [DONE]`, or an error event and no `[DONE]` when the stream failed.
struct Sse {
    events: ChatStream,
    model: String,
    id: String,
    created: u64,
    include_usage: bool,
    ended: bool,
}

impl Sse {
    fn new(events: ChatStream, model: String, request_id: &str, include_usage: bool) -> Self {
        Self {
            events,
            model,
            // Replaced by the upstream's id when the stream starts with one.
            id: format!("chatcmpl-{request_id}"),
            created: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs()),
            include_usage,
            ended: false,
        }
    }

    fn into_stream(
        self,
    ) -> impl futures_util::Stream<Item = Result<Bytes, std::convert::Infallible>> + Send {
        futures_util::stream::unfold(self, |mut sse| async move {
            let frame = sse.next_frame().await?;
            Some((Ok(frame), sse))
        })
    }

    /// The next event's bytes; `None` once the stream ended.
    async fn next_frame(&mut self) -> Option<Bytes> {
        while !self.ended {
            match self.events.next().await {
                Some(Ok(StreamEvent::Start { id, created, .. })) => {
                    self.id = id;
                    self.created = created;
                }
                Some(Ok(StreamEvent::Usage(_))) if !self.include_usage => {}
                Some(Ok(event)) => {
                    let Some(chunk) =
                        ChatChunk::from_event(&self.id, &self.model, self.created, event)
                    else {
                        continue;
                    };
                    match orkestra_core::json::to_vec(&chunk) {
                        Ok(json) => {
                            let mut frame = BytesMut::with_capacity(json.len() + 8);
                            frame.put_slice(b"data: ");
                            frame.put_slice(&json);
                            frame.put_slice(b"\n\n");
                            return Some(frame.freeze());
                        }
                        Err(error) => {
                            self.ended = true;
                            let error = orkestra_core::Error::new(
                                orkestra_core::ErrorCategory::Internal,
                                format!("a chunk could not be serialized: {error}"),
                            );
                            return Some(data(&ApiError::from_error(&error).body()));
                        }
                    }
                }
                Some(Err(error)) => {
                    // A cut answer: the client sees an error event and no `[DONE]`, so it
                    // cannot mistake the truncated text for a whole one.
                    self.ended = true;
                    tracing::debug!(model = %self.model, %error, "stream failed after its first token");
                    return Some(data(&ApiError::from_error(&error).body()));
                }
                None => {
                    self.ended = true;
                    return Some(Bytes::from_static(b"data: [DONE]\n\n"));
                }
            }
        }
        None
    }
}

/// `data: {json}\n\n`.
fn data(json: &[u8]) -> Bytes {
    let mut frame = BytesMut::with_capacity(json.len() + 8);
    frame.put_slice(b"data: ");
    frame.put_slice(json);
    frame.put_slice(b"\n\n");
    frame.freeze()
}
