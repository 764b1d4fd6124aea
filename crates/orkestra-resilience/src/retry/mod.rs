//! Retry: call again after a failure that may be transient, waiting a jittered, growing delay,
//! honouring the server's `Retry-After`, within a retry budget.
//!
//! # Attempt counting
//!
//! [`RetryConfig::max_attempts`] counts calls, the first one included: `3` means one call and at
//! most two retries, and `1` means no retry. resilience4j and gRPC count the same way; Polly and
//! backon count retries instead (their `3` makes four calls), hence the explicit name.
//! [`RetryError::attempts`] and [`RetryEvent::attempt`] use the same count.
//!
//! # When to retry
//!
//! After each failure the error is classified once ([`Classify::class`]) and one function,
//! [`RetryConfig::decide`], rules on that [`ErrorClass`] and the number of attempts made.
//! The first rule that applies wins:
//!
//! 1. the class is not retryable: [`Stop::NonRetryable`], so a non-retryable error is never
//!    retried, and a retryable one is never reported as non-retryable;
//! 2. `max_attempts` calls were made: [`Stop::AttemptsExhausted`];
//! 3. the server asked to wait longer than `max_retry_after`: [`Stop::RetryAfterTooLong`];
//! 4. the caller, shown the wait, declines it ([`Attempts::failed_if`]): [`Stop::Declined`];
//! 5. the budget has no retry left: [`Stop::BudgetExhausted`] (the budget is asked last, so a
//!    call that stops for another reason does not spend it).
//!
//! The returned [`RetryError`] carries the last error, that same class and the [`Stop`] reason.
//!
//! # Backoff
//!
//! Before retry `n` (1 for the first retry) the exponential delay is
//! `d = min(initial * multiplier^(n-1), max)`, computed in floating point and saturating at
//! `max`, so a multiplier of `1e300` or retry number `10_000` gives `max`, never an overflow
//! or a negative delay (Polly #2163). [`Jitter`] then spreads it:
//!
//! | jitter | delay |
//! |---|---|
//! | `none` | `d` |
//! | `full` (default) | uniform in `0..=d` |
//! | `equal` | `d/2` + uniform in `0..=d/2` |
//! | `decorrelated` | uniform in `initial..=min(3 * previous, max)` |
//!
//! Each range ends at or below `max`, and `max` is applied once more after jitter. Drawing
//! inside the capped range, instead of clamping a larger draw to the cap, keeps the spread at
//! the cap: clamping made most delays equal to the cap in backon until its PR #184.
//! [`Backoff`] is sans-IO (no clock, no sleep), so it is tested and reused on its own.
//!
//! # Retry-After
//!
//! When the class carries [`ErrorClass::retry_after`] (HTTP 429 or 503 with `Retry-After`, an
//! open circuit breaker), the delay is at least that long, even above the backoff `max`.
//! A wait longer than [`RetryConfig::max_retry_after`] (60 s by default, Portkey's cap) is not
//! slept through: the retry stops with [`Stop::RetryAfterTooLong`] so the caller can fall back
//! to another model at once rather than hold the request for minutes.
//!
//! # Budget
//!
//! An optional [`RetryBudget`] (Finagle, tower) limits retries to
//! `min_retries_per_second * ttl + retry_ratio * calls - retries`, counted over the last
//! `ttl`. When an upstream fails hard, every call would otherwise retry `max_attempts - 1`
//! times and multiply the load on it; the budget caps the extra load at `retry_ratio` (20%) once
//! the reserve is spent. Each call deposits once, each retry withdraws once. Share one budget
//! between the policies of one upstream with [`Retry::with_budget`].
//!
//! # Defaults compared
//!
//! | | max attempts | backoff | jitter | Retry-After | budget |
//! |---|---|---|---|---|---|
//! | orkestra | 3 | 100 ms -> 10 s, x2 | full | honoured, up to 60 s | off (Finagle's values when on) |
//! | `TensorZero` | 1 (0 retries) | exponential, max 10 s | yes | - | - |
//! | Helicone ai-gateway | 3 (2 retries) | 1 s -> 30 s, x2 | yes | - | - |
//! | Bifrost | 1 (0 retries) | 500 ms -> 5 s | - | - | - |
//! | Portkey | up to 5 retries, on 429/500/502/503/504 | - | - | honoured, capped 60 s | - |
//! | Finagle / tower | - | - | - | - | 10 s window, 10 retries/s, 20% |
//!
//! A gateway's caller is waiting, so our first retry comes quickly (100 ms, not Helicone's 1 s)
//! and the cap stays at `TensorZero`'s 10 s; two retries absorb a blip without tripling the load of
//! a real outage, which the circuit breaker and fallback handle better than more retries.
//!
//! # Cost
//!
//! When the first attempt succeeds, a call allocates nothing and touches neither the sleeper nor
//! the random generator (created on the first failure); with a budget it also makes one clock
//! read and one atomic add to deposit.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use orkestra_core::{ErrorCategory, ErrorClass};
//! use orkestra_resilience::retry::{Retry, RetryConfig, Stop};
//!
//! let runtime = tokio::runtime::Builder::new_current_thread()
//!     .enable_time()
//!     .start_paused(true)
//!     .build()?;
//! runtime.block_on(async {
//!     let retry = Retry::new(RetryConfig::default())?;
//!
//!     // Overloaded twice, then an answer: the third and last attempt succeeds.
//!     let mut calls = 0;
//!     let answer = retry
//!         .call(|| {
//!             calls += 1;
//!             let call = calls;
//!             async move {
//!                 if call < 3 { Err(ErrorClass::new(ErrorCategory::Overloaded)) } else { Ok(call) }
//!             }
//!         })
//!         .await;
//!     assert_eq!(answer, Ok(3));
//!
//!     // A bad request is not retried.
//!     let failed = retry
//!         .call(|| async { Err::<(), _>(ErrorClass::new(ErrorCategory::InvalidRequest)) })
//!         .await
//!         .unwrap_err();
//!     assert_eq!((failed.attempts, failed.stop), (1, Stop::NonRetryable));
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod backoff;
mod budget;
mod sleep;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use orkestra_core::{Classify, Clock, ErrorClass, SystemClock};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde::{Deserialize, Serialize};

