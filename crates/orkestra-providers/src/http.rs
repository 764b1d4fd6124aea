//! The HTTP layer every client shares: [`HttpConfig`], [`HttpClient`], [`Endpoint`] and
//! [`HttpResponse`].
//!
//! Two transports behind one interface, chosen by the URL's scheme when the [`Endpoint`] is
//! parsed (once, when a provider client is built):
//!
//! - `http://` (vLLM, llama.cpp, Ollama, LM Studio, the simulator: servers near the gateway,
//!   where the HTTP stack's own microseconds show): HTTP/1.1 connections of our own on hyper's
//!   connection API, pooled per host, most recently used first. No URL parsing, proxy matching
//!   or tower layers per call; a proxy is not used for `http://` URLs.
//! - `https://` (cloud APIs): `reqwest` on rustls with the ring provider, honouring the usual
//!   proxy variables. There the network dominates.
//!
//! Both set `TCP_NODELAY` (a small request must not wait for Nagle's algorithm and a delayed
//! ACK, the ~40 ms stall seen in other gateways) and share four timeouts:
//!
//! - `connect_timeout`: opening the connection;
//! - `first_byte_timeout`: from sending the request to the response headers;
//! - `idle_timeout`: between two body chunks, so a stalled stream fails even when the total
//!   budget is long;
//! - `total_timeout`: the whole call, from sending to the last body byte.
//!
//! Cancellation is dropping: every future and stream here owns its request, and dropping it
//! before the answer's end closes the connection (HTTP/1 cannot reuse a connection with a
//! half-read answer), so a caller that gives up frees the server's slot at once. A connection
//! goes back to the pool only once its answer was read to the end.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Once, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Body as _, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_LENGTH, HOST, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use hyper::{Method, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use orkestra_core::{Error, ErrorCategory};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::error::{self, Phase, TimeoutKind};

/// HTTP settings of one provider client.
///
/// Durations are human-readable in configuration files (`"250ms"`, `"2m"`).
///
/// ```
/// let config: orkestra_providers::HttpConfig =
///     serde_json::from_str(r#"{"first_byte_timeout": "30s", "max_body_bytes": 1048576}"#)?;
/// assert_eq!(config.first_byte_timeout, std::time::Duration::from_secs(30));
/// assert_eq!(config.connect_timeout, std::time::Duration::from_secs(10), "a default");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Time to open the TCP and TLS connection.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Time from sending the request to the response headers. A non-streamed answer's
    /// headers come only once the whole answer is generated, so this bounds generation too.
    #[serde(with = "humantime_serde")]
    pub first_byte_timeout: Duration,
    /// Longest gap between two body chunks (a stalled stream).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// The whole call, from sending the request to the last body byte.
    #[serde(with = "humantime_serde")]
    pub total_timeout: Duration,
    /// How long an unused pooled connection stays open.
    #[serde(with = "humantime_serde")]
    pub pool_idle_timeout: Duration,
    /// How many unused connections to keep per host. Keep it at or above the calls in flight
    /// to one host: a connection returned to a full pool is closed, and the next call pays a
    /// new connect (at 64 calls in flight and a cap of 32, a connect per call or so).
    pub pool_max_idle_per_host: usize,
    /// Largest response body read into memory; a larger one is an error, never an OOM.
    /// A stream's events are bounded by the same size each.
    pub max_body_bytes: usize,
}

impl Default for HttpConfig {
    /// - `connect_timeout`: 10 s, ample for TLS across continents;
    /// - `first_byte_timeout`: 120 s, room for a long non-streamed answer or a long prompt's
    ///   prefill;
    /// - `idle_timeout`: 60 s between chunks (reasoning models pause for tens of seconds);
    /// - `total_timeout`: 10 min, the longest answer worth waiting for;
    /// - `pool_idle_timeout`: 90 s, below the 120 s idle cut of common load balancers;
    /// - `pool_max_idle_per_host`: 1024, more than a gateway keeps in flight to one host, so
    ///   load never churns connections;
    /// - `max_body_bytes`: 32 MiB.
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_mins(2),
            idle_timeout: Duration::from_mins(1),
            total_timeout: Duration::from_mins(10),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 1024,
            max_body_bytes: 32 * 1024 * 1024,
        }
    }
}

