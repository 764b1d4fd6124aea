//! The sliding windows a closed breaker judges: a lock-free count window and a time window.
//!
//! Both belong to one closed generation at a time (their epoch). A recorder names the
//! generation its permit was issued in; a window of another epoch refuses the outcome, so a
//! permit issued before the breaker last closed never pollutes the new window.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::time::Duration;

use orkestra_core::Timestamp;
use orkestra_core::clock::duration_nanos;

use super::config::Window;

/// Calls, failures and slow calls in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Totals {
    pub(super) calls: u64,
    pub(super) failures: u64,
    pub(super) slow: u64,
}

impl Totals {
    fn add(&mut self, failed: bool, slow: bool) {
        self.calls += 1;
        self.failures += u64::from(failed);
        self.slow += u64::from(slow);
    }

    fn subtract(&mut self, other: Self) {
        self.calls = self.calls.saturating_sub(other.calls);
        self.failures = self.failures.saturating_sub(other.failures);
        self.slow = self.slow.saturating_sub(other.slow);
    }
}

/// One of the two windows.
pub(super) enum SlidingWindow {
    Count(CountWindow),
    Time(Mutex<TimeWindow>),
}

impl SlidingWindow {
    pub(super) fn new(window: Window) -> Self {
        match window {
            Window::Count { size } => Self::Count(CountWindow::new(size)),
            Window::Time { duration, buckets } => {
                Self::Time(Mutex::new(TimeWindow::new(duration, buckets)))
            }
        }
    }

    /// Whether recording needs the time (a time window places the call in a bucket).
    #[inline]
    pub(super) fn needs_clock(&self) -> bool {
        matches!(self, Self::Time(_))
    }

    /// Records one call for the closed generation `epoch`. Returns the window's totals right
    /// after the call was counted when they changed and should be judged; `None` when they did
    /// not change or the window belongs to another generation.
    #[inline]
    pub(super) fn record(
        &self,
        epoch: u32,
        failed: bool,
        slow: bool,
        now: Timestamp,
    ) -> Option<Totals> {
        match self {
            Self::Count(window) => window.record(epoch, failed, slow),
            Self::Time(window) => lock(window).record(epoch, failed, slow, now),
        }
    }

    /// Empties the window and hands it to the closed generation `epoch`.
    ///
    /// Called only while the breaker is between states, so no current recorder runs.
    pub(super) fn reset(&self, epoch: u32, now: Timestamp) {
        match self {
            Self::Count(window) => window.reset(epoch),
            Self::Time(window) => lock(window).reset(epoch, now),
        }
    }

    /// The current totals.
    pub(super) fn totals(&self, now: Timestamp) -> Totals {
        match self {
            Self::Count(window) => window.totals(),
            Self::Time(window) => lock(window).totals(now),
        }
    }
}

fn lock(window: &Mutex<TimeWindow>) -> std::sync::MutexGuard<'_, TimeWindow> {
    // A panic while holding the lock leaves consistent counters (every update is a few plain
    // additions), so a poisoned lock is still usable.
    window
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

// The count window's packed totals: calls, failures and slow calls in 16 bits each, and the
// epoch tag above them.
const FIELD_BITS: u32 = 16;
const FIELD_MASK: u64 = (1 << FIELD_BITS) - 1;
const FAILURES_SHIFT: u32 = FIELD_BITS;
const SLOW_SHIFT: u32 = 2 * FIELD_BITS;
const TAG_SHIFT: u32 = 3 * FIELD_BITS;
// Slots are `u16`: three bits of outcome and a 13-bit epoch tag.
const TAG_BITS: u32 = 13;
const TAG_MASK: u32 = (1 << TAG_BITS) - 1;
const SLOT_TAG_SHIFT: u32 = 3;
const EMPTY: u16 = 0;
const OCCUPIED: u16 = 0b001;
const FAILED: u16 = 0b010;
const SLOW: u16 = 0b100;

