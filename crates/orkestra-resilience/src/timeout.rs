//! [`Timeout`]: gives an operation a fixed time to finish, then drops it.
//!
//! A call that is still running when the limit passes fails with [`Error::Timeout`] and the
//! operation's future is dropped at once, which cancels whatever it was doing (an HTTP request
//! is aborted, its connection released) instead of letting it run on unobserved.
//!
//! # Defaults
//!
//! [`TimeoutConfig::default`] allows 60 s: long enough for a slow, long completion from a large
//! model, short enough that a hung connection does not hold a caller (and a bulkhead slot) for
//! minutes. Streaming callers usually want a shorter time-to-first-token limit on top of it.
//!
//! # Cost
//!
//! An operation that is ready on its first poll costs one poll and no timer: the timer is
//! armed only when the operation first reports it must wait, so the limit counts from the end
//! of that first poll. For real I/O the first poll only starts the request, so the difference
//! is microseconds; in exchange the success path of a ready operation reads no clock and
//! touches no timer wheel. Arming the timer needs a tokio runtime with time enabled.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::time::Duration;
//! use orkestra_resilience::timeout::Timeout;
//!
//! let timeout = Timeout::new(Duration::from_secs(5));
//! let answer = timeout.call(async { Ok::<_, std::io::Error>(42) }).await;
//! assert_eq!(answer.ok(), Some(42));
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use serde::{Deserialize, Serialize};
use tokio::time::Sleep;

use crate::{ConfigError, Error};

/// How long a call may take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeoutConfig {
    /// The limit for one call, as a human duration (`"30s"`, `"1m 30s"`); must be above zero.
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
}

impl Default for TimeoutConfig {
    /// `duration = 60s`: a long completion from a large model fits, a hung connection does not
    /// hold its caller for minutes.
    fn default() -> Self {
        Self {
            duration: Duration::from_mins(1),
        }
    }
}

impl TimeoutConfig {
    /// Checks that the limit is above zero (a zero limit would fail every call that waits).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.duration.is_zero() {
            return Err(ConfigError::new(
                "timeout.duration",
                "a duration above zero, such as \"30s\"",
            ));
        }
        Ok(())
    }
}

/// A call did not finish within its time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("timed out after {after:?}")]
pub struct TimedOut {
    /// The limit that was exceeded.
    pub after: Duration,
}

impl<E> From<TimedOut> for Error<E> {
    fn from(timed_out: TimedOut) -> Self {
        Error::Timeout {
            after: timed_out.after,
        }
    }
}

/// Fails a call that takes longer than a fixed duration, dropping the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout {
    duration: Duration,
}

impl Timeout {
    /// A timeout of `duration`.
    ///
    /// A zero duration is accepted here and fails every call that does not complete on its
    /// first poll; configuration goes through [`Timeout::from_config`], which refuses it.
    pub const fn new(duration: Duration) -> Self {
        Self { duration }
    }

    /// A timeout from a validated configuration.
    pub fn from_config(config: &TimeoutConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::new(config.duration))
    }

    /// The time limit.
    pub const fn duration(&self) -> Duration {
        self.duration
    }

    /// Runs `operation` with the time limit.
    ///
    /// Resolves to the operation's result, its error as [`Error::Inner`], or
    /// [`Error::Timeout`] once the limit has passed, at which point the operation has already
    /// been dropped.
    pub fn call<F, T, E>(&self, operation: F) -> TimeoutFuture<F>
    where
        F: Future<Output = Result<T, E>>,
    {
        TimeoutFuture {
            operation: Some(operation),
            deadline: None,
            after: self.duration,
        }
    }
}

impl From<&TimeoutConfig> for Timeout {
    /// Uses the configured duration without validating it; see [`Timeout::from_config`].
    fn from(config: &TimeoutConfig) -> Self {
        Self::new(config.duration)
    }
}

pin_project! {
    /// The future returned by [`Timeout::call`].
    #[must_use = "futures do nothing unless polled"]
    #[derive(Debug)]
    pub struct TimeoutFuture<F> {
        // `None` once the operation finished or was dropped on timeout.
        #[pin]
        operation: Option<F>,
        // Armed on the first `Pending`, so a ready operation never touches the timer.
        #[pin]
        deadline: Option<Sleep>,
        after: Duration,
    }
}

impl<F, T, E> Future for TimeoutFuture<F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<T, Error<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Some(operation) = this.operation.as_mut().as_pin_mut() else {
            panic!("`TimeoutFuture` polled after completion");
        };
        if let Poll::Ready(result) = operation.poll(cx) {
            this.operation.set(None);
            return Poll::Ready(result.map_err(Error::Inner));
        }
        if this.deadline.is_none() {
            this.deadline.set(Some(tokio::time::sleep(*this.after)));
        }
        let expired = this
            .deadline
            .as_pin_mut()
            .is_some_and(|deadline| deadline.poll(cx).is_ready());
        if expired {
            // Drop the operation now rather than when this future is dropped: the caller may
            // hold on to it, and the operation's resources should go with the deadline.
            this.operation.set(None);
            return Poll::Ready(Err(TimedOut { after: *this.after }.into()));
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests;
