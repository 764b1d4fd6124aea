//! Wire clients for language model servers, each an [`orkestra_core::ChatBackend`]: the
//! OpenAI-compatible chat API (OpenAI, vLLM, llama.cpp server, LM Studio, Ollama's `/v1`, Groq,
//! Together, OpenRouter), the Anthropic Messages API, Ollama's native API, and an offline echo
//! model.
//!
//! Every failure, from an HTTP status to a stream that ends without its terminator, is an
//! [`orkestra_core::Error`] with its [`orkestra_core::ErrorClass`].
//!
//! # Tour
//!
//! The shared layer, which every client uses:
//!
//! - [`secret`]: [`Secret`], an API key read from the environment and printed as `*****`.
//! - [`http`]: [`HttpConfig`] and [`HttpClient`], pooled rustls connections with separate
//!   connect, first-byte, idle and total timeouts and a body size cap.
//! - [`error`]: the classification table, from HTTP statuses, error bodies in the `OpenAI`,
//!   Anthropic and Ollama shapes, `Retry-After`, transport failures and malformed input.
//! - [`sse`]: an incremental server-sent events decoder.
//! - [`usage`]: token estimates for servers that leave usage out.
//!
//! # Feature flags
//!
//! This crate has no optional features.

pub mod anthropic;
pub mod echo;
pub mod error;
mod event_stream;
pub mod http;
pub mod ollama;
pub mod secret;
pub mod sse;
pub mod usage;

#[cfg(test)]
mod test_server;

pub use http::{HttpClient, HttpConfig, HttpResponse};
pub use secret::Secret;
