//! A fault-injecting simulator of language model servers, so every test, benchmark and demo of
//! orkestra runs offline against the real wire formats.
//!
//! # Tour
//!
//! - [`MockServer`] serves on loopback: OpenAI-compatible `POST /v1/chat/completions` (plain and
//!   SSE, `stream_options.include_usage`) and `GET /v1/models`; Anthropic `POST /v1/messages`
//!   (plain and every stream event, `max_tokens` required); Ollama `POST /api/chat` (NDJSON by
//!   default, plain with `"stream": false`) and `GET /api/tags`. Errors come in each format's
//!   own shape.
//! - [`config`] says what each model does: time to first token and per-token latency
//!   ([`Latency`]: fixed, uniform, log-normal), the answer ([`Output`]: echo, fixed, script,
//!   generated, after an optional `preface` such as "simulated by ..."), usage ([`FixedUsage`] or about four characters per token), and [`Fault`]s with
//!   their [`Trigger`]s. The same types are the TOML / JSON file of `orkestra mock`.
//! - Determinism: every random choice derives from the seed, the model name and the request's
//!   number for that model, so the same requests fail the same way at any concurrency.
//! - Control while running: [`MockServer::set_model`] and friends, or over HTTP
//!   `GET /_mock/models`, `GET|PUT|DELETE /_mock/models/{name}` (PUT takes a [`ModelBehaviour`]
//!   as JSON), `GET|DELETE /_mock/requests` (the [`LoggedRequest`] log, last 10,000).
//! - [`MockServer::run`] serves a listener until a shutdown signal: the `orkestra mock` command.
//!
//! What each fault looks like on the wire is documented on [`Fault`]; for a plain (non-stream)
//! request, a cut stream declares a `Content-Length` and sends half of it, a stall sends half,
//! goes silent, then closes, a malformed chunk is a 200 whose body is not JSON, and a missing
//! terminator is a complete HTTP message whose JSON lacks its closing brace.
//!
//! # Example
//!
//! ```
//! use orkestra_mock::{MockConfig, MockServer, ModelBehaviour};
//! use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let server = MockServer::start(MockConfig {
//!     models: vec![ModelBehaviour::echo("gpt-4o-mini")],
//!     ..MockConfig::default()
//! })
//! .await?;
//!
//! let body = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}"#;
//! let mut stream = tokio::net::TcpStream::connect(server.addr()).await?;
//! stream
//!     .write_all(
//!         format!(
//!             "POST /v1/chat/completions HTTP/1.1\r\nhost: mock\r\ncontent-type: application/json\r\n\
//!              content-length: {}\r\nconnection: close\r\n\r\n{body}",
//!             body.len()
//!         )
//!         .as_bytes(),
//!     )
//!     .await?;
//! let mut response = String::new();
//! stream.read_to_string(&mut response).await?;
//! assert!(response.starts_with("HTTP/1.1 200 OK"));
//! assert!(response.contains(r#""content":"Hello""#));
//! assert_eq!(server.requests()[0].request_number, 1);
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! The crate has no optional features: it always speaks all three formats over HTTP/1.1 on
//! tokio, without TLS (it serves loopback).

pub mod config;

mod behaviour;
mod log;
mod server;
mod wire;

pub use config::{
    ConfigError, Fault, FaultRule, FixedUsage, Latency, MockConfig, ModelBehaviour, Output, Trigger,
};
pub use log::LoggedRequest;
pub use server::MockServer;
pub use wire::WireFormat;
