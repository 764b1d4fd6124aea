//! orkestra: put one orchestrator in front of your language models.
//!
//! An [`Orchestrator`] takes an OpenAI-style chat request, picks the model that should answer
//! it (or takes the one named), calls it through a circuit breaker, retries, a timeout and a
//! bulkhead, falls back to the next model by the class of the error, and records latency,
//! outcome, tokens and cost. It implements [`ChatBackend`](orkestra_core::ChatBackend) itself,
//! so anything that takes a backend takes a routed, resilient one.
//!
//! # Tour
//!
//! - [`config`]: `orkestra.toml`, every section with its defaults (`docs/configuration.md`).
//! - [`Orchestrator`]: [`route`](Orchestrator::route) explains a choice without calling a
//!   model; [`complete`](Orchestrator::complete) and
//!   [`complete_stream`](Orchestrator::complete_stream) answer, reporting every attempt
//!   ([`report`]); the fallback rules are in the [`orchestrator`] module docs.
//! - [`consensus`]: ask several models and vote.
//! - The focused crates, re-exported: [`core`], [`models`], [`resilience`] and, with the
//!   `providers` feature, [`providers`]. [`prelude`] holds what most programs use.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use orkestra::prelude::*;
//! use orkestra::providers::EchoBackend;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let orchestrator = Orchestrator::builder()
//!     .model(ModelSpec::new(ModelId::new("echo/small")?, 8_192))
//!     .backend("echo", Arc::new(EchoBackend::new()))
//!     .build()?;
//! let request = ChatRequest::new("auto", vec![Message::user("Say hello")]);
//! let completion = orchestrator.complete(&request, &CallContext::default()).await?;
//! assert_eq!(completion.response.model, "echo/small");
//! assert_eq!(completion.report.attempts.len(), 1);
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `providers` | yes | the wire clients as [`providers`], and [`Orchestrator::from_config`] building them from `orkestra.toml` |

pub mod config;
pub mod consensus;
pub mod orchestrator;
pub mod prelude;
mod recorder;
pub mod report;

pub use config::Config;
pub use consensus::{ConsensusAnswer, ConsensusConfig, Vote, Voting};
pub use orchestrator::{BuildError, CallContext, Orchestrator, OrchestratorBuilder, Route, Target};
pub use report::{Attempt, CallError, Completion, RouteReport, RoutedStream};

/// Shared vocabulary: chat types, `ChatBackend`, error classes, clocks (`orkestra-core`).
pub use orkestra_core as core;
/// Registry, analyzer, scorer, statistics, ledger and store (`orkestra-models`).
pub use orkestra_models as models;
/// Wire clients: OpenAI-compatible, Anthropic, Ollama, echo (`orkestra-providers`).
#[cfg(feature = "providers")]
pub use orkestra_providers as providers;
/// Retry, circuit breaker, timeout, bulkhead, rate limiter (`orkestra-resilience`).
pub use orkestra_resilience as resilience;
