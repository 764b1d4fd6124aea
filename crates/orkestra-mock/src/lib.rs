//! A fault-injecting simulator of language model servers, so every test, benchmark and demo of
//! orkestra runs offline against the real wire formats.
//!
//! It speaks OpenAI-compatible `POST /v1/chat/completions` (plain and SSE) and
//! `GET /v1/models`, Anthropic `POST /v1/messages` (plain and every stream event), and Ollama
//! `POST /api/chat` (NDJSON and plain) and `GET /api/tags`.
//! Each model has its latency, output, usage and faults ([`config`]); everything random is
//! seeded.

pub mod config;
mod log;
mod server;
mod wire;

mod behaviour;

pub use config::{
    ConfigError, Fault, FaultRule, FixedUsage, Latency, MockConfig, ModelBehaviour, Output, Trigger,
};
pub use log::LoggedRequest;
pub use server::MockServer;
pub use wire::WireFormat;
