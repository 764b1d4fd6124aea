//! [`Degradation`]: how degraded the service is, and why, for callers to check per request.
//!
//! Parts of the system report trouble by *entering* a [`Level`] under a source name ("circuit
//! breaker `openai` is open", "cache down") and *leave* when it is over. The service level is
//! the worst level among the active sources, so two independent problems never hide each
//! other and one recovering does not clear the other. Callers read [`Degradation::level`] on
//! every request and shed optional work: at `reduced`, skip expensive extras (a second opinion,
//! long contexts); at `minimal`, serve only what is essential (cheap models, cached answers);
//! at `unavailable`, refuse early with a clear reason instead of timing out.
//!
//! Circuit breakers feed it through [`Degradation::breaker_listener`]: an open breaker enters
//! [`DegradationConfig::on_breaker_open`] under the breaker's name, a half-open one
//! [`DegradationConfig::on_breaker_half_open`], a closed one leaves.
//!
//! # Defaults
//!
//! [`DegradationConfig::default`] maps both open and half-open breakers to `reduced`: one
//! failing dependency should make the service careful, not shut it down (routing usually has
//! other backends); `minimal` or `unavailable` are for an operator or a policy that knows the
//! dependency is essential. Half-open stays at the open level by default, since recovery is
//! not yet proven.
//!
//! # Cost
//!
//! [`Degradation::level`] is one atomic load. Entering and leaving take a mutex, read the
//! clock and may allocate; they happen on state changes, not per request.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use orkestra_core::{Clock, SystemClock, Timestamp};
use serde::{Deserialize, Serialize, Serializer};

use crate::ConfigError;
use crate::breaker::{Listener, Reason, State, StateChange};

/// How degraded the service is, from best to worst; levels compare in that order.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Everything works; no source is degraded.
    #[default]
    Normal,
    /// Skip optional, expensive work; the core service is fine.
    Reduced,
    /// Serve only what is essential, as cheaply as possible.
    Minimal,
    /// Refuse requests early with the reason, rather than letting them fail slowly.
    Unavailable,
}

impl Level {
    /// The stable `snake_case` name, for logs and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Reduced => "reduced",
            Self::Minimal => "minimal",
            Self::Unavailable => "unavailable",
        }
    }

    const fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Normal,
            1 => Self::Reduced,
            2 => Self::Minimal,
            // Only the four values above are ever stored.
            _ => Self::Unavailable,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How circuit breaker states map to degradation levels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DegradationConfig {
    /// The level an open breaker enters; `normal` makes breakers not count.
    pub on_breaker_open: Level,
    /// The level a half-open breaker enters; at most `on_breaker_open`.
    pub on_breaker_half_open: Level,
}

impl Default for DegradationConfig {
    /// `on_breaker_open = reduced`, `on_breaker_half_open = reduced`: one failing dependency
    /// makes the service careful, not unavailable, until it has fully recovered.
    fn default() -> Self {
        Self {
            on_breaker_open: Level::Reduced,
            on_breaker_half_open: Level::Reduced,
        }
    }
}

impl DegradationConfig {
    /// Checks that a half-open breaker does not degrade more than an open one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.on_breaker_half_open > self.on_breaker_open {
            return Err(ConfigError::new(
                "degradation.on_breaker_half_open",
                format!(
                    "a level no worse than on_breaker_open (`{}`): a half-open breaker is \
                     recovering",
                    self.on_breaker_open
                ),
            ));
        }
        Ok(())
    }
}

/// One active source of degradation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cause {
    /// Who reported it: a breaker's name, a component.
    pub source: String,
    /// The level it asks for.
    pub level: Level,
    /// Why, in words for an operator.
    pub reason: String,
    /// When it entered this level, on the degradation's clock (serialized as nanoseconds).
    #[serde(serialize_with = "timestamp_nanos")]
    pub since: Timestamp,
}

/// The service level and everything causing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DegradationStatus {
    /// The worst level among the causes; `normal` when there is none.
    pub level: Level,
    /// The active causes, worst first, then oldest first.
    pub causes: Vec<Cause>,
}

/// The service level changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelChange {
    /// The level before.
    pub from: Level,
    /// The level now.
    pub to: Level,
    /// The source whose `enter` or `leave` changed it.
    pub source: String,
    /// When, on the degradation's clock.
    pub at: Timestamp,
}

/// A callback run on every level change, by the thread that made it, after the change is
/// visible to [`Degradation::level`] and [`Degradation::status`] (both may be called from it).
///
/// Changes made at the same moment on different threads may reach listeners in either order;
/// each carries its `from` and `to`.
pub type ChangeListener = Arc<dyn Fn(&LevelChange) + Send + Sync>;

/// The service's degradation level, shared: clones see and change the same state.
#[derive(Clone)]
pub struct Degradation {
    inner: Arc<Inner>,
}

struct Inner {
    /// The current level as a `u8`, written under `state`'s lock, read without it.
    level: AtomicU8,
    state: Mutex<Causes>,
    clock: Arc<dyn Clock>,
}

#[derive(Default)]
struct Causes {
    active: Vec<Cause>,
    listeners: Vec<ChangeListener>,
}

impl Degradation {
    /// A degradation at `normal`, on the system clock.
    pub fn new() -> Self {
        Self::with_clock(SystemClock::new())
    }

    /// A degradation at `normal`, timing causes with `clock`.
    pub fn with_clock(clock: impl Clock + 'static) -> Self {
        Self {
            inner: Arc::new(Inner {
                level: AtomicU8::new(Level::Normal as u8),
                state: Mutex::default(),
                clock: Arc::new(clock),
            }),
        }
    }

