//! The error every policy returns: the operation's own error, or the policy's refusal.

use std::fmt;
use std::time::Duration;

use orkestra_core::{Classify, ErrorCategory, ErrorClass, Severity};

/// Why a call through a policy failed: the operation's error, or a policy refused it.
///
/// Every refusal classifies itself, so an outer policy (a retry around a breaker, the caller
/// deciding where to go next) decides on it exactly as it would on the operation's own error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error<E> {
    /// The operation ran and failed.
    Inner(E),
    /// The circuit breaker is open or has no half-open probe left.
    CircuitOpen {
        /// When the breaker may admit calls again.
        retry_after: Duration,
    },
    /// The operation did not finish in time and was dropped.
    Timeout {
        /// The limit that was exceeded.
        after: Duration,
    },
    /// The caller's own deadline, shorter than the configured timeout, passed before the
    /// operation finished; it was dropped, and the circuit breaker did not count it, since the
    /// upstream had not yet taken too long by its own limit.
    DeadlineExceeded {
        /// The time the attempt was given.
        after: Duration,
    },
    /// The bulkhead had no free slot (at once, or within its wait limit).
    BulkheadFull {
        /// The bulkhead's concurrency limit.
        max_concurrent: u32,
    },
    /// The rate limiter refused the call.
    RateLimited {
        /// When a call would be admitted.
        retry_after: Duration,
    },
}

impl<E> Error<E> {
    /// The operation's own error, if it ran and failed.
    pub fn into_inner(self) -> Option<E> {
        match self {
            Self::Inner(error) => Some(error),
            _ => None,
        }
    }

    /// The operation's own error, if it ran and failed.
    pub fn inner(&self) -> Option<&E> {
        match self {
            Self::Inner(error) => Some(error),
            _ => None,
        }
    }

    /// Whether a policy refused the call before it ran (a rate limit, a full bulkhead, an open
    /// circuit breaker), so the operation was never called.
    ///
    /// A timeout is not a refusal: the operation ran and took too long, which says as much
    /// about the upstream as any error it returns.
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            Self::CircuitOpen { .. } | Self::BulkheadFull { .. } | Self::RateLimited { .. }
        )
    }
}

impl<E: Classify> Classify for Error<E> {
    /// Refusals classify as transient: an open breaker and a full bulkhead as `overloaded`
    /// (medium, retryable; the breaker says when), a timeout as `timeout`, a rate-limit
    /// refusal as `rate_limited` with its wait. A passed deadline is a `timeout` that is not
    /// retryable: the caller has no time left for another attempt.
    fn class(&self) -> ErrorClass {
        match self {
            Self::Inner(error) => error.class(),
            Self::CircuitOpen { retry_after } => {
                ErrorClass::new(ErrorCategory::Overloaded).with_retry_after(*retry_after)
            }
            Self::Timeout { .. } => ErrorClass::new(ErrorCategory::Timeout),
            Self::DeadlineExceeded { .. } => {
                ErrorClass::new(ErrorCategory::Timeout).with_retryable(false)
            }
            Self::BulkheadFull { .. } => {
                ErrorClass::new(ErrorCategory::Overloaded).with_severity(Severity::Medium)
            }
            Self::RateLimited { retry_after } => {
                ErrorClass::new(ErrorCategory::RateLimited).with_retry_after(*retry_after)
            }
        }
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Inner(error) => error.fmt(f),
            Self::CircuitOpen { retry_after } => {
                write!(f, "circuit breaker is open; retry after {retry_after:?}")
            }
            Self::Timeout { after } => write!(f, "timed out after {after:?}"),
            Self::DeadlineExceeded { after } => {
                write!(f, "the caller's deadline passed after {after:?}")
            }
            Self::BulkheadFull { max_concurrent } => {
                write!(f, "bulkhead full: {max_concurrent} calls already in flight")
            }
            Self::RateLimited { retry_after } => {
                write!(f, "rate limited; retry after {retry_after:?}")
            }
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Inner(error) => error.source(),
            _ => None,
        }
    }
}

/// A policy configuration that cannot work, naming the field and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{field}`: {expected}")]
pub struct ConfigError {
    /// The configuration key, as written in the config file (`breaker.failure_rate_threshold`).
    pub field: &'static str,
    /// What a valid value looks like.
    pub expected: String,
}

impl ConfigError {
    /// An error for `field`, saying what was `expected`.
    pub fn new(field: &'static str, expected: impl Into<String>) -> Self {
        Self {
            field,
            expected: expected.into(),
        }
    }
}
