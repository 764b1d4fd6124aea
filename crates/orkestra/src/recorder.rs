//! Writes charges and statistics to the store off the request path.
//!
//! A request never waits on the database, nor wakes anything: charges go into a list, and a
//! background task appends them in batches every `flush_interval` and saves the statistics with
//! them. Shutdown writes what is left, so a clean stop loses nothing.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use orkestra_models::store::Store;
use orkestra_models::{Charge, PerfStats};
use tokio::sync::{Notify, oneshot};

/// The handle on the writer task.
pub(crate) struct Recorder {
    store: Store,
    /// Charges not yet written. A request only pushes here: waking the writer for every
    /// charge cost a task wake-up, often a thread wake-up, per request.
    pending: Arc<Mutex<Vec<Charge>>>,
    stop: Arc<Notify>,
    stopped: Mutex<Option<oneshot::Receiver<()>>>,
}

impl Recorder {
    /// Starts the writer on the current tokio runtime.
    pub(crate) fn start(store: Store, stats: Arc<PerfStats>, interval: Duration) -> Self {
        let pending = Arc::new(Mutex::new(Vec::new()));
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

    /// Queues a charge for the next batch.
    pub(crate) fn record(&self, charge: Charge) {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(charge);
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
            let mut batch = take(&self.pending);
            flush(&self.store, stats, &mut batch).await;
        }
    }
}

fn take(pending: &Mutex<Vec<Charge>>) -> Vec<Charge> {
    std::mem::take(&mut *pending.lock().unwrap_or_else(PoisonError::into_inner))
}

async fn write_loop(
    store: Store,
    stats: Arc<PerfStats>,
    pending: Arc<Mutex<Vec<Charge>>>,
    stop: Arc<Notify>,
    done: oneshot::Sender<()>,
    interval: Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch = Vec::new();
    loop {
        let stopping = tokio::select! {
            () = stop.notified() => true,
            _ = ticker.tick() => false,
        };
        batch.append(&mut take(&pending));
        if !batch.is_empty() || stopping {
            flush(&store, &stats, &mut batch).await;
        }
        if stopping {
            let _ = done.send(());
            return;
        }
    }
}

async fn flush(store: &Store, stats: &PerfStats, batch: &mut Vec<Charge>) {
    if !batch.is_empty() {
        match store.append_charges(batch).await {
            Ok(()) => batch.clear(),
            // Kept for the next flush: a database that is briefly away loses nothing.
            Err(error) => tracing::warn!(%error, pending = batch.len(), "could not write charges"),
        }
    }
    if let Err(error) = store.save_stats(stats).await {
        tracing::warn!(%error, "could not save statistics");
    }
}
