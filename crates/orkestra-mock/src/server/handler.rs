//! Routing, chat answers with their faults, model listings and the control endpoint.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use hyper::body::{Body as _, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::Shared;
use super::body::{Plan, ReplyBody};
use super::conn::ConnControl;
use crate::behaviour::{self, Answer, Prompt, Purpose, RequestKey};
use crate::config::{Fault, ModelBehaviour};
use crate::log::LoggedRequest;
use crate::wire::{self, ApiError, Envelope, WireFormat};

/// The largest request body read; a larger one is answered with 413.
const MAX_BODY: usize = 8 * 1024 * 1024;

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Answers one request.
pub(crate) async fn handle(
    shared: &Shared,
    control: &ConnControl,
    request: Request<Incoming>,
) -> Response<ReplyBody> {
    let method = request.method().clone();
    let path = request.uri().path();
    match (&method, path) {
        (&Method::POST, "/v1/chat/completions") => {
            chat(shared, control, WireFormat::OpenAi, request).await
        }
        (&Method::POST, "/v1/messages") => {
            chat(shared, control, WireFormat::Anthropic, request).await
        }
        (&Method::POST, "/api/chat") => chat(shared, control, WireFormat::Ollama, request).await,
        (&Method::GET, "/v1/models") => {
            if request.headers().contains_key("anthropic-version") {
                let created_at = wire::rfc3339(unix_nanos(shared.started));
                let names = shared.names();
                json(
                    StatusCode::OK,
                    wire::anthropic::models(names.iter().map(String::as_str), &created_at),
                )
            } else {
                let names = shared.names();
                json(
                    StatusCode::OK,
                    wire::openai::models(
                        names.iter().map(String::as_str),
                        unix_seconds(shared.started),
                    ),
                )
            }
        }
        (&Method::GET, "/api/tags") => {
            let modified_at = wire::rfc3339(unix_nanos(shared.started));
            let names = shared.names();
            json(
                StatusCode::OK,
                wire::ollama::tags(names.iter().map(String::as_str), &modified_at),
            )
        }
        (_, path) if path.starts_with("/_mock/") => control_endpoint(shared, request).await,
        (method, path) => {
            let error = ApiError::NoRoute(format!("{method} {path}"));
            let format = if path.starts_with("/api/") {
                WireFormat::Ollama
            } else {
                WireFormat::OpenAi
            };
            json(error.status(), error.body(format))
        }
    }
}

fn json(status: StatusCode, body: impl Into<Bytes>) -> Response<ReplyBody> {
    let mut response = Response::new(ReplyBody::full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, JSON);
    response
}

fn unix_nanos(time: SystemTime) -> u128 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos())
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// Why a request body could not be read.
enum BodyError {
    TooLarge,
    Broken(hyper::Error),
}

/// Reads a whole request body, up to [`MAX_BODY`], without copying when it came in one frame.
async fn read_body(mut body: Incoming) -> Result<Bytes, BodyError> {
    if body
        .size_hint()
        .exact()
        .is_some_and(|len| len > MAX_BODY as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut first: Option<Bytes> = None;
    let mut rest: Option<BytesMut> = None;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let Ok(data) = frame.map_err(BodyError::Broken)?.into_data() else {
            continue;
        };
        match (&mut first, &mut rest) {
            (None, _) => first = Some(data),
            (Some(first), None) => {
                let mut joined = BytesMut::with_capacity(first.len() + data.len());
                joined.extend_from_slice(first);
                joined.extend_from_slice(&data);
                rest = Some(joined);
            }
            (Some(_), Some(joined)) => joined.extend_from_slice(&data),
        }
        let len = rest
            .as_ref()
            .map_or_else(|| first.as_ref().map_or(0, Bytes::len), BytesMut::len);
        if len > MAX_BODY {
            return Err(BodyError::TooLarge);
        }
    }
    Ok(match (first, rest) {
        (_, Some(joined)) => joined.freeze(),
        (Some(first), None) => first,
        (None, None) => Bytes::new(),
    })
}

