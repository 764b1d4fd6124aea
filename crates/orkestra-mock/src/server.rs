//! The HTTP server: [`MockServer`] for tests, [`MockServer::run`] for a serve-forever command.
//!
//! It is hyper's HTTP/1.1 server directly (keep-alive, `TCP_NODELAY` on every accepted socket),
//! with a small hand-written router, so a zero-latency request costs little more than parsing
//! its body.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use orkestra_core::{Clock, SystemClock, Timestamp};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::config::{MockConfig, ModelBehaviour};
use crate::log::{LoggedRequest, RequestLog};

mod body;
mod conn;
mod handler;

use conn::{ConnControl, ConnIo};

/// How long [`MockServer::shutdown`] lets answers under way finish before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Names served by the default model are remembered (each with its request counter) up to this
/// many; beyond it the memory is cleared, so clients inventing names cannot grow it forever.
const MAX_DEFAULT_NAMES: usize = 10_000;

/// A model's behaviour with its request counter and the moment it was set.
#[derive(Debug)]
pub(crate) struct ModelSlot {
    pub(crate) behaviour: ModelBehaviour,
    pub(crate) requests: AtomicU64,
    /// When the behaviour was set, on the server's clock.
    pub(crate) set_at: Timestamp,
}

impl ModelSlot {
    fn new(behaviour: ModelBehaviour, now: Timestamp) -> Arc<Self> {
        Arc::new(Self {
            behaviour,
            requests: AtomicU64::new(0),
            set_at: now,
        })
    }
}

/// State shared by every connection.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) seed: u64,
    models: RwLock<HashMap<String, Arc<ModelSlot>>>,
    default_model: Option<ModelBehaviour>,
    /// Slots for names answered by the default model, created on first use.
    defaults: RwLock<HashMap<String, Arc<ModelSlot>>>,
    pub(crate) log: RequestLog,
    pub(crate) next_id: AtomicU64,
    pub(crate) started: SystemTime,
    /// The time flapping schedules are read on.
    pub(crate) clock: Arc<dyn Clock>,
    shutdown: watch::Receiver<bool>,
}

impl Shared {
    fn new(config: MockConfig, shutdown: watch::Receiver<bool>, clock: Arc<dyn Clock>) -> Self {
        let now = clock.now();
        let models = config
            .models
            .into_iter()
            .map(|model| (model.name.clone(), ModelSlot::new(model, now)))
            .collect();
        Self {
            seed: config.seed,
            models: RwLock::new(models),
            default_model: config.default_model,
            defaults: RwLock::new(HashMap::new()),
            log: RequestLog::default(),
            next_id: AtomicU64::new(1),
            started: SystemTime::now(),
            clock,
            shutdown,
        }
    }

    /// The slot answering `name`: a listed model, or the default model under that name.
    pub(crate) fn slot(&self, name: &str) -> Option<Arc<ModelSlot>> {
        if let Some(slot) = read(&self.models).get(name) {
            return Some(Arc::clone(slot));
        }
        let default = self.default_model.as_ref()?;
        if let Some(slot) = read(&self.defaults).get(name) {
            return Some(Arc::clone(slot));
        }
        let mut defaults = write(&self.defaults);
        if defaults.len() >= MAX_DEFAULT_NAMES {
            defaults.clear();
        }
        let slot = defaults.entry(name.to_owned()).or_insert_with(|| {
            ModelSlot::new(
                ModelBehaviour {
                    name: name.to_owned(),
                    ..default.clone()
                },
                self.clock.now(),
            )
        });
        Some(Arc::clone(slot))
    }

    /// The listed models' behaviours, sorted by name.
    pub(crate) fn behaviours(&self) -> Vec<ModelBehaviour> {
        let mut behaviours: Vec<ModelBehaviour> = read(&self.models)
            .values()
            .map(|slot| slot.behaviour.clone())
            .collect();
        behaviours.sort_by(|a, b| a.name.cmp(&b.name));
        behaviours
    }

    /// The listed models' names, sorted.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = read(&self.models).keys().cloned().collect();
        names.sort();
        names
    }

    /// The behaviour of a listed model.
    pub(crate) fn behaviour(&self, name: &str) -> Option<ModelBehaviour> {
        read(&self.models)
            .get(name)
            .map(|slot| slot.behaviour.clone())
    }

    /// Sets a model's behaviour, with a new request counter and flapping clock; returns whether
    /// the name was new.
    pub(crate) fn set_model(&self, behaviour: ModelBehaviour) -> bool {
        write(&self.defaults).remove(&behaviour.name);
        let name = behaviour.name.clone();
        write(&self.models)
            .insert(name, ModelSlot::new(behaviour, self.clock.now()))
            .is_none()
    }

    /// Removes a model; returns whether it was listed.
    pub(crate) fn remove_model(&self, name: &str) -> bool {
        write(&self.defaults).remove(name);
        write(&self.models).remove(name).is_some()
    }

    /// Completes when the server shuts down.
    pub(crate) async fn shutting_down(&self) {
        let mut shutdown = self.shutdown.clone();
        // An error means the sender is gone, which also means the server is going away.
        let _ = shutdown.wait_for(|down| *down).await;
    }
}

