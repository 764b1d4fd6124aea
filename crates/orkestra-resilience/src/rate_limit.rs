//! [`RateLimiter`] and [`KeyedRateLimiter`]: at most `requests` per `per`, with bursts.
//!
//! Both use the generic cell rate algorithm (GCRA) from the `governor` crate, which this module
//! wraps so that it is the only door to it (`clippy.toml` bans `governor::RateLimiter`
//! elsewhere). GCRA keeps one "theoretical arrival time" per limiter (per key for the keyed
//! one) and admits a call if it is at most `burst - 1` intervals ahead of now, where the
//! interval is `per / requests`. So a fresh limiter admits `burst` calls at once, then one per
//! interval; a refused call learns exactly how long to wait ([`RateLimited::retry_after`]).
//! Deciding is one compare-and-swap on an `AtomicU64`, so concurrent callers never admit more
//! than the limit (`LiteLLM` #18730 admitted 663 tokens against a 100 TPM limit by checking and
//! recording in two steps).
//!
//! [`RateLimiter::check_n`] charges `n` units at once, for limits on tokens rather than
//! requests (`requests = 100_000, per = "1m"` for 100k tokens per minute). A charge larger
//! than the burst can never conform and is reported as such, not as a wait.
//!
//! # Defaults
//!
//! [`RateLimitConfig::default`] admits 8 requests per second with a burst of 8: about 480 per
//! minute, just under the 500 requests per minute of the entry tiers of the large hosted
//! providers, so an unconfigured limiter keeps a single key clear of their 429s.
//!
//! # Clocks
//!
//! In production the limiters read governor's default clock (`quanta`, a TSC read of a few
//! nanoseconds), chosen at compile time with no dynamic dispatch. For tests,
//! [`RateLimiter::with_clock`] takes any [`orkestra_core::Clock`], such as a
//! [`ManualClock`](orkestra_core::ManualClock), through the [`InjectedClock`] adapter.
//!
//! Intervals are whole nanoseconds, rounded down: 3 per second refills every 333,333,333 ns.

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::HashMapStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{InsufficientCapacity, NotUntil, Quota};
use orkestra_core::{Classify, ErrorCategory, ErrorClass, Severity};
use serde::{Deserialize, Serialize};

use crate::{ConfigError, Error};

/// The clock the limiters read in production: governor's default, a `quanta` TSC clock.
pub type DefaultClock = governor::clock::DefaultClock;

// The two governor limiters this module wraps. This module is the one place allowed to name
// `governor::RateLimiter` (see clippy.toml); everything else goes through the types below.
#[allow(clippy::disallowed_types)]
type DirectGcra<C> = governor::RateLimiter<
    NotKeyed,
    InMemoryState,
    C,
    NoOpMiddleware<<C as governor::clock::Clock>::Instant>,
>;
#[allow(clippy::disallowed_types)]
type KeyedGcra<K, C> = governor::RateLimiter<
    K,
    HashMapStateStore<K>,
    C,
    NoOpMiddleware<<C as governor::clock::Clock>::Instant>,
>;

/// The longest `per` window, and the longest time a full burst may take to refill: 100 years.
///
/// governor counts in `u64` nanoseconds (about 584 years) with unchecked additions; keeping
/// its state far below that bound keeps those additions from overflowing.
const MAX_HORIZON: Duration = Duration::from_hours(100 * 365 * 24);

/// A rate: `requests` per `per`, with bursts of up to `burst`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// How many requests (or units charged with `check_n`, such as tokens) per `per`; at least 1.
    pub requests: u32,
    /// The window `requests` refers to, as a human duration (`"1s"`, `"1m"`).
    #[serde(with = "humantime_serde")]
    pub per: Duration,
    /// How many requests may pass at once after a quiet period; absent means `requests`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

impl Default for RateLimitConfig {
    /// `requests = 8`, `per = 1s`, `burst = None` (that is, 8): about 480 a minute, under the
    /// 500 requests per minute of the large providers' entry tiers.
    fn default() -> Self {
        Self {
            requests: 8,
            per: Duration::from_secs(1),
            burst: None,
        }
    }
}

