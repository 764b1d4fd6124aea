//! orkestra-server: the HTTP gateway, an OpenAI-compatible API in front of an [`Orchestrator`].
//!
//! Point any `OpenAI` client at it and set `model` to a model id, an alias, `auto` or
//! `auto:<strategy>` (`cost`, `quality`, `speed`, `balanced`, `local`): the orchestrator picks
//! the model, calls it with its resilience policies and falls back by error class; the gateway
//! reads the request, writes the answer and reports how it was served.
//!
//! # Tour
//!
//! | route | what it answers |
//! |---|---|
//! | `POST /v1/chat/completions` | the answer, plain (`application/json`) or streamed (`text/event-stream`, `data: [DONE]` at the end) |
//! | `GET /v1/models` | `auto`, each `auto:<strategy>` and every served model, in the `OpenAI` list shape ([`models`](crate#models)) |
//! | `GET /v1/models/{id}` | one entry of that list (ids with `/` in them work, an alias answers its model), else `404 model_not_found` |
//! | `POST /v1/route` | how a request would be routed, without calling any model: task analysis, chain, ranking with score breakdowns, exclusions with reasons, and an `explain` text |
//! | `GET /healthz` | liveness: `200 {"status":"pass"}` (`application/health+json`) |
//! | `GET /readyz` | readiness: `200` when the store answers and at least one model can be called, else `503` with the failing check; a `recording` check warns while charges are dropped because the store cannot take them |
//!
//! Chat answers, successful or not, carry these headers:
//!
//! - `x-orkestra-model`: the model that answered (on a failure, the last one tried);
//! - `x-orkestra-attempts`: the model calls made, retries and fallbacks included;
//! - `x-orkestra-skipped`: the candidates their own policy refused without a call (an open
//!   circuit breaker, a full bulkhead, a rate limit);
//! - `x-orkestra-overhead-ms`: the gateway's own time, three decimals: the handler's time minus
//!   the time spent in upstream calls and waiting between attempts (for a stream, up to the
//!   first token);
//! - `x-request-id`: the client's, or a new one; it is also kept with the request's charge.
//!
//! A request may send `x-orkestra-deadline-ms`, a whole number of milliseconds, to lower
//! `routing.deadline` for itself: no attempt starts after it, an attempt's timeout is cut to
//! what is left, and a request still unanswered when it passes is a `504` naming the deadline.
//!
//! A stream fails over transparently until its first token; a failure after it, or an end
//! before every choice's `finish_reason`, ends the stream with an `OpenAI` error event
//! (`data: {"error": {...}}`) and no `data: [DONE]`, so a client never takes a cut answer for a
//! whole one. A stream whose upstream finished the answer but left out its own `data: [DONE]`
//! ends cleanly. The usage chunk is sent only when the request set
//! `stream_options.include_usage`.
//!
//! Errors have the `OpenAI` shape `{"error": {"message", "type", "code", "param"}}`, with the
//! failed model in a `model` field when one was involved; the status of each error class is
//! the table in [`error`]. In short: the caller's mistakes are `400` (a parameter out of its
//! range names it in `param`; `404` for an unknown model, `408` for a body too slow to arrive,
//! `413` for a body over `server.body_limit`), and failures of the upstream models are gateway
//! errors: `429` with `retry-after`, `503`, `504`, `502`, and `402` for an exhausted quota. An
//! upstream's own message, `type`, `code` and `param` are passed on as it wrote them.
//!
//! # Models
//!
//! `GET /v1/models` lists `auto` and `auto:<strategy>` first, owned by `orkestra`, then every
//! model whose endpoint has a backend, `owned_by` its endpoint. Aliases are not entries of their
//! own (a model picker would show each model twice); they are listed on their model as
//! `aliases`, which `OpenAI` clients ignore.
//!
//! # Serving
//!
//! [`serve`] runs its own accept loop over hyper's HTTP/1.1 connections, so that every
//! connection has deadlines and their number a cap (the `[server]` keys, defaults in
//! `docs/configuration.md`):
//!
//! - `header_read_timeout`: a new connection, or a request once its first byte arrived, has
//!   this long to send its headers, or the connection is closed (half-sent requests cannot hold
//!   a connection open);
//! - `body_read_timeout`: the body has this long after the headers, or the answer is `408`;
//! - `idle_timeout`: a keep-alive connection waits this long for its next request;
//! - `max_connections`: at the cap, new connections wait in the listen queue until one closes.
//!
//! [`serve`] runs the connections as tasks of the runtime it is called on; [`serve_on_workers`]
//! (what `orkestra serve` uses) runs them on `server.workers` threads of their own, one
//! single-threaded runtime each, a connection staying on one thread from its accept to its
//! close.
//!
//! It sets `TCP_NODELAY` on every connection and, once its shutdown future completes, stops
//! accepting, lets in-flight requests (streams included) finish for up to
//! `server.shutdown_grace`, then returns; call [`Orchestrator::shutdown`] after it to flush the
//! store. [`router`] gives the [`axum::Router`] alone, to nest or to serve another way (the
//! connection deadlines and the cap are then that server's business).
//! The hot path has no middleware: the deadlines live in the connection's socket and bodies,
//! the response is serialized once into its body, and the body limit is enforced while reading
//! (`http_body_util::Limited`).

