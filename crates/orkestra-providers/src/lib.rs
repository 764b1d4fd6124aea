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
//! The clients:
//!
//! - [`openai`]: [`OpenAiClient`] and [`OpenAiConfig`], `POST {base_url}/chat/completions`
//!   plain and streamed (SSE, `stream_options.include_usage`, `[DONE]` required) and
//!   `GET {base_url}/models`. One client, configured per server; parsing tolerates what
//!   compatible servers leave out.
//! - [`anthropic`]: [`AnthropicClient`] and [`AnthropicConfig`], `POST {base_url}/v1/messages`
//!   plain and streamed (every event type, `message_stop` required), with `system` lifted out of
//!   the messages and `max_tokens` always sent.
//! - [`ollama`]: [`OllamaClient`] and [`OllamaConfig`], `POST {base_url}/api/chat` plain and
//!   streamed as NDJSON (`done: true` required) and `GET {base_url}/api/tags`.
//! - [`echo`]: [`EchoBackend`], no network at all: it answers the last user message, for
//!   offline tests and demos.
//!
//! The shared layer, which every client uses:
//!
//! - [`secret`]: [`Secret`], an API key read from the environment and printed as `*****`.
//! - [`http`]: [`HttpConfig`] and [`HttpClient`], pooled rustls connections with
//!   `TCP_NODELAY`, separate connect, first-byte, idle and total timeouts and a body size cap.
//!   Dropping a call's future or stream closes its connection.
//! - [`error`]: the classification table, from HTTP statuses, error bodies in the `OpenAI`,
//!   Anthropic and Ollama shapes, `Retry-After`, transport failures and malformed input.
//! - [`sse`]: an incremental server-sent events decoder and a body-to-events stream.
//! - [`usage`]: token estimates, marked as such, for servers that leave usage out.
//!
//! # Example
//!
//! A local vLLM server needs no key; an error body from any of the three wire formats is
//! classified the same way.
//!
//! ```
//! use orkestra_core::{Classify, ErrorCategory};
//! use orkestra_providers::{OpenAiClient, OpenAiConfig, error};
//!
//! let client = OpenAiClient::new(OpenAiConfig::local("vllm", "http://127.0.0.1:8000/v1/"))?;
//! assert_eq!(client.base_url(), "http://127.0.0.1:8000/v1");
//!
//! let body = br#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#;
//! let failure = error::from_status(400, &Default::default(), body);
//! assert_eq!(failure.class().category, ErrorCategory::ContextLength);
//! assert!(!failure.class().retryable);
//! # Ok::<(), orkestra_core::Error>(())
//! ```
//!
//! # Feature flags
//!
//! This crate has no optional features. TLS is rustls on the ring provider, installed as the
//! process default the first time a client is built unless the application installed one.

pub mod anthropic;
pub mod echo;
pub mod error;
mod event_stream;
pub mod http;
pub mod ollama;
pub mod openai;
pub mod secret;
pub mod sse;
pub mod usage;

#[cfg(test)]
mod test_server;

pub use anthropic::{AnthropicClient, AnthropicConfig};
pub use echo::EchoBackend;
pub use http::{Endpoint, HttpClient, HttpConfig, HttpResponse};
pub use ollama::{OllamaClient, OllamaConfig};
pub use openai::{OpenAiClient, OpenAiConfig};
pub use secret::Secret;
