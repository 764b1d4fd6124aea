//! The scorer's answer: [`Selection`], with a breakdown per candidate and a reason per exclusion.

use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::strategy::Strategy;
use crate::money::Nanodollars;
use crate::spec::{Capability, ModelId, ModelSpec};
use crate::task::{Complexity, TaskKind};

/// One term of a score: the model's value on it, the weight it got, and their product.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Term {
    /// The model's value, 0 (worst) to 1 (best).
    pub value: f64,
    /// The normalised weight of the term.
    pub weight: f64,
    /// `value * weight`: what the term added to the score.
    pub contribution: f64,
}

impl Term {
    pub(crate) fn new(value: f64, weight: f64) -> Self {
        Self {
            value,
            weight,
            contribution: value * weight,
        }
    }
}

/// Which term contributed what to a candidate's score.
///
/// `score = quality + cost + speed + reliability (contributions) + local - adequacy_penalty`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Breakdown {
    /// Quality for the task kind (live success folded in via `reliability`, not here).
    pub quality: Term,
    /// Cheapness: `1 / (1 + cost / reference cost)`.
    pub cost: Term,
    /// Speed: `1 / (1 + latency / reference latency)`.
    pub speed: Term,
    /// Smoothed live success rate, halved while the breaker is half-open.
    pub reliability: Term,
    /// The local bonus, for local models.
    pub local: f64,
    /// Subtracted when quality falls short of the floor for the task's complexity.
    pub adequacy_penalty: f64,
}

/// A model that may serve the request, with its score and how it was made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// The model.
    #[serde(serialize_with = "serialize_id")]
    pub model: Arc<ModelSpec>,
    /// The total score; higher is better.
    pub score: f64,
    /// Where the score came from.
    pub breakdown: Breakdown,
    /// Estimated cost of the request on this model.
    pub estimated_cost: Nanodollars,
    /// Estimated latency of the request on this model.
    #[serde(serialize_with = "serialize_duration")]
    pub estimated_latency: Duration,
    /// Whether the estimates came from live statistics (else from the spec alone).
    pub measured: bool,
}

fn serialize_id<S: serde::Serializer>(spec: &Arc<ModelSpec>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(spec.id.as_str())
}

fn serialize_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1e3)
}

/// Why a model was excluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
#[non_exhaustive]
pub enum Exclusion {
    /// Prompt plus expected output do not fit the context window.
    ContextWindow {
        /// Tokens needed.
        needed: u64,
        /// The model's window.
        window: u32,
    },
    /// The caller asked for a larger window (after a context-length error).
    SmallerThanRequired {
        /// Smallest window acceptable.
        required: u32,
        /// The model's window.
        window: u32,
    },
    /// The expected output exceeds the model's output limit.
    OutputLimit {
        /// Output tokens expected.
        needed: u32,
        /// The model's limit.
        max: u32,
    },
    /// The estimated cost exceeds the per-request budget.
    OverBudget {
        /// Estimated cost.
        estimated: Nanodollars,
        /// The budget.
        budget: Nanodollars,
    },
    /// The expected latency exceeds the target.
    TooSlow {
        /// Expected latency, milliseconds.
        estimated_ms: u64,
        /// The target, milliseconds.
        target_ms: u64,
    },
    /// A needed capability is missing.
    MissingCapability {
        /// The capability.
        capability: Capability,
    },
    /// The model matches a deny pattern.
    Denied,
    /// An allow list is set and the model is not on it.
    NotAllowed,
    /// Only local models were allowed.
    NotLocal,
    /// The model's circuit breaker is open.
    BreakerOpen,
}

impl fmt::Display for Exclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ContextWindow { needed, window } => {
                write!(f, "needs {needed} tokens, context window is {window}")
            }
            Self::SmallerThanRequired { required, window } => {
                write!(
                    f,
                    "context window {window} is below the required {required}"
                )
            }
            Self::OutputLimit { needed, max } => {
                write!(
                    f,
                    "expects {needed} output tokens, the model's limit is {max}"
                )
            }
            Self::OverBudget { estimated, budget } => {
                write!(
                    f,
                    "estimated {estimated} exceeds the request budget {budget}"
                )
            }
            Self::TooSlow {
                estimated_ms,
                target_ms,
            } => write!(
                f,
                "expected {estimated_ms} ms exceeds the {target_ms} ms target"
            ),
            Self::MissingCapability { capability } => write!(f, "lacks {capability}"),
            Self::Denied => f.write_str("denied by the deny list"),
            Self::NotAllowed => f.write_str("not on the allow list"),
            Self::NotLocal => f.write_str("not local, and only local models are allowed"),
            Self::BreakerOpen => f.write_str("circuit breaker is open"),
        }
    }
}

/// A model left out of the ranking, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Excluded {
    /// The model.
    pub model: ModelId,
    /// The first rule it broke.
    #[serde(flatten)]
    pub reason: Exclusion,
}

/// The models that may serve a request, best first, and those that may not, with reasons.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Selection {
    /// The strategy used.
    pub strategy: Strategy,
    /// The task kind scored for.
    pub kind: TaskKind,
    /// The complexity scored for.
    pub complexity: Complexity,
    /// Candidates in fallback order: the best first, then kept diverse across endpoints (see
    /// [`super::Scorer`]).
    pub ranked: Vec<Candidate>,
    /// Models excluded by a hard constraint, in registry order.
    pub excluded: Vec<Excluded>,
    /// The registry snapshot version ranked.
    pub registry_version: u64,
}

impl Selection {
    /// The model to call first.
    pub fn best(&self) -> Option<&Candidate> {
        self.ranked.first()
    }

    /// The fallback chain: every candidate in the order to try them.
    pub fn chain(&self) -> impl Iterator<Item = &Arc<ModelSpec>> {
        self.ranked.iter().map(|c| &c.model)
    }

    /// The ids of the chain.
    pub fn ids(&self) -> Vec<&str> {
        self.ranked.iter().map(|c| c.model.id.as_str()).collect()
    }

    /// Why `model` was excluded, if it was.
    pub fn exclusion(&self, model: &str) -> Option<&Exclusion> {
        self.excluded
            .iter()
            .find(|e| e.model.as_str() == model)
            .map(|e| &e.reason)
    }

    /// A human explanation: the ranking with each score's breakdown, then the exclusions.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} task, {} complexity, strategy {}: {} candidates, {} excluded",
            self.kind,
            self.complexity,
            self.strategy,
            self.ranked.len(),
            self.excluded.len()
        );
        for (i, c) in self.ranked.iter().enumerate() {
            let b = &c.breakdown;
            let _ = writeln!(
                out,
                "{:>2}. {:<40} score {:.3} = quality {:.3} + cost {:.3} + speed {:.3} + reliability {:.3}{}{}  ({}, ~{} ms{})",
                i + 1,
                c.model.id.as_str(),
                c.score,
                b.quality.contribution,
                b.cost.contribution,
                b.speed.contribution,
                b.reliability.contribution,
                if b.local > 0.0 {
                    format!(" + local {:.3}", b.local)
                } else {
                    String::new()
                },
                if b.adequacy_penalty > 0.0 {
                    format!(" - below the quality floor {:.3}", b.adequacy_penalty)
                } else {
                    String::new()
                },
                c.estimated_cost,
                c.estimated_latency.as_millis(),
                if c.measured { ", measured" } else { "" },
            );
        }
        for e in &self.excluded {
            let _ = writeln!(out, "  x {:<40} {}", e.model.as_str(), e.reason);
        }
        out
    }
}
