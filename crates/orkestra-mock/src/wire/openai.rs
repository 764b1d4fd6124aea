//! OpenAI-compatible chat completions: `POST /v1/chat/completions`, plain and SSE.

use std::borrow::Cow;

use serde::Deserialize;

use super::{
    ApiError, ChatInput, Content, Envelope, InMessage, StreamParts, finish_word, fold_messages,
    push_json_str, push_u64,
};
use crate::behaviour::Answer;

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    model: Cow<'a, str>,
    #[serde(borrow)]
    messages: Vec<InMessage<'a>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

pub(crate) fn parse(body: &[u8]) -> Result<ChatInput<'_>, String> {
    let request: Request<'_> = serde_json::from_slice(body).map_err(|error| error.to_string())?;
    let (chars, last_user) = fold_messages(request.messages, &Content::Empty);
    Ok(ChatInput {
        model: request.model,
        last_user,
        chars,
        stream: request.stream.unwrap_or(false),
        include_usage: request
            .stream_options
            .and_then(|options| options.include_usage)
            .unwrap_or(false),
        max_tokens: request.max_completion_tokens.or(request.max_tokens),
    })
}

fn push_usage(out: &mut Vec<u8>, answer: &Answer) {
    out.extend_from_slice(b"{\"prompt_tokens\":");
    push_u64(out, answer.prompt_tokens.into());
    out.extend_from_slice(b",\"completion_tokens\":");
    push_u64(out, answer.completion_tokens.into());
    out.extend_from_slice(b",\"total_tokens\":");
    push_u64(
        out,
        u64::from(answer.prompt_tokens) + u64::from(answer.completion_tokens),
    );
    out.push(b'}');
}

/// `{"id":..,"object":..,"created":..,"model":..,"system_fingerprint":..,`
fn push_head(out: &mut Vec<u8>, envelope: &Envelope<'_>, object: &str) {
    out.extend_from_slice(b"{\"id\":");
    push_json_str(out, envelope.id);
    out.extend_from_slice(b",\"object\":\"");
    out.extend_from_slice(object.as_bytes());
    out.extend_from_slice(b"\",\"created\":");
    push_u64(out, envelope.created);
    out.extend_from_slice(b",\"model\":");
    push_json_str(out, envelope.model);
    out.extend_from_slice(b",\"system_fingerprint\":\"fp_orkestra_mock\",");
}

pub(crate) fn plain(envelope: &Envelope<'_>, answer: &Answer) -> Vec<u8> {
    let mut out = Vec::with_capacity(320 + answer.text.len());
    push_head(&mut out, envelope, "chat.completion");
    out.extend_from_slice(
        b"\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":",
    );
    push_json_str(&mut out, &answer.text);
    out.extend_from_slice(b",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"");
    out.extend_from_slice(finish_word(answer.finish).as_bytes());
    out.extend_from_slice(b"\"}],\"usage\":");
    push_usage(&mut out, answer);
    out.push(b'}');
    out
}

/// One `data:` event holding a chunk with one choice whose delta is `delta` (raw JSON) and
/// finish reason `finish` (raw JSON).
fn chunk(envelope: &Envelope<'_>, delta: &[u8], finish: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + delta.len());
    out.extend_from_slice(b"data: ");
    push_head(&mut out, envelope, "chat.completion.chunk");
    out.extend_from_slice(b"\"choices\":[{\"index\":0,\"delta\":");
    out.extend_from_slice(delta);
    out.extend_from_slice(b",\"logprobs\":null,\"finish_reason\":");
    out.extend_from_slice(finish.as_bytes());
    out.extend_from_slice(b"}]");
    if envelope.include_usage {
        // With `include_usage`, every chunk but the last carries `"usage": null`.
        out.extend_from_slice(b",\"usage\":null");
    }
    out.extend_from_slice(b"}\n\n");
    out
}

pub(crate) fn stream(envelope: &Envelope<'_>, answer: &Answer) -> StreamParts {
    let head = vec![chunk(
        envelope,
        b"{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}",
        "null",
    )];
    let deltas = answer
        .chunks()
        .into_iter()
        .map(|text| {
            let mut delta = Vec::with_capacity(16 + text.len());
            delta.extend_from_slice(b"{\"content\":");
            push_json_str(&mut delta, text);
            delta.push(b'}');
            chunk(envelope, &delta, "null")
        })
        .collect();
    let finish = format!("\"{}\"", finish_word(answer.finish));
    let mut tail = vec![chunk(envelope, b"{}", &finish)];
    if envelope.include_usage {
        let mut usage = Vec::with_capacity(256);
        usage.extend_from_slice(b"data: ");
        push_head(&mut usage, envelope, "chat.completion.chunk");
        usage.extend_from_slice(b"\"choices\":[],\"usage\":");
        push_usage(&mut usage, answer);
        usage.extend_from_slice(b"}\n\n");
        tail.push(usage);
    }
    let mut malformed = Vec::with_capacity(128);
    malformed.extend_from_slice(b"data: ");
    push_head(&mut malformed, envelope, "chat.completion.chunk");
    malformed.extend_from_slice(b"\"choices\":[{\"index\":0,\"delta\":{\"content\":\n\n");
    StreamParts {
        head,
        deltas,
        tail,
        terminator: b"data: [DONE]\n\n".to_vec(),
        malformed,
    }
}

pub(crate) fn error_body(error: &ApiError, message: &str) -> Vec<u8> {
    let (kind, param, code) = match error {
        ApiError::Invalid(_) => ("invalid_request_error", None, None),
        ApiError::ModelNotFound(_) => (
            "invalid_request_error",
            Some("model"),
            Some("model_not_found"),
        ),
        ApiError::TooLarge(_) => ("invalid_request_error", None, Some("request_too_large")),
        ApiError::NoRoute(_) => ("invalid_request_error", None, Some("unknown_url")),
        ApiError::RateLimited => ("requests", None, Some("rate_limit_exceeded")),
        ApiError::ContextLength => (
            "invalid_request_error",
            Some("messages"),
            Some("context_length_exceeded"),
        ),
        ApiError::ContentFilter => (
            "invalid_request_error",
            Some("prompt"),
            Some("content_filter"),
        ),
        ApiError::Status(status) => match status.as_u16() {
            401 => ("invalid_request_error", None, Some("invalid_api_key")),
            402 | 403 => ("insufficient_quota", None, Some("insufficient_quota")),
            404 => ("invalid_request_error", None, Some("not_found")),
            400..=499 => ("invalid_request_error", None, None),
            _ => ("server_error", None, None),
        },
    };
    let mut out = Vec::with_capacity(128 + message.len());
    out.extend_from_slice(b"{\"error\":{\"message\":");
    push_json_str(&mut out, message);
    out.extend_from_slice(b",\"type\":");
    push_json_str(&mut out, kind);
    out.extend_from_slice(b",\"param\":");
    push_opt(&mut out, param);
    out.extend_from_slice(b",\"code\":");
    push_opt(&mut out, code);
    out.extend_from_slice(b"}}");
    out
}

fn push_opt(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(value) => push_json_str(out, value),
        None => out.extend_from_slice(b"null"),
    }
}

/// `GET /v1/models`.
pub(crate) fn models<'a>(names: impl Iterator<Item = &'a str>, created: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"object\":\"list\",\"data\":[");
    for (index, name) in names.enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"id\":");
        push_json_str(&mut out, name);
        out.extend_from_slice(b",\"object\":\"model\",\"created\":");
        push_u64(&mut out, created);
        out.extend_from_slice(b",\"owned_by\":\"orkestra-mock\"}");
    }
    out.extend_from_slice(b"]}");
    out
}
