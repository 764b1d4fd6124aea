//! Writes charges and statistics to the store off the request path.
//!
//! A request never waits on the database, nor wakes anything: charges go into a list, and a
//! background task appends them in batches every `flush_interval` and saves the statistics with
//! them. Shutdown writes what is left, so a clean stop loses nothing.
//!
//! While the database cannot take them, charges wait in memory, at most `max_pending` of them
//! (those in the list and those of a batch that failed, together): a charge beyond that is
//! dropped, counted, and logged once per flush, and [`RecordingStatus`] tells `/readyz`. The
//! statistics need no bound of their own: each flush saves a snapshot of [`PerfStats`], whose
//! history is bounded by its own window.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use orkestra_models::store::Store;
use orkestra_models::{Charge, PerfStats};
use tokio::sync::{Notify, oneshot};

/// How the writing of charges is going, for health checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordingStatus {
    /// Charges waiting to be written.
    pub pending: usize,
    /// The most that may wait (`storage.max_pending`).
    pub max_pending: usize,
    /// Charges dropped since the start because the database could not take them and
    /// `max_pending` were already waiting.
    pub dropped: u64,
    /// Of those, the charges dropped since charges were last written: non-zero while the
    /// database is away and the bound is reached.
    pub dropped_since_write: u64,
}

/// The charges not yet written, with their bound and what it dropped.
struct Pending {
    /// Charges not yet handed to the writer. A request only pushes here: waking the writer
    /// for every charge cost a task wake-up, often a thread wake-up, per request.
    charges: Mutex<Vec<Charge>>,
    /// Charges waiting, here and in the writer's batch; only changed under `charges`' lock.
    waiting: AtomicU64,
    max: usize,
    dropped: AtomicU64,
    dropped_since_write: AtomicU64,
    /// Dropped charges not yet logged.
    dropped_unlogged: AtomicU64,
}

impl Pending {
    fn new(max: usize) -> Self {
        Self {
            charges: Mutex::new(Vec::new()),
            waiting: AtomicU64::new(0),
            max,
            dropped: AtomicU64::new(0),
            dropped_since_write: AtomicU64::new(0),
            dropped_unlogged: AtomicU64::new(0),
        }
    }

    fn push(&self, charge: Charge) {
        let mut charges = self.charges.lock().unwrap_or_else(PoisonError::into_inner);
        if self.waiting.load(Ordering::Relaxed) >= self.max as u64 {
            drop(charges);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            self.dropped_since_write.fetch_add(1, Ordering::Relaxed);
            self.dropped_unlogged.fetch_add(1, Ordering::Relaxed);
            return;
        }
        charges.push(charge);
        self.waiting.fetch_add(1, Ordering::Relaxed);
    }

    fn take(&self) -> Vec<Charge> {
        std::mem::take(&mut *self.charges.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// `written` charges reached the database.
    fn written(&self, written: usize) {
        let _guard = self.charges.lock().unwrap_or_else(PoisonError::into_inner);
        self.waiting.fetch_sub(written as u64, Ordering::Relaxed);
        self.dropped_since_write.store(0, Ordering::Relaxed);
    }

    fn status(&self) -> RecordingStatus {
        RecordingStatus {
            pending: usize::try_from(self.waiting.load(Ordering::Relaxed)).unwrap_or(usize::MAX),
            max_pending: self.max,
            dropped: self.dropped.load(Ordering::Relaxed),
            dropped_since_write: self.dropped_since_write.load(Ordering::Relaxed),
        }
    }

    /// Logs the charges dropped since the last call, if any.
    fn log_dropped(&self) {
        let dropped = self.dropped_unlogged.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                total = self.dropped.load(Ordering::Relaxed),
                max_pending = self.max,
                "charges dropped: the database cannot take them and storage.max_pending are already waiting"
            );
        }
    }
}

/// The handle on the writer task.
pub(crate) struct Recorder {
    store: Store,
    pending: Arc<Pending>,
    stop: Arc<Notify>,
    stopped: Mutex<Option<oneshot::Receiver<()>>>,
}

impl Recorder {
    /// Starts the writer on the current tokio runtime; at most `max_pending` charges wait.
    pub(crate) fn start(
        store: Store,
        stats: Arc<PerfStats>,
        interval: Duration,
        max_pending: usize,
    ) -> Self {
        let pending = Arc::new(Pending::new(max_pending));
        let stop = Arc::new(Notify::new());
        let (done, stopped) = oneshot::channel();
        tokio::spawn(write_loop(
            store.clone(),
            stats,
            Arc::clone(&pending),
            Arc::clone(&stop),
            done,
            interval,
        ));
        Self {
            store,
            pending,
            stop,
            stopped: Mutex::new(Some(stopped)),
        }
    }

    /// Queues a charge for the next batch, or drops it when `max_pending` already wait.
    pub(crate) fn record(&self, charge: Charge) {
        self.pending.push(charge);
    }

    /// How the writing of charges is going.
    pub(crate) fn status(&self) -> RecordingStatus {
        self.pending.status()
    }

    /// Whether the store answers.
    pub(crate) async fn ping(&self) -> Result<(), String> {
        self.store.ping().await.map_err(|error| error.to_string())
    }

    /// Writes what is pending and stops the writer; charges recorded later are written by a
    /// later call.
    pub(crate) async fn shutdown(&self, stats: &PerfStats) {
        let stopped = self
            .stopped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(stopped) = stopped {
            self.stop.notify_one();
            let _ = stopped.await;
        } else {
            let mut batch = self.pending.take();
            flush(&self.store, stats, &self.pending, &mut batch).await;
        }
    }
}

async fn write_loop(
    store: Store,
    stats: Arc<PerfStats>,
    pending: Arc<Pending>,
    stop: Arc<Notify>,
    done: oneshot::Sender<()>,
    interval: Duration,
) {
    // The first write is one interval after the start, not at once: at the start nothing is
    // pending, so an immediate write would only race the first requests for their charges.
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch = Vec::new();
    loop {
        let stopping = tokio::select! {
            () = stop.notified() => true,
            _ = ticker.tick() => false,
        };
        batch.append(&mut pending.take());
        if !batch.is_empty() || stopping {
            flush(&store, &stats, &pending, &mut batch).await;
        }
        pending.log_dropped();
        if stopping {
            let _ = done.send(());
            return;
        }
    }
}

async fn flush(store: &Store, stats: &PerfStats, pending: &Pending, batch: &mut Vec<Charge>) {
    if !batch.is_empty() {
        match store.append_charges(batch).await {
            Ok(()) => {
                pending.written(batch.len());
                batch.clear();
            }
            // Kept for the next flush: a database that is briefly away loses nothing.
            Err(error) => tracing::warn!(%error, pending = batch.len(), "could not write charges"),
        }
    }
    if let Err(error) = store.save_stats(stats).await {
        tracing::warn!(%error, "could not save statistics");
    }
}

#[cfg(test)]
mod tests;
