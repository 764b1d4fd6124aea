//! Circuit breaker: stop calling a backend that keeps failing, and find out cheaply when it
//! has recovered.
//!
//! ```
//! use orkestra_resilience::breaker::{BreakerConfig, CircuitBreaker, State};
//! use orkestra_core::{ErrorCategory, ErrorClass};
//!
//! let breaker = CircuitBreaker::new("openai", BreakerConfig::default())?;
//!
//! // Around an async call: `breaker.call(future).await` does the same.
//! match breaker.try_acquire() {
//!     Ok(permit) => {
//!         let result: Result<&str, ErrorClass> = Err(ErrorCategory::Overloaded.into());
//!         match result {
//!             Ok(_) => permit.success(),
//!             Err(error) => permit.record_error(&error),
//!         }
//!     }
//!     Err(rejected) => println!("open; retry after {:?}", rejected.retry_after),
//! }
//! assert_eq!(breaker.state(), State::Closed);
//! # Ok::<(), orkestra_resilience::ConfigError>(())
//! ```
//!
//! # The state machine
//!
//! ```text
//!            failure or slow-call rate >= threshold
//!            (with at least `minimum_calls` in the window)
//!   Closed ───────────────────────────────────────────────▶ Open
//!     ▲                                                    │  ▲
//!     │ every probe recorded,              first try_acquire │  │ enough probes failed
//!     │ rates under the thresholds      after open_duration  │  │ (or were slow); the open
//!     │ (open duration back to base)                       ▼  │ duration grows
//!     └──────────────────────────────────────────────── HalfOpen
//! ```
//!
//! - **Closed**: calls flow and their outcomes fill the sliding window. After each recorded
//!   call, once the window holds at least `minimum_calls`, the breaker opens if the failure
//!   rate reaches `failure_rate_threshold` or the slow-call rate reaches
//!   `slow_call_rate_threshold`.
//! - **Open**: [`CircuitBreaker::try_acquire`] fails at once with [`Rejected`], carrying the
//!   time left. There are no timers: the first `try_acquire` after the open duration moves the
//!   breaker to half-open and becomes its first probe.
//! - **Half-open**: exactly `half_open_probes` permits are handed out per half-open period,
//!   each by one compare-and-swap, so a crowd of callers arriving together admits exactly
//!   that many (no stampede). A probe dropped without an outcome (a cancelled future) or
//!   recorded as ignored frees its slot for another caller. The breaker re-opens as soon as
//!   enough probes failed (or were slow) that the threshold is reached whatever the others do,
//!   and closes once every probe recorded with both rates under their thresholds. Meanwhile
//!   callers beyond the probes are rejected with [`PROBES_BUSY_RETRY_AFTER`] (or the open
//!   duration, if shorter): the probes are real calls, so the verdict comes about one call
//!   latency later.
//! - Each consecutive re-opening multiplies the open duration by `open_duration_multiplier`, up
//!   to `max_open_duration`; closing resets it to `open_duration`. A backend that is down for
//!   an hour gets probed a dozen times, not three hundred and sixty.
//! - Operators may [`force_open`](CircuitBreaker::force_open) (as if the thresholds had
//!   tripped now) and [`reset`](CircuitBreaker::reset) (closed, empty window, base open
//!   duration). [`on_state_change`](CircuitBreaker::on_state_change) listeners see every
//!   transition, each with a growing `generation`; [`snapshot`](CircuitBreaker::snapshot)
//!   serializes the breaker for dashboards and health endpoints.
//!
//! Every transition is a compare-and-swap on one atomic word holding the state, a generation
//! counter and the half-open probe counters. Permits remember the generation that issued them
//! and act only through a compare-and-swap expecting it, so a stale actor (a permit from an
//! earlier generation, a thread whose clock read is late) finds the word changed and does
//! nothing: a slow call from before the breaker last closed cannot re-open it, and its outcome
//! never lands in the new window.
//!
//! The thread that wins a transition parks the word in an internal *busy* code for the few
//! stores that set up the new state (the open deadline, the emptied window), then publishes
//! it; `try_acquire` spins on a busy word for a few thousand iterations and, should the
//! transitioning thread be descheduled longer, rejects with a zero `retry_after` rather than
//! block. Listeners run after the new state is published, outside that window.
//!
//! Generations are compared in 30 bits (and a closed window's epoch tag in 13): a stale permit
//! would have to outlive about a billion transitions to be mistaken for a current one, and a
//! recorder would have to be suspended mid-record through 8192 window resets for its outcome
//! to be counted in the wrong window (and even then no counter goes below zero).
//!
//! # The window
//!
//! [`Window::Count`] judges the last N calls; [`Window::Time`] the calls of the last D, in
//! buckets. The count window is lock-free: a ring of slots and one packed `AtomicU64` of
//! totals, updated so the counters never go negative (the outcome is added before it is
//! swapped in, the evicted one subtracted after) and read clamped to the window size. In the
//! closed state with a count window and no slow-call detection, `try_acquire` plus `success`
//! is a handful of atomic operations: no allocation, no lock, no clock read. An open breaker
//! rejects with one clock read and a few atomics. The time window uses a mutex.
//!
//! # Defaults, and why
//!
//! | setting | orkestra | resilience4j | Polly v8 |
//! |---|---|---|---|
//! | window | last 100 calls | last 100 calls | 30 s |
//! | minimum calls | 10 | 100 | 100 |
//! | failure rate | 50% | 50% | 10% |
//! | slow calls | off | 100% slower than 60 s | none |
//! | open duration | 10 s, x2 per re-open, cap 300 s | 60 s, fixed | 5 s, fixed |
//! | half-open probes | 2 | 10 | 1 |
//!
//! - A gateway sees a few calls a second per backend, not thousands: with 100 minimum calls a
//!   dead backend would take a minute or more to trip. Ten calls is still a rate, not a fluke.
//! - Polly's 10% opens on routine noise; half the calls failing is a backend in trouble.
//! - LLM latency grows with the answer's length by orders of magnitude, so a fixed slow
//!   threshold misfires by default; set `slow_call_duration` per model when it fits.
//! - A short first opening (10 s) recovers fast from a blip; growing it (as Envoy's outlier
//!   detection does: 30 s x times ejected, capped at 300 s) stops probing a long outage every
//!   few seconds.
//! - One probe lets one unlucky call decide; ten is a stampede on a backend just recovering.
//!
//! # What counts as a failure
//!
//! An error's [`ErrorClass`] decides ([`CircuitBreaker::outcome_of`]): a category in `ignore`
//! (default: cancelled) is forgotten, as if the call never happened; then a category in
//! `record` is a failure (default: `network`, `timeout`, `rate_limited`, `overloaded`,
//! `internal`, `auth`, `resource_exhausted`: the backend, or our key or quota for it, is
//! failing); anything else is a success, because the backend answered correctly and the
//! caller was wrong (`invalid_request`, `context_length`, `content_filter`, `not_found`). Auth and exhausted quotas
//! count because every call fails until an operator acts: opening sends traffic to the
//! fallback instead of hammering a revoked key.

