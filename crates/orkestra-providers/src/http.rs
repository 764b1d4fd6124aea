//! The HTTP layer every client shares: [`HttpConfig`], [`HttpClient`], [`Endpoint`] and
//! [`HttpResponse`], one concept per file.
//!
//! Two transports behind one interface, chosen by the URL's scheme when the [`Endpoint`] is
//! parsed (once, when a provider client is built), both `hyper_util`'s pooled client:
//!
//! - `http://` (vLLM, llama.cpp, Ollama, LM Studio, the simulator: servers near the gateway,
//!   where the HTTP stack's own microseconds show): `hyper_util`'s client directly, HTTP/1.1,
//!   no proxy. It replaced a pool of our own, which was not clearly faster when the two were
//!   measured side by side (`docs/performance.md`).
//! - `https://` (cloud APIs): `reqwest`, itself on `hyper_util`'s client, with rustls on the
//!   ring provider, HTTP/2 when the server offers it (ALPN) and HTTP/1.1 otherwise, honouring
//!   the usual proxy variables. There the network dominates.
//!
//! Both set `TCP_NODELAY` (a small request must not wait for Nagle's algorithm and a delayed
//! ACK, the ~40 ms stall seen in other gateways) and TCP keepalive, close idle pooled
//! connections in the background once they pass `pool_idle_timeout`, and share four timeouts:
//!
//! - `connect_timeout`: opening the connection;
//! - `first_byte_timeout`: from sending the request to the response headers;
//! - `idle_timeout`: between two body chunks, so a stalled stream fails even when the total
//!   budget is long;
//! - `total_timeout`: the whole call, from sending to the last body byte.
//!
//! Cancellation is dropping: every future and stream here owns its request, and dropping it
//! before the answer's end closes the connection (HTTP/1 cannot reuse a connection with a
//! half-read answer; HTTP/2 resets the stream), so a caller that gives up frees the server's
//! slot at once. A connection goes back to the pool only once its answer was read to the end.

mod client;
mod config;
mod endpoint;
mod request;
mod response;

use std::collections::BTreeMap;
use std::sync::Once;
use std::time::Duration;

use hyper::header::{HeaderMap, HeaderName, HeaderValue};

pub(crate) use client::HttpClient;
pub use config::HttpConfig;
pub(crate) use endpoint::Endpoint;
pub(crate) use request::RequestBuilder;
pub(crate) use response::{BodyStream, HttpResponse};

/// `orkestra/<version>`.
const USER_AGENT_VALUE: &str = concat!("orkestra/", env!("CARGO_PKG_VERSION"));

/// How long a connection stays quiet before TCP checks that the other end is still there: a
/// peer that vanished (a rebooted server, a dropped NAT entry) is noticed while the connection
/// waits in the pool, not by the next call.
const TCP_KEEPALIVE: Duration = Duration::from_secs(30);

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

/// Adds a configuration's extra `headers` to `headers`, each marked sensitive (it may carry a
/// token); a name or value that is not valid in HTTP is an error naming the header.
pub(crate) fn extra_headers(
    headers: &mut HeaderMap,
    extra: &BTreeMap<String, String>,
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

#[cfg(test)]
mod tests;