/// What the log needs to know about a request, filled in as it is handled.
struct LogEntry {
    format: WireFormat,
    path: String,
    received_at: SystemTime,
}

impl LogEntry {
    fn record(
        self,
        shared: &Shared,
        model: &str,
        stream: bool,
        request_number: u64,
        fault: Option<&Fault>,
        status: Option<StatusCode>,
    ) {
        shared.log.push(LoggedRequest {
            format: self.format,
            path: self.path,
            model: model.to_owned(),
            stream,
            request_number,
            fault: fault.cloned(),
            status: status.map(|status| status.as_u16()),
            received_at: self.received_at,
        });
    }
}

/// The status a fault sends, `None` for no response at all.
fn fault_status(fault: Option<&Fault>) -> Option<StatusCode> {
    match fault {
        None
        | Some(
            Fault::SlowFirstToken { .. }
            | Fault::CutStream { .. }
            | Fault::Stall { .. }
            | Fault::MalformedChunk { .. }
            | Fault::MissingTerminator,
        ) => Some(StatusCode::OK),
        Some(Fault::RateLimited { .. }) => Some(StatusCode::TOO_MANY_REQUESTS),
        Some(Fault::Status { code }) => {
            Some(StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        }
        Some(Fault::ContextLength | Fault::ContentFilter) => Some(StatusCode::BAD_REQUEST),
        Some(Fault::Reset | Fault::NoResponse) => None,
    }
}

async fn chat(
    shared: &Shared,
    control: &ConnControl,
    format: WireFormat,
    request: Request<Incoming>,
) -> Response<ReplyBody> {
    let started = Instant::now();
    let entry = LogEntry {
        format,
        path: request.uri().path().to_owned(),
        received_at: SystemTime::now(),
    };
    let body = match read_body(request.into_body()).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            let error = ApiError::TooLarge(MAX_BODY);
            entry.record(shared, "", false, 0, None, Some(error.status()));
            return json(error.status(), error.body(format));
        }
        Err(BodyError::Broken(error)) => {
            tracing::debug!(%error, "request body could not be read");
            let error = ApiError::Invalid(format!("the body could not be read: {error}"));
            entry.record(shared, "", false, 0, None, Some(error.status()));
            return json(error.status(), error.body(format));
        }
    };
    let input = match wire::parse(format, &body) {
        Ok(input) => input,
        Err(error) => {
            entry.record(shared, "", false, 0, None, Some(error.status()));
            return json(error.status(), error.body(format));
        }
    };
    let Some(slot) = shared.slot(&input.model) else {
        let error = ApiError::ModelNotFound(input.model.clone().into_owned());
        entry.record(
            shared,
            &input.model,
            input.stream,
            0,
            None,
            Some(error.status()),
        );
        return json(error.status(), error.body(format));
    };
    let number = slot.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let key = RequestKey {
        seed: shared.seed,
        model: &input.model,
        number,
    };
    let model = &slot.behaviour;
    let fault = behaviour::select_fault(&model.faults, &key, shared.clock.now() - slot.set_at);
    entry.record(
        shared,
        &input.model,
        input.stream,
        number,
        fault,
        fault_status(fault),
    );

    let extra_ttft = match early_fault(shared, control, format, fault).await {
        Ok(extra) => extra,
        Err(response) => return response,
    };

    let prompt = Prompt {
        last_user: &input.last_user,
        chars: input.chars,
        max_tokens: input.max_tokens,
    };
    let answer = behaviour::answer(&model.output, &model.preface, model.usage, &prompt, &key);
    let timing = Timing::sample(model, &key, &answer, extra_ttft);
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let id = match format {
        WireFormat::OpenAi => format!("chatcmpl-mock{id}"),
        WireFormat::Anthropic => format!("msg_mock{id}"),
        WireFormat::Ollama => String::new(),
    };
    let now = SystemTime::now();
    let created_at = match format {
        WireFormat::Ollama => wire::rfc3339(unix_nanos(now)),
        _ => String::new(),
    };
    let envelope = Envelope {
        id: &id,
        model: &input.model,
        created: unix_seconds(now),
        created_at: &created_at,
        include_usage: input.include_usage,
        // The handling time so far counts as prompt evaluation, so durations are never zero.
        ttft_ns: saturating_nanos(timing.ttft + started.elapsed()),
        generation_ns: saturating_nanos(timing.per_token.iter().sum()),
    };
    if input.stream {
        streamed(format, &envelope, &answer, &timing, fault)
    } else {
        let total = timing.ttft + timing.per_token.iter().sum::<Duration>();
        if !total.is_zero() {
            tokio::time::sleep(total).await;
        }
        plain(format, &envelope, &answer, fault)
    }
}

