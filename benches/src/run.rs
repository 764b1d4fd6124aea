//! Sending the load: connections, the three modes and their clocks.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body as _, Incoming};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, sleep_until, timeout_at};

use crate::options::{Mode, Options};
use crate::request::{OnceBody, RequestError, Template, default_body};
use crate::summary::{Recorder, Summary};

#[cfg(test)]
mod tests;

/// How long requests still in flight when a measurement ends may take before they count as
/// errors; past it the server is stuck, and waiting longer would only delay the report.
const GRACE: Duration = Duration::from_secs(10);

/// How long a worker pauses after a failed request, so a server that refuses connections is
/// not hammered in a tight loop.
const PAUSE_AFTER_ERROR: Duration = Duration::from_millis(1);

/// Why a run could not be made (failed requests are counted, not errors of the run).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The body file could not be read.
    #[error("cannot read the body file {path}")]
    Body {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The URL or a header is not valid.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// A connection opened before the measurement failed.
    #[error("cannot connect to {authority}")]
    Connect {
        /// Where to.
        authority: String,
        /// Why.
        #[source]
        source: CallError,
    },
    /// A worker task panicked or was cancelled.
    #[error("a worker task failed: {0}")]
    Worker(String),
}

/// Why one request got no complete answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// TCP connect or socket options failed.
    #[error("connect: {0}")]
    Connect(#[source] std::io::Error),
    /// HTTP/1 failed: handshake, request, or reading the answer.
    #[error("http: {0}")]
    Http(#[source] hyper::Error),
    /// No complete answer before the deadline.
    #[error("no answer before the deadline")]
    TimedOut,
}

impl From<hyper::Error> for CallError {
    fn from(error: hyper::Error) -> Self {
        Self::Http(error)
    }
}

/// Runs `options` on a runtime of its own and returns what was measured.
pub fn run_blocking(options: Options) -> Result<Summary, RunError> {
    let body = match &options.body {
        Some(path) => Bytes::from(std::fs::read(path).map_err(|source| RunError::Body {
            path: path.display().to_string(),
            source,
        })?),
        None => default_body(&options.model),
    };
    let template = Arc::new(Template::new(&options.url, body, &options.headers)?);
    let runtime = if options.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.threads)
            .enable_all()
            .build()
    }
    .map_err(RunError::Runtime)?;
    runtime.block_on(run(options, template))
}

/// Runs `options` with requests made from `template`.
pub async fn run(options: Options, template: Arc<Template>) -> Result<Summary, RunError> {
    let recorder = Arc::new(Mutex::new(Recorder::new()));
    let mut workers = Vec::with_capacity(options.connections);
    for _ in 0..options.connections {
        let mut worker = Worker::new(Arc::clone(&template), Arc::clone(&recorder));
        // Connections are opened before the clock starts: a connect is not a request.
        worker.connect().await.map_err(|source| RunError::Connect {
            authority: template.authority.clone(),
            source,
        })?;
        workers.push(worker);
    }
    let (elapsed, bursts) = match options.mode {
        Mode::Closed | Mode::Open { .. } => (loops(&options, workers).await?, Vec::new()),
        Mode::Burst { .. } => bursts(&options, workers).await?,
    };
    let recorder = recorder
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    Ok(Summary {
        options,
        recorder,
        elapsed,
        bursts,
    })
}

/// The clock of a closed or open loop.
#[derive(Debug)]
struct Clock {
    /// When the warmup started, and the open loop's schedule with it.
    start: Instant,
    /// When recording starts.
    warm_end: Instant,
    /// When no new request is sent.
    end: Instant,
    /// The open loop's rate; `None` for a closed loop.
    rate: Option<f64>,
    /// The open loop's next request number, shared by the workers.
    next: AtomicU64,
}

async fn loops(options: &Options, workers: Vec<Worker>) -> Result<Duration, RunError> {
    let start = Instant::now();
    let warm_end = start + options.warmup;
    let clock = Arc::new(Clock {
        start,
        warm_end,
        end: warm_end + options.seconds,
        rate: match options.mode {
            Mode::Open { rate } => Some(rate),
            Mode::Closed | Mode::Burst { .. } => None,
        },
        next: AtomicU64::new(0),
    });
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|worker| {
            let clock = Arc::clone(&clock);
            tokio::spawn(async move {
                match clock.rate {
                    Some(rate) => worker.open_loop(&clock, rate).await,
                    None => worker.closed_loop(&clock).await,
                }
            })
        })
        .collect();
    let mut last_answer = warm_end;
    for task in tasks {
        let worker = task
            .await
            .map_err(|error| RunError::Worker(error.to_string()))?;
        last_answer = last_answer.max(worker.last_answer.unwrap_or(warm_end));
    }
    Ok(last_answer - warm_end)
}

async fn bursts(
    options: &Options,
    mut workers: Vec<Worker>,
) -> Result<(Duration, Vec<Duration>), RunError> {
    if !options.warmup.is_zero() {
        let (warmed, _) = burst(workers, false).await?;
        workers = warmed;
    }
    let mut walls = Vec::new();
    for _ in 0..options.repeat {
        let (done, wall) = burst(workers, true).await?;
        workers = done;
        walls.push(wall);
    }
    Ok((walls.iter().sum(), walls))
}