mod config;
mod state;
mod window;
mod word;

#[cfg(test)]
mod tests;

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use orkestra_core::clock::duration_nanos;
use orkestra_core::{Classify, Clock, ErrorClass, SystemClock, Timestamp};
use serde::{Serialize, Serializer};

pub use config::{BreakerConfig, MAX_COUNT_WINDOW, MAX_TIME_BUCKETS, MIN_OPEN_DURATION, Window};
pub use state::{Listener, Reason, State, StateChange};

use window::{SlidingWindow, Totals};
use word::{BUSY, CLOSED, HALF_OPEN, OPEN, Probes, Word};

use crate::{ConfigError, Error};

/// How long a caller is told to wait when the breaker is half-open and every probe is taken
/// (capped by the base open duration): about one call latency, after which the probes have
/// decided.
pub const PROBES_BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// How many times `try_acquire` re-reads the state word while another thread writes a
/// transition (a few stores) before giving up with a zero `retry_after`.
const BUSY_SPINS: u32 = 1 << 12;

/// What a finished call means to the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The backend did its job.
    Success,
    /// The backend failed.
    Failure,
    /// Neither: the call is forgotten and its permit released uncounted.
    Ignored,
}

/// The breaker refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rejected {
    /// How long until the breaker may admit a call: the rest of the open duration, or
    /// [`PROBES_BUSY_RETRY_AFTER`] when half-open with every probe taken.
    pub retry_after: Duration,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "circuit breaker is open; retry after {:?}",
            self.retry_after
        )
    }
}