impl RateLimitConfig {
    /// Checks that the rate and burst are positive and representable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.quota().map(|_| ())
    }

    /// The burst in effect: `burst`, or `requests` without it.
    pub fn effective_burst(&self) -> u32 {
        self.burst.unwrap_or(self.requests)
    }

    /// The time one request's allowance takes to refill: `per / requests`, rounded down to
    /// whole nanoseconds.
    pub fn interval(&self) -> Duration {
        self.per / self.requests.max(1)
    }

    fn quota(&self) -> Result<Quota, ConfigError> {
        if self.requests == 0 {
            return Err(ConfigError::new("rate_limit.requests", "at least 1"));
        }
        if self.per.is_zero() || self.per > MAX_HORIZON {
            return Err(ConfigError::new(
                "rate_limit.per",
                "a duration above zero and at most 100 years, such as \"1s\" or \"1m\"",
            ));
        }
        let Some(burst) = NonZeroU32::new(self.effective_burst()) else {
            return Err(ConfigError::new("rate_limit.burst", "at least 1"));
        };
        let refill = self.interval().checked_mul(burst.get());
        let Some(quota) = Quota::with_period(self.interval())
            .filter(|_| refill.is_some_and(|refill| refill <= MAX_HORIZON))
        else {
            return Err(ConfigError::new(
                "rate_limit",
                format!(
                    "`per / requests` of at least 1ns and `per / requests * burst` of at most \
                     100 years; got {:?} per {} with a burst of {burst}",
                    self.per, self.requests
                ),
            ));
        };
        Ok(quota.allow_burst(burst))
    }
}

/// The rate limiter refused the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limited; retry after {retry_after:?}")]
pub struct RateLimited {
    /// How long until the same call would be admitted (if no one else takes the slot first).
    pub retry_after: Duration,
}

impl<E> From<RateLimited> for Error<E> {
    fn from(limited: RateLimited) -> Self {
        Error::RateLimited {
            retry_after: limited.retry_after,
        }
    }
}

/// Why [`RateLimiter::check_n`] refused a charge of several units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckNError {
    /// The charge fits the burst, but not now.
    #[error(transparent)]
    Limited(#[from] RateLimited),
    /// The charge is larger than the burst, so it can never be admitted, however long it waits.
    #[error("a charge of {requested} exceeds the rate limit's burst of {burst}; it can never pass")]
    ExceedsBurst {
        /// The units asked for.
        requested: u32,
        /// The most units the limiter admits at once.
        burst: u32,
    },
}

impl Classify for CheckNError {
    /// A wait classifies as `rate_limited` with its `retry_after`; a charge above the burst
    /// as a non-retryable `invalid_request` (the request must shrink, waiting will not help).
    fn class(&self) -> ErrorClass {
        match self {
            Self::Limited(limited) => {
                ErrorClass::new(ErrorCategory::RateLimited).with_retry_after(limited.retry_after)
            }
            Self::ExceedsBurst { .. } => ErrorClass::new(ErrorCategory::InvalidRequest)
                .with_retryable(false)
                .with_severity(Severity::Medium),
        }
    }
}

/// Lets a limiter read an [`orkestra_core::Clock`], such as a `ManualClock` in tests.
#[derive(Debug, Clone, Default)]
pub struct InjectedClock<C>(pub C);

impl<C: orkestra_core::Clock> governor::clock::Clock for InjectedClock<C> {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::new(self.0.now().as_nanos())
    }
}

/// Turns governor's refusal into our wait, measured on the limiter's own clock.
fn limited<C: governor::clock::Clock>(refusal: &NotUntil<C::Instant>, clock: &C) -> RateLimited {
    RateLimited {
        retry_after: refusal.wait_time_from(clock.now()),
    }
}

/// One rate limit shared by every call made through it.
///
/// ```
/// use orkestra_resilience::rate_limit::{RateLimitConfig, RateLimiter};
///
/// let limiter = RateLimiter::new(&RateLimitConfig::default()).unwrap();
/// assert!(limiter.check().is_ok());
/// ```
pub struct RateLimiter<C: governor::clock::Clock = DefaultClock> {
    gcra: DirectGcra<C>,
    config: RateLimitConfig,
}

impl RateLimiter {
    /// A limiter on the default (production) clock.
    pub fn new(config: &RateLimitConfig) -> Result<Self, ConfigError> {
        Self::with_governor_clock(config, DefaultClock::default())
    }
}

impl<C: orkestra_core::Clock> RateLimiter<InjectedClock<C>> {
    /// A limiter that reads `clock`, for deterministic tests and simulations.
    pub fn with_clock(config: &RateLimitConfig, clock: C) -> Result<Self, ConfigError> {
        Self::with_governor_clock(config, InjectedClock(clock))
    }
}

impl<C: governor::clock::Clock> RateLimiter<C> {
    fn with_governor_clock(config: &RateLimitConfig, clock: C) -> Result<Self, ConfigError> {
        let quota = config.quota()?;
        Ok(Self {
            gcra: DirectGcra::direct_with_clock(quota, clock),
            config: config.clone(),
        })
    }

    /// Admits one request, or says how long until one would be admitted.
    #[inline]
    pub fn check(&self) -> Result<(), RateLimited> {
        self.gcra
            .check()
            .map_err(|refusal| limited(&refusal, self.gcra.clock()))
    }

