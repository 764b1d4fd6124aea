//! The HTTP layer every client shares: [`HttpConfig`], [`HttpClient`] and [`HttpResponse`].
//!
//! One pooled `reqwest` client per provider, on rustls with the ring provider, with
//! `TCP_NODELAY` (a small request must not wait for Nagle's algorithm and a delayed ACK, the
//! ~40 ms stall seen in other gateways) and four separate timeouts:
//!
//! - `connect_timeout`: opening the connection (`reqwest`'s own);
//! - `first_byte_timeout`: from sending the request to the response headers;
//! - `idle_timeout`: between two body chunks, so a stalled stream fails even when the total
//!   budget is long;
//! - `total_timeout`: the whole call, from sending to the last body byte.
//!
//! Cancellation is dropping: every future and stream here owns its `reqwest` request, and
//! dropping it closes the connection (hyper cannot reuse a connection with a half-read
//! answer), so a caller that gives up frees the server's slot at once.

use std::pin::Pin;
use std::sync::Once;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use orkestra_core::{Error, ErrorCategory};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::error::{self, TimeoutKind};

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

/// A pooled HTTP client with the timeouts and size cap of an [`HttpConfig`].
///
/// Cheap to clone: clones share the connection pool.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    config: HttpConfig,
}

impl HttpClient {
    /// Builds the client. Fails on an invalid configuration, naming the field.
    pub fn new(config: HttpConfig) -> Result<Self, Error> {
        config.validate()?;
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .tls_backend_rustls()
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(config.pool_idle_timeout)
            .pool_max_idle_per_host(config.pool_max_idle_per_host)
            .tcp_nodelay(true)
            .tcp_keepalive(Some(Duration::from_secs(30)))
            .user_agent(concat!("orkestra/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(error::from_reqwest)?;
        Ok(Self { client, config })
    }

    /// The configuration.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// Starts a `GET` request.
    pub fn get(&self, url: &str) -> reqwest::RequestBuilder {
        self.client.get(url)
    }

    /// Starts a `POST` request.
    pub fn post(&self, url: &str) -> reqwest::RequestBuilder {
        self.client.post(url)
    }

    /// Sends `request` and waits for the response headers, at most `first_byte_timeout`
    /// (and never past `total_timeout`). Any status is returned; see
    /// [`HttpResponse::error_for_status`].
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<HttpResponse, Error> {
        let start = Instant::now();
        let deadline = start + self.config.total_timeout;
        let (wait, kind) = if self.config.first_byte_timeout < self.config.total_timeout {
            (self.config.first_byte_timeout, TimeoutKind::FirstByte)
        } else {
            (self.config.total_timeout, TimeoutKind::Total)
        };
        let response = match tokio::time::timeout(wait, request.send()).await {
            Ok(Ok(response)) => response,
            Ok(Err(failure)) => return Err(error::from_reqwest(failure)),
            Err(_) => return Err(error::timeout(kind, wait)),
        };
        Ok(HttpResponse {
            response,
            deadline,
            idle: self.config.idle_timeout,
            total: self.config.total_timeout,
            max_body_bytes: self.config.max_body_bytes,
        })
    }
}

/// A boxed stream of body chunks, each gap bounded by the idle timeout and the whole by the
/// total timeout; it ends after the last chunk or after its first `Err`.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>;

/// How much of an error body is read to classify it; the rest is not needed.
const ERROR_BODY_BYTES: usize = 64 * 1024;

/// A response whose headers arrived; its body is read under the client's timeouts.
#[derive(Debug)]
pub struct HttpResponse {
    response: reqwest::Response,
    deadline: Instant,
    idle: Duration,
    total: Duration,
    max_body_bytes: usize,
}

impl HttpResponse {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.response.status().as_u16()
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        self.response.headers()
    }

    /// The media type of the body (`application/json`), without parameters.
    pub fn content_type(&self) -> Option<&str> {
        error::content_type(self.headers())
    }

    /// The response itself on a 2xx status; otherwise the classified error, read from the
    /// status, the headers and the first 64 KiB of the body.
    pub async fn error_for_status(self) -> Result<Self, Error> {
        if self.response.status().is_success() {
            return Ok(self);
        }
        let status = self.status();
        let headers = self.headers().clone();
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
    pub async fn bytes(self) -> Result<Bytes, Error> {
        let limit = self.max_body_bytes;
        if self
            .response
            .content_length()
            .is_some_and(|length| length > limit as u64)
        {
            return Err(error::body_too_large(limit));
        }
        let capacity = self
            .response
            .content_length()
            .map_or(0, |length| usize::try_from(length).unwrap_or(limit));
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
    pub fn into_stream(self) -> BodyStream {
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
    response: reqwest::Response,
    deadline: Instant,
    idle: Duration,
    total: Duration,
}

impl From<HttpResponse> for BodyReader {
    fn from(response: HttpResponse) -> Self {
        Self {
            response: response.response,
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
        match tokio::time::timeout_at(until, self.response.chunk()).await {
            Ok(Ok(chunk)) => Ok(chunk),
            Ok(Err(failure)) => Err(error::from_reqwest(failure)),
            Err(_) => Err(error::timeout(kind, limit)),
        }
    }
}

#[cfg(test)]
mod tests;
