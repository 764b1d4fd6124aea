//! [`Pipeline`]: every policy composed, in one fixed order, around any async operation.
//!
//! From the outside in:
//!
//! ```text
//! retry ─► rate limiter ─► bulkhead ─► circuit breaker ─► timeout ─► operation
//! ```
//!
//! The order is deliberate:
//! - **retry** is outermost, so every attempt passes every other policy again, and a refusal
//!   (open breaker, full bulkhead, rate limit) is classified like any failure: retried after its
//!   `retry_after` when that is short enough, reported at once when it is not;
//! - the **rate limiter** counts attempts, not logical calls, because attempts are what the
//!   upstream sees;
//! - the **bulkhead** sits outside the breaker, so a full bulkhead (our own limit) is never
//!   recorded as the upstream failing;
//! - the **timeout** sits inside the breaker, so a timed-out attempt counts as a failure and a
//!   hanging upstream opens the circuit.
//!
//! Every policy is optional except retry, which defaults to a single attempt, so the error type
//! is the same whatever the configuration: [`Failure<E>`], which says how many attempts were
//! made and why the pipeline stopped.
//!
//! A caller that decides between attempts itself (wait out a rate limit, or call another
//! upstream expected to answer sooner) drives the retry with [`Retry::start`] and
//! [`Attempts::failed_if`](crate::retry::Attempts::failed_if), and makes each attempt with
//! [`Pipeline::attempt_within`], which also bounds it by the time the caller has left.
//!
//! With only retry and a circuit breaker configured and an operation that is immediately ready,
//! a call makes no heap allocation; `benches/resilience.rs` counts them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use orkestra_core::{Classify, Clock, SystemClock};
use serde::{Deserialize, Serialize};

use crate::breaker::{BreakerConfig, CircuitBreaker};
use crate::bulkhead::{Bulkhead, BulkheadConfig};
use crate::error::{ConfigError, Error};
use crate::rate_limit::{InjectedClock, RateLimitConfig, RateLimited, RateLimiter};
use crate::retry::{Retry, RetryConfig, RetryError};
use crate::timeout::{Timeout, TimeoutConfig};

/// Why a call through a [`Pipeline`] failed: the last attempt's error (the operation's own, or
/// a policy's refusal), the number of attempts, and the reason retrying stopped.
pub type Failure<E> = RetryError<Error<E>>;

/// Configuration of a [`Pipeline`]; a section left out is off, except retry, which then makes
/// exactly one attempt.
///
/// ```toml
/// [retry]
/// max_attempts = 3
/// backoff = { initial = "100ms", max = "10s" }
///
/// [circuit_breaker]
/// failure_rate_threshold = 0.5
/// open_duration = "10s"
///
/// [timeout]
/// duration = "30s"
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Retries with backoff; off means one attempt.
    pub retry: Option<RetryConfig>,
    /// A per-attempt rate limit.
    pub rate_limit: Option<RateLimitConfig>,
    /// A concurrency limit.
    pub bulkhead: Option<BulkheadConfig>,
    /// A circuit breaker.
    pub circuit_breaker: Option<BreakerConfig>,
    /// A per-attempt timeout.
    pub timeout: Option<TimeoutConfig>,
}

impl PipelineConfig {
    /// Retry, circuit breaker and timeout with their documented defaults: what orkestra puts
    /// around every model endpoint unless told otherwise.
    pub fn recommended() -> Self {
        Self {
            retry: Some(RetryConfig::default()),
            rate_limit: None,
            bulkhead: None,
            circuit_breaker: Some(BreakerConfig::default()),
            timeout: Some(TimeoutConfig::default()),
        }
    }
}

/// Retry, rate limiter, bulkhead, circuit breaker and timeout around one operation.
///
/// ```
/// use orkestra_core::{ErrorCategory, ErrorClass};
/// use orkestra_resilience::{CircuitBreaker, Pipeline, Retry, RetryConfig};
/// use orkestra_resilience::breaker::BreakerConfig;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pipeline = Pipeline::builder()
///     .retry(Retry::new(RetryConfig::default())?)
///     .circuit_breaker(CircuitBreaker::new("upstream", BreakerConfig::default())?)
///     .build();
/// let answer = pipeline
///     .call(|| async { Ok::<_, ErrorClass>(42) })
///     .await?;
/// assert_eq!(answer, 42);
///
/// // A caller error is not retried: one attempt, then the error.
/// let failure = pipeline
///     .call(|| async { Err::<(), _>(ErrorClass::new(ErrorCategory::InvalidRequest)) })
///     .await
///     .unwrap_err();
/// assert_eq!(failure.attempts, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Pipeline {
    retry: Retry,
    rate_limiter: Option<Limiter>,
    bulkhead: Option<Bulkhead>,
    breaker: Option<Arc<CircuitBreaker>>,
    timeout: Option<Timeout>,
}

impl Pipeline {
    /// A builder with no policy but a single-attempt retry.
    pub fn builder() -> PipelineBuilder {
        PipelineBuilder::default()
    }