impl HttpConfig {
    /// Checks that every timeout and the body cap are above zero, naming the first that is not.
    pub fn validate(&self) -> Result<(), Error> {
        for (name, value) in [
            ("connect_timeout", self.connect_timeout),
            ("first_byte_timeout", self.first_byte_timeout),
            ("idle_timeout", self.idle_timeout),
            ("total_timeout", self.total_timeout),
        ] {
            if value.is_zero() {
                return Err(Error::new(
                    ErrorCategory::InvalidRequest,
                    format!("http.{name} must be above zero"),
                ));
            }
        }
        if self.max_body_bytes == 0 {
            return Err(Error::new(
                ErrorCategory::InvalidRequest,
                "http.max_body_bytes must be above zero",
            ));
        }
        Ok(())
    }
}

/// Installs rustls's ring provider as the process default, once.
///
/// `reqwest` is built without a provider of its own (its default, aws-lc-rs, compiles a large C
/// library). If the application installed another provider first, that one stays and is used.
fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // An error means a provider is already installed, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A URL parsed once, to be requested many times. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Endpoint {
    inner: Arc<EndpointInner>,
}

struct EndpointInner {
    url: String,
    target: Target,
}

enum Target {
    /// `http://`: our own pooled HTTP/1.1 connections.
    Plain(PlainTarget),
    /// `https://`: `reqwest`.
    Tls(reqwest::Url),
}

struct PlainTarget {
    /// `host:port`, the pool's key and the address to connect to.
    address: Arc<str>,
    /// The `Host` header.
    host: HeaderValue,
    /// The request target: path and query.
    path: Uri,
    /// The whole URL, as `hyper_util`'s client wants it.
    absolute: Uri,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Endpoint").field(&self.inner.url).finish()
    }
}

impl Endpoint {
    /// Parses an `http://` or `https://` URL; anything else, a URL with credentials in it, or
    /// one that does not parse is an `invalid_request` error naming it.
    pub(crate) fn parse(url: &str) -> Result<Self, Error> {
        let invalid = |why: &str| {
            Error::new(
                ErrorCategory::InvalidRequest,
                format!("invalid URL {url:?}: {why}"),
            )
        };
        let target = if url.starts_with("http://") {
            let uri = url.parse::<Uri>().map_err(|e| invalid(&e.to_string()))?;
            let authority = uri.authority().ok_or_else(|| invalid("no host"))?.clone();
            if authority.as_str().contains('@') {
                return Err(invalid(
                    "credentials in the URL are not supported; send them as a header",
                ));
            }
            if authority.host().is_empty() {
                return Err(invalid("no host"));
            }
            let port = authority.port_u16().unwrap_or(80);
            let path = uri.path_and_query().map_or_else(
                || Uri::from_static("/"),
                |path| {
                    Uri::from_maybe_shared(Bytes::copy_from_slice(path.as_str().as_bytes()))
                        .unwrap_or_else(|_| Uri::from_static("/"))
                },
            );
            Target::Plain(PlainTarget {
                address: Arc::from(format!("{}:{port}", authority.host())),
                host: HeaderValue::from_str(authority.as_str())
                    .map_err(|_| invalid("the host is not a valid header value"))?,
                path,
                absolute: uri,
            })
        } else if url.starts_with("https://") {
            Target::Tls(reqwest::Url::parse(url).map_err(|e| invalid(&e.to_string()))?)
        } else {
            return Err(invalid("must start with http:// or https://"));
        };
        Ok(Self {
            inner: Arc::new(EndpointInner {
                url: url.to_owned(),
                target,
            }),
        })
    }
}

/// What a request can be sent to: an [`Endpoint`], or a URL parsed on the spot.
pub(crate) trait IntoEndpoint {
    /// The endpoint, or why the URL is not one.
    fn into_endpoint(self) -> Result<Endpoint, Error>;
}

impl IntoEndpoint for &Endpoint {
    fn into_endpoint(self) -> Result<Endpoint, Error> {
        Ok(self.clone())
    }
}

impl IntoEndpoint for Endpoint {
    fn into_endpoint(self) -> Result<Endpoint, Error> {
        Ok(self)
    }
}

impl IntoEndpoint for &str {
    fn into_endpoint(self) -> Result<Endpoint, Error> {
        Endpoint::parse(self)
    }
}

impl IntoEndpoint for &String {
    fn into_endpoint(self) -> Result<Endpoint, Error> {
        Endpoint::parse(self)
    }
}

