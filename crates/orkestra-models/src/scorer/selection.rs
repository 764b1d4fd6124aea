//! The scorer's answer: [`Selection`], with a breakdown per candidate and a reason per exclusion.

use std::fmt::{self, Write as _};
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use super::strategy::{Strategy, Weights};
use crate::money::Nanodollars;
use crate::registry::Snapshot;
use crate::spec::{Capabilities, Capability, ModelSpec};
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
    fn new(value: f64, weight: f64) -> Self {
        Self {
            value,
            weight,
            contribution: value * weight,
        }
    }
}

/// Which term contributed what to a candidate's score.
///
/// The score is the four contributions plus `local`, less `adequacy_penalty` and
/// `preference_penalty`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Breakdown {
    /// Quality for the task kind.
    pub quality: Term,
    /// Cheapness: `1 / (1 + cost / reference cost)`.
    pub cost: Term,
    /// Speed: the fastest candidate's expected latency over this model's.
    pub speed: Term,
    /// Smoothed live success rate, halved while the breaker is half-open.
    pub reliability: Term,
    /// The local bonus, for local models.
    pub local: f64,
    /// Subtracted when quality falls short of the floor for the task's complexity.
    pub adequacy_penalty: f64,
    /// Subtracted for each capability the prompt's words suggest and the model lacks.
    pub preference_penalty: f64,
}

/// The values a model scored on each term (the weights are the selection's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct TermValues {
    /// Quality for the task kind.
    pub quality: f64,
    /// Cheapness.
    pub cost: f64,
    /// Speed.
    pub speed: f64,
    /// Reliability.
    pub reliability: f64,
}

/// A model that may serve the request, with its score and estimates.
///
/// The model itself is reached through [`Ranked::model`]; a candidate holds its position in
/// the ranked snapshot, so ranking never touches the specs' reference counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub(crate) position: u32,
    /// The total score; higher is better.
    pub score: f64,
    /// The term values behind the score.
    pub values: TermValues,
    /// The local bonus the model got.
    pub local_bonus: f64,
    /// The penalty for quality below the floor.
    pub adequacy_penalty: f64,
    /// The penalty for preferred capabilities the model lacks.
    pub preference_penalty: f64,
    /// Estimated cost of the request on this model.
    pub estimated_cost: Nanodollars,
    /// Estimated latency of the request on this model, in seconds: turned into a `Duration`
    /// only when asked ([`Self::estimated_latency`]), since ranking builds one per model.
    pub(crate) latency_seconds: f64,
    /// Whether the latency estimate came from live statistics (else from the spec alone).
    pub measured: bool,
}

impl Candidate {
    /// Estimated latency of the request on this model.
    pub fn estimated_latency(&self) -> Duration {
        super::seconds_to_duration(self.latency_seconds)
    }
}

/// A candidate together with its model and the selection's weights.
#[derive(Debug, Clone, Copy)]
pub struct Ranked<'a> {
    /// The model.
    pub model: &'a Arc<ModelSpec>,
    /// Its score and estimates.
    pub candidate: &'a Candidate,
    weights: &'a Weights,
}

impl Ranked<'_> {
    /// Which term contributed what.
    pub fn breakdown(&self) -> Breakdown {
        let (v, w) = (&self.candidate.values, self.weights);
        Breakdown {
            quality: Term::new(v.quality, w.quality),
            cost: Term::new(v.cost, w.cost),
            speed: Term::new(v.speed, w.speed),
            reliability: Term::new(v.reliability, w.reliability),
            local: self.candidate.local_bonus,
            adequacy_penalty: self.candidate.adequacy_penalty,
            preference_penalty: self.candidate.preference_penalty,
        }
    }
}

impl Deref for Ranked<'_> {
    type Target = Candidate;

    fn deref(&self) -> &Candidate {
        self.candidate
    }
}

impl Serialize for Ranked<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Candidate", 6)?;
        s.serialize_field("model", self.model.id.as_str())?;
        s.serialize_field("score", &self.score)?;
        s.serialize_field("breakdown", &self.breakdown())?;
        s.serialize_field("estimated_cost_nanodollars", &self.estimated_cost)?;
        s.serialize_field("estimated_latency_ms", &(self.latency_seconds * 1e3))?;
        s.serialize_field("measured", &self.measured)?;
        s.end()
    }
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
    /// No provider is configured for the model's endpoint, so nothing can call it.
    NoProvider,
}

impl Exclusion {
    /// Whether the configuration ruled the model out (deny and allow lists, local-only, a
    /// least context window, no provider), whatever the request: it was never a candidate.
    pub fn is_policy(&self) -> bool {
        matches!(
            self,
            Self::Denied
                | Self::NotAllowed
                | Self::NotLocal
                | Self::SmallerThanRequired { .. }
                | Self::NoProvider
        )
    }
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
            Self::NoProvider => f.write_str("no provider is configured for its endpoint"),
        }
    }
}

/// The models that may serve a request, in the order to try them, and those that may not,
/// with reasons. It holds the registry snapshot it ranked, so it stays valid while the
/// registry changes.
#[derive(Debug, Clone)]
pub struct Selection {
    pub(crate) snapshot: Arc<Snapshot>,
    /// The strategy used.
    pub strategy: Strategy,
    /// The task kind scored for.
    pub kind: TaskKind,
    /// The complexity scored for.
    pub complexity: Complexity,
    pub(crate) weights: Weights,
    /// Capabilities the prompt's words suggest, beyond those required.
    pub(crate) preferred: Capabilities,
    /// Candidates in the order they were scored (snapshot order).
    pub(crate) candidates: Vec<Candidate>,
    /// Sort keys carrying indices into [`Self::candidates`] (see [`super::key_index`]), in
    /// fallback order: sorting and reordering keys is cheaper than moving candidates.
    pub(crate) order: Vec<u64>,
    pub(crate) excluded: Vec<(u32, Exclusion)>,
}