    /// Admits `n` units at once (all or none), such as the tokens of one request.
    ///
    /// A charge of zero always passes. A charge above the burst fails with
    /// [`CheckNError::ExceedsBurst`], since no wait would make it pass.
    pub fn check_n(&self, n: u32) -> Result<(), CheckNError> {
        let Some(units) = NonZeroU32::new(n) else {
            return Ok(());
        };
        match self.gcra.check_n(units) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(refusal)) => Err(limited(&refusal, self.gcra.clock()).into()),
            Err(InsufficientCapacity(_)) => Err(CheckNError::ExceedsBurst {
                requested: n,
                burst: self.burst(),
            }),
        }
    }

    /// Runs `operation` if the limiter admits it, or fails with [`Error::RateLimited`] at once.
    pub async fn call<F, T, E>(&self, operation: F) -> Result<T, Error<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        self.check()?;
        operation.await.map_err(Error::Inner)
    }

    /// The most requests admitted at once.
    pub fn burst(&self) -> u32 {
        self.config.effective_burst()
    }

    /// The time one request's allowance takes to refill.
    pub fn interval(&self) -> Duration {
        self.config.interval()
    }

    /// The configuration the limiter was built from.
    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }
}

impl<C: governor::clock::Clock> fmt::Debug for RateLimiter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A rate limit per key (per API key, per user, per model), each key with its own allowance.
///
/// Keys are remembered until [`KeyedRateLimiter::retain_recent`] forgets those whose
/// allowance is full again (indistinguishable from new keys); call it periodically when keys
/// come from untrusted input, or memory grows with every distinct key seen.
///
/// The state is a `HashMap` behind one mutex (governor's default store without its `dashmap`
/// feature): uncontended checks are a lock, a hash and an atomic update, but many threads
/// checking at once serialise on the lock.
pub struct KeyedRateLimiter<K: Hash + Eq + Clone, C: governor::clock::Clock = DefaultClock> {
    gcra: KeyedGcra<K, C>,
    config: RateLimitConfig,
}

impl<K: Hash + Eq + Clone> KeyedRateLimiter<K> {
    /// A keyed limiter on the default (production) clock.
    pub fn new(config: &RateLimitConfig) -> Result<Self, ConfigError> {
        Self::with_governor_clock(config, DefaultClock::default())
    }
}

impl<K: Hash + Eq + Clone, C: orkestra_core::Clock> KeyedRateLimiter<K, InjectedClock<C>> {
    /// A keyed limiter that reads `clock`, for deterministic tests and simulations.
    pub fn with_clock(config: &RateLimitConfig, clock: C) -> Result<Self, ConfigError> {
        Self::with_governor_clock(config, InjectedClock(clock))
    }
}

impl<K: Hash + Eq + Clone, C: governor::clock::Clock> KeyedRateLimiter<K, C> {
    fn with_governor_clock(config: &RateLimitConfig, clock: C) -> Result<Self, ConfigError> {
        let quota = config.quota()?;
        Ok(Self {
            gcra: KeyedGcra::hashmap_with_clock(quota, clock),
            config: config.clone(),
        })
    }

    /// Admits one request for `key`, or says how long until one would be admitted.
    #[inline]
    pub fn check(&self, key: &K) -> Result<(), RateLimited> {
        self.gcra
            .check_key(key)
            .map_err(|refusal| limited(&refusal, self.gcra.clock()))
    }

    /// Admits `n` units at once for `key` (all or none); see [`RateLimiter::check_n`].
    pub fn check_n(&self, key: &K, n: u32) -> Result<(), CheckNError> {
        let Some(units) = NonZeroU32::new(n) else {
            return Ok(());
        };
        match self.gcra.check_key_n(key, units) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(refusal)) => Err(limited(&refusal, self.gcra.clock()).into()),
            Err(InsufficientCapacity(_)) => Err(CheckNError::ExceedsBurst {
                requested: n,
                burst: self.burst(),
            }),
        }
    }

    /// Runs `operation` if `key`'s limit admits it, or fails with [`Error::RateLimited`] at once.
    pub async fn call<F, T, E>(&self, key: &K, operation: F) -> Result<T, Error<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        self.check(key)?;
        operation.await.map_err(Error::Inner)
    }

    /// Forgets keys whose allowance has been full for at least one interval; such a key
    /// behaves exactly like a new one, so forgetting it loosens no limit.
    pub fn retain_recent(&self) {
        self.gcra.retain_recent();
        self.gcra.shrink_to_fit();
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.gcra.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.gcra.is_empty()
    }

    /// The most requests admitted at once per key.
    pub fn burst(&self) -> u32 {
        self.config.effective_burst()
    }

    /// The time one request's allowance takes to refill.
    pub fn interval(&self) -> Duration {
        self.config.interval()
    }

    /// The configuration the limiter was built from.
    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }
}

impl<K: Hash + Eq + Clone, C: governor::clock::Clock> fmt::Debug for KeyedRateLimiter<K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedRateLimiter")
            .field("config", &self.config)
            .field("keys", &self.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