pub use backoff::{Backoff, BackoffConfig, Jitter};
pub use budget::{BudgetConfig, RetryBudget};
pub use sleep::{Sleeper, TokioSleeper};

use crate::ConfigError;

/// The retry section of a configuration.
///
/// ```toml
/// max_attempts = 4
/// max_retry_after = "30s"
///
/// [backoff]
/// initial = "250ms"
/// max = "5s"
/// jitter = "decorrelated"
///
/// [budget]
/// retry_ratio = 0.1
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Calls in total, the first included; at least 1 (1 means no retry).
    pub max_attempts: u32,
    /// The delays between attempts.
    pub backoff: BackoffConfig,
    /// The longest `Retry-After` honoured; a longer one stops with [`Stop::RetryAfterTooLong`].
    #[serde(with = "humantime_serde")]
    pub max_retry_after: Duration,
    /// The retry budget, if any.
    pub budget: Option<BudgetConfig>,
}

impl Default for RetryConfig {
    /// `max_attempts = 3`, the [`BackoffConfig`] defaults (`100ms` doubling to `10s`, full
    /// jitter), `max_retry_after = "60s"`, no budget.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            backoff: BackoffConfig::default(),
            max_retry_after: Duration::from_mins(1),
            budget: None,
        }
    }
}

impl RetryConfig {
    /// Checks every field, naming the first invalid one (`retry.max_attempts`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_attempts == 0 {
            return Err(ConfigError::new(
                "retry.max_attempts",
                "at least 1 (the first call counts; 1 means no retry), got 0",
            ));
        }
        self.backoff.validate()?;
        if let Some(budget) = &self.budget {
            budget.validate()?;
        }
        Ok(())
    }

    /// Whether to retry after the `attempts`-th call failed with `class`.
    ///
    /// This is the only place the decision is made; the rules and their order are in the
    /// [module docs](self). `withdraw` asks the budget for a retry (`|| true` without one) and
    /// is called only when every other rule allows the retry, so a refused retry costs nothing.
    pub fn decide(
        &self,
        class: &ErrorClass,
        attempts: u32,
        withdraw: impl FnOnce() -> bool,
    ) -> Decision {
        if !class.retryable {
            return Decision::Stop(Stop::NonRetryable);
        }
        if attempts >= self.max_attempts {
            return Decision::Stop(Stop::AttemptsExhausted);
        }
        if let Some(retry_after) = class.retry_after
            && retry_after > self.max_retry_after
        {
            return Decision::Stop(Stop::RetryAfterTooLong { retry_after });
        }
        if !withdraw() {
            return Decision::Stop(Stop::BudgetExhausted);
        }
        Decision::Retry
    }
}

/// The verdict of [`RetryConfig::decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Wait, then call again.
    Retry,
    /// Give up and return the last error.
    Stop(Stop),
}

/// Why a retry gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stop {
    /// The error's class is not retryable; it was not retried.
    NonRetryable,
    /// `max_attempts` calls were made.
    AttemptsExhausted,
    /// The retry budget had no retry left.
    BudgetExhausted,
    /// The server asked to wait longer than `max_retry_after`.
    RetryAfterTooLong {
        /// The wait the server asked for.
        retry_after: Duration,
    },
    /// Every rule allowed the retry, but the caller declined to wait this long
    /// ([`Attempts::failed_if`]): another option is expected to answer sooner, or there is no
    /// time left.
    Declined {
        /// The wait the retry would have taken.
        delay: Duration,
    },
}