    /// The current level: the worst among active sources. One atomic load.
    #[inline]
    pub fn level(&self) -> Level {
        Level::from_u8(self.inner.level.load(Ordering::Acquire))
    }

    /// Records that `source` asks for `level`, replacing what it asked before.
    ///
    /// Entering `normal` is the same as [`leave`](Self::leave). A source that stays at its level
    /// keeps its `since` and only updates the reason.
    pub fn enter(&self, source: &str, level: Level, reason: impl Into<String>) {
        if level == Level::Normal {
            self.leave(source);
            return;
        }
        let reason = reason.into();
        let now = self.inner.clock.now();
        let mut causes = self.lock();
        if let Some(cause) = causes
            .active
            .iter_mut()
            .find(|cause| cause.source == source)
        {
            if cause.level != level {
                cause.level = level;
                cause.since = now;
            }
            cause.reason = reason;
        } else {
            causes.active.push(Cause {
                source: source.to_owned(),
                level,
                reason,
                since: now,
            });
        }
        self.publish(causes, source, now);
    }

    /// Records that `source` is fine again; unknown sources are ignored.
    pub fn leave(&self, source: &str) {
        let mut causes = self.lock();
        let before = causes.active.len();
        causes.active.retain(|cause| cause.source != source);
        if causes.active.len() == before {
            return;
        }
        let now = self.inner.clock.now();
        self.publish(causes, source, now);
    }

    /// The level and its causes, worst first.
    pub fn status(&self) -> DegradationStatus {
        let causes = self.lock();
        let mut active = causes.active.clone();
        drop(causes);
        active.sort_by(|a, b| {
            b.level
                .cmp(&a.level)
                .then(a.since.cmp(&b.since))
                .then_with(|| a.source.cmp(&b.source))
        });
        DegradationStatus {
            level: worst(&active),
            causes: active,
        }
    }

    /// Calls `listener` on every change of [`level`](Self::level).
    pub fn on_change(&self, listener: impl Fn(&LevelChange) + Send + Sync + 'static) {
        self.lock().listeners.push(Arc::new(listener));
    }

    /// A circuit breaker listener that enters and leaves levels under the breaker's name, as
    /// `config` says: open enters `on_breaker_open` (the reason names the failure or slow-call
    /// rate), half-open enters `on_breaker_half_open`, closed leaves.
    ///
    /// Causes are timed on this degradation's clock, not the breaker's: timestamps from
    /// different clocks do not compare.
    pub fn breaker_listener(&self, config: &DegradationConfig) -> Listener {
        let degradation = self.clone();
        let on_open = config.on_breaker_open;
        let on_half_open = config.on_breaker_half_open;
        Arc::new(move |change: &StateChange| match change.to {
            State::Open => degradation.enter(&change.breaker, on_open, open_reason(change)),
            State::HalfOpen => degradation.enter(
                &change.breaker,
                on_half_open,
                format!(
                    "circuit breaker `{}` is half-open, probing recovery",
                    change.breaker
                ),
            ),
            State::Closed => degradation.leave(&change.breaker),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Causes> {
        // Every update leaves the causes consistent, so a panic elsewhere cannot corrupt them.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores the new level and, if it changed, tells the listeners after unlocking.
    fn publish(&self, causes: MutexGuard<'_, Causes>, source: &str, at: Timestamp) {
        let to = worst(&causes.active);
        let from = Level::from_u8(self.inner.level.swap(to as u8, Ordering::AcqRel));
        if from == to || causes.listeners.is_empty() {
            return;
        }
        let listeners = causes.listeners.clone();
        // Listeners run unlocked so they may read `status()` or even change levels.
        drop(causes);
        let change = LevelChange {
            from,
            to,
            source: source.to_owned(),
            at,
        };
        for listener in &listeners {
            listener(&change);
        }
    }
}

impl Default for Degradation {
    /// The same as [`Degradation::new`]: `normal`, on the system clock.
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Degradation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let causes = self.lock();
        f.debug_struct("Degradation")
            .field("level", &self.level())
            .field("causes", &causes.active)
            .field("listeners", &causes.listeners.len())
            .field("clock", &self.inner.clock)
            .finish()
    }
}

fn worst(causes: &[Cause]) -> Level {
    causes
        .iter()
        .map(|cause| cause.level)
        .max()
        .unwrap_or(Level::Normal)
}

/// Why a breaker opened, in words: the rate that tripped it when the breaker reports one.
fn open_reason(change: &StateChange) -> String {
    let name = &change.breaker;
    let percent = |rate: f64| rate * 100.0;
    match (change.reason, change.failure_rate, change.slow_call_rate) {
        (Reason::FailureRate, Some(rate), _) => format!(
            "circuit breaker `{name}` is open: failure rate {:.1}% reached its threshold",
            percent(rate)
        ),
        (Reason::SlowCallRate, _, Some(rate)) => format!(
            "circuit breaker `{name}` is open: slow-call rate {:.1}% reached its threshold",
            percent(rate)
        ),
        (Reason::FailureRate, None, _) => {
            format!("circuit breaker `{name}` is open: failure rate reached its threshold")
        }
        (Reason::SlowCallRate, _, None) => {
            format!("circuit breaker `{name}` is open: slow-call rate reached its threshold")
        }
        (Reason::Forced, ..) => format!("circuit breaker `{name}` was forced open"),
        (reason, ..) => format!("circuit breaker `{name}` is open ({reason:?})"),
    }
}

// serde's `serialize_with` hands the field by reference, whatever its size.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn timestamp_nanos<S: Serializer>(at: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(at.as_nanos())
}

#[cfg(test)]
mod tests;