/// The last `size` calls, lock-free: a ring of slots plus one packed `AtomicU64` of totals.
///
/// Recording a call claims the next slot; if the slot already holds the same outcome of the
/// same epoch (the steady state: a success evicting a success), nothing changes and nothing is
/// written. Otherwise it adds the call to the totals first, then swaps it into the slot, then
/// subtracts whatever it evicted. An outcome is thus always added before anyone can evict and
/// subtract it, so no counter ever goes below zero; between the two steps the totals may hold
/// a few calls more than the window, so readers clamp to the window size.
///
/// Each slot and the totals carry the epoch tag (the low 13 bits of the closed generation).
/// An evicted slot is subtracted only from totals of its own epoch, so an outcome slipped in
/// by a stale recorder after a reset is never subtracted from the new window.
pub(super) struct CountWindow {
    totals: AtomicU64,
    head: AtomicU64,
    slots: Box<[AtomicU16]>,
    size: u64,
    /// `fast_mod`'s multiplier for `size`.
    magic: u64,
}

/// The multiplier that lets [`fast_mod`] divide by `size` (at least 1).
pub(super) const fn fast_mod_magic(size: u64) -> u64 {
    (u64::MAX / size).wrapping_add(1)
}

/// `position % size` for the low 32 bits of `position`, by two multiplications instead of a
/// 64-bit division (tens of cycles on common x86 cores, on the breaker's hottest line).
///
/// Exact for every 32-bit numerator and divisor (Lemire, Kaser and Kurz, "Faster remainder by
/// direct computation", 2019). Positions wrap at 2^32 calls, where the ring skips ahead once:
/// harmless for a window of the latest calls.
#[inline]
pub(super) fn fast_mod(position: u64, size: u64, magic: u64) -> u64 {
    let low = magic.wrapping_mul(position & u64::from(u32::MAX));
    let product = u128::from(low) * u128::from(size);
    // The high half of a 128-bit product of two u64 always fits a u64.
    u64::try_from(product >> 64).unwrap_or(0)
}

fn tag_of(epoch: u32) -> u64 {
    u64::from(epoch & TAG_MASK)
}

fn delta(failed: bool, slow: bool) -> u64 {
    1 | (u64::from(failed) << FAILURES_SHIFT) | (u64::from(slow) << SLOW_SHIFT)
}

fn unpack(totals: u64) -> Totals {
    Totals {
        calls: totals & FIELD_MASK,
        failures: (totals >> FAILURES_SHIFT) & FIELD_MASK,
        slow: (totals >> SLOW_SHIFT) & FIELD_MASK,
    }
}

impl CountWindow {
    fn new(size: u32) -> Self {
        Self {
            totals: AtomicU64::new(tag_of(0) << TAG_SHIFT),
            head: AtomicU64::new(0),
            slots: (0..size).map(|_| AtomicU16::new(EMPTY)).collect(),
            size: u64::from(size.max(1)),
            magic: fast_mod_magic(u64::from(size.max(1))),
        }
    }

    #[inline]
    fn record(&self, epoch: u32, failed: bool, slow: bool) -> Option<Totals> {
        let tag = tag_of(epoch);
        let added = delta(failed, slow);
        let position = self.head.fetch_add(1, Ordering::Relaxed);
        let index = usize::try_from(fast_mod(position, self.size, self.magic)).unwrap_or(0);
        let entry = (u16::try_from(tag).unwrap_or(0) << SLOT_TAG_SHIFT)
            | OCCUPIED
            | if failed { FAILED } else { 0 }
            | if slow { SLOW } else { 0 };
        // 0. The steady state of a healthy window: the call replaces an identical outcome of
        // the same epoch (a success evicting a success). No counter would change, so leave
        // the slot and the totals alone; this keeps the hot path to one atomic increment.
        // Nothing changed, so there is nothing new to judge either: report no totals.
        if self.slots[index].load(Ordering::Acquire) == entry {
            return None;
        }
        // 1. Count the call, if the window is still this generation's.
        let mut current = self.totals.load(Ordering::Acquire);
        let mut latest = loop {
            if current >> TAG_SHIFT != tag {
                return None;
            }
            let next = current + added;
            match self.totals.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break next,
                Err(seen) => current = seen,
            }
        };
        // 2. Put it in the ring. The tag fits 13 bits and the outcome 3, so the slot is exact.
        let evicted = self.slots[index].swap(entry, Ordering::AcqRel);
        // 3. Forget the evicted call, from the totals of its own epoch only.
        if evicted != EMPTY {
            let evicted_tag = u64::from(evicted >> SLOT_TAG_SHIFT);
            let removed = delta(evicted & FAILED != 0, evicted & SLOW != 0);
            let mut current = self.totals.load(Ordering::Acquire);
            while current >> TAG_SHIFT == evicted_tag {
                let next = saturating_remove(current, removed);
                match self.totals.compare_exchange_weak(
                    current,
                    next,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        latest = next;
                        break;
                    }
                    Err(seen) => current = seen,
                }
            }
        }
        Some(self.clamp(unpack(latest)))
    }

    fn reset(&self, epoch: u32) {
        for slot in &self.slots {
            slot.store(EMPTY, Ordering::Relaxed);
        }
        self.totals
            .store(tag_of(epoch) << TAG_SHIFT, Ordering::Release);
    }

    fn totals(&self) -> Totals {
        self.clamp(unpack(self.totals.load(Ordering::Acquire)))
    }

    /// Calls being recorded may briefly count above the window size; a reader sees at most
    /// the window, and never more failures or slow calls than calls.
    #[inline]
    fn clamp(&self, totals: Totals) -> Totals {
        let calls = totals.calls.min(self.size);
        Totals {
            calls,
            failures: totals.failures.min(calls),
            slow: totals.slow.min(calls),
        }
    }
}