/// Answers the faults that replace the answer (errors, reset, no response); otherwise returns
/// the extra time to the first token.
async fn early_fault(
    shared: &Shared,
    control: &ConnControl,
    format: WireFormat,
    fault: Option<&Fault>,
) -> Result<Duration, Response<ReplyBody>> {
    match fault {
        Some(Fault::RateLimited {
            retry_after,
            as_date,
        }) => Err(rate_limited(format, *retry_after, *as_date)),
        Some(Fault::Status { code }) => {
            // Validation keeps codes between 400 and 599; anything else is answered as a 500.
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let error = ApiError::Status(status);
            Err(json(error.status(), error.body(format)))
        }
        Some(Fault::ContextLength) => Err(json(
            StatusCode::BAD_REQUEST,
            ApiError::ContextLength.body(format),
        )),
        Some(Fault::ContentFilter) => Err(json(
            StatusCode::BAD_REQUEST,
            ApiError::ContentFilter.body(format),
        )),
        Some(Fault::Reset) => {
            control.reset();
            Err(Response::new(ReplyBody::empty()))
        }
        Some(Fault::NoResponse) => {
            shared.shutting_down().await;
            control.close();
            Err(Response::new(ReplyBody::empty()))
        }
        Some(Fault::SlowFirstToken { delay }) => Ok(*delay),
        _ => Ok(Duration::ZERO),
    }
}

fn saturating_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The latencies of one answer.
struct Timing {
    ttft: Duration,
    /// One pause before each content chunk after the first; empty when the model has none.
    per_token: Vec<Duration>,
}

impl Timing {
    fn sample(
        model: &ModelBehaviour,
        key: &RequestKey<'_>,
        answer: &Answer,
        extra: Duration,
    ) -> Self {
        let ttft_zero = behaviour::is_zero(&model.ttft);
        let per_token_zero = behaviour::is_zero(&model.per_token);
        if ttft_zero && per_token_zero {
            return Self {
                ttft: extra,
                per_token: Vec::new(),
            };
        }
        let mut rng = key.rng(Purpose::Latency);
        let ttft = if ttft_zero {
            Duration::ZERO
        } else {
            behaviour::sample(&model.ttft, &mut rng)
        };
        let per_token = if per_token_zero {
            Vec::new()
        } else {
            let pauses = behaviour::token_chunks(&answer.text)
                .len()
                .saturating_sub(1);
            (0..pauses)
                .map(|_| behaviour::sample(&model.per_token, &mut rng))
                .collect()
        };
        Self {
            ttft: ttft + extra,
            per_token,
        }
    }
}

