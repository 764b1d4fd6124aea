//! The OpenAI-compatible chat API: `POST {base_url}/chat/completions`, plain and streamed, and
//! `GET {base_url}/models`.
//!
//! One client serves `OpenAI`, vLLM, llama.cpp server, LM Studio, Ollama's `/v1`, Groq,
//! Together and `OpenRouter`: they differ only in [`OpenAiConfig`] (base URL, key variable,
//! headers). There is no per-vendor code; parsing is tolerant instead (missing `id`,
//! `created`, `model` or `usage`, extra fields, unknown finish reasons, `null` lists).
//!
//! | server | `base_url` | `api_key_env` |
//! |---|---|---|
//! | `OpenAI` | `https://api.openai.com/v1` | `OPENAI_API_KEY` |
//! | Groq | `https://api.groq.com/openai/v1` | `GROQ_API_KEY` |
//! | Together | `https://api.together.xyz/v1` | `TOGETHER_API_KEY` |
//! | `OpenRouter` | `https://openrouter.ai/api/v1` | `OPENROUTER_API_KEY` |
//! | vLLM | `http://localhost:8000/v1` | none, or the `--api-key` variable |
//! | llama.cpp server | `http://localhost:8080/v1` | none |
//! | LM Studio | `http://localhost:1234/v1` | none |
//! | Ollama | `http://localhost:11434/v1` | none |
//!
//! The wire mapping is sans-IO and public, so benches and gateways reading upstream bodies can
//! use it, in the same shape as the other formats' modules:
//! - [`request_body`]: a [`orkestra_core::ChatRequest`] as the body, borrowed, under the
//!   upstream model's name;
//! - [`parse_response`] and [`parse_chunk`]: a `chat.completion` and a
//!   `chat.completion.chunk`, read tolerantly;
//! - [`chunk_events`]: one stream chunk straight into its [`StreamEvent`]s.
//!
//! A stream ends with `data: [DONE]`, or after its first `finish_reason` when the server
//! closes it without `[DONE]` (several compatible servers do). A stream that ends before any
//! `finish_reason` is cut: an error item (`network`, retryable), never a clean end. When the
//! server leaves usage out, the client estimates it and marks it estimated.

mod client;
mod request;
mod response;
mod stream;

pub use client::{OpenAiClient, OpenAiConfig};
pub use request::{ChatBody, Mode, request_body};

use orkestra_core::{Error, StreamEvent};

use crate::error;

/// Reads a `chat.completion` body, tolerating what compatible servers leave out (see the
/// [module docs](self)).
pub fn parse_response(body: &[u8]) -> Result<orkestra_core::ChatResponse, serde_json::Error> {
    response::parse_response(body)
}

/// Reads the data of one stream event as a `chat.completion.chunk`.
pub fn parse_chunk(data: &[u8]) -> Result<orkestra_core::ChatChunk, serde_json::Error> {
    response::parse_chunk(data)
}

/// Reads the data of one stream event straight into the [`StreamEvent`]s it carries (with
/// [`StreamEvent::Start`] first when `first`), the same as [`parse_chunk`] followed by
/// [`orkestra_core::ChatChunk::into_events`] but without building the chunk.
///
/// An `error` object sent inside the stream is returned as its classified error; JSON that
/// is not a chunk is an `internal` error naming the position.
pub fn chunk_events(data: &[u8], first: bool) -> Result<Vec<StreamEvent>, Error> {
    let chunk = response::parse_chunk_events(data, first)
        .map_err(|failure| error::malformed_json("stream chunk", failure, data))?;
    match chunk.error {
        Some(inner)
            if !chunk
                .events
                .iter()
                .any(|e| !matches!(e, StreamEvent::Start { .. })) =>
        {
            let value = serde_json::json!({ "error": inner });
            Err(error::from_stream_error(&value))
        }
        _ => Ok(chunk.events),
    }
}

#[cfg(test)]
mod tests;
