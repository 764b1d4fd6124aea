//! [`Bulkhead`]: caps how many calls run at once, so one slow dependency cannot take every
//! task, connection and byte of memory with it.
//!
//! A call takes a permit before it starts and gives it back when it finishes, fails or is
//! dropped (cancellation never leaks a slot). When every permit is taken, the bulkhead either
//! refuses at once with [`Error::BulkheadFull`] or, with `max_wait`, lets the caller queue for
//! a bounded time (fairly, first come first served, as `tokio::sync::Semaphore` does).
//!
//! # Defaults
//!
//! [`BulkheadConfig::default`] allows 64 concurrent calls and no waiting. 64 is well above
//! what one provider key usually sustains for LLM calls (their rate limits bite first) and
//! well below what exhausts a process; refusing at once keeps latency honest and lets an
//! outer fallback or retry decide what to do, instead of hiding overload in a queue.
//!
//! # Cost
//!
//! Taking a free permit is one compare-and-swap: no clock read, no allocation, no timer.
//! A timer is armed only when a caller has to wait.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, SemaphorePermit, TryAcquireError};

use crate::{ConfigError, Error};

/// How many calls may run at once, and how long a caller may wait for a slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BulkheadConfig {
    /// The most calls in flight at once; at least 1.
    pub max_concurrent: u32,
    /// How long a caller may wait for a free slot (`"100ms"`); absent means refuse at once.
    #[serde(
        with = "humantime_serde::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_wait: Option<Duration>,
}

impl Default for BulkheadConfig {
    /// `max_concurrent = 64`, `max_wait = None` (refuse at once when full): above what a
    /// provider key sustains, below what exhausts the process, and no hidden queueing.
    fn default() -> Self {
        Self {
            max_concurrent: 64,
            max_wait: None,
        }
    }
}

impl BulkheadConfig {
    /// Checks that at least one call may run.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_concurrent == 0 {
            return Err(ConfigError::new(
                "bulkhead.max_concurrent",
                "at least 1 (a bulkhead with no slot refuses every call)",
            ));
        }
        Ok(())
    }
}

/// The bulkhead had no free slot, at once or within its `max_wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("bulkhead full: {max_concurrent} calls already in flight")]
pub struct BulkheadFull {
    /// The bulkhead's concurrency limit.
    pub max_concurrent: u32,
}

impl<E> From<BulkheadFull> for Error<E> {
    fn from(full: BulkheadFull) -> Self {
        Error::BulkheadFull {
            max_concurrent: full.max_concurrent,
        }
    }
}

/// A concurrency limit shared by every call made through it.
pub struct Bulkhead {
    slots: Semaphore,
    max_concurrent: u32,
    max_wait: Option<Duration>,
}

impl Bulkhead {
    /// A bulkhead from a validated configuration.
    pub fn new(config: &BulkheadConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            slots: Semaphore::new(config.max_concurrent as usize),
            max_concurrent: config.max_concurrent,
            max_wait: config.max_wait,
        })
    }

    /// Takes a slot if one is free, without waiting.
    pub fn try_acquire(&self) -> Result<BulkheadPermit<'_>, BulkheadFull> {
        match self.slots.try_acquire() {
            Ok(permit) => Ok(BulkheadPermit { _permit: permit }),
            Err(TryAcquireError::NoPermits | TryAcquireError::Closed) => Err(self.full()),
        }
    }

    /// Takes a slot, waiting up to `max_wait` for one if none is free (or not at all without it).
    ///
    /// Dropping the returned future gives up the place in the queue.
    pub async fn acquire(&self) -> Result<BulkheadPermit<'_>, BulkheadFull> {
        // The fast path avoids arming a timer when a slot is free.
        let error = match self.try_acquire() {
            Ok(permit) => return Ok(permit),
            Err(error) => error,
        };
        let Some(max_wait) = self.max_wait else {
            return Err(error);
        };
        match tokio::time::timeout(max_wait, self.slots.acquire()).await {
            Ok(Ok(permit)) => Ok(BulkheadPermit { _permit: permit }),
            // The semaphore is never closed; a timeout is the only real failure.
            Ok(Err(_)) | Err(_) => Err(error),
        }
    }

    /// Runs `operation` in a slot, which is released when it finishes or is dropped.
    pub async fn call<F, T, E>(&self, operation: F) -> Result<T, Error<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        let _permit = self.acquire().await?;
        operation.await.map_err(Error::Inner)
    }

    /// How many calls hold a slot now.
    pub fn in_flight(&self) -> u32 {
        self.max_concurrent.saturating_sub(self.available())
    }

    /// How many slots are free now.
    pub fn available(&self) -> u32 {
        // Never above `max_concurrent`, which is a u32.
        u32::try_from(self.slots.available_permits()).unwrap_or(self.max_concurrent)
    }

    /// The concurrency limit.
    pub fn max_concurrent(&self) -> u32 {
        self.max_concurrent
    }

    /// How long a caller may wait for a slot; `None` means not at all.
    pub fn max_wait(&self) -> Option<Duration> {
        self.max_wait
    }

    fn full(&self) -> BulkheadFull {
        BulkheadFull {
            max_concurrent: self.max_concurrent,
        }
    }
}

impl fmt::Debug for Bulkhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bulkhead")
            .field("max_concurrent", &self.max_concurrent)
            .field("max_wait", &self.max_wait)
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

/// A slot in a [`Bulkhead`], given back when dropped.
#[must_use = "the slot is released as soon as the permit is dropped"]
#[derive(Debug)]
pub struct BulkheadPermit<'a> {
    _permit: SemaphorePermit<'a>,
}

#[cfg(test)]
mod tests;