/// A request being built: method, endpoint, headers and body. An invalid URL or header is
/// reported by [`HttpClient::send`], as an `invalid_request` error.
#[derive(Debug)]
pub(crate) struct RequestBuilder {
    method: Method,
    endpoint: Result<Endpoint, Error>,
    headers: HeaderMap,
    body: Bytes,
}

impl RequestBuilder {
    fn new(method: Method, endpoint: Result<Endpoint, Error>) -> Self {
        Self {
            method,
            endpoint,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// Sets every header of `headers`, replacing values already set under the same names.
    #[must_use]
    pub(crate) fn headers(mut self, headers: HeaderMap) -> Self {
        let mut last = None;
        for (name, value) in headers {
            // A name comes with its first value only; the others follow with `None`.
            match name {
                Some(name) => {
                    self.headers.insert(name.clone(), value);
                    last = Some(name);
                }
                None => {
                    if let Some(name) = &last {
                        self.headers.append(name.clone(), value);
                    }
                }
            }
        }
        self
    }

    /// Sets one header, replacing a value already set under its name.
    #[must_use]
    pub(crate) fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        HeaderValue: TryFrom<V>,
    {
        let name = HeaderName::try_from(name).ok();
        let value = HeaderValue::try_from(value).ok();
        match (name, value) {
            (Some(name), Some(value)) => {
                self.headers.insert(name, value);
            }
            (name, _) => {
                if self.endpoint.is_ok() {
                    let what = name.map_or("a header name".to_owned(), |name| {
                        format!("the value of header {name}")
                    });
                    self.endpoint = Err(Error::new(
                        ErrorCategory::InvalidRequest,
                        format!("invalid request: {what} is not valid in HTTP"),
                    ));
                }
            }
        }
        self
    }

    /// Sets the body to `body` as JSON, with `Content-Type: application/json`. A body that
    /// cannot be written as JSON is reported by [`HttpClient::send`], as an `invalid_request`
    /// error.
    #[must_use]
    pub(crate) fn json(mut self, body: &impl serde::Serialize) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => {
                self.body = Bytes::from(bytes);
                self.headers.insert(
                    hyper::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
            Err(failure) => {
                if self.endpoint.is_ok() {
                    self.endpoint = Err(Error::new(
                        ErrorCategory::InvalidRequest,
                        format!("the request could not be written as JSON: {failure}"),
                    ));
                }
            }
        }
        self
    }
}

/// A pooled HTTP client with the timeouts and size cap of an [`HttpConfig`].
///
/// Cheap to clone: clones share the connection pool.
#[derive(Debug, Clone)]
pub(crate) struct HttpClient {
    inner: Arc<ClientInner>,
}

#[derive(Debug)]
struct ClientInner {
    config: HttpConfig,
    /// The `https://` transport.
    tls: reqwest::Client,
    /// Idle `http://` connections per `host:port`, the most recently used last.
    idle: Mutex<HashMap<Arc<str>, VecDeque<Idle>>>,
    user_agent: HeaderValue,
    /// `hyper_util`'s pooled client, used for `http://` instead of our pool when
    /// `ORKESTRA_UPSTREAM_TRANSPORT=hyper-util`: the two are measured side by side in
    /// `cargo xtask load-gateway` (issue 14) and the slower one goes.
    legacy: Option<LegacyClient>,
}

type LegacyClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

fn legacy_client(config: &HttpConfig) -> Option<LegacyClient> {
    if std::env::var("ORKESTRA_UPSTREAM_TRANSPORT").ok()? != "hyper-util" {
        return None;
    }
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(config.connect_timeout));
    connector.set_keepalive(Some(Duration::from_secs(30)));
    Some(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(config.pool_idle_timeout)
            .pool_max_idle_per_host(config.pool_max_idle_per_host)
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .build(connector),
    )
}

#[derive(Debug)]
struct Idle {
    sender: SendRequest<Full<Bytes>>,
    since: Instant,
}

impl HttpClient {
    /// Builds the client. Fails on an invalid configuration, naming the field.
    pub(crate) fn new(config: HttpConfig) -> Result<Self, Error> {
        config.validate()?;
        install_crypto_provider();
        let tls = reqwest::Client::builder()
            .tls_backend_rustls()
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(config.pool_idle_timeout)
            .pool_max_idle_per_host(config.pool_max_idle_per_host)
            .tcp_nodelay(true)
            .tcp_keepalive(Some(Duration::from_secs(30)))
            .user_agent(USER_AGENT_VALUE)
            .build()
            .map_err(error::from_reqwest)?;
        let legacy = legacy_client(&config);
        Ok(Self {
            inner: Arc::new(ClientInner {
                config,
                tls,
                idle: Mutex::new(HashMap::new()),
                user_agent: HeaderValue::from_static(USER_AGENT_VALUE),
                legacy,
            }),
        })
    }