fn rate_limited(
    format: WireFormat,
    retry_after: Option<Duration>,
    as_date: bool,
) -> Response<ReplyBody> {
    let mut response = json(
        StatusCode::TOO_MANY_REQUESTS,
        ApiError::RateLimited.body(format),
    );
    if let Some(wait) = retry_after {
        let value = if as_date {
            httpdate::fmt_http_date(SystemTime::now() + wait)
        } else {
            // Retry-After counts whole seconds; round up so a client never retries early.
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            seconds.to_string()
        };
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

/// A plain answer, with the plain equivalent of a stream fault:
/// - cut stream: `Content-Length` of the whole answer, half of it sent, then the connection
///   closes;
/// - stall: the same half, then silence for the stall's duration, then the connection closes;
/// - malformed chunk: a 200 whose body is not JSON;
/// - missing terminator: a complete HTTP message whose JSON lacks its closing brace.
fn plain(
    format: WireFormat,
    envelope: &Envelope<'_>,
    answer: &Answer,
    fault: Option<&Fault>,
) -> Response<ReplyBody> {
    let mut body = wire::plain(format, envelope, answer);
    let half = body.len() / 2;
    let full_len = body.len() as u64;
    let reply = match fault {
        Some(Fault::CutStream { .. }) => {
            let mut plan = Plan::default();
            plan.data(&body[..half]);
            plan.abort_with_len(full_len)
        }
        Some(Fault::Stall { duration, .. }) => {
            let mut plan = Plan::default();
            plan.data(&body[..half]);
            plan.sleep(*duration);
            plan.abort_with_len(full_len)
        }
        Some(Fault::MalformedChunk { .. }) => {
            let mut malformed = b"orkestra-mock: this body is not JSON ".to_vec();
            malformed.append(&mut body);
            ReplyBody::full(malformed)
        }
        Some(Fault::MissingTerminator) => {
            body.pop();
            ReplyBody::full(body)
        }
        _ => ReplyBody::full(body),
    };
    let mut response = Response::new(reply);
    response.headers_mut().insert(header::CONTENT_TYPE, JSON);
    response
}

/// A streamed answer, with its stream fault if any.
fn streamed(
    format: WireFormat,
    envelope: &Envelope<'_>,
    answer: &Answer,
    timing: &Timing,
    fault: Option<&Fault>,
) -> Response<ReplyBody> {
    let parts = wire::stream(format, envelope, answer);
    let fault_at = match fault {
        Some(
            Fault::CutStream { after_chunks }
            | Fault::Stall { after_chunks, .. }
            | Fault::MalformedChunk { after_chunks },
        ) => Some(
            usize::try_from(*after_chunks)
                .unwrap_or(usize::MAX)
                .min(parts.deltas.len()),
        ),
        _ => None,
    };
    let mut plan = Plan::default();
    plan.sleep(timing.ttft);
    for event in &parts.head {
        plan.data(event);
    }
    for (index, delta) in parts.deltas.iter().enumerate() {
        if fault_at == Some(index) {
            match stream_fault(plan, fault, &parts.malformed) {
                Ok(next) => plan = next,
                Err(body) => return stream_response(format, body),
            }
        }
        if index > 0
            && let Some(pause) = timing.per_token.get(index - 1)
        {
            plan.sleep(*pause);
        }
        plan.data(delta);
    }
    if fault_at == Some(parts.deltas.len()) {
        match stream_fault(plan, fault, &parts.malformed) {
            Ok(next) => plan = next,
            Err(body) => return stream_response(format, body),
        }
    }
    for event in &parts.tail {
        plan.data(event);
    }
    if !matches!(fault, Some(Fault::MissingTerminator)) {
        plan.data(&parts.terminator);
    }
    stream_response(format, plan.finish(None))
}

/// Applies a stream fault at its chunk: the plan goes on (malformed chunk) or the body ends.
fn stream_fault(
    mut plan: Plan,
    fault: Option<&Fault>,
    malformed: &[u8],
) -> Result<Plan, ReplyBody> {
    match fault {
        Some(Fault::CutStream { .. }) => Err(plan.abort()),
        Some(Fault::Stall { duration, .. }) => {
            plan.sleep(*duration);
            Err(plan.abort())
        }
        Some(Fault::MalformedChunk { .. }) => {
            plan.data(malformed);
            Ok(plan)
        }
        _ => Ok(plan),
    }
}

fn stream_response(format: WireFormat, body: ReplyBody) -> Response<ReplyBody> {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.stream_content_type()),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `/_mock/models`, `/_mock/models/{name}` and `/_mock/requests`.
async fn control_endpoint(shared: &Shared, request: Request<Incoming>) -> Response<ReplyBody> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    match (&method, path.as_str()) {
        (&Method::GET, "/_mock/models") => to_json(StatusCode::OK, &shared.behaviours()),
        (&Method::GET, "/_mock/requests") => to_json(StatusCode::OK, &shared.log.snapshot()),
        (&Method::DELETE, "/_mock/requests") => {
            shared.log.clear();
            no_content()
        }
        (_, path) if path.starts_with("/_mock/models/") => {
            let Some(name) = percent_decode(&path["/_mock/models/".len()..]) else {
                return control_error(
                    StatusCode::BAD_REQUEST,
                    "the model name in the path is not valid percent-encoded UTF-8",
                );
            };
            match method {
                Method::GET => match shared.behaviour(&name) {
                    Some(behaviour) => to_json(StatusCode::OK, &behaviour),
                    None => {
                        control_error(StatusCode::NOT_FOUND, &format!("no model named `{name}`"))
                    }
                },
                Method::PUT => put_model(shared, name, request).await,
                Method::DELETE => {
                    if shared.remove_model(&name) {
                        no_content()
                    } else {
                        control_error(StatusCode::NOT_FOUND, &format!("no model named `{name}`"))
                    }
                }
                _ => control_error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    &format!("{method} is not allowed on {path}: use GET, PUT or DELETE"),
                ),
            }
        }
        _ => control_error(
            StatusCode::NOT_FOUND,
            &format!(
                "no control endpoint {method} {path}: try GET /_mock/models, GET|PUT|DELETE /_mock/models/{{name}}, GET|DELETE /_mock/requests"
            ),
        ),
    }
}

