//! Resilience policies for async calls: retry, circuit breaker, timeout, bulkhead and rate
//! limiter, composed into one [`Pipeline`].
//!
//! Every policy wraps any async operation whose error implements [`orkestra_core::Classify`].
//! Policies never match on the operation's error variants: they ask for its
//! [`ErrorClass`](orkestra_core::ErrorClass) (category, retryable, `retry_after`, severity) and
//! act on that, and every refusal of their own ([`Error`]) classifies itself the same way, so
//! policies stack without knowing each other.
//!
//! # Tour
//!
//! - [`retry`]: [`Retry`] with `max_attempts` (total calls, not retries), exponential backoff
//!   with full, equal or decorrelated jitter, `Retry-After` honoured, an optional retry budget.
//! - [`breaker`]: [`CircuitBreaker`], closed / open / half-open, count- or time-based sliding
//!   window, failure-rate and slow-call-rate thresholds, RAII half-open permits,
//!   compare-and-swap transitions, listeners and snapshots.
//! - [`timeout`], [`bulkhead`], [`rate_limit`] (GCRA, direct and keyed).
//! - [`pipeline`]: [`Pipeline`], all of the above in one fixed order:
//!   retry, rate limiter, bulkhead, circuit breaker, timeout, operation. A caller that chooses
//!   between waiting and calling elsewhere drives the retry itself, attempt by attempt
//!   ([`Retry::start`], [`Pipeline::attempt_within`]).
//!
//! Falling back to another upstream is not a policy here: what to try next depends on what the
//! caller knows (context windows, providers, expected answer times), so the `orkestra` facade
//! owns its fallback rules and builds them on these policies.
//!
//! Every policy has a serde configuration with human-readable durations (`"250ms"`),
//! documented defaults and unknown keys rejected; [`PipelineConfig`] gathers them.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use orkestra_core::{ErrorCategory, ErrorClass};
//! use orkestra_resilience::{Pipeline, PipelineConfig};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config: PipelineConfig = toml::from_str(r#"
//!     [retry]
//!     max_attempts = 3
//!     backoff = { initial = "50ms", max = "1s" }
//!
//!     [circuit_breaker]
//!     open_duration = "30s"
//!
//!     [timeout]
//!     duration = "10s"
//! "#)?;
//! let pipeline = Pipeline::from_config("openai/gpt-4o-mini", &config)?;
//!
//! // The first call is refused as overloaded, the retry succeeds.
//! let mut calls = 0;
//! let answer = pipeline
//!     .call(|| {
//!         calls += 1;
//!         let result = if calls == 1 {
//!             Err(ErrorClass::new(ErrorCategory::Overloaded))
//!         } else {
//!             Ok("hello")
//!         };
//!         async move { result }
//!     })
//!     .await?;
//! assert_eq!((answer, calls), ("hello", 2));
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! This crate has no optional features. `governor` is wrapped by [`rate_limit`] alone and
//! banned elsewhere by `clippy.toml`.

pub mod breaker;
pub mod bulkhead;
pub mod category_set;
pub mod error;
pub mod pipeline;
pub mod rate_limit;
pub mod retry;
pub mod timeout;

pub use breaker::CircuitBreaker;
pub use category_set::CategorySet;
pub use error::{ConfigError, Error};
pub use pipeline::{Failure, Pipeline, PipelineConfig};
pub use retry::{Attempts, Retry, RetryConfig, RetryError};