    /// The configuration.
    pub(crate) fn config(&self) -> &HttpConfig {
        &self.inner.config
    }

    /// Starts a `GET` request.
    #[expect(
        clippy::unused_self,
        reason = "a request starts from the client that sends it: `http.get(url)`"
    )]
    pub(crate) fn get(&self, endpoint: impl IntoEndpoint) -> RequestBuilder {
        RequestBuilder::new(Method::GET, endpoint.into_endpoint())
    }

    /// Starts a `POST` request.
    #[expect(
        clippy::unused_self,
        reason = "a request starts from the client that sends it: `http.post(url)`"
    )]
    pub(crate) fn post(&self, endpoint: impl IntoEndpoint) -> RequestBuilder {
        RequestBuilder::new(Method::POST, endpoint.into_endpoint())
    }

    /// Sends `request` and waits for the response headers, at most `first_byte_timeout`
    /// (and never past `total_timeout`). Any status is returned; see
    /// [`HttpResponse::error_for_status`].
    pub(crate) async fn send(&self, request: RequestBuilder) -> Result<HttpResponse, Error> {
        let RequestBuilder {
            method,
            endpoint,
            headers,
            body,
        } = request;
        let endpoint = endpoint?;
        let config = &self.inner.config;
        let start = Instant::now();
        let deadline = start + config.total_timeout;
        let (wait, kind) = if config.first_byte_timeout < config.total_timeout {
            (config.first_byte_timeout, TimeoutKind::FirstByte)
        } else {
            (config.total_timeout, TimeoutKind::Total)
        };
        let sent = match &endpoint.inner.target {
            Target::Plain(target) => {
                tokio::time::timeout(wait, self.send_plain(target, method, headers, body)).await
            }
            Target::Tls(url) => {
                let request = self
                    .inner
                    .tls
                    .request(method, url.clone())
                    .headers(headers)
                    .body(body);
                tokio::time::timeout(wait, async {
                    let mut response = request.send().await.map_err(error::from_reqwest)?;
                    let headers = std::mem::take(response.headers_mut());
                    Ok((response.status(), headers, Body::Tls(response)))
                })
                .await
            }
        };
        let (status, headers, body) = match sent {
            Ok(sent) => sent?,
            Err(_) => return Err(error::timeout(kind, wait)),
        };
        let content_length = headers
            .get(CONTENT_LENGTH)
            .and_then(|length| length.to_str().ok()?.parse().ok());
        Ok(HttpResponse {
            status,
            headers,
            content_length,
            body,
            deadline,
            idle: config.idle_timeout,
            total: config.total_timeout,
            max_body_bytes: config.max_body_bytes,
        })
    }

    async fn send_plain(
        &self,
        target: &PlainTarget,
        method: Method,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<(StatusCode, HeaderMap, Body), Error> {
        let mut request = hyper::Request::new(Full::new(body));
        *request.method_mut() = method;
        *request.uri_mut() = target.path.clone();
        *request.headers_mut() = headers;
        let fields = request.headers_mut();
        fields.insert(HOST, target.host.clone());
        if !fields.contains_key(USER_AGENT) {
            fields.insert(USER_AGENT, self.inner.user_agent.clone());
        }
        if let Some(legacy) = &self.inner.legacy {
            *request.uri_mut() = target.absolute.clone();
            let response = legacy.request(request).await.map_err(|failure| {
                let what = if failure.is_connect() {
                    "connect failed"
                } else {
                    "request failed"
                };
                Error::new(ErrorCategory::Network, format!("{what}: {failure}"))
                    .with_source(failure)
            })?;
            let (parts, incoming) = response.into_parts();
            return Ok((
                parts.status,
                parts.headers,
                Body::Plain {
                    incoming,
                    release: None,
                },
            ));
        }
        loop {
            let (mut sender, reused) = match self.checkout(&target.address).await {
                Some(sender) => (sender, true),
                None => (self.connect(&target.address).await?, false),
            };
            match sender.try_send_request(request).await {
                Ok(response) => {
                    let (parts, incoming) = response.into_parts();
                    let release = Release {
                        client: Arc::clone(&self.inner),
                        address: Arc::clone(&target.address),
                        sender,
                    };
                    return Ok((
                        parts.status,
                        parts.headers,
                        Body::Plain {
                            incoming,
                            release: Some(release),
                        },
                    ));
                }
                Err(mut failure) => match failure.take_message() {
                    // Never written: a pooled connection the server had closed. Once more, on
                    // the next pooled connection or a new one.
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(error::from_hyper(failure.into_error(), Phase::Request)),
                },
            }
        }
    }

    /// The most recently used idle connection to `address` that is still open.
    async fn checkout(&self, address: &Arc<str>) -> Option<SendRequest<Full<Bytes>>> {
        let expiry = self.inner.config.pool_idle_timeout;
        loop {
            let idle = {
                let mut pool = self
                    .inner
                    .idle
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                pool.get_mut(address)?.pop_back()?
            };
            let mut sender = idle.sender;
            if idle.since.elapsed() < expiry && !sender.is_closed() && sender.ready().await.is_ok()
            {
                return Some(sender);
            }
        }
    }

    async fn connect(&self, address: &str) -> Result<SendRequest<Full<Bytes>>, Error> {
        let limit = self.inner.config.connect_timeout;
        let stream = match tokio::time::timeout(limit, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(failure)) => return Err(error::connect_failed(failure)),
            Err(_) => return Err(error::timeout(TimeoutKind::Connect, limit)),
        };
        stream.set_nodelay(true).map_err(error::connect_failed)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|failure| error::from_hyper(failure, Phase::Request))?;
        tokio::spawn(async move {
            if let Err(failure) = connection.await {
                tracing::debug!(%failure, "an upstream connection ended with an error");
            }
        });
        Ok(sender)
    }
}

