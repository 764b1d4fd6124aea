//! The Anthropic Messages API (`POST /v1/messages`), plain and streamed.
//!
//! The wire mapping is sans-IO and public, so the simulator and tests can use it:
//! - [`request_body`]: a [`orkestra_core::ChatRequest`] as a Messages body, borrowed, under the
//!   upstream model's name (`system` lifted out, turns merged, `max_tokens` always set, tools,
//!   tool results, images, JSON mode);
//! - [`parse_response`]: a Messages response as a [`orkestra_core::ChatResponse`];
//! - [`EventParser`]: stream events as [`orkestra_core::StreamEvent`]s; a stream that ends
//!   after its `stop_reason` without `message_stop` is whole, one that ends before it is cut;
//! - [`error_category`] and [`finish_reason`]: Anthropic's error types and stop reasons.
//!
//! [`AnthropicClient`] puts them on the wire: `POST {base_url}/v1/messages` with `x-api-key`
//! and `anthropic-version`, over the shared HTTP layer (connect, first-byte, idle
//! and total timeouts, a body cap, cancellation on drop) and server-sent-events decoder.

mod client;
mod request;
mod response;
mod stream;

pub use client::{AnthropicClient, AnthropicConfig};
pub use request::{JSON_OBJECT_INSTRUCTION, MessagesBody, request_body};
pub use response::{error_category, finish_reason, parse_response};
pub use stream::EventParser;

use orkestra_core::Error;

/// An error for a stream event that does not follow the Messages API.
fn malformed(what: std::fmt::Arguments<'_>) -> Error {
    crate::error::malformed_stream(format_args!("anthropic {what}"))
}

#[cfg(test)]
mod tests;
