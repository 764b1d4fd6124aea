//! Ollama's native API: `POST /api/chat`, plain and streamed as newline-delimited JSON, and
//! `GET /api/tags`.
//!
//! The wire mapping is sans-IO and public, so the simulator and tests can use it:
//! - [`request_body`]: a [`orkestra_core::ChatRequest`] as an `/api/chat` body, borrowed,
//!   under the upstream model's name;
//! - [`parse_response`]: a plain answer as a [`orkestra_core::ChatResponse`], usage estimated
//!   and marked so where Ollama left a count out;
//! - [`LineDecoder`] and [`ChunkParser`]: a streamed answer, split into lines whatever the
//!   network chunking, as [`orkestra_core::StreamEvent`]s, failing on a stream without
//!   `done: true`;
//! - [`parse_tags`]: the model names of `/api/tags`;
//! - [`error_category`]: the class of an Ollama error message.
//!
//! [`OllamaClient`] puts them on the wire over the shared HTTP layer (connect, first-byte, idle
//! and total timeouts, a body cap, cancellation on drop).

mod client;
mod request;
mod response;
mod stream;

pub use client::{OllamaClient, OllamaConfig};
pub use request::{ChatBody, request_body};
pub use response::{error_category, parse_response, parse_tags};
pub use stream::{ChunkParser, DEFAULT_MAX_LINE_BYTES, LineDecoder};

use orkestra_core::Error;

/// An error for a stream line that does not follow Ollama's API.
fn malformed(what: std::fmt::Arguments<'_>) -> Error {
    crate::error::malformed_stream(format_args!("ollama {what}"))
}

#[cfg(test)]
mod tests;