/// Adds a configuration's extra `headers` to `headers`, each marked sensitive (it may carry a
/// token); a name or value that is not valid in HTTP is an error naming the header.
pub(crate) fn extra_headers(
    headers: &mut HeaderMap,
    extra: &std::collections::BTreeMap<String, String>,
) -> Result<(), String> {
    for (name, value) in extra {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("headers: {name:?} is not a valid header name"))?;
        let mut value = HeaderValue::from_str(value)
            .map_err(|_| format!("headers.{name}: not a valid header value"))?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    Ok(())
}

/// `orkestra/<version>`.
const USER_AGENT_VALUE: &str = concat!("orkestra/", env!("CARGO_PKG_VERSION"));

/// Gives a connection back to its pool once its answer was read to the end.
#[derive(Debug)]
struct Release {
    client: Arc<ClientInner>,
    address: Arc<str>,
    sender: SendRequest<Full<Bytes>>,
}

impl Release {
    fn release(self) {
        if self.sender.is_closed() {
            return;
        }
        let config = &self.client.config;
        let mut pool = self
            .client
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let idle = pool.entry(self.address).or_default();
        // The oldest are first: drop those past the idle timeout.
        while idle
            .front()
            .is_some_and(|oldest| oldest.since.elapsed() >= config.pool_idle_timeout)
        {
            idle.pop_front();
        }
        if idle.len() < config.pool_max_idle_per_host {
            idle.push_back(Idle {
                sender: self.sender,
                since: Instant::now(),
            });
        }
    }
}

/// A response body of either transport.
#[derive(Debug)]
enum Body {
    Plain {
        incoming: Incoming,
        /// `None` once the connection went back to the pool.
        release: Option<Release>,
    },
    Tls(reqwest::Response),
}

impl Body {
    /// The next chunk of data; `None` at the end.
    async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        match self {
            Self::Plain { incoming, release } => loop {
                match incoming.frame().await {
                    None => {
                        if let Some(release) = release.take() {
                            release.release();
                        }
                        return Ok(None);
                    }
                    Some(Ok(frame)) => {
                        // Trailers carry nothing a client here reads.
                        let Ok(data) = frame.into_data() else {
                            continue;
                        };
                        if incoming.is_end_stream()
                            && let Some(release) = release.take()
                        {
                            release.release();
                        }
                        if !data.is_empty() {
                            return Ok(Some(data));
                        }
                    }
                    Some(Err(failure)) => return Err(error::from_hyper(failure, Phase::Body)),
                }
            },
            Self::Tls(response) => response.chunk().await.map_err(error::from_reqwest),
        }
    }
}

/// A boxed stream of body chunks, each gap bounded by the idle timeout and the whole by the
/// total timeout; it ends after the last chunk or after its first `Err`.
pub(crate) type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>;