// A panic while holding one of these locks cannot leave a map half-updated (each update is one
// `insert` or `remove`), so a poisoned lock is still usable.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// A running simulator, serving on a loopback port until [`MockServer::shutdown`] or drop.
///
/// See the [crate documentation](crate) for an example.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl MockServer {
    /// Starts a server on `127.0.0.1` on a free port.
    ///
    /// Must be called within a tokio runtime; fails if the configuration is invalid
    /// ([`MockConfig::validate`], as `InvalidInput`) or the port cannot be bound.
    pub async fn start(config: MockConfig) -> io::Result<Self> {
        Self::bind("127.0.0.1:0", config).await
    }

    /// Starts a server on `addr`.
    pub async fn bind(addr: impl ToSocketAddrs, config: MockConfig) -> io::Result<Self> {
        Self::bind_with_clock(addr, config, Arc::new(SystemClock::new())).await
    }

    /// Starts a server on `127.0.0.1` on a free port whose flapping schedules follow `clock`,
    /// so a test moves a model between down and up by advancing a
    /// [`ManualClock`](orkestra_core::ManualClock) instead of waiting.
    pub async fn start_with_clock(config: MockConfig, clock: Arc<dyn Clock>) -> io::Result<Self> {
        Self::bind_with_clock("127.0.0.1:0", config, clock).await
    }

    /// Starts a server on `addr` whose flapping schedules follow `clock`.
    pub async fn bind_with_clock(
        addr: impl ToSocketAddrs,
        config: MockConfig,
        clock: Arc<dyn Clock>,
    ) -> io::Result<Self> {
        config
            .validate()
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (shutdown, receiver) = watch::channel(false);
        let shared = Arc::new(Shared::new(config, receiver.clone(), clock));
        let task = tokio::spawn(serve(listener, Arc::clone(&shared), receiver));
        Ok(Self {
            addr,
            shared,
            shutdown,
            task: Some(task),
        })
    }

    /// Serves on `listener` until `shutdown` completes, then stops accepting, lets answers under
    /// way finish (up to five seconds) and returns: the entry point of `orkestra mock`.
    pub async fn run(
        listener: TcpListener,
        config: MockConfig,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        config
            .validate()
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
        let (sender, receiver) = watch::channel(false);
        let shared = Arc::new(Shared::new(
            config,
            receiver.clone(),
            Arc::new(SystemClock::new()),
        ));
        let serving = serve(listener, shared, receiver);
        tokio::pin!(serving);
        tokio::select! {
            result = &mut serving => return result,
            () = shutdown => {}
        }
        let _ = sender.send(true);
        serving.await
    }

    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets the behaviour of the model named `behaviour.name`, replacing any before it; its
    /// request counter and flapping clock start again.
    pub fn set_model(&self, behaviour: ModelBehaviour) {
        self.shared.set_model(behaviour);
    }

    /// Stops serving a model; returns whether it was served.
    pub fn remove_model(&self, name: &str) -> bool {
        self.shared.remove_model(name)
    }

    /// The listed models' behaviours, sorted by name.
    pub fn models(&self) -> Vec<ModelBehaviour> {
        self.shared.behaviours()
    }

    /// The request log, oldest first (the last 10,000 chat requests).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.log.snapshot()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.shared.log.clear();
    }

    /// Stops accepting connections, closes idle ones, lets answers under way finish (up to five
    /// seconds) and waits for the server to stop.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take()
            && let Ok(Err(error)) = task.await
        {
            tracing::warn!(%error, "the mock server stopped with an error");
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        // The serving task sees this and winds down on its own.
        let _ = self.shutdown.send(true);
    }
}

/// Accepts connections until shutdown, then drains them.
async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let mut connections = JoinSet::new();
    loop {
        if *shutdown.borrow_and_update() {
            break;
        }
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, Arc::clone(&shared), shutdown.clone()));
                }
                Err(error) => {
                    // Running out of file descriptors is transient: wait a little rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let grace = tokio::time::sleep(SHUTDOWN_GRACE);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            next = connections.join_next() => if next.is_none() { break },
            () = &mut grace => {
                connections.abort_all();
                break;
            }
        }
    }
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Without it, small answers wait for the client's delayed ACK (the ~40 ms Nagle stall).
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
    let control = Arc::new(ConnControl::default());
    let io = TokioIo::new(ConnIo::new(stream, Arc::clone(&control)));
    let service = service_fn(move |request| {
        let shared = Arc::clone(&shared);
        let control = Arc::clone(&control);
        async move { Ok::<_, Infallible>(handler::handle(&shared, &control, request).await) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(io, service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended with an error");
            }
            return;
        }
        _ = shutdown.wait_for(|down| *down) => {}
    }
    connection.as_mut().graceful_shutdown();
    if let Err(error) = connection.await {
        tracing::debug!(%error, "connection ended with an error during shutdown");
    }
}
