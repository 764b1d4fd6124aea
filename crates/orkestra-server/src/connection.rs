//! Serving connections: the accept loop with its connection cap, and on each connection the
//! header-read, body-read and keep-alive idle timeouts.
//!
//! hyper serves each connection over HTTP/1.1. Its own header-read timeout also bounds the
//! wait between two requests of a keep-alive connection (one timer for both), so the gateway
//! keeps its own. A connection is always in one of three phases, and the socket wrapper
//! [`Watched`] enforces the deadline of the phase it is in whenever hyper waits to read:
//!
//! | phase | from | until | deadline |
//! |---|---|---|---|
//! | head | the accept, or the first byte of the next request | its headers are parsed | `header_read_timeout` |
//! | busy | the headers are parsed | the response is written | none (the body has `body_read_timeout`) |
//! | idle | the response is written | the first byte of the next request | `idle_timeout` |
//!
//! The body deadline runs from the moment the headers are parsed; [`TimedBody`] turns a body
//! still arriving then into an error that the handler answers with `408`.
//!
//! A deadline is only set when a read has to wait, so the cost on the hot path is one clock
//! read and one timer reset per keep-alive wait, and one reference count per answer (the
//! response body marks the connection idle when hyper is done with it): no middleware, and no
//! allocation per request.

use std::convert::Infallible;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use bytes::Bytes;
use futures_util::task::AtomicWaker;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use orkestra::config::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tower_service::Service as _;

use crate::workers::Workers;

/// The timeouts of one connection, from `[server]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// From the accept or a request's first byte to its parsed headers.
    pub(crate) header_read: Duration,
    /// From the parsed headers to the end of the body.
    pub(crate) body_read: Duration,
    /// From a written response to the next request's first byte.
    pub(crate) idle: Duration,
}

impl Limits {
    pub(crate) fn of(config: &ServerConfig) -> Self {
        Self {
            header_read: config.header_read_timeout,
            body_read: config.body_read_timeout,
            idle: config.idle_timeout,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then drains for up to `grace`.
///
/// Connections run on `workers` threads of their own (see [`crate::workers`]) or, with
/// `None`, as tasks of the runtime this is called on.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    config: &ServerConfig,
    workers: Option<Workers>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut servers = match workers {
        Some(workers) => Servers::Workers(workers),
        None => Servers::Here(Local::new(app, Limits::of(config))),
    };
    // A semaphore refuses more permits than this; a cap above it is no cap at all.
    let permits = Arc::new(Semaphore::new(
        config.max_connections.min(Semaphore::MAX_PERMITS),
    ));
    let mut shutdown = pin!(shutdown);
    loop {
        // At the cap, the next connection is not accepted: it waits in the listen queue, where
        // it costs this process nothing, until a connection closes.
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                // The semaphore is never closed; if it were, nothing more could be served.
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Answers are small writes; Nagle's algorithm would hold each one back for an ACK.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY on a connection");
        }
        match &mut servers {
            Servers::Here(local) => local.serve(stream, permit),
            Servers::Workers(workers) => workers.hand(stream, permit),
        }
    }
    drop(listener);
    let grace = config.shutdown_grace;
    match servers {
        Servers::Here(local) => local.drain(grace).await,
        Servers::Workers(workers) => workers.drain().await,
    }
    Ok(())
}

/// Where accepted connections are served.
enum Servers {
    Here(Local),
    Workers(Workers),
}

/// Connections served as tasks of the current runtime, watched for a graceful shutdown.
pub(crate) struct Local {
    app: Router,
    limits: Limits,
    http: http1::Builder,
    graceful: GracefulShutdown,
}

impl Local {
    pub(crate) fn new(app: Router, limits: Limits) -> Self {
        Self {
            app,
            limits,
            http: builder(),
            graceful: GracefulShutdown::new(),
        }
    }

    /// Serves `stream` in a task of its own; the connection holds `permit` until it closes.
    pub(crate) fn serve(&self, stream: TcpStream, permit: OwnedSemaphorePermit) {
        let connection = self.graceful.watch(connection(
            stream,
            self.app.clone(),
            self.limits,
            &self.http,
        ));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed with an error");
            }
            drop(permit);
        });
    }

    /// Lets the connections finish their requests, for up to `grace`.
    pub(crate) async fn drain(self, grace: Duration) {
        tokio::select! {
            () = self.graceful.shutdown() => {}
            () = tokio::time::sleep(grace) => {
                tracing::warn!(?grace, "shutdown grace period over; requests still in flight are left to end with the runtime");
            }
        }
    }
}

/// The HTTP/1.1 settings of every connection.
pub(crate) fn builder() -> http1::Builder {
    let mut http = http1::Builder::new();
    // The phases above replace hyper's header-read timeout, which also cuts idle connections.
    http.header_read_timeout(None);
    http
}

/// One connection, served with the phase deadlines of `limits`.
pub(crate) fn connection<I>(
    io: I,
    app: Router,
    limits: Limits,
    http: &http1::Builder,
) -> http1::Connection<TokioIo<Watched<I>>, Answerer>
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let phase = Arc::new(Phase::new());
    let service = Answerer {
        app,
        phase: Arc::clone(&phase),
        body_read: limits.body_read,
    };
    http.serve_connection(TokioIo::new(Watched::new(io, phase, limits)), service)
}