//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use orkestra::Orchestrator;
//! use orkestra::config::ServerConfig;
//! use orkestra::models::{ModelId, ModelSpec};
//! use orkestra_providers::EchoBackend;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let orchestrator = Orchestrator::builder()
//!     .model(ModelSpec::new(ModelId::new("echo/small")?, 8_192))
//!     .backend("echo", Arc::new(EchoBackend::new()))
//!     .build()?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! assert!(listener.local_addr()?.port() > 0);
//! // Serve until the shutdown future completes (here at once), then flush the store.
//! orkestra_server::serve(listener, orchestrator.clone(), ServerConfig::default(), async {}).await?;
//! orchestrator.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! This crate has no optional features. It serves HTTP/1.1; TLS and HTTP/2 belong to a proxy in
//! front of it.

use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, post};
use orkestra::Orchestrator;
use orkestra::config::ServerConfig;
use serde::Serialize;

mod chat;
mod connection;
pub mod error;
mod health;
mod models;
mod request;
mod route;
mod workers;

pub use chat::{ATTEMPTS_HEADER, DEADLINE_HEADER, MODEL_HEADER, OVERHEAD_HEADER, SKIPPED_HEADER};
pub use error::ApiError;

/// What every handler shares.
struct Shared {
    orchestrator: Orchestrator,
    body_limit: usize,
    /// Unix seconds at start: the `created` of every model entry.
    started: u64,
}

type App = Arc<Shared>;

/// The gateway's routes over `orchestrator`, with `config.body_limit` applied.
///
/// `config.listen`, `config.shutdown_grace`, the connection timeouts and the connection cap are
/// [`serve`]'s business and ignored here.
pub fn router(orchestrator: Orchestrator, config: &ServerConfig) -> Router {
    let shared = Arc::new(Shared {
        orchestrator,
        body_limit: config.body_limit,
        started: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs()),
    });
    Router::new()
        .route("/v1/chat/completions", post(chat::completions))
        .route("/v1/models", get(models::list))
        // A wildcard, so ids with `/` in them (`openai/gpt-4o`) are one id.
        .route("/v1/models/{*id}", get(models::retrieve))
        .route("/v1/route", post(route::explain))
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .fallback(unknown_url)
        .method_not_allowed_fallback(wrong_method)
        .with_state(shared)
}

/// Serves the gateway on `listener` until `shutdown` completes, then drains in-flight requests
/// for up to `config.shutdown_grace` and returns.
///
/// Each connection gets `config.header_read_timeout`, `config.body_read_timeout` and
/// `config.idle_timeout`, and at most `config.max_connections` are open at once (see
/// [Serving](crate#serving)). Connections still open when the grace period ends are left to
/// the runtime: their requests are cut when it shuts down. The orchestrator is not shut down
/// here; call [`Orchestrator::shutdown`] afterwards to flush the store.
pub async fn serve(
    listener: tokio::net::TcpListener,
    orchestrator: Orchestrator,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(orchestrator, &config);
    connection::serve(listener, app, &config, None, shutdown).await
}

/// Serves the gateway as [`serve`] does, with its connections spread over `config.workers`
/// threads (`0`: one per CPU), each running a single-threaded runtime of its own; the accept
/// loop runs on the calling runtime and hands connections to the workers in turn. This is what
/// `orkestra serve` does: a connection stays on one thread from its accept to its close, which
/// costs less CPU per request than a work-stealing runtime (see [Serving](crate#serving)).
///
/// Call it from a runtime other than the workers' (any flavour); it returns once every worker
/// has drained.
pub async fn serve_on_workers(
    listener: tokio::net::TcpListener,
    orchestrator: Orchestrator,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(orchestrator, &config);
    let workers = workers::Workers::start(workers::count(&config), &app, &config)?;
    connection::serve(listener, app, &config, Some(workers), shutdown).await
}

/// A JSON body serialized once, `200 application/json`.
fn json_response<T: Serialize>(value: &T) -> Response {
    match orkestra_core::json::to_vec(value) {
        Ok(json) => {
            let mut response = Response::new(Body::from(json));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(error) => ApiError::from_error(&orkestra_core::Error::new(
            orkestra_core::ErrorCategory::Internal,
            format!("the answer could not be serialized: {error}"),
        ))
        .into_response(),
    }
}

async fn unknown_url(uri: axum::http::Uri) -> Response {
    ApiError {
        status: StatusCode::NOT_FOUND,
        ..ApiError::invalid_request(
            "unknown_url",
            format!(
                "no route {}: the gateway serves POST /v1/chat/completions, GET /v1/models, GET /v1/models/{{id}}, POST /v1/route, GET /healthz and GET /readyz",
                uri.path()
            ),
            None,
        )
    }
    .into_response()
}

async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        ..ApiError::invalid_request(
            "method_not_allowed",
            format!("{} does not accept {method}", uri.path()),
            None,
        )
    }
    .into_response()
}
