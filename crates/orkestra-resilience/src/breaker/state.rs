//! The breaker's states and the events it emits when it moves between them.

use std::fmt;
use std::sync::Arc;

use orkestra_core::Timestamp;
use serde::{Deserialize, Serialize};

/// Where a circuit breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Calls flow; outcomes are recorded in the sliding window.
    Closed,
    /// Calls are rejected at once until the open duration has passed.
    Open,
    /// A limited number of probe calls decide whether to close or open again.
    HalfOpen,
}

impl State {
    /// The stable `snake_case` name, for logs and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }

    /// Whether moving from `self` to `to` is one of the four legal transitions
    /// (closed -> open, open -> half-open, half-open -> open, half-open -> closed),
    /// or one of the explicit ones an operator may ask for ([`Reason::Forced`], [`Reason::Reset`]).
    pub const fn can_become(self, to: Self, reason: Reason) -> bool {
        match reason {
            Reason::Forced | Reason::Reset => !matches!((self, to), (Self::Closed, Self::Closed)),
            _ => matches!(
                (self, to),
                (Self::Closed | Self::HalfOpen, Self::Open)
                    | (Self::Open, Self::HalfOpen)
                    | (Self::HalfOpen, Self::Closed)
            ),
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a breaker changed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// The failure rate reached its threshold (closed -> open, or half-open -> open).
    FailureRate,
    /// The slow-call rate reached its threshold.
    SlowCallRate,
    /// The open duration passed (open -> half-open).
    OpenDurationElapsed,
    /// Enough half-open probes succeeded (half-open -> closed).
    ProbesSucceeded,
    /// An operator forced the state.
    Forced,
    /// An operator reset the breaker to closed with an empty window.
    Reset,
}

/// One state change, as delivered to listeners.
#[derive(Debug, Clone, PartialEq)]
pub struct StateChange {
    /// The breaker's name.
    pub breaker: Arc<str>,
    /// The state it left.
    pub from: State,
    /// The state it entered.
    pub to: State,
    /// Why.
    pub reason: Reason,
    /// When, on the breaker's clock.
    pub at: Timestamp,
    /// The breaker's generation after this change. Every change raises it (a reset of an
    /// already closed breaker raises it too, silently), so changes ordered by generation
    /// replay the breaker's history even when listeners of concurrent changes run
    /// concurrently.
    pub generation: u64,
    /// The failure rate (0..=1) that caused an opening, if one did.
    pub failure_rate: Option<f64>,
    /// The slow-call rate (0..=1) that caused an opening, if one did.
    pub slow_call_rate: Option<f64>,
}

/// A callback run on every state change, synchronously, by the thread that made the change.
///
/// Keep it quick and never call back into the breaker's transition methods from it.
pub type Listener = Arc<dyn Fn(&StateChange) + Send + Sync>;
