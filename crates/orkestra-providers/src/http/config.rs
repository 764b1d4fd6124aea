//! [`HttpConfig`]: the timeouts, the pool and the body cap of one client.

use std::time::Duration;

use orkestra_core::{Error, ErrorCategory};
use serde::{Deserialize, Serialize};

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
    /// new connect (at 64 calls in flight and a cap of 32, a connect per call or so). Idle
    /// connections past `pool_idle_timeout` are closed in the background, whether or not the
    /// host is called again. `http://` upstreams have one pool per calling thread, each with
    /// this cap.
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