async fn put_model(
    shared: &Shared,
    name: String,
    request: Request<Incoming>,
) -> Response<ReplyBody> {
    let body = match read_body(request.into_body()).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return control_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("body larger than {MAX_BODY} bytes"),
            );
        }
        Err(BodyError::Broken(error)) => {
            return control_error(
                StatusCode::BAD_REQUEST,
                &format!("the body could not be read: {error}"),
            );
        }
    };
    let mut behaviour: ModelBehaviour = match serde_json::from_slice(&body) {
        Ok(behaviour) => behaviour,
        Err(error) => {
            return control_error(
                StatusCode::BAD_REQUEST,
                &format!("the body is not a model behaviour: {error}"),
            );
        }
    };
    if behaviour.name.is_empty() {
        behaviour.name.clone_from(&name);
    } else if behaviour.name != name {
        return control_error(
            StatusCode::BAD_REQUEST,
            &format!(
                "name: the body names `{}` but the path names `{name}`",
                behaviour.name
            ),
        );
    }
    if let Err(error) = behaviour.validate() {
        return control_error(StatusCode::BAD_REQUEST, &error.to_string());
    }
    let created = shared.set_model(behaviour.clone());
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    to_json(status, &behaviour)
}

fn to_json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<ReplyBody> {
    match serde_json::to_vec(value) {
        Ok(body) => json(status, body),
        Err(error) => control_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot serialize the answer: {error}"),
        ),
    }
}

fn control_error(status: StatusCode, message: &str) -> Response<ReplyBody> {
    json(status, wire::ollama::error_body(message))
}

fn no_content() -> Response<ReplyBody> {
    let mut response = Response::new(ReplyBody::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// Decodes `%XX` escapes; `None` if an escape is broken or the result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = std::str::from_utf8(bytes.get(index + 1..index + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}