impl std::error::Error for Rejected {}

impl<E> From<Rejected> for Error<E> {
    fn from(rejected: Rejected) -> Self {
        Self::CircuitOpen {
            retry_after: rejected.retry_after,
        }
    }
}

/// Keeps a hot atomic on its own cache line, so writers of one do not slow readers of another.
#[repr(align(64))]
struct Padded<T>(T);

impl<T> Deref for Padded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// A circuit breaker; share it by reference or `Arc` (it is `Send + Sync`).
///
/// See the [module docs](self) for the state machine.
pub struct CircuitBreaker {
    /// State, generation and probe counters (see `word.rs`): read on every call.
    word: Padded<AtomicU64>,
    /// The closed state's sliding window: written on every call.
    window: Padded<SlidingWindow>,
    /// When the current open period ends, in clock nanoseconds; written only by the thread
    /// entering open, before it publishes the open word.
    open_until: AtomicU64,
    /// The full generation, for listeners; written only by the thread making a transition.
    generation: AtomicU64,
    /// Openings since the breaker last closed.
    consecutive_opens: AtomicU32,
    rejected_total: AtomicU64,
    transitions_total: AtomicU64,
    listeners: Mutex<Arc<[Listener]>>,
    name: Arc<str>,
    clock: Arc<dyn Clock>,
    config: BreakerConfig,
    /// `half_open_probes`, which validation keeps within a byte.
    probes: u8,
    /// `slow_call_duration` in nanoseconds, zero when slow-call detection is off.
    slow_nanos: u64,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.name)
            .field("state", &self.state())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl CircuitBreaker {
    /// A closed breaker on the system clock.
    pub fn new(name: impl Into<Arc<str>>, config: BreakerConfig) -> Result<Self, ConfigError> {
        Self::with_clock(name, config, Arc::new(SystemClock::new()))
    }

    /// A closed breaker on `clock` (a [`ManualClock`](orkestra_core::ManualClock) in tests).
    pub fn with_clock(
        name: impl Into<Arc<str>>,
        config: BreakerConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let probes = u8::try_from(config.half_open_probes)
            .map_err(|_| ConfigError::new("breaker.half_open_probes", "from 1 to 255"))?;
        let window = SlidingWindow::new(config.window);
        window.reset(Word::INITIAL.generation(), clock.now());
        Ok(Self {
            word: Padded(AtomicU64::new(Word::INITIAL.bits())),
            window: Padded(window),
            open_until: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            consecutive_opens: AtomicU32::new(0),
            rejected_total: AtomicU64::new(0),
            transitions_total: AtomicU64::new(0),
            listeners: Mutex::new(Arc::from(Vec::new())),
            name: name.into(),
            clock,
            slow_nanos: config.slow_call_duration.map_or(0, duration_nanos),
            probes,
            config,
        })
    }

    /// The breaker's name, as given at construction.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configuration.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// The current state (while a transition is being written, the state being entered).
    pub fn state(&self) -> State {
        self.load().state()
    }

    #[inline]
    fn load(&self) -> Word {
        Word::from_bits(self.word.load(Ordering::Acquire))
    }

    /// Asks to make one call: a [`Permit`] to record its outcome with, or [`Rejected`].
    ///
    /// Open past its open duration, the breaker turns half-open and this call is the first
    /// probe. Dropping the permit without recording (a cancelled call) releases it uncounted.
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        let mut word = self.load();
        let mut spins = 0;
        loop {
            match word.code() {
                CLOSED => return Ok(self.permit(word.generation(), false, None)),
                HALF_OPEN => {
                    let probes = word.probes();
                    if probes.admitted >= self.probes {
                        return Err(
                            self.reject(PROBES_BUSY_RETRY_AFTER.min(self.config.open_duration))
                        );
                    }
                    let admitted = Probes {
                        admitted: probes.admitted + 1,
                        ..probes
                    };
                    match self.swap(word, Word::half_open(word.generation(), admitted)) {
                        Ok(()) => return Ok(self.permit(word.generation(), true, None)),
                        Err(seen) => word = seen,
                    }
                }
                OPEN => {
                    let now = self.clock.now();
                    let until = Timestamp::from_nanos(self.open_until.load(Ordering::Acquire));
                    if now < until {
                        return Err(self.reject(until - now));
                    }
                    let first_probe = Probes {
                        admitted: 1,
                        ..Probes::default()
                    };
                    let change = Change::to(State::HalfOpen, Reason::OpenDurationElapsed);
                    if let Some(entered) = self.transition(word, change, first_probe) {
                        return Ok(self.permit(entered.generation(), true, Some(now)));
                    }
                    word = self.load();
                }
                _ => {
                    // Another thread is writing a transition: a few stores, then it publishes.
                    spins += 1;
                    if spins > BUSY_SPINS {
                        return Err(self.reject(Duration::ZERO));
                    }
                    std::hint::spin_loop();
                    word = self.load();
                }
            }
        }
    }

    #[inline]
    fn permit(&self, generation: u32, probe: bool, now: Option<Timestamp>) -> Permit<'_> {
        let started = if self.slow_nanos == 0 {
            Timestamp::ZERO
        } else {
            now.unwrap_or_else(|| self.clock.now())
        };
        Permit {
            breaker: self,
            generation,
            probe,
            started,
            done: false,
        }
    }

    #[cold]
    fn reject(&self, retry_after: Duration) -> Rejected {
        self.rejected_total.fetch_add(1, Ordering::Relaxed);
        Rejected { retry_after }
    }

    fn swap(&self, from: Word, to: Word) -> Result<(), Word> {
        self.word
            .compare_exchange(from.bits(), to.bits(), Ordering::AcqRel, Ordering::Acquire)
            .map(drop)
            .map_err(Word::from_bits)
    }

    /// Runs `operation` if the breaker admits it and records its outcome.
    ///
    /// An error is classified with [`Classify`] and judged by [`outcome_of`](Self::outcome_of).
    /// If the returned future is dropped before `operation` finishes, the permit is released
    /// uncounted.
    pub async fn call<T, E, F>(&self, operation: F) -> Result<T, Error<E>>
    where
        E: Classify,
        F: Future<Output = Result<T, E>>,
    {
        let permit = self.try_acquire()?;
        match operation.await {
            Ok(value) => {
                permit.success();
                Ok(value)
            }
            Err(error) => {
                permit.record_error(&error.class());
                Err(Error::Inner(error))
            }
        }
    }

    /// What an error of this class means to the breaker: `ignore` is checked first, then
    /// `record`; anything else is a success (the backend answered, the caller was wrong).
    #[inline]
    pub fn outcome_of(&self, class: &ErrorClass) -> Outcome {
        if self.config.ignore.contains(class.category) {
            Outcome::Ignored
        } else if self.config.record.contains(class.category) {
            Outcome::Failure
        } else {
            Outcome::Success
        }
    }

    // Forced inline: measured 49 -> 46 ns on the pipeline success path (docs/performance.md).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn finish(&self, generation: u32, probe: bool, started: Timestamp, outcome: Outcome) {
        if outcome == Outcome::Ignored {
            if probe {
                self.release_probe(generation);
            }
            return;
        }
        let failed = outcome == Outcome::Failure;
        let needs_clock = self.slow_nanos != 0 || (!probe && self.window.needs_clock());
        let now = if needs_clock {
            self.clock.now()
        } else {
            Timestamp::ZERO
        };
        let slow = self.slow_nanos != 0
            && duration_nanos(now.saturating_duration_since(started)) >= self.slow_nanos;
        if probe {
            self.record_probe(generation, failed, slow);
        } else {
            self.record_closed(generation, failed, slow, now);
        }
    }

    // Forced inline: measured 49 -> 46 ns on the pipeline success path (docs/performance.md).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn record_closed(&self, generation: u32, failed: bool, slow: bool, now: Timestamp) {
        let word = self.load();
        if word != Word::closed(generation) {
            // Issued before the breaker last left closed: its outcome belongs to no window.
            return;
        }
        let Some(totals) = self.window.record(generation, failed, slow, now) else {
            return;
        };
        if let Some(change) = self.judge(totals) {
            // Fails harmlessly if another thread changed the state since `word` was read.
            self.transition(word, change, Probes::default());
        }
    }

    /// Whether the window's totals open the breaker.
    #[inline]
    fn judge(&self, totals: Totals) -> Option<Change> {
        if totals.calls < u64::from(self.config.minimum_calls) || totals.calls == 0 {
            return None;
        }
        let calls = totals.calls as f64;
        let failure_rate = totals.failures as f64 / calls;
        let slow_rate = (self.slow_nanos != 0).then(|| totals.slow as f64 / calls);
        let reason = if failure_rate >= self.config.failure_rate_threshold {
            Reason::FailureRate
        } else if slow_rate.is_some_and(|rate| rate >= self.config.slow_call_rate_threshold) {
            Reason::SlowCallRate
        } else {
            return None;
        };
        Some(Change {
            to: State::Open,
            reason,
            failure_rate: Some(failure_rate),
            slow_call_rate: slow_rate,
        })
    }

    #[cold]
    fn record_probe(&self, generation: u32, failed: bool, slow: bool) {
        let mut word = self.load();
        loop {
            if word.code() != HALF_OPEN || word.generation() != generation {
                // A probe of an earlier half-open period: that period has been decided.
                return;
            }
            let probes = word.probes();
            if probes.recorded >= probes.admitted {
                return;
            }
            let recorded = Probes {
                admitted: probes.admitted,
                recorded: probes.recorded + 1,
                failed: probes.failed + u8::from(failed),
                slow: probes.slow + u8::from(slow),
            };
            let verdict = self.verdict(recorded);
            let result = match verdict {
                None => self.swap(word, Word::half_open(generation, recorded)),
                Some(change) => {
                    // The verdict and the last probe's record are one compare-and-swap.
                    match self.transition(word, change, Probes::default()) {
                        Some(_) => Ok(()),
                        None => Err(self.load()),
                    }
                }
            };
            match result {
                Ok(()) => return,
                Err(seen) => word = seen,
            }
        }
    }

    /// The half-open verdict once `probes` are recorded: re-open as soon as the failures (or
    /// slow calls) reach the threshold over all probes whatever the rest do, close when every
    /// probe recorded under both thresholds, otherwise wait.
    fn verdict(&self, probes: Probes) -> Option<Change> {
        let total = f64::from(self.probes);
        let recorded = f64::from(probes.recorded);
        let failure_rate = f64::from(probes.failed) / recorded;
        let slow_rate = (self.slow_nanos != 0).then(|| f64::from(probes.slow) / recorded);
        let reason = if f64::from(probes.failed) / total >= self.config.failure_rate_threshold {
            Reason::FailureRate
        } else if self.slow_nanos != 0
            && f64::from(probes.slow) / total >= self.config.slow_call_rate_threshold
        {
            Reason::SlowCallRate
        } else if probes.recorded >= self.probes {
            Reason::ProbesSucceeded
        } else {
            return None;
        };
        let to = if reason == Reason::ProbesSucceeded {
            State::Closed
        } else {
            State::Open
        };
        Some(Change {
            to,
            reason,
            failure_rate: (to == State::Open).then_some(failure_rate),
            slow_call_rate: if to == State::Open { slow_rate } else { None },
        })
    }

    /// Frees the slot of a probe dropped or recorded as ignored, if its period is current.
    fn release_probe(&self, generation: u32) {
        let mut word = self.load();
        loop {
            if word.code() != HALF_OPEN || word.generation() != generation {
                return;
            }
            let probes = word.probes();
            if probes.admitted <= probes.recorded {
                return;
            }
            let released = Probes {
                admitted: probes.admitted - 1,
                ..probes
            };
            match self.swap(word, Word::half_open(generation, released)) {
                Ok(()) => return,
                Err(seen) => word = seen,
            }
        }
    }

    /// Moves from `from` (the exact word last seen) as `change` says; `None` if the word
    /// changed meanwhile, so a stale actor never transitions.
    ///
    /// The winner parks the word in `BUSY` while it writes the side data of the new state
    /// (deadline, window, counters), then publishes the new state with `payload`, then tells
    /// the listeners.
    #[cold]
    fn transition(&self, from: Word, change: Change, payload: Probes) -> Option<Word> {
        let generation = from.next_generation();
        self.swap(from, Word::busy(generation, change.to)).ok()?;
        // Read after winning, so the open deadline starts when the breaker really opens.
        let now = self.clock.now();
        let full_generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let from_state = from.state();
        let entered = match change.to {
            State::Closed => {
                self.consecutive_opens.store(0, Ordering::Relaxed);
                self.window.reset(generation, now);
                Word::closed(generation)
            }
            State::Open => {
                let opens = match from_state {
                    State::Closed => 1,
                    State::HalfOpen => self
                        .consecutive_opens
                        .load(Ordering::Relaxed)
                        .saturating_add(1),
                    State::Open => self.consecutive_opens.load(Ordering::Relaxed).max(1),
                };
                self.consecutive_opens.store(opens, Ordering::Relaxed);
                let until = now + self.open_duration_after(opens);
                self.open_until.store(until.as_nanos(), Ordering::Release);
                Word::open(generation)
            }
            State::HalfOpen => Word::half_open(generation, payload),
        };
        self.word.store(entered.bits(), Ordering::Release);
        // A reset of a closed breaker empties its window under a new generation but is not a
        // state change: listeners and the transition counter see only real ones.
        if from_state.can_become(change.to, change.reason) {
            self.transitions_total.fetch_add(1, Ordering::Relaxed);
            self.notify(&StateChange {
                breaker: Arc::clone(&self.name),
                from: from_state,
                to: change.to,
                reason: change.reason,
                at: now,
                generation: full_generation,
                failure_rate: change.failure_rate,
                slow_call_rate: change.slow_call_rate,
            });
        }
        Some(entered)
    }

    fn notify(&self, change: &StateChange) {
        let listeners = Arc::clone(
            &self
                .listeners
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for listener in listeners.iter() {
            listener(change);
        }
    }

    /// The open duration after `opens` consecutive openings: the base, times the multiplier
    /// for each re-opening, capped.
    fn open_duration_after(&self, opens: u32) -> Duration {
        let base = self.config.open_duration;
        let cap = self.config.max_open_duration;
        let exponent = i32::try_from(opens.saturating_sub(1)).unwrap_or(i32::MAX);
        let seconds = base.as_secs_f64() * self.config.open_duration_multiplier.powi(exponent);
        // Overflow to infinity (many re-openings) lands on the cap.
        Duration::try_from_secs_f64(seconds).map_or(cap, |grown| grown.min(cap))
    }

    /// Registers a listener, run synchronously by the thread making each later transition,
    /// after the new state is visible to other threads.
    ///
    /// Listeners of concurrent transitions may run concurrently: order them by
    /// [`StateChange::generation`].
    pub fn on_state_change(&self, listener: Listener) {
        let mut listeners = self
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut all = listeners.to_vec();
        all.push(listener);
        *listeners = Arc::from(all);
    }

    /// Opens the breaker now, as if the thresholds had tripped: from closed for the base open
    /// duration, from half-open for the grown one, and from open it restarts the current one.
    /// The usual half-open probing follows.
    pub fn force_open(&self) {
        self.force(Change::to(State::Open, Reason::Forced));
    }

    /// Closes the breaker with an empty window and the base open duration.
    pub fn reset(&self) {
        self.force(Change::to(State::Closed, Reason::Reset));
    }

    fn force(&self, change: Change) {
        loop {
            let word = self.load();
            if word.code() == BUSY {
                std::thread::yield_now();
                continue;
            }
            if self.transition(word, change, Probes::default()).is_some() {
                return;
            }
        }
    }

    /// The breaker's counters, for dashboards and health endpoints.
    pub fn snapshot(&self) -> Snapshot {
        let word = self.load();
        let state = word.state();
        let now = self.clock.now();
        let probes = word.probes();
        let (totals, judged) = match word.code() {
            CLOSED => {
                let totals = self.window.totals(now);
                let judged = totals.calls >= u64::from(self.config.minimum_calls);
                (totals, judged)
            }
            HALF_OPEN => {
                let totals = Totals {
                    calls: u64::from(probes.recorded),
                    failures: u64::from(probes.failed),
                    slow: u64::from(probes.slow),
                };
                (totals, probes.recorded > 0)
            }
            _ => (Totals::default(), false),
        };
        let rate =
            |part: u64| (judged && totals.calls > 0).then(|| part as f64 / totals.calls as f64);
        let retry_after = (state == State::Open)
            .then(|| Timestamp::from_nanos(self.open_until.load(Ordering::Acquire)) - now);
        Snapshot {
            name: Arc::clone(&self.name),
            state,
            calls: totals.calls,
            failures: totals.failures,
            slow_calls: totals.slow,
            failure_rate: rate(totals.failures),
            slow_call_rate: if self.slow_nanos == 0 {
                None
            } else {
                rate(totals.slow)
            },
            half_open_in_flight: u32::from(probes.in_flight()),
            rejected_total: self.rejected_total.load(Ordering::Relaxed),
            transitions_total: self.transitions_total.load(Ordering::Relaxed),
            consecutive_opens: self.consecutive_opens.load(Ordering::Relaxed),
            retry_after,
        }
    }
}

