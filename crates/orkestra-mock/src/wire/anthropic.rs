//! Anthropic Messages: `POST /v1/messages`, plain and streaming (`event:` + `data:` lines).

use std::borrow::Cow;

use serde::Deserialize;

use super::{
    ApiError, ChatInput, Content, Envelope, InMessage, StreamParts, fold_messages, push_json_str,
    push_u64,
};
use crate::behaviour::{Answer, Finish};

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    model: Cow<'a, str>,
    #[serde(borrow)]
    messages: Vec<InMessage<'a>>,
    #[serde(borrow, default)]
    system: Content<'a>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    max_tokens: Option<u32>,
}

pub(crate) fn parse(body: &[u8]) -> Result<ChatInput<'_>, String> {
    let request: Request<'_> = serde_json::from_slice(body).map_err(|error| error.to_string())?;
    let Some(max_tokens) = request.max_tokens else {
        return Err("max_tokens: field required".into());
    };
    if max_tokens == 0 {
        return Err("max_tokens: must be greater than or equal to 1".into());
    }
    let (chars, last_user) = fold_messages(request.messages, &request.system);
    Ok(ChatInput {
        model: request.model,
        last_user,
        chars,
        stream: request.stream.unwrap_or(false),
        include_usage: false,
        max_tokens: Some(max_tokens),
    })
}

fn stop_reason(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
    }
}

/// `{"id":..,"type":"message","role":"assistant","model":..,"content":`
fn push_message_head(out: &mut Vec<u8>, envelope: &Envelope<'_>) {
    out.extend_from_slice(b"{\"id\":");
    push_json_str(out, envelope.id);
    out.extend_from_slice(b",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    push_json_str(out, envelope.model);
    out.extend_from_slice(b",\"content\":");
}

fn push_usage(out: &mut Vec<u8>, input: u32, output: u32) {
    out.extend_from_slice(b"{\"input_tokens\":");
    push_u64(out, input.into());
    out.extend_from_slice(
        b",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":",
    );
    push_u64(out, output.into());
    out.push(b'}');
}

pub(crate) fn plain(envelope: &Envelope<'_>, answer: &Answer) -> Vec<u8> {
    let mut out = Vec::with_capacity(320 + answer.text.len());
    push_message_head(&mut out, envelope);
    out.extend_from_slice(b"[{\"type\":\"text\",\"text\":");
    push_json_str(&mut out, &answer.text);
    out.extend_from_slice(b"}],\"stop_reason\":\"");
    out.extend_from_slice(stop_reason(answer.finish).as_bytes());
    out.extend_from_slice(b"\",\"stop_sequence\":null,\"usage\":");
    push_usage(&mut out, answer.prompt_tokens, answer.completion_tokens);
    out.push(b'}');
    out
}

fn event(name: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + name.len() + data.len());
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
    out
}

pub(crate) fn stream(envelope: &Envelope<'_>, answer: &Answer) -> StreamParts {
    let mut start = Vec::with_capacity(320);
    start.extend_from_slice(b"{\"type\":\"message_start\",\"message\":");
    push_message_head(&mut start, envelope);
    start.extend_from_slice(b"[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":");
    // The real API reports the input tokens here and one output token so far.
    push_usage(&mut start, answer.prompt_tokens, 1);
    start.extend_from_slice(b"}}");
    let head = vec![
        event("message_start", &start),
        event(
            "content_block_start",
            b"{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
        ),
        event("ping", b"{\"type\":\"ping\"}"),
    ];
    let deltas = answer
        .chunks()
        .into_iter()
        .map(|text| {
            let mut data = Vec::with_capacity(96 + text.len());
            data.extend_from_slice(
                b"{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":",
            );
            push_json_str(&mut data, text);
            data.extend_from_slice(b"}}");
            event("content_block_delta", &data)
        })
        .collect();
    let mut message_delta = Vec::with_capacity(160);
    message_delta.extend_from_slice(b"{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"");
    message_delta.extend_from_slice(stop_reason(answer.finish).as_bytes());
    message_delta.extend_from_slice(b"\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":");
    push_u64(&mut message_delta, answer.completion_tokens.into());
    message_delta.extend_from_slice(b"}}");
    let tail = vec![
        event(
            "content_block_stop",
            b"{\"type\":\"content_block_stop\",\"index\":0}",
        ),
        event("message_delta", &message_delta),
    ];
    StreamParts {
        head,
        deltas,
        tail,
        terminator: event("message_stop", b"{\"type\":\"message_stop\"}"),
        malformed: event(
            "content_block_delta",
            b"{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_del",
        ),
    }
}

/// The error `type` for a status, as the Messages API names them.
fn error_type(error: &ApiError) -> &'static str {
    match error {
        ApiError::Invalid(_) | ApiError::ContextLength | ApiError::ContentFilter => {
            "invalid_request_error"
        }
        ApiError::ModelNotFound(_) | ApiError::NoRoute(_) => "not_found_error",
        ApiError::TooLarge(_) => "request_too_large",
        ApiError::RateLimited => "rate_limit_error",
        ApiError::Status(status) => match status.as_u16() {
            401 => "authentication_error",
            402 => "billing_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            504 => "timeout_error",
            529 => "overloaded_error",
            400..=499 => "invalid_request_error",
            _ => "api_error",
        },
    }
}

pub(crate) fn error_body(error: &ApiError, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 + message.len());
    out.extend_from_slice(b"{\"type\":\"error\",\"error\":{\"type\":\"");
    out.extend_from_slice(error_type(error).as_bytes());
    out.extend_from_slice(b"\",\"message\":");
    push_json_str(&mut out, message);
    out.extend_from_slice(b"}}");
    out
}

/// `GET /v1/models` when the request carries `anthropic-version`.
pub(crate) fn models<'a>(names: impl Iterator<Item = &'a str>, created_at: &str) -> Vec<u8> {
    let names: Vec<&str> = names.collect();
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"data\":[");
    for (index, name) in names.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"type\":\"model\",\"id\":");
        push_json_str(&mut out, name);
        out.extend_from_slice(b",\"display_name\":");
        push_json_str(&mut out, name);
        out.extend_from_slice(b",\"created_at\":");
        push_json_str(&mut out, created_at);
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"has_more\":false,\"first_id\":");
    push_opt(&mut out, names.first().copied());
    out.extend_from_slice(b",\"last_id\":");
    push_opt(&mut out, names.last().copied());
    out.push(b'}');
    out
}

fn push_opt(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(value) => push_json_str(out, value),
        None => out.extend_from_slice(b"null"),
    }
}