    /// A pipeline from configuration, on the system clock; `name` names its circuit breaker.
    pub fn from_config(name: &str, config: &PipelineConfig) -> Result<Self, ConfigError> {
        Self::build_from_config(name, config, Arc::new(SystemClock::new()))
    }

    /// A pipeline from configuration whose time-dependent policies (the retry budget, the rate
    /// limiter, the circuit breaker) read `clock`, such as a `ManualClock` in tests.
    ///
    /// Waits (backoff, timeouts, a bulkhead's wait) are tokio timers, which
    /// `tokio::time::pause` controls.
    pub fn from_config_with_clock(
        name: &str,
        config: &PipelineConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        let mut pipeline = Self::build_from_config(name, config, Arc::clone(&clock))?;
        if let Some(rate_limit) = &config.rate_limit {
            pipeline.rate_limiter = Some(Limiter::Injected(RateLimiter::with_clock(
                rate_limit, clock,
            )?));
        }
        Ok(pipeline)
    }

    /// Every policy of `config`, the rate limiter on governor's own clock.
    fn build_from_config(
        name: &str,
        config: &PipelineConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        let mut builder = Self::builder();
        if let Some(retry) = &config.retry {
            builder = builder.retry(Retry::with_clock(retry.clone(), Arc::clone(&clock))?);
        }
        if let Some(rate_limit) = &config.rate_limit {
            builder = builder.rate_limiter(RateLimiter::new(rate_limit)?);
        }
        if let Some(bulkhead) = &config.bulkhead {
            builder = builder.bulkhead(Bulkhead::new(bulkhead)?);
        }
        if let Some(breaker) = &config.circuit_breaker {
            builder =
                builder.circuit_breaker(CircuitBreaker::with_clock(name, breaker.clone(), clock)?);
        }
        if let Some(timeout) = &config.timeout {
            builder = builder.timeout(Timeout::from_config(timeout)?);
        }
        Ok(builder.build())
    }

    /// Runs `operation` through every configured policy, calling it again for each retry.
    ///
    /// `operation` is called only for attempts that every policy admitted: a refused attempt
    /// (rate limit, full bulkhead, open breaker) never builds the operation's future.
    pub async fn call<T, E, F, Fut>(&self, mut operation: F) -> Result<T, Failure<E>>
    where
        E: Classify,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut attempts = self.retry.start();
        loop {
            let error = match self.attempt(&mut operation, Unbounded).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let delay = attempts.failed(error)?;
            self.retry.sleep(delay).await;
        }
    }

    /// One attempt through every policy but retry, for callers that drive retries themselves
    /// with [`Retry::start`] on [`retry`](Self::retry) (a fallback chain that decides between
    /// waiting and calling elsewhere).
    ///
    /// `within` is the time the caller has left. When it is shorter than the configured
    /// timeout (or there is none) it bounds the attempt instead, and an attempt it cuts fails
    /// with [`Error::DeadlineExceeded`], which the circuit breaker does not count: the upstream
    /// was stopped before its own limit, by a caller in a hurry.
    pub async fn attempt_within<T, E, F, Fut>(
        &self,
        operation: F,
        within: Option<Duration>,
    ) -> Result<T, Error<E>>
    where
        E: Classify,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.attempt(operation, Within(within)).await
    }

    /// One attempt: every policy but retry, the operation bounded by the configured timeout
    /// or by `bound`, whichever is shorter.
    async fn attempt<T, E, F, Fut, B>(&self, operation: F, bound: B) -> Result<T, Error<E>>
    where
        E: Classify,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        B: Bound,
    {
        if let Some(limiter) = &self.rate_limiter {
            limiter.check()?;
        }
        let _slot = match &self.bulkhead {
            Some(bulkhead) => Some(match bulkhead.try_acquire() {
                Ok(slot) => slot,
                Err(full) if bulkhead.max_wait().is_none() => return Err(full.into()),
                // Waiting for a slot is the slow path, and its future (a timer plus a semaphore
                // waiter, over 200 bytes) would otherwise sit inside every pipeline future and
                // be copied on every call: box it, only when we actually wait.
                Err(_) => Box::pin(bulkhead.acquire()).await?,
            }),
            None => None,
        };
        // The permit is taken before the operation starts and recorded when it ends; if this
        // future is dropped midway, the permit's drop releases it uncounted.
        let permit = match &self.breaker {
            Some(breaker) => Some(breaker.try_acquire()?),
            None => None,
        };
        let operation = operation();
        let result = match bound.limit(self.timeout.as_ref()) {
            Some(timeout) => timeout.call(operation).await,
            None => operation.await.map_err(Error::Inner),
        };
        if bound.cuts(self.timeout.as_ref())
            && let Err(Error::Timeout { after }) = result
        {
            // Dropping the permit releases it uncounted.
            drop(permit);
            return Err(Error::DeadlineExceeded { after });
        }
        if let Some(permit) = permit {
            match &result {
                Ok(_) => permit.success(),
                Err(error) => permit.record_error(&error.class()),
            }
        }
        result
    }

    /// The retry policy.
    pub fn retry(&self) -> &Retry {
        &self.retry
    }

    /// The circuit breaker, if one is configured, for snapshots and state listeners.
    pub fn circuit_breaker(&self) -> Option<&Arc<CircuitBreaker>> {
        self.breaker.as_ref()
    }

    /// The bulkhead, if one is configured.
    pub fn bulkhead(&self) -> Option<&Bulkhead> {
        self.bulkhead.as_ref()
    }

    /// The rate limit, if one is configured.
    pub fn rate_limit(&self) -> Option<&RateLimitConfig> {
        self.rate_limiter.as_ref().map(Limiter::config)
    }

    /// The per-attempt timeout, if one is configured.
    pub fn timeout(&self) -> Option<&Timeout> {
        self.timeout.as_ref()
    }
}