/// A transition to make and what caused it.
#[derive(Debug, Clone, Copy)]
struct Change {
    to: State,
    reason: Reason,
    failure_rate: Option<f64>,
    slow_call_rate: Option<f64>,
}

impl Change {
    const fn to(to: State, reason: Reason) -> Self {
        Self {
            to,
            reason,
            failure_rate: None,
            slow_call_rate: None,
        }
    }
}

/// Leave to make one call; record its outcome with it.
///
/// Dropping it unrecorded (the call was cancelled) releases it without counting anything: a
/// half-open probe slot becomes free for the next caller.
#[must_use = "dropping a permit unrecorded releases it as if the call never happened"]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    generation: u32,
    probe: bool,
    started: Timestamp,
    done: bool,
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("breaker", &self.breaker.name)
            .field("probe", &self.probe)
            .finish_non_exhaustive()
    }
}

impl Permit<'_> {
    /// Whether this permit is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The call succeeded.
    // Forced inline: measured 49 -> 46 ns on the pipeline success path (docs/performance.md).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    pub fn success(self) {
        self.record(Outcome::Success);
    }

    /// The call failed.
    pub fn failure(self) {
        self.record(Outcome::Failure);
    }

    /// Records `outcome`; [`Outcome::Ignored`] releases the permit uncounted.
    // Forced inline: measured 49 -> 46 ns on the pipeline success path (docs/performance.md).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    pub fn record(mut self, outcome: Outcome) {
        self.done = true;
        self.breaker
            .finish(self.generation, self.probe, self.started, outcome);
    }

    /// Records the outcome an error of this class means ([`CircuitBreaker::outcome_of`]).
    #[inline]
    pub fn record_error(self, class: &ErrorClass) {
        let outcome = self.breaker.outcome_of(class);
        self.record(outcome);
    }
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        if !self.done && self.probe {
            self.breaker.release_probe(self.generation);
        }
    }
}

/// A serializable picture of a breaker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// The breaker's name.
    #[serde(serialize_with = "serialize_name")]
    pub name: Arc<str>,
    /// Its state.
    pub state: State,
    /// Calls being judged: in the window when closed, probes recorded when half-open, zero
    /// when open.
    pub calls: u64,
    /// How many of those failed.
    pub failures: u64,
    /// How many of those were slow.
    pub slow_calls: u64,
    /// `failures / calls`, or `None` below `minimum_calls` (half-open: before any probe
    /// recorded; open: always).
    pub failure_rate: Option<f64>,
    /// `slow_calls / calls` on the same terms, or `None` when slow-call detection is off.
    pub slow_call_rate: Option<f64>,
    /// Half-open probes admitted and not yet recorded or released.
    pub half_open_in_flight: u32,
    /// Calls rejected since the breaker was made.
    pub rejected_total: u64,
    /// State changes since the breaker was made.
    pub transitions_total: u64,
    /// Openings since the breaker last closed.
    pub consecutive_opens: u32,
    /// When open, the time until it may admit a probe.
    #[serde(with = "humantime_serde::option")]
    pub retry_after: Option<Duration>,
}

fn serialize_name<S: Serializer>(name: &Arc<str>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(name)
}
