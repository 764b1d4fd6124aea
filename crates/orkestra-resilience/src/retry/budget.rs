//! A retry budget: retries allowed as a share of recent traffic plus a fixed reserve.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use orkestra_core::Clock;
use orkestra_core::clock::duration_nanos;
use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// How many time slots the window is cut into.
///
/// The window covers the current slot and the nine before it, so an event counts for between
/// 90% and 100% of `ttl`; ten slots keep that error small and the sum over slots cheap.
const SLOTS: usize = 10;

/// Absorbs the rounding of `retry_ratio * deposits` (0.2 * 5 must make one whole retry).
const EPSILON: f64 = 1e-9;

/// The budget section of a retry configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetConfig {
    /// How long a call or a retry counts towards the budget; between 1 s and 60 s (Finagle's bounds).
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// Retries allowed per second whatever the traffic, so a quiet client can still retry.
    pub min_retries_per_second: u32,
    /// Retries allowed per call made, on top of the reserve; between 0 and 1000.
    pub retry_ratio: f64,
}

impl Default for BudgetConfig {
    /// `ttl = "10s"`, `min_retries_per_second = 10`, `retry_ratio = 0.2` (Finagle's and tower's).
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(10),
            min_retries_per_second: 10,
            retry_ratio: 0.2,
        }
    }
}

impl BudgetConfig {
    /// Checks the window length and that the ratio is a finite number in `0..=1000`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(Duration::from_secs(1)..=Duration::from_mins(1)).contains(&self.ttl) {
            return Err(ConfigError::new(
                "retry.budget.ttl",
                format!("a duration between 1s and 60s, got {:?}", self.ttl),
            ));
        }
        if !(self.retry_ratio.is_finite() && (0.0..=1000.0).contains(&self.retry_ratio)) {
            return Err(ConfigError::new(
                "retry.budget.retry_ratio",
                format!("a number between 0.0 and 1000.0, got {}", self.retry_ratio),
            ));
        }
        Ok(())
    }
}

/// Limits retries to a reserve plus a share of the calls made in the last `ttl`.
///
/// Retries allowed now = `min_retries_per_second * ttl_seconds + retry_ratio * deposits -
/// withdrawals`, where deposits and withdrawals are counted over the window. Without a budget
/// every failing call retries up to its attempt limit, so an outage multiplies the load on the
/// failing server by `max_attempts`; with one, retries add at most `retry_ratio` to the load once
/// the reserve is spent.
///
/// Thread-safe and meant to be shared (`Arc`) by every call to one upstream. [`deposit`]
/// runs on every call and takes one clock read and one atomic add; [`try_withdraw`] runs only
/// on the retry path and takes a lock so concurrent retries cannot overdraw.
///
/// [`deposit`]: RetryBudget::deposit
/// [`try_withdraw`]: RetryBudget::try_withdraw
pub struct RetryBudget {
    clock: Arc<dyn Clock>,
    slot_nanos: u64,
    reserve: f64,
    ratio: f64,
    /// Per slot: the slot's epoch (low 32 bits) in the high half, its count in the low half.
    deposits: [AtomicU64; SLOTS],
    withdrawals: [AtomicU64; SLOTS],
    /// Serialises withdrawals so the balance check and the withdrawal are one step.
    withdraw_lock: Mutex<()>,
}

impl RetryBudget {
    /// A budget following `config`, reading time from `clock`.
    pub fn new(config: &BudgetConfig, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            clock,
            // At least 100 ms, since `ttl` is at least one second.
            slot_nanos: (duration_nanos(config.ttl) / SLOTS as u64).max(1),
            reserve: f64::from(config.min_retries_per_second) * config.ttl.as_secs_f64(),
            ratio: config.retry_ratio,
            deposits: Default::default(),
            withdrawals: Default::default(),
            withdraw_lock: Mutex::new(()),
        })
    }

    /// Records one original call (not a retry); it earns `retry_ratio` retries for `ttl`.
    pub fn deposit(&self) {
        add(&self.deposits, self.epoch());
    }

    /// Takes one retry from the budget if one is available; `false` means do not retry.
    pub fn try_withdraw(&self) -> bool {
        let _serialised = self
            .withdraw_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let epoch = self.epoch();
        if self.balance_at(epoch) + EPSILON >= 1.0 {
            add(&self.withdrawals, epoch);
            true
        } else {
            false
        }
    }

    /// How many whole retries the budget would allow now.
    pub fn available(&self) -> u64 {
        let balance = self.balance_at(self.epoch()) + EPSILON;
        // The balance is finite and the reserve is at most `u32::MAX * 60`, so the cast holds.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        if balance <= 0.0 {
            0
        } else {
            balance.floor() as u64
        }
    }

    fn balance_at(&self, epoch: u64) -> f64 {
        let deposits = sum(&self.deposits, epoch);
        let withdrawals = sum(&self.withdrawals, epoch);
        self.reserve + self.ratio * deposits as f64 - withdrawals as f64
    }

    fn epoch(&self) -> u64 {
        self.clock.now().as_nanos() / self.slot_nanos
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("slot", &Duration::from_nanos(self.slot_nanos))
            .field("reserve", &self.reserve)
            .field("ratio", &self.ratio)
            .field("available", &self.available())
            .finish_non_exhaustive()
    }
}

/// The epoch as stored in a slot's high half; comparisons wrap, which is safe since a slot
/// is rewritten every `SLOTS` epochs, far less than 2^31.
#[allow(clippy::cast_possible_truncation)]
const fn tag(epoch: u64) -> u32 {
    epoch as u32
}

const fn slot_tag(packed: u64) -> u32 {
    (packed >> 32) as u32
}

#[allow(clippy::cast_possible_truncation)]
const fn slot_count(packed: u64) -> u32 {
    packed as u32
}

/// Counts one event in the slot of `epoch`, starting the slot afresh if it held an older epoch.
fn add(slots: &[AtomicU64; SLOTS], epoch: u64) {
    #[allow(clippy::cast_possible_truncation)]
    let slot = &slots[(epoch % SLOTS as u64) as usize];
    let tag = tag(epoch);
    // Fast path: one atomic add. Four billion events in one slot would carry into the tag;
    // that is out of reach (a slot lasts at most six seconds).
    let before = slot.fetch_add(1, Ordering::Relaxed);
    if slot_tag(before) == tag {
        return;
    }
    // The slot held another epoch. Our add went to a stale count nobody reads (or, if a
    // stalled thread is behind, to a newer epoch, which is one event in the wrong slot).
    // Restart the slot at our epoch with our event, unless it already holds a newer epoch.
    let fresh = (u64::from(tag) << 32) | 1;
    let _ = slot.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |current| {
        let age = tag.wrapping_sub(slot_tag(current)).cast_signed();
        match age.cmp(&0) {
            std::cmp::Ordering::Greater => Some(fresh),
            // Another thread restarted it for our epoch meanwhile: count ourselves.
            std::cmp::Ordering::Equal => Some(current + 1),
            std::cmp::Ordering::Less => None,
        }
    });
}

/// The number of events in the slots of the window ending at `epoch`.
fn sum(slots: &[AtomicU64; SLOTS], epoch: u64) -> u64 {
    let tag = tag(epoch);
    slots
        .iter()
        .map(|slot| slot.load(Ordering::Relaxed))
        .filter(|&packed| (tag.wrapping_sub(slot_tag(packed)) as usize) < SLOTS)
        .map(|packed| u64::from(slot_count(packed)))
        .sum()
}
