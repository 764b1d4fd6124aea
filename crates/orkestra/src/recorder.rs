//! Writes charges and statistics to the store off the request path.
//!
//! A request never waits on the database: charges go into a channel, and a background task
//! appends them in batches every `flush_interval` and saves the statistics with them. Shutdown
//! drains the channel and writes once more, so a clean stop loses nothing.

use std::sync::Arc;
use std::time::Duration;

use orkestra_models::store::Store;
use orkestra_models::{Charge, PerfStats};
use tokio::sync::{mpsc, oneshot};

/// What the writer task is asked to do.
enum Message {
    Charge(Charge),
    /// Write everything now, save statistics, stop, and say so.
    Shutdown(oneshot::Sender<()>),
}

/// The handle on the writer task.
pub(crate) struct Recorder {
    store: Store,
    sender: mpsc::UnboundedSender<Message>,
}

impl Recorder {
    /// Starts the writer on the current tokio runtime.
    pub(crate) fn start(store: Store, stats: Arc<PerfStats>, interval: Duration) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(store.clone(), stats, receiver, interval));
        Self { store, sender }
    }

    /// Queues a charge for the next batch.
    pub(crate) fn record(&self, charge: Charge) {
        // The writer only stops at shutdown; a charge recorded after it is kept in the
        // in-memory ledger only.
        if self.sender.send(Message::Charge(charge)).is_err() {
            tracing::warn!("charge recorded after shutdown: not persisted");
        }
    }

    /// Whether the store answers.
    pub(crate) async fn ping(&self) -> Result<(), String> {
        self.store.ping().await.map_err(|error| error.to_string())
    }

    /// Writes what is pending and stops the writer.
    pub(crate) async fn shutdown(&self, stats: &PerfStats) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Message::Shutdown(done)).is_ok() {
            let _ = wait.await;
        } else if let Err(error) = self.store.save_stats(stats).await {
            tracing::warn!(%error, "could not save statistics at shutdown");
        }
    }
}

async fn write_loop(
    store: Store,
    stats: Arc<PerfStats>,
    mut receiver: mpsc::UnboundedReceiver<Message>,
    interval: Duration,
) {
    let mut batch = Vec::new();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut dirty = false;
    loop {
        tokio::select! {
            message = receiver.recv() => match message {
                Some(Message::Charge(charge)) => {
                    batch.push(charge);
                    dirty = true;
                }
                Some(Message::Shutdown(done)) => {
                    while let Ok(Message::Charge(charge)) = receiver.try_recv() {
                        batch.push(charge);
                    }
                    flush(&store, &stats, &mut batch).await;
                    let _ = done.send(());
                    return;
                }
                None => {
                    flush(&store, &stats, &mut batch).await;
                    return;
                }
            },
            _ = ticker.tick() => {
                if dirty {
                    flush(&store, &stats, &mut batch).await;
                    dirty = false;
                }
            }
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
