//! Wire clients for language model servers, each an [`orkestra_core::ChatBackend`]: the
//! OpenAI-compatible chat API (OpenAI, vLLM, llama.cpp server, LM Studio, Ollama's `/v1`, Groq,
//! Together, OpenRouter), the Anthropic Messages API, Ollama's native API, and an offline echo
//! model.
//!
//! Every failure, from an HTTP status to a stream cut before its answer ended, is an
//! [`orkestra_core::Error`] with its [`orkestra_core::ErrorClass`]. An upstream error body's
//! message is kept as the server wrote it, and its `type`, `code` and `param` in
//! [`orkestra_core::Error::upstream`].
//!
//! # Tour
//!
//! Each client is one module of the same shape: a `Config` (serde, unknown keys refused,
//! documented defaults) that an application's configuration file can hold as it is, the client,
//! and its sans-IO wire mapping (`request_body`, a borrowed typed body under the upstream
//! model's name; `parse_response`; a stream parser):
//!
//! - [`openai`]: [`OpenAiClient`] and [`OpenAiConfig`], `POST {base_url}/chat/completions`
//!   plain and streamed (SSE, `stream_options.include_usage`) and `GET {base_url}/models`. One
//!   client, configured per server; parsing tolerates what compatible servers leave out.
//! - [`anthropic`]: [`AnthropicClient`] and [`AnthropicConfig`], `POST {base_url}/v1/messages`
//!   plain and streamed (every event type), with `system` lifted out of the messages and
//!   `max_tokens` always sent.
//! - [`ollama`]: [`OllamaClient`] and [`OllamaConfig`], `POST {base_url}/api/chat` plain and
//!   streamed as NDJSON (`done: true` required) and `GET {base_url}/api/tags`.
//! - [`EchoBackend`]: no network at all: it answers the last user message, for offline tests
//!   and demos.
//!
//! Every client answers through [`ChatBackend::chat_as`](orkestra_core::ChatBackend::chat_as)
//! without copying the request: a router tells it the upstream model's name beside the
//! caller's request. A stream ends cleanly after its format's terminator, or after its finish
//! reason when a server closes it without the terminator (`OpenAI`'s `finish_reason`,
//! Anthropic's `stop_reason`); a stream that ends before that is cut, an error item.
//!
//! Shared by every client, and also public:
//!
//! - [`HttpConfig`]: connect, first-byte, idle and total timeouts, the connection pool and the
//!   body cap, part of each client's configuration. Every connection sets `TCP_NODELAY`, and
//!   dropping a call's future or stream closes its connection.
//! - [`Secret`]: an API key read from the environment and printed as `*****`.
//! - [`SseDecoder`] (with [`SseEvent`] and [`SseError`]): the incremental server-sent-events
//!   decoder the streams use, public for the benches and for programs reading an event stream
//!   themselves.
//!
//! # Example
//!
//! A local vLLM server needs no key; its configuration reads from JSON or TOML alike.
//!
//! ```
//! use orkestra_providers::{OpenAiClient, OpenAiConfig};
//!
//! let config: OpenAiConfig = serde_json::from_str(
//!     r#"{"name": "vllm", "base_url": "http://127.0.0.1:8000/v1/", "api_key_env": null,
//!         "http": {"first_byte_timeout": "30s"}}"#,
//! )?;
//! let client = OpenAiClient::new(config)?;
//! assert_eq!(client.base_url(), "http://127.0.0.1:8000/v1");
//!
//! let unknown = serde_json::from_str::<OpenAiConfig>(r#"{"anthropic_version": "2023-06-01"}"#);
//! assert!(unknown.unwrap_err().to_string().contains("unknown field `anthropic_version`"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Feature flags
//!
//! This crate has no optional features. TLS is rustls on the ring provider, installed as the
//! process default the first time a client is built unless the application installed one.

pub mod anthropic;
mod echo;
mod error;
mod event_stream;
mod http;
pub mod ollama;
pub mod openai;
mod origin;
mod secret;
mod sse;
mod usage;

#[cfg(test)]
mod test_server;

pub use anthropic::{AnthropicClient, AnthropicConfig};
pub use echo::EchoBackend;
pub use http::HttpConfig;
pub use ollama::{OllamaClient, OllamaConfig};
pub use openai::{OpenAiClient, OpenAiConfig};
pub use secret::Secret;
pub use sse::{SseDecoder, SseError, SseEvent};
