//! Error classification: what went wrong, whether trying again can help, and how bad it is.
//!
//! Resilience policies never match on a foreign error's variants: they ask [`Classify::class`]
//! and act on the answer. The rules below are the defaults; a [`Classify`] impl may override
//! any field (for instance a 503 with `Retry-After`, or an error it knows is not retryable).
//!
//! # Severity rules
//!
//! | category | severity | retryable | why |
//! |---|---|---|---|
//! | `auth` | critical | no | a wrong or revoked key needs an operator; every call fails until then |
//! | `resource_exhausted` | critical | no | out of memory or quota: the same call fails again until capacity returns |
//! | `network` | high | yes | connect refused, reset, DNS: often transient, but a whole endpoint is unreachable |
//! | `timeout` | high | yes | the call may still be running upstream; latency budgets are being blown |
//! | `internal` | high | yes | a 5xx or a bug on the other side; retry once, but it needs attention |
//! | `overloaded` | medium | yes | 503 / 529: the server asks us to back off |
//! | `rate_limited` | medium | yes | 429: expected under load, honours `retry_after` |
//! | `invalid_request` | medium | no | a validation error: the caller must change the request |
//! | `context_length` | medium | no | only a model with a larger context window can answer |
//! | `not_found` | medium | no | unknown model or route: configuration, not load |
//! | `content_filter` | low | no | a policy refusal for this prompt; other prompts are fine |
//! | `cancelled` | info | no | the caller gave up; neither the caller's nor the server's fault |

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What kind of failure an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCategory {
    /// Connection refused or reset, DNS failure, broken pipe.
    Network,
    /// No answer in time (connect, first byte, idle or total).
    Timeout,
    /// The server refused because the caller sent too much (HTTP 429).
    RateLimited,
    /// The server is too busy to take the call (HTTP 503, Anthropic 529).
    Overloaded,
    /// The key is missing, wrong, revoked or lacks the permission (HTTP 401, 402, 403).
    Auth,
    /// The request itself is wrong (HTTP 400, 413, 422, malformed body).
    InvalidRequest,
    /// The prompt plus the requested output does not fit the model's context window.
    ContextLength,
    /// The provider's content policy refused the prompt or the answer.
    ContentFilter,
    /// The model, route or resource does not exist (HTTP 404).
    NotFound,
    /// A resource ran out: memory on a local model host, a spending or token quota.
    ResourceExhausted(Resource),
    /// The other side failed (HTTP 500, 502, a malformed response) or we hit a bug.
    Internal,
    /// The caller cancelled the call.
    Cancelled,
}

/// Which resource an [`ErrorCategory::ResourceExhausted`] error ran out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Resource {
    /// Host or accelerator memory.
    Memory,
    /// A spending, token or request quota (HTTP 402 "insufficient quota" and the like).
    Quota,
    /// Disk space.
    Disk,
    /// Anything else that ran out.
    Other,
}

impl ErrorCategory {
    /// Every category, for exhaustive tables in tests and documentation.
    pub const ALL: [Self; 15] = [
        Self::Network,
        Self::Timeout,
        Self::RateLimited,
        Self::Overloaded,
        Self::Auth,
        Self::InvalidRequest,
        Self::ContextLength,
        Self::ContentFilter,
        Self::NotFound,
        Self::ResourceExhausted(Resource::Memory),
        Self::ResourceExhausted(Resource::Quota),
        Self::ResourceExhausted(Resource::Disk),
        Self::ResourceExhausted(Resource::Other),
        Self::Internal,
        Self::Cancelled,
    ];

    /// The severity of this category, by the rules in the [module docs](self).
    pub const fn default_severity(self) -> Severity {
        match self {
            Self::Auth | Self::ResourceExhausted(_) => Severity::Critical,
            Self::Network | Self::Timeout | Self::Internal => Severity::High,
            Self::Overloaded
            | Self::RateLimited
            | Self::InvalidRequest
            | Self::ContextLength
            | Self::NotFound => Severity::Medium,
            Self::ContentFilter => Severity::Low,
            Self::Cancelled => Severity::Info,
        }
    }

    /// Whether calling again (after a pause) can succeed, by the rules in the [module docs](self).
    pub const fn default_retryable(self) -> bool {
        matches!(
            self,
            Self::Network | Self::Timeout | Self::RateLimited | Self::Overloaded | Self::Internal
        )
    }

