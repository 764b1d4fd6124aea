//! Serving on one thread per core: each worker thread runs a single-threaded runtime of its
//! own, and the accept loop hands it connections in turn.
//!
//! A connection's task, its timers and its socket then stay on one thread from the accept to
//! the close: no work-stealing, no waking of another thread for each read, write and timer.
//! On a work-stealing runtime a request at concurrency 1 bounced between threads: 4 context
//! switches per request, against 2 here (one wait for the client, one for the upstream), as
//! counted in `/proc` (`docs/performance.md`). Handing connections in turn, rather than
//! letting every worker accept, keeps long-lived keep-alive connections spread evenly.

use std::io;
use std::num::NonZeroUsize;
use std::time::Duration;

use axum::Router;
use orkestra::config::ServerConfig;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};

use crate::connection::{Limits, Local};

/// The worker threads, each fed by a channel of accepted connections.
pub(crate) struct Workers {
    inboxes: Vec<mpsc::UnboundedSender<Accepted>>,
    /// Each worker's signal that it drained and stopped.
    stopped: Vec<oneshot::Receiver<()>>,
    /// The worker that gets the next connection.
    next: usize,
}

/// A connection handed to a worker, with the permit it holds under `max_connections`.
struct Accepted {
    stream: std::net::TcpStream,
    permit: OwnedSemaphorePermit,
}

/// How many workers `[server] workers` asks for: `0` means one per CPU the process may use.
pub(crate) fn count(config: &ServerConfig) -> usize {
    if config.workers > 0 {
        return config.workers;
    }
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

impl Workers {
    /// Starts `count` worker threads serving `app` with the connection deadlines of `config`.
    pub(crate) fn start(count: usize, app: &Router, config: &ServerConfig) -> io::Result<Self> {
        let limits = Limits::of(config);
        let grace = config.shutdown_grace;
        let mut inboxes = Vec::with_capacity(count);
        let mut stopped = Vec::with_capacity(count);
        for index in 0..count {
            let (inbox, connections) = mpsc::unbounded_channel();
            let (done, finished) = oneshot::channel();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let app = app.clone();
            std::thread::Builder::new()
                .name(format!("orkestra-worker-{index}"))
                .spawn(move || {
                    runtime.block_on(work(connections, app, limits, grace));
                    // Tasks still running past the grace period end with the runtime.
                    drop(runtime);
                    let _ = done.send(());
                })?;
            inboxes.push(inbox);
            stopped.push(finished);
        }
        Ok(Self {
            inboxes,
            stopped,
            next: 0,
        })
    }

    /// Hands `stream` to the next worker in turn.
    pub(crate) fn hand(&mut self, stream: TcpStream, permit: OwnedSemaphorePermit) {
        // The socket leaves this runtime's reactor and joins the worker's.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(error) => {
                tracing::debug!(%error, "could not hand a connection to a worker");
                return;
            }
        };
        let index = self.next;
        self.next = (index + 1) % self.inboxes.len();
        if self.inboxes[index]
            .send(Accepted { stream, permit })
            .is_err()
        {
            // A worker only stops once its inbox is closed, which is below.
            tracing::error!(
                worker = index,
                "a worker thread stopped; a connection was dropped"
            );
        }
    }

    /// Closes the inboxes, then waits until every worker has drained its connections (each for
    /// up to `shutdown_grace`) and stopped.
    pub(crate) async fn drain(self) {
        drop(self.inboxes);
        for stopped in self.stopped {
            // An error means the thread ended without saying so: it panicked, and is gone too.
            let _ = stopped.await;
        }
    }
}

/// One worker: serves each connection it is handed until its inbox closes, then drains.
async fn work(
    mut connections: mpsc::UnboundedReceiver<Accepted>,
    app: Router,
    limits: Limits,
    grace: Duration,
) {
    let local = Local::new(app, limits);
    while let Some(Accepted { stream, permit }) = connections.recv().await {
        match TcpStream::from_std(stream) {
            Ok(stream) => local.serve(stream, permit),
            Err(error) => tracing::debug!(%error, "a worker could not take a connection"),
        }
    }
    local.drain(grace).await;
}
