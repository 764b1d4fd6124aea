//! Ollama native chat: `POST /api/chat`, NDJSON by default and plain with `"stream": false`.

use std::borrow::Cow;

use serde::Deserialize;

use super::{
    ChatInput, Content, Envelope, InMessage, StreamParts, finish_word, fold_messages,
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
    options: Option<Options>,
}

#[derive(Deserialize)]
struct Options {
    /// Ollama's output limit; negative means unlimited.
    #[serde(default)]
    num_predict: Option<i64>,
}

pub(crate) fn parse(body: &[u8]) -> Result<ChatInput<'_>, String> {
    let request: Request<'_> = serde_json::from_slice(body).map_err(|error| error.to_string())?;
    let (chars, last_user) = fold_messages(request.messages, &Content::Empty);
    Ok(ChatInput {
        model: request.model,
        last_user,
        chars,
        // Ollama streams unless told not to.
        stream: request.stream.unwrap_or(true),
        include_usage: false,
        max_tokens: request
            .options
            .and_then(|options| options.num_predict)
            .and_then(|limit| u32::try_from(limit).ok()),
    })
}

/// `{"model":..,"created_at":..,"message":{"role":"assistant","content":<text>},"done":`
fn push_head(out: &mut Vec<u8>, envelope: &Envelope<'_>, text: &str) {
    out.extend_from_slice(b"{\"model\":");
    push_json_str(out, envelope.model);
    out.extend_from_slice(b",\"created_at\":");
    push_json_str(out, envelope.created_at);
    out.extend_from_slice(b",\"message\":{\"role\":\"assistant\",\"content\":");
    push_json_str(out, text);
    out.extend_from_slice(b"},\"done\":");
}

/// The closing fields of the last object: reason, counts and durations in nanoseconds.
fn push_done(out: &mut Vec<u8>, envelope: &Envelope<'_>, answer: &Answer) {
    out.extend_from_slice(b"true,\"done_reason\":\"");
    out.extend_from_slice(finish_word(answer.finish).as_bytes());
    out.extend_from_slice(b"\",\"total_duration\":");
    push_u64(out, envelope.ttft_ns.saturating_add(envelope.generation_ns));
    out.extend_from_slice(b",\"load_duration\":0,\"prompt_eval_count\":");
    push_u64(out, answer.prompt_tokens.into());
    out.extend_from_slice(b",\"prompt_eval_duration\":");
    push_u64(out, envelope.ttft_ns);
    out.extend_from_slice(b",\"eval_count\":");
    push_u64(out, answer.completion_tokens.into());
    out.extend_from_slice(b",\"eval_duration\":");
    push_u64(out, envelope.generation_ns);
    out.push(b'}');
}

pub(crate) fn plain(envelope: &Envelope<'_>, answer: &Answer) -> Vec<u8> {
    let mut out = Vec::with_capacity(320 + answer.text.len());
    push_head(&mut out, envelope, &answer.text);
    push_done(&mut out, envelope, answer);
    out
}

pub(crate) fn stream(envelope: &Envelope<'_>, answer: &Answer) -> StreamParts {
    let deltas = answer
        .chunks()
        .into_iter()
        .map(|text| {
            let mut line = Vec::with_capacity(160 + text.len());
            push_head(&mut line, envelope, text);
            line.extend_from_slice(b"false}\n");
            line
        })
        .collect();
    let mut terminator = Vec::with_capacity(320);
    push_head(&mut terminator, envelope, "");
    push_done(&mut terminator, envelope, answer);
    terminator.push(b'\n');
    let mut malformed = Vec::with_capacity(64);
    malformed.extend_from_slice(b"{\"model\":");
    push_json_str(&mut malformed, envelope.model);
    malformed.extend_from_slice(b",\"message\":{\"role\":\n");
    StreamParts {
        head: Vec::new(),
        deltas,
        tail: Vec::new(),
        terminator,
        malformed,
    }
}

pub(crate) fn error_body(message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + message.len());
    out.extend_from_slice(b"{\"error\":");
    push_json_str(&mut out, message);
    out.push(b'}');
    out
}

/// `GET /api/tags`.
pub(crate) fn tags<'a>(names: impl Iterator<Item = &'a str>, modified_at: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"models\":[");
    for (index, name) in names.enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"name\":");
        push_json_str(&mut out, name);
        out.extend_from_slice(b",\"model\":");
        push_json_str(&mut out, name);
        out.extend_from_slice(b",\"modified_at\":");
        push_json_str(&mut out, modified_at);
        out.extend_from_slice(
            b",\"size\":0,\"digest\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"details\":{\"parent_model\":\"\",\"format\":\"gguf\",\"family\":\"mock\",\"families\":[\"mock\"],\"parameter_size\":\"0B\",\"quantization_level\":\"none\"}}",
        );
    }
    out.extend_from_slice(b"]}");
    out
}