    /// A stable `snake_case` name, the same as the serde form, for logs and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Network => "network",
            Self::Timeout => "timeout",
            Self::RateLimited => "rate_limited",
            Self::Overloaded => "overloaded",
            Self::Auth => "auth",
            Self::InvalidRequest => "invalid_request",
            Self::ContextLength => "context_length",
            Self::ContentFilter => "content_filter",
            Self::NotFound => "not_found",
            Self::ResourceExhausted(_) => "resource_exhausted",
            Self::Internal => "internal",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for ErrorCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ResourceExhausted(resource) => write!(f, "resource_exhausted ({resource:?})"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// How urgently a failure needs attention, from [`Severity::Info`] to [`Severity::Critical`].
///
/// Ordered: `Severity::Critical > Severity::High`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Expected and harmless, such as a caller cancelling.
    Info,
    /// Affects one request and needs no action.
    Low,
    /// Affects requests until the caller or the load changes.
    Medium,
    /// An endpoint is failing; operators should look soon.
    High,
    /// Nothing will work until someone acts (credentials, capacity).
    Critical,
}

/// The verdict on one error: its category, whether to retry, when, and how bad it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ErrorClass {
    /// What kind of failure this is.
    pub category: ErrorCategory,
    /// Whether the same call may succeed if made again.
    pub retryable: bool,
    /// How long the server asked us to wait before calling again, if it said.
    #[serde(
        default,
        with = "optional_millis",
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_after: Option<Duration>,
    /// How urgently the failure needs attention.
    pub severity: Severity,
}

impl ErrorClass {
    /// A class with the default retryability and severity of `category`.
    pub const fn new(category: ErrorCategory) -> Self {
        Self {
            category,
            retryable: category.default_retryable(),
            retry_after: None,
            severity: category.default_severity(),
        }
    }

    /// The same class with the server's requested wait.
    #[must_use]
    pub const fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }

    /// The same class with retryability overridden.
    #[must_use]
    pub const fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// The same class with severity overridden.
    #[must_use]
    pub const fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }
}

impl From<ErrorCategory> for ErrorClass {
    fn from(category: ErrorCategory) -> Self {
        Self::new(category)
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({:?}, {})",
            self.category,
            self.severity,
            if self.retryable {
                "retryable"
            } else {
                "not retryable"
            }
        )?;
        if let Some(after) = self.retry_after {
            write!(f, ", retry after {after:?}")?;
        }
        Ok(())
    }
}

/// A class is itself an error: "a failure known only by its class", which tests, examples and
/// simple adapters can return without a type of their own.
impl std::error::Error for ErrorClass {}

/// An error that can say what kind of failure it is.
///
/// Implement it for your error type and every orkestra resilience policy can wrap calls that
/// return it. Classification must be a pure function of the error: policies may ask twice.
pub trait Classify {
    /// The class of this error.
    fn class(&self) -> ErrorClass;
}

impl Classify for ErrorClass {
    fn class(&self) -> ErrorClass {
        *self
    }
}

impl<T: Classify + ?Sized> Classify for &T {
    fn class(&self) -> ErrorClass {
        (**self).class()
    }
}

impl<T: Classify + ?Sized> Classify for Box<T> {
    fn class(&self) -> ErrorClass {
        (**self).class()
    }
}

impl Classify for std::io::Error {
    fn class(&self) -> ErrorClass {
        use std::io::ErrorKind as K;
        let category = match self.kind() {
            K::ConnectionRefused
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::NotConnected
            | K::BrokenPipe
            | K::AddrNotAvailable
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::NetworkDown
            | K::UnexpectedEof
            | K::Interrupted => ErrorCategory::Network,
            K::TimedOut | K::WouldBlock => ErrorCategory::Timeout,
            K::OutOfMemory => ErrorCategory::ResourceExhausted(Resource::Memory),
            K::StorageFull | K::QuotaExceeded => ErrorCategory::ResourceExhausted(Resource::Disk),
            K::InvalidInput | K::InvalidData | K::InvalidFilename | K::FileTooLarge => {
                ErrorCategory::InvalidRequest
            }
            K::NotFound => ErrorCategory::NotFound,
            K::PermissionDenied => ErrorCategory::Auth,
            _ => ErrorCategory::Internal,
        };
        ErrorClass::new(category)
    }
}

impl Classify for serde_json::Error {
    /// A JSON error while reading is the sender's fault: the body is invalid, not retryable.
    fn class(&self) -> ErrorClass {
        match self.classify() {
            serde_json::error::Category::Io => ErrorClass::new(ErrorCategory::Network),
            _ => ErrorClass::new(ErrorCategory::InvalidRequest),
        }
    }
}

/// Serde for `Option<Duration>` as integer milliseconds, the unit HTTP headers and logs use.
mod optional_millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    // Serde's `with` calls this with `&Option<_>`; the signature is fixed by that contract.
    #[expect(
        clippy::ref_option,
        reason = "serde's `with` passes `&Option<_>`; the signature is its contract"
    )]
    pub(super) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(duration) => {
                serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
            }
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(deserializer)?.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests;