/// Sends one request on every connection at once; returns the connections and the wall time
/// until the last answer.
async fn burst(workers: Vec<Worker>, record: bool) -> Result<(Vec<Worker>, Duration), RunError> {
    let start = Instant::now();
    let deadline = start + GRACE;
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|mut worker| {
            tokio::spawn(async move {
                let result = worker.call(deadline).await;
                if record {
                    worker.record(result, start, Instant::now());
                }
                worker
            })
        })
        .collect();
    let mut workers = Vec::with_capacity(tasks.len());
    let mut last = start;
    for task in tasks {
        let worker = task
            .await
            .map_err(|error| RunError::Worker(error.to_string()))?;
        last = last.max(worker.last_answer.unwrap_or(start));
        workers.push(worker);
    }
    if !record {
        last = Instant::now();
    }
    Ok((workers, last - start))
}

/// When request `index` of an open loop at `rate` requests/s is due, after the loop's start.
pub fn due_offset(index: u64, rate: f64) -> Duration {
    Duration::try_from_secs_f64(index as f64 / rate).unwrap_or(Duration::MAX)
}

/// Where an open-loop request's latency is counted from.
///
/// A worker that had to wait for the request to become due was idle, so it sent the request as
/// soon as its timer let it: the timer's lateness (tokio's timer ticks every millisecond) is the
/// load generator's, not the server's, and latency counts from the actual send. A worker that
/// picked the request up after it was due was busy with a previous answer: the server is behind
/// its schedule, and latency counts from the due time, as a user arriving then would see it.
pub fn measured_from(due: Instant, sent: Instant, waited: bool) -> Instant {
    if waited { sent } else { due.min(sent) }
}

/// One connection and what it sends.
struct Worker {
    template: Arc<Template>,
    recorder: Arc<Mutex<Recorder>>,
    sender: Option<SendRequest<OnceBody>>,
    /// When its last recorded answer or error came.
    last_answer: Option<Instant>,
}

impl Worker {
    fn new(template: Arc<Template>, recorder: Arc<Mutex<Recorder>>) -> Self {
        Self {
            template,
            recorder,
            sender: None,
            last_answer: None,
        }
    }

    async fn connect(&mut self) -> Result<(), CallError> {
        self.sender = Some(open(&self.template.authority).await?);
        Ok(())
    }

    async fn closed_loop(mut self, clock: &Clock) -> Self {
        let deadline = clock.end + GRACE;
        loop {
            let sent = Instant::now();
            if sent >= clock.end {
                return self;
            }
            let result = self.call(deadline).await;
            let done = Instant::now();
            let failed = result.is_err();
            if sent >= clock.warm_end {
                self.record(result, sent, done);
            }
            if failed {
                sleep(PAUSE_AFTER_ERROR).await;
            }
        }
    }

    async fn open_loop(mut self, clock: &Clock, rate: f64) -> Self {
        let deadline = clock.end + GRACE;
        loop {
            let index = clock.next.fetch_add(1, Ordering::Relaxed);
            let due = clock.start + due_offset(index, rate);
            if due >= clock.end {
                return self;
            }
            let waited = due > Instant::now();
            if waited {
                sleep_until(due).await;
            }
            let sent = Instant::now();
            let result = self.call(deadline).await;
            if due >= clock.warm_end {
                self.record(result, measured_from(due, sent, waited), Instant::now());
            }
        }
    }

    fn record(&mut self, result: Result<u16, CallError>, from: Instant, done: Instant) {
        let mut recorder = self.recorder.lock().unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok(status) => recorder.answer(done - from, status),
            Err(error) => recorder.error(error),
        }
        self.last_answer = Some(self.last_answer.map_or(done, |last| last.max(done)));
    }

    /// Sends one request and reads the whole answer; returns its status.
    async fn call(&mut self, deadline: Instant) -> Result<u16, CallError> {
        timeout_at(deadline, self.send())
            .await
            .unwrap_or(Err(CallError::TimedOut))
    }

    async fn send(&mut self) -> Result<u16, CallError> {
        let mut sender = match self.sender.take() {
            Some(mut sender) => {
                if sender.ready().await.is_ok() {
                    sender
                } else {
                    // The server closed the connection between requests, which HTTP/1.1 allows:
                    // open another one instead of counting an error.
                    self.recorder
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .reconnects += 1;
                    self.reconnect().await?
                }
            }
            None => self.reconnect().await?,
        };
        let response = sender.send_request(self.template.request()).await?;
        let status = response.status().as_u16();
        drain(response.into_body()).await?;
        self.sender = Some(sender);
        Ok(status)
    }

    async fn reconnect(&mut self) -> Result<SendRequest<OnceBody>, CallError> {
        let mut sender = open(&self.template.authority).await?;
        sender.ready().await?;
        Ok(sender)
    }
}

/// Opens a keep-alive HTTP/1 connection to `authority`.
async fn open(authority: &str) -> Result<SendRequest<OnceBody>, CallError> {
    let stream = TcpStream::connect(authority)
        .await
        .map_err(CallError::Connect)?;
    // Without TCP_NODELAY, a request written in two segments waits for the peer's delayed
    // ACK: the 40 ms stall that the concurrency-1 test exists to catch in servers.
    stream.set_nodelay(true).map_err(CallError::Connect)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // The connection's error, if any, reaches the request that was in flight.
        let _ = connection.await;
    });
    Ok(sender)
}

/// Reads an answer's body to its end, dropping the bytes.
async fn drain(mut body: Incoming) -> Result<(), hyper::Error> {
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        frame?;
    }
    Ok(())
}