/// How much of an error body is read to classify it; the rest is not needed.
const ERROR_BODY_BYTES: usize = 64 * 1024;

/// A response whose headers arrived; its body is read under the client's timeouts.
#[derive(Debug)]
pub(crate) struct HttpResponse {
    status: StatusCode,
    headers: HeaderMap,
    /// Read from the headers on arrival, so they can be moved out before the body is read.
    content_length: Option<u64>,
    body: Body,
    deadline: Instant,
    idle: Duration,
    total: Duration,
    max_body_bytes: usize,
}

impl HttpResponse {
    /// The HTTP status code.
    pub(crate) fn status(&self) -> u16 {
        self.status.as_u16()
    }

    /// The response headers.
    pub(crate) fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The response headers, moved out: the response keeps none.
    pub(crate) fn take_headers(&mut self) -> HeaderMap {
        std::mem::take(&mut self.headers)
    }

    /// The media type of the body (`application/json`), without parameters.
    pub(crate) fn content_type(&self) -> Option<&str> {
        error::content_type(self.headers())
    }

    /// The `Content-Length`, when the server sent a valid one.
    fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// The response itself on a 2xx status; otherwise the classified error, read from the
    /// status, the headers and the first 64 KiB of the body.
    pub(crate) async fn error_for_status(self) -> Result<Self, Error> {
        if self.status.is_success() {
            return Ok(self);
        }
        let status = self.status();
        let headers = self.headers.clone();
        let mut reader = BodyReader::from(self);
        let mut body = BytesMut::new();
        // An error body cut by a timeout or a reset still classifies by its status.
        while body.len() < ERROR_BODY_BYTES {
            match reader.next_chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        body.truncate(ERROR_BODY_BYTES);
        Err(error::from_status(status, &headers, &body))
    }

    /// The whole body, within the idle and total timeouts and at most `max_body_bytes`.
    pub(crate) async fn bytes(self) -> Result<Bytes, Error> {
        let limit = self.max_body_bytes;
        let length = self.content_length();
        if length.is_some_and(|length| length > limit as u64) {
            return Err(error::body_too_large(limit));
        }
        let capacity = length.map_or(0, |length| usize::try_from(length).unwrap_or(limit));
        let mut reader = BodyReader::from(self);
        // Most bodies arrive as one chunk: return it without copying.
        let Some(first) = reader.next_chunk().await? else {
            return Ok(Bytes::new());
        };
        if first.len() > limit {
            return Err(error::body_too_large(limit));
        }
        let Some(second) = reader.next_chunk().await? else {
            return Ok(first);
        };
        let mut body = BytesMut::with_capacity(capacity.max(first.len() + second.len()));
        body.extend_from_slice(&first);
        let mut next = Some(second);
        while let Some(chunk) = next {
            if body.len() + chunk.len() > limit {
                return Err(error::body_too_large(limit));
            }
            body.extend_from_slice(&chunk);
            next = reader.next_chunk().await?;
        }
        Ok(body.freeze())
    }

    /// The body as a stream of chunks under the idle and total timeouts.
    pub(crate) fn into_stream(self) -> BodyStream {
        let reader = Some(BodyReader::from(self));
        Box::pin(futures_util::stream::unfold(reader, |reader| async move {
            let mut reader = reader?;
            match reader.next_chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(reader))),
                Ok(None) => None,
                // Nothing follows an error: the connection is dropped with the reader.
                Err(failure) => Some((Err(failure), None)),
            }
        }))
    }
}

/// Reads body chunks under the idle and total deadlines.
struct BodyReader {
    body: Body,
    deadline: Instant,
    idle: Duration,
    total: Duration,
}

impl From<HttpResponse> for BodyReader {
    fn from(response: HttpResponse) -> Self {
        Self {
            body: response.body,
            deadline: response.deadline,
            idle: response.idle,
            total: response.total,
        }
    }
}

impl BodyReader {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, Error> {
        let idle_deadline = Instant::now() + self.idle;
        let (until, kind, limit) = if idle_deadline < self.deadline {
            (idle_deadline, TimeoutKind::Idle, self.idle)
        } else {
            (self.deadline, TimeoutKind::Total, self.total)
        };
        match tokio::time::timeout_at(until, self.body.chunk()).await {
            Ok(chunk) => chunk,
            Err(_) => Err(error::timeout(kind, limit)),
        }
    }
}

#[cfg(test)]
mod tests;