/// Subtracts each field of `removed` from `totals`, stopping at zero instead of borrowing from
/// the next field. The protocol never needs the floor; it guards against a 13-bit tag alias.
fn saturating_remove(totals: u64, removed: u64) -> u64 {
    let field = |value: u64, shift: u32| {
        let have = (value >> shift) & FIELD_MASK;
        let take = (removed >> shift) & FIELD_MASK;
        have.saturating_sub(take) << shift
    };
    (totals & !((1 << TAG_SHIFT) - 1))
        | field(totals, 0)
        | field(totals, FAILURES_SHIFT)
        | field(totals, SLOW_SHIFT)
}

/// The calls of the last `duration`, in buckets; guarded by a mutex (only the count window
/// is on the allocation-free, lock-free hot path).
pub(super) struct TimeWindow {
    epoch: u32,
    bucket_nanos: u64,
    buckets: Box<[Totals]>,
    /// The absolute index (time / bucket width) of the newest bucket.
    head: u64,
    totals: Totals,
}

impl TimeWindow {
    fn new(duration: Duration, buckets: u32) -> Self {
        let count = u64::from(buckets.max(1));
        Self {
            epoch: 0,
            bucket_nanos: (duration_nanos(duration) / count).max(1),
            buckets: (0..count).map(|_| Totals::default()).collect(),
            head: 0,
            totals: Totals::default(),
        }
    }

    fn bucket_count(&self) -> u64 {
        self.buckets.len() as u64
    }

    fn slot(&mut self, absolute: u64) -> &mut Totals {
        let index = usize::try_from(absolute % self.bucket_count()).unwrap_or(0);
        &mut self.buckets[index]
    }

    /// Expires the buckets that fell out of the window by `now`.
    fn advance(&mut self, now: Timestamp) {
        let index = now.as_nanos() / self.bucket_nanos;
        if index <= self.head {
            // The same bucket, or a reader whose clock read lost a race with a later one:
            // it lands in the newest bucket.
            return;
        }
        if index - self.head >= self.bucket_count() {
            self.buckets.fill(Totals::default());
            self.totals = Totals::default();
        } else {
            for absolute in self.head + 1..=index {
                let expired = std::mem::take(self.slot(absolute));
                self.totals.subtract(expired);
            }
        }
        self.head = index;
    }

    fn record(&mut self, epoch: u32, failed: bool, slow: bool, now: Timestamp) -> Option<Totals> {
        if epoch != self.epoch {
            return None;
        }
        self.advance(now);
        let head = self.head;
        self.slot(head).add(failed, slow);
        self.totals.add(failed, slow);
        Some(self.totals)
    }

    fn reset(&mut self, epoch: u32, now: Timestamp) {
        self.epoch = epoch;
        self.buckets.fill(Totals::default());
        self.totals = Totals::default();
        self.head = now.as_nanos() / self.bucket_nanos;
    }

    fn totals(&mut self, now: Timestamp) -> Totals {
        self.advance(now);
        self.totals
    }
}