/// Builds a [`Pipeline`]; the order of calls does not matter, the pipeline's order is fixed.
#[derive(Debug, Default)]
pub struct PipelineBuilder {
    retry: Option<Retry>,
    rate_limiter: Option<Limiter>,
    bulkhead: Option<Bulkhead>,
    breaker: Option<Arc<CircuitBreaker>>,
    timeout: Option<Timeout>,
}

impl PipelineBuilder {
    /// Retries with this policy.
    #[must_use]
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Limits the rate of attempts.
    #[must_use]
    pub fn rate_limiter(mut self, limiter: RateLimiter) -> Self {
        self.rate_limiter = Some(Limiter::Default(limiter));
        self
    }

    /// Limits the rate of attempts, reading time from the limiter's injected clock.
    #[must_use]
    pub fn rate_limiter_with_clock(
        mut self,
        limiter: RateLimiter<InjectedClock<Arc<dyn Clock>>>,
    ) -> Self {
        self.rate_limiter = Some(Limiter::Injected(limiter));
        self
    }

    /// Limits concurrent attempts.
    #[must_use]
    pub fn bulkhead(mut self, bulkhead: Bulkhead) -> Self {
        self.bulkhead = Some(bulkhead);
        self
    }

    /// Guards attempts with a circuit breaker; pass an `Arc` to share one breaker between
    /// pipelines (one breaker per endpoint, many callers).
    #[must_use]
    pub fn circuit_breaker(mut self, breaker: impl Into<Arc<CircuitBreaker>>) -> Self {
        self.breaker = Some(breaker.into());
        self
    }

    /// Bounds each attempt's duration.
    #[must_use]
    pub fn timeout(mut self, timeout: Timeout) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The pipeline; without a retry policy it makes exactly one attempt.
    pub fn build(self) -> Pipeline {
        let retry = self.retry.unwrap_or_else(Retry::single_attempt);
        Pipeline {
            retry,
            rate_limiter: self.rate_limiter,
            bulkhead: self.bulkhead,
            breaker: self.breaker,
            timeout: self.timeout,
        }
    }
}

/// What bounds one attempt besides the configured timeout.
///
/// A trait rather than an `Option<Duration>` argument so that [`Pipeline::call`], which has no
/// bound of its own, passes a zero-sized [`Unbounded`]: every byte of an argument sits in the
/// pipeline's future, which is moved on every call.
trait Bound: Copy {
    /// The timeout the attempt runs under: the configured one, or the bound when shorter.
    fn limit(self, configured: Option<&Timeout>) -> Option<Timeout>;

    /// Whether the bound, not the configured timeout, ends the attempt when it times out.
    fn cuts(self, configured: Option<&Timeout>) -> bool;
}

/// No bound: the configured timeout alone.
#[derive(Clone, Copy)]
struct Unbounded;

impl Bound for Unbounded {
    #[inline]
    fn limit(self, configured: Option<&Timeout>) -> Option<Timeout> {
        configured.copied()
    }

    #[inline]
    fn cuts(self, _: Option<&Timeout>) -> bool {
        false
    }
}

/// The time the caller has left, if it said.
#[derive(Clone, Copy)]
struct Within(Option<Duration>);

impl Bound for Within {
    fn limit(self, configured: Option<&Timeout>) -> Option<Timeout> {
        if self.cuts(configured) {
            self.0.map(Timeout::new)
        } else {
            configured.copied()
        }
    }

    fn cuts(self, configured: Option<&Timeout>) -> bool {
        self.0
            .is_some_and(|left| configured.is_none_or(|timeout| left < timeout.duration()))
    }
}

/// The pipeline's rate limiter: on governor's clock in production (a TSC read, no dynamic
/// dispatch), or on an injected clock when the pipeline was given one.
#[derive(Debug)]
enum Limiter {
    Default(RateLimiter),
    Injected(RateLimiter<InjectedClock<Arc<dyn Clock>>>),
}

impl Limiter {
    #[inline]
    fn check(&self) -> Result<(), RateLimited> {
        match self {
            Self::Default(limiter) => limiter.check(),
            Self::Injected(limiter) => limiter.check(),
        }
    }

    fn config(&self) -> &RateLimitConfig {
        match self {
            Self::Default(limiter) => limiter.config(),
            Self::Injected(limiter) => limiter.config(),
        }
    }
}

#[cfg(test)]
mod tests;