/// Waits a little after an accept error that is not about one connection (such as running out
/// of file descriptors), so the loop does not spin while connections close.
async fn accept_failed(error: &io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed; trying again in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Reading a request's headers.
const HEAD: u32 = 0;
/// Answering a request.
const BUSY: u32 = 1;
/// Waiting for the next request.
const IDLE: u32 = 2;

/// The phase of one connection, shared by its socket, its service and its response bodies,
/// with the number of requests it has answered in the bits above the phase, so two idle waits
/// are never taken for one (hyper may parse a pipelined request without reading).
///
/// All three run in the connection's task, so the order of their updates is the program order;
/// atomics only make them shareable across the `Send` bounds.
#[derive(Debug)]
pub(crate) struct Phase {
    value: AtomicU32,
    /// The task of a read that waited while the connection was busy: hyper may not read
    /// again once the answer is written, so entering idle wakes it to start the idle deadline.
    reader: AtomicWaker,
}

impl Phase {
    fn new() -> Self {
        Self {
            value: AtomicU32::new(HEAD),
            reader: AtomicWaker::new(),
        }
    }

    /// The phase and the request count, as one value.
    fn get(&self) -> u32 {
        self.value.load(Ordering::Relaxed)
    }

    fn enter(&self, phase: u32) {
        let mut count = self.get() >> 2;
        if phase == BUSY {
            count = count.wrapping_add(1);
        }
        self.value.store(count << 2 | phase, Ordering::Relaxed);
        if phase == IDLE {
            self.reader.wake();
        }
    }
}

/// The phase part of a [`Phase::get`] value.
const fn phase_of(value: u32) -> u32 {
    value & 0b11
}

/// A socket that fails a read with `TimedOut` once the deadline of its connection's phase
/// passes while hyper waits for bytes.
pub(crate) struct Watched<I> {
    io: I,
    phase: Arc<Phase>,
    limits: Limits,
    /// The [`Phase::get`] value `deadline` was set for.
    seen: Option<u32>,
    deadline: Instant,
    /// Made the first time a read has to wait, then reset for each deadline.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<I> Watched<I> {
    fn new(io: I, phase: Arc<Phase>, limits: Limits) -> Self {
        Self {
            io,
            phase,
            limits,
            seen: None,
            deadline: Instant::now(),
            timer: None,
        }
    }

    /// Called when a read has to wait: `Pending` until the phase's deadline, then the error
    /// that closes the connection.
    ///
    /// A deadline is set the first time a phase has to wait: for a head, right after its
    /// first byte (or the accept); for an idle connection, right after its response.
    fn wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let value = self.phase.get();
        let phase = phase_of(value);
        if phase == BUSY {
            // hyper reads a busy connection for the body and to notice a client that left;
            // the body has its own deadline, and the answer may take as long as it takes.
            self.phase.reader.register(cx.waker());
            return Poll::Pending;
        }
        if self.seen != Some(value) {
            self.seen = Some(value);
            let limit = if phase == IDLE {
                self.limits.idle
            } else {
                self.limits.header_read
            };
            self.deadline = Instant::now() + limit;
        }
        let deadline = self.deadline;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let why = if phase == IDLE {
            "no new request within server.idle_timeout"
        } else {
            "the request headers did not arrive within server.header_read_timeout"
        };
        Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, why)))
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Pending => this.wait(cx),
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before && phase_of(this.phase.get()) == IDLE {
                    // The first byte of the next request: its headers are due.
                    this.phase.enter(HEAD);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// The service of one connection: marks it busy, gives the request body its deadline, and
/// hands the request to the router.
#[derive(Clone)]
pub(crate) struct Answerer {
    app: Router,
    phase: Arc<Phase>,
    body_read: Duration,
}

impl hyper::service::Service<Request<Incoming>> for Answerer {
    type Response = Response<Answer>;
    type Error = Infallible;
    type Future = Answering;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.phase.enter(BUSY);
        let body_read = self.body_read;
        let request = request.map(|body| TimedBody {
            body,
            body_read,
            timer: None,
        });
        Answering {
            // The router is reference-counted: the clone is what `axum::serve` makes per
            // request too.
            routed: self.app.clone().call(request),
            phase: Some(Arc::clone(&self.phase)),
        }
    }
}

pin_project_lite::pin_project! {
    /// The router's future, its response body wrapped in an [`Answer`].
    pub(crate) struct Answering {
        #[pin]
        routed: axum::routing::future::RouteFuture<Infallible>,
        phase: Option<Arc<Phase>>,
    }
}

impl Future for Answering {
    type Output = Result<Response<Answer>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(response) = std::task::ready!(this.routed.poll(cx));
        let phase = this.phase.take();
        Poll::Ready(Ok(response.map(|body| Answer { body, phase })))
    }
}

/// A response body that marks its connection idle when hyper is done with it.
pub(crate) struct Answer {
    body: Body,
    phase: Option<Arc<Phase>>,
}

impl HttpBody for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if let Some(phase) = &self.phase {
            phase.enter(IDLE);
        }
    }
}

/// A request body that fails with [`BodyTimedOut`] if it is still arriving at its deadline.
///
/// The deadline is set the first time the body has to be waited for, which is right after the
/// headers (the handlers read the body first); a body already received never needs a timer.
pub(crate) struct TimedBody {
    body: Incoming,
    body_read: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl HttpBody for TimedBody {
    type Data = Bytes;
    type Error = Box<dyn StdError + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|frame| frame.map_err(Into::into))),
            Poll::Pending => {
                let body_read = this.body_read;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(body_read)));
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                Poll::Ready(Some(Err(Box::new(BodyTimedOut {
                    body_read: this.body_read,
                }))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The request body did not arrive within `server.body_read_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodyTimedOut {
    pub(crate) body_read: Duration,
}

impl fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the request body did not arrive within {} (server.body_read_timeout)",
            humanize(self.body_read)
        )
    }
}

impl StdError for BodyTimedOut {}

/// `30s`, `1.5s`, `250ms`: a duration as the configuration writes it.
fn humanize(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else if duration < Duration::from_secs(1) {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{}s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests;
