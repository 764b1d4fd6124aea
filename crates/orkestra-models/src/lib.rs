//! Which model should serve this request, and why: the registry, task analyzer, scorer,
//! performance statistics and cost ledger behind orkestra's routing.
//!
//! # Tour
//!
//! - [`ModelSpec`] describes one model: context window, prices (integer [`Nanodollars`]),
//!   expected latency, quality per [`TaskKind`], capabilities, local or cloud.
//! - [`ModelRegistry`] holds the specs; readers get an immutable [`Snapshot`] without locking.
//!   [`Catalog`] reads and writes registries as JSON or TOML, imports LiteLLM's price file,
//!   and ships a built-in catalog.
//! - [`TaskAnalyzer`] turns a chat request into a [`TaskProfile`]: kind, complexity and why,
//!   token estimates, needs, language, turns.
//! - [`Scorer`] ranks the models for a profile under a [`Strategy`] and [`Constraints`] and
//!   returns a [`Selection`]: ranked candidates with score breakdowns, excluded models with
//!   reasons, and a fallback chain kept diverse across endpoints.
//! - [`PerfStats`] keeps bounded live history per model (EWMA, percentiles, success rate);
//!   [`CostLedger`] charges spend per principal, model and day against budgets.
//! - `store` persists all three in SQLite or PostgreSQL (feature `store`).
//! - [`Error`] is every failure of the crate, one type that classifies itself
//!   ([`orkestra_core::Classify`]); a problem in a catalog file reads
//!   `FILE:LINE:COLUMN: KEY: what was expected`.
//!
//! Everything except `store` is sans-IO: values in, values out, time passed in by the caller.
//!
//! # Example
//!
//! ```
//! use orkestra_models::{ModelRegistry, ModelId, ModelSpec};
//!
//! let registry = ModelRegistry::new();
//! registry.add(ModelSpec::new(ModelId::new("ollama/llama3.1:8b")?, 8_192))?;
//! assert_eq!(registry.snapshot().len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `store` | yes | `store::Store`: the registry, statistics and charges persisted in SQLite or PostgreSQL, through `sqlx`. Without it the crate has no IO and no database driver to build. |

pub mod analyzer;
pub mod catalog;
mod error;
pub mod ledger;
pub mod money;
pub mod registry;
pub mod scorer;
pub mod spec;
pub mod stats;
#[cfg(feature = "store")]
pub mod store;
pub mod task;
pub mod time;

pub use analyzer::TaskAnalyzer;
pub use catalog::Catalog;
pub use error::Error;
pub use ledger::{Budget, Charge, CostLedger};
pub use money::{Nanodollars, TokenPrice};
pub use registry::{ModelRegistry, Snapshot};
pub use scorer::{Constraints, NoCandidate, Policy, Scorer, ScorerConfig, Selection, Strategy};
pub use spec::{
    Capabilities, Capability, Deployment, LatencyProfile, ModelId, ModelSpec, QualityScores,
};
pub use stats::{LiveSignals, Outcome, PerfStats, ScoringSignals, Signals};
pub use task::{Complexity, ComplexitySignal, Language, Needs, TaskKind, TaskProfile};
pub use time::{Day, Month, UnixMillis};