impl Stop {
    /// A stable `snake_case` name for logs and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NonRetryable => "non_retryable",
            Self::AttemptsExhausted => "attempts_exhausted",
            Self::BudgetExhausted => "budget_exhausted",
            Self::RetryAfterTooLong { .. } => "retry_after_too_long",
            Self::Declined { .. } => "declined",
        }
    }
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NonRetryable => f.write_str("not retryable"),
            Self::AttemptsExhausted => f.write_str("attempts exhausted"),
            Self::BudgetExhausted => f.write_str("retry budget exhausted"),
            Self::RetryAfterTooLong { retry_after } => {
                write!(f, "server asked to wait {retry_after:?}, more than allowed")
            }
            Self::Declined { delay } => write!(f, "the caller chose not to wait {delay:?}"),
        }
    }
}

/// A retry about to happen, reported to [`Retry::on_retry`] listeners before the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryEvent {
    /// The attempt that just failed (1 for the first call).
    pub attempt: u32,
    /// Its error's class.
    pub class: ErrorClass,
    /// How long the retry waits before the next attempt.
    pub delay: Duration,
}

/// The last error of a call that was not retried (any further), with why and after how many calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryError<E> {
    /// The last attempt's error.
    pub error: E,
    /// Calls made, the first included.
    pub attempts: u32,
    /// The class of `error`, as the decision saw it.
    pub class: ErrorClass,
    /// Why the retry stopped.
    pub stop: Stop,
}

impl<E> RetryError<E> {
    /// The last attempt's error.
    pub fn into_inner(self) -> E {
        self.error
    }
}

impl<E> Classify for RetryError<E> {
    /// The class the decision was made on, without asking the error again.
    fn class(&self) -> ErrorClass {
        self.class
    }
}

impl<E: fmt::Display> fmt::Display for RetryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.attempts == 1 { "" } else { "s" };
        write!(
            f,
            "{} ({}, after {} attempt{plural})",
            self.error, self.stop, self.attempts
        )
    }
}

impl<E: std::error::Error + 'static> std::error::Error for RetryError<E> {
    /// The error's own source: `Display` already shows the error itself.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

/// A listener for [`RetryEvent`]s.
type Listener = Arc<dyn Fn(&RetryEvent) + Send + Sync>;

/// The retry policy: build it once, share it (`&Retry` or a clone), call through it.
#[derive(Clone)]
pub struct Retry {
    config: RetryConfig,
    /// Validated once; each call that fails works on its own copy.
    backoff: Backoff,
    budget: Option<Arc<RetryBudget>>,
    sleeper: Arc<dyn Sleeper>,
    seed: Option<u64>,
    listeners: Vec<Listener>,
}

impl Retry {
    /// A retry policy following `config`, its budget (if any) on the system clock.
    pub fn new(config: RetryConfig) -> Result<Self, ConfigError> {
        Self::with_clock(config, Arc::new(SystemClock::new()))
    }

    /// A retry policy whose budget reads time from `clock` (a `ManualClock` in tests).
    pub fn with_clock(config: RetryConfig, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        config.validate()?;
        let backoff = Backoff::new(&config.backoff)?;
        let budget = config
            .budget
            .as_ref()
            .map(|budget| RetryBudget::new(budget, clock).map(Arc::new))
            .transpose()?;
        Ok(Self {
            config,
            backoff,
            budget,
            sleeper: Arc::new(TokioSleeper),
            seed: None,
            listeners: Vec::new(),
        })
    }

    /// A policy that makes exactly one attempt: what a pipeline without retry uses, so its
    /// failures still say how many attempts were made and why they stopped.
    pub fn single_attempt() -> Self {
        let config = RetryConfig {
            max_attempts: 1,
            ..RetryConfig::default()
        };
        // The default backoff is valid (a test pins the defaults), and one attempt never waits.
        let backoff = Backoff::from_validated(&config.backoff);
        Self {
            config,
            backoff,
            budget: None,
            sleeper: Arc::new(TokioSleeper),
            seed: None,
            listeners: Vec::new(),
        }
    }

