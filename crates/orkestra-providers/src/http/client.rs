//! [`HttpClient`]: sending a request over the transport its URL's scheme picks.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Method;
use hyper::header::{CONTENT_LENGTH, HeaderValue, USER_AGENT};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use orkestra_core::Error;
use thread_local::ThreadLocal;
use tokio::time::Instant;

use super::endpoint::{IntoEndpoint, Target};
use super::request::RequestBuilder;
use super::response::{Body, HttpResponse};
use super::{HttpConfig, TCP_KEEPALIVE, USER_AGENT_VALUE, install_crypto_provider};
use crate::error::{self, TimeoutKind};

/// A pooled HTTP client with the timeouts and size cap of an [`HttpConfig`].
///
/// Cheap to clone: clones share the connection pools.
///
/// The `http://` pool is kept per thread: a pooled connection is driven by a task on the
/// runtime that opened it, so on a gateway serving each connection on one thread (one
/// single-threaded runtime per core), a request reusing another thread's upstream connection
/// would wake that thread twice per call. Each thread opens and reuses its own, up to
/// `pool_max_idle_per_host` idle ones each.
#[derive(Debug, Clone)]
pub(crate) struct HttpClient {
    inner: Arc<ClientInner>,
}

#[derive(Debug)]
struct ClientInner {
    config: HttpConfig,
    /// The `http://` transport, one client (and pool) per thread that sends.
    plain: ThreadLocal<Client<HttpConnector, Full<Bytes>>>,
    /// The `https://` transport.
    tls: reqwest::Client,
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
            .tcp_keepalive(Some(TCP_KEEPALIVE))
            .user_agent(USER_AGENT_VALUE)
            .build()
            .map_err(error::from_reqwest)?;
        Ok(Self {
            inner: Arc::new(ClientInner {
                config,
                plain: ThreadLocal::new(),
                tls,
            }),
        })
    }

    /// This thread's `http://` client, made on its first request.
    fn plain(&self) -> &Client<HttpConnector, Full<Bytes>> {
        self.inner.plain.get_or(|| {
            let config = &self.inner.config;
            let mut connector = HttpConnector::new();
            connector.set_nodelay(true);
            connector.set_keepalive(Some(TCP_KEEPALIVE));
            connector.set_connect_timeout(Some(config.connect_timeout));
            // The pool's timer closes idle connections past `pool_idle_timeout` in the
            // background, whether or not their host is called again.
            Client::builder(TokioExecutor::new())
                .pool_idle_timeout(config.pool_idle_timeout)
                .pool_max_idle_per_host(config.pool_max_idle_per_host)
                .pool_timer(TokioTimer::new())
                .build(connector)
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
            mut headers,
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
        let sent = match endpoint.target() {
            Target::Plain(uri) => {
                if !headers.contains_key(USER_AGENT) {
                    headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
                }
                let mut request = hyper::Request::new(Full::new(body));
                *request.method_mut() = method;
                *request.uri_mut() = uri.clone();
                *request.headers_mut() = headers;
                tokio::time::timeout(wait, async {
                    let response = self
                        .plain()
                        .request(request)
                        .await
                        .map_err(error::from_client)?;
                    let (parts, incoming) = response.into_parts();
                    Ok::<_, Error>((parts.status, parts.headers, Body::Plain(incoming)))
                })
                .await
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
}