impl PartialEq for Selection {
    fn eq(&self, other: &Self) -> bool {
        self.snapshot.version() == other.snapshot.version()
            && self.strategy == other.strategy
            && self.kind == other.kind
            && self.complexity == other.complexity
            && self.in_order().eq(other.in_order())
            && self.excluded == other.excluded
    }
}

impl Selection {
    /// Candidates in fallback order.
    fn in_order(&self) -> impl ExactSizeIterator<Item = &Candidate> + '_ {
        self.order
            .iter()
            .map(|&key| &self.candidates[super::key_index(key)])
    }

    fn view<'a>(&'a self, candidate: &'a Candidate) -> Ranked<'a> {
        Ranked {
            model: &self.snapshot.models()[candidate.position as usize],
            candidate,
            weights: &self.weights,
        }
    }

    /// Candidates in fallback order: the best first, then kept diverse across endpoints (see
    /// [`super::Scorer`]).
    pub fn ranked(&self) -> impl ExactSizeIterator<Item = Ranked<'_>> + '_ {
        self.in_order().map(|c| self.view(c))
    }

    /// The model to call first.
    pub fn best(&self) -> Option<Ranked<'_>> {
        self.in_order().next().map(|c| self.view(c))
    }

    /// The fallback chain: every candidate's model in the order to try them.
    pub fn chain(&self) -> impl ExactSizeIterator<Item = &Arc<ModelSpec>> + '_ {
        self.in_order()
            .map(|c| &self.snapshot.models()[c.position as usize])
    }

    /// The ids of the chain.
    pub fn ids(&self) -> Vec<&str> {
        self.chain().map(|m| m.id.as_str()).collect()
    }

    /// How many candidates there are.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no model qualified.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Models excluded by a hard constraint, in registry order, with the first rule each broke.
    pub fn excluded(&self) -> impl ExactSizeIterator<Item = (&Arc<ModelSpec>, &Exclusion)> + '_ {
        self.excluded
            .iter()
            .map(|(position, reason)| (&self.snapshot.models()[*position as usize], reason))
    }

    /// Why `model` (an id) was excluded, if it was.
    pub fn exclusion(&self, model: &str) -> Option<&Exclusion> {
        self.excluded()
            .find(|(m, _)| m.id.as_str() == model)
            .map(|(_, r)| r)
    }

    /// Why the excluded models cannot serve the request, model by model: the error to answer
    /// when no candidate is left.
    pub fn refusal(&self) -> super::NoCandidate {
        super::NoCandidate::new(
            self.excluded()
                .map(|(model, reason)| (model.id.clone(), reason.clone()))
                .collect(),
        )
    }

    /// The normalised weights used.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// The version of the registry snapshot ranked.
    pub fn registry_version(&self) -> u64 {
        self.snapshot.version()
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
            self.order.len(),
            self.excluded.len()
        );
        for (i, c) in self.ranked().enumerate() {
            let b = c.breakdown();
            let _ = write!(
                out,
                "{:>2}. {:<40} score {:.3} = quality {:.3} + cost {:.3} + speed {:.3} + reliability {:.3}",
                i + 1,
                c.model.id.as_str(),
                c.score,
                b.quality.contribution,
                b.cost.contribution,
                b.speed.contribution,
                b.reliability.contribution,
            );
            if b.local > 0.0 {
                let _ = write!(out, " + local {:.3}", b.local);
            }
            if b.adequacy_penalty > 0.0 {
                let _ = write!(out, " - below the quality floor {:.3}", b.adequacy_penalty);
            }
            if b.preference_penalty > 0.0 {
                let lacking: Vec<&str> = self
                    .preferred
                    .without(c.model.capabilities)
                    .iter()
                    .map(Capability::as_str)
                    .collect();
                let _ = write!(
                    out,
                    " - lacks preferred {} {:.3}",
                    lacking.join(", "),
                    b.preference_penalty
                );
            }
            let _ = writeln!(
                out,
                "  ({}, ~{} ms{})",
                c.estimated_cost,
                c.estimated_latency().as_millis(),
                if c.measured { ", measured" } else { "" },
            );
        }
        for (model, reason) in self.excluded() {
            let _ = writeln!(out, "  x {:<40} {reason}", model.id.as_str());
        }
        out
    }
}

/// An excluded model as serialized: its id and the reason's fields.
#[derive(Serialize)]
struct ExcludedView<'a> {
    model: &'a str,
    #[serde(flatten)]
    reason: &'a Exclusion,
}

struct Seq<I>(std::cell::Cell<Option<I>>);

impl<I: Iterator<Item = T>, T: Serialize> Serialize for Seq<I> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for item in self.0.take().into_iter().flatten() {
            seq.serialize_element(&item)?;
        }
        seq.end()
    }
}

impl Serialize for Selection {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Selection", 7)?;
        s.serialize_field("strategy", &self.strategy)?;
        s.serialize_field("kind", &self.kind)?;
        s.serialize_field("complexity", &self.complexity)?;
        s.serialize_field("registry_version", &self.snapshot.version())?;
        s.serialize_field("ranked", &Seq(std::cell::Cell::new(Some(self.ranked()))))?;
        let excluded = self.excluded().map(|(m, reason)| ExcludedView {
            model: m.id.as_str(),
            reason,
        });
        s.serialize_field("excluded", &Seq(std::cell::Cell::new(Some(excluded))))?;
        s.end()
    }
}