    /// Waits with `sleeper` instead of the tokio timer.
    #[must_use]
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// Draws jitter from a generator seeded with `seed`, the same sequence for every call.
    ///
    /// For tests: in production identical sequences would make clients retry in step, which
    /// is what jitter is for avoiding. Without a seed each call seeds from the thread's generator.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Uses `budget` instead of the configured one, so several policies can share one.
    #[must_use]
    pub fn with_budget(mut self, budget: Arc<RetryBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Adds a listener called before each retry's wait (for logs and metrics); keep it quick.
    #[must_use]
    pub fn on_retry(mut self, listener: impl Fn(&RetryEvent) + Send + Sync + 'static) -> Self {
        self.listeners.push(Arc::new(listener));
        self
    }

    /// The configuration this policy was built from.
    pub fn config(&self) -> &RetryConfig {
        &self.config
    }

    /// The budget retries draw from, if any.
    pub fn budget(&self) -> Option<&Arc<RetryBudget>> {
        self.budget.as_ref()
    }

    /// Calls `operation` until it succeeds or [`RetryConfig::decide`] says stop.
    ///
    /// `operation` is called once per attempt and must build a fresh future each time.
    pub async fn call<T, E, F, Fut>(&self, mut operation: F) -> Result<T, RetryError<E>>
    where
        E: Classify,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut attempts = self.start();
        loop {
            let error = match operation().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let delay = attempts.failed(error)?;
            self.sleeper.sleep(delay).await;
        }
    }

    /// Starts one logical call: the retry state that [`call`](Self::call) drives, for callers
    /// that run their own loop (the pipeline checks its other policies before each attempt).
    ///
    /// Deposits into the budget, if there is one: every logical call earns retries.
    pub fn start(&self) -> Attempts<'_> {
        if let Some(budget) = &self.budget {
            budget.deposit();
        }
        Attempts {
            retry: self,
            made: 0,
            backoff: None,
        }
    }

    /// Waits `delay` with this policy's sleeper.
    pub fn sleep(&self, delay: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.sleeper.sleep(delay)
    }

    fn rng(&self) -> SmallRng {
        match self.seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_rng(&mut rand::rng()),
        }
    }
}

/// The retry state of one logical call: how many attempts were made, and the backoff.
///
/// Sans-IO: [`failed`](Self::failed) decides and computes the wait, the caller waits (with
/// [`Retry::sleep`]) and makes the next attempt. [`Retry::call`] is this loop.
pub struct Attempts<'a> {
    retry: &'a Retry,
    made: u32,
    /// Built on the first failure only, so a call that succeeds at once pays nothing for it;
    /// boxed so that every future holding an `Attempts` stays small (futures are moved, and
    /// moving ~80 bytes of backoff state cost more than the rest of the success path).
    backoff: Option<Box<(Backoff, SmallRng)>>,
}

impl Attempts<'_> {
    /// Attempts that have failed so far.
    pub fn made(&self) -> u32 {
        self.made
    }

    /// Records that an attempt failed with `error`: the wait before the next attempt, or the
    /// [`RetryError`] that ends the call.
    ///
    /// The error is classified once; that class decides, and the error reports that class.
    pub fn failed<E: Classify>(&mut self, error: E) -> Result<Duration, RetryError<E>> {
        self.failed_if(error, |_, _| true)
    }

    /// [`failed`](Self::failed), letting the caller decline the retry once it knows the wait.
    ///
    /// `accept` sees the class and the delay, and is asked only when every rule of
    /// [`RetryConfig::decide`] but the budget allows the retry. A declined retry stops with
    /// [`Stop::Declined`] and takes nothing from the budget, nor tells the listeners: no retry
    /// happens. A caller that may do something better than waiting (call another upstream
    /// expected to answer sooner, give up before its own deadline) decides here.
    pub fn failed_if<E: Classify>(
        &mut self,
        error: E,
        accept: impl FnOnce(&ErrorClass, Duration) -> bool,
    ) -> Result<Duration, RetryError<E>> {
        self.made += 1;
        let class = error.class();
        let retry = self.retry;
        let made = self.made;
        let slot = &mut self.backoff;
        let mut delay = Duration::ZERO;
        let mut declined = false;
        let decision = retry.config.decide(&class, made, || {
            let (backoff, rng) =
                &mut **slot.get_or_insert_with(|| Box::new((retry.backoff.clone(), retry.rng())));
            delay = backoff.delay_honouring(made, class.retry_after, rng);
            if !accept(&class, delay) {
                declined = true;
                return false;
            }
            retry
                .budget
                .as_deref()
                .is_none_or(RetryBudget::try_withdraw)
        });
        if let Decision::Stop(stop) = decision {
            let stop = if declined {
                Stop::Declined { delay }
            } else {
                stop
            };
            return Err(RetryError {
                error,
                attempts: made,
                class,
                stop,
            });
        }
        let event = RetryEvent {
            attempt: made,
            class,
            delay,
        };
        for listener in &retry.listeners {
            listener(&event);
        }
        Ok(delay)
    }
}

impl fmt::Debug for Attempts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attempts")
            .field("made", &self.made)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Retry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("config", &self.config)
            .field("backoff", &self.backoff)
            .field("budget", &self.budget)
            .field("sleeper", &self.sleeper)
            .field("seed", &self.seed)
            .field("listeners", &self.listeners.len())
            .finish()
    }
}

#[cfg(test)]
mod tests;
