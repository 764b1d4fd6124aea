//! The [`ChatBackend`] trait and the crate's [`Error`].
//!
//! Providers, the orchestrator and test doubles implement [`ChatBackend`], so anything that
//! consumes a backend (the eval runner, a workflow step, the gateway) takes a single raw
//! provider or a routed, resilient orchestrator alike.

use std::error::Error as StdError;
use std::fmt;
use std::pin::Pin;

use async_trait::async_trait;
use futures_core::Stream;

use crate::chat::{ChatRequest, ChatResponse};
use crate::error::{Classify, ErrorCategory, ErrorClass};
use crate::stream::StreamEvent;

/// A streamed answer: events, then the end of the stream or one `Err` item.
///
/// A stream that the server cut without its terminator yields an `Err`, never a clean end.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, Error>> + Send>>;

/// Something that answers chat requests.
#[async_trait]
pub trait ChatBackend: Send + Sync {
    /// Answers `request` in one piece.
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error>;

    /// Answers `request` as a stream of events.
    ///
    /// An `Err` here means no event was produced; failures after the first event arrive as
    /// an `Err` item of the stream.
    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error>;
}

/// A failed backend call: its class, a one-line message, and where it came from.
///
/// ```
/// use orkestra_core::{Classify, Error, ErrorCategory};
///
/// let error = Error::new(ErrorCategory::RateLimited, "slow down").with_status(429);
/// assert!(error.class().retryable);
/// assert_eq!(error.to_string(), "rate_limited: slow down (HTTP 429)");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Error {
    /// What kind of failure this is.
    pub class: ErrorClass,
    /// What went wrong, in one line.
    pub message: String,
    /// The HTTP status, when the failure was an HTTP answer.
    pub status: Option<u16>,
    /// The provider that failed, when known.
    pub provider: Option<String>,
    /// The model that failed, when known.
    pub model: Option<String>,
    /// The upstream error body's own `type`, `code` and `param`, when it had them: a gateway
    /// passes them on unchanged, with [`Error::message`] as the upstream wrote it.
    pub upstream: Option<Box<UpstreamDetails>>,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl Error {
    /// An error of `category` with default retryability and severity.
    pub fn new(category: ErrorCategory, message: impl Into<String>) -> Self {
        Self::with_class(ErrorClass::new(category), message)
    }

    /// An error of an explicit class.
    pub fn with_class(class: ErrorClass, message: impl Into<String>) -> Self {
        Self {
            class,
            message: message.into(),
            status: None,
            provider: None,
            model: None,
            upstream: None,
            source: None,
        }
    }

    /// The same error with an HTTP status.
    #[must_use]
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// The same error naming the provider.
    #[must_use]
    pub fn with_provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// The same error naming the model.
    #[must_use]
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// The same error with the upstream error body's `type`, `code` and `param`.
    #[must_use]
    pub fn with_upstream(mut self, details: UpstreamDetails) -> Self {
        self.upstream = Some(Box::new(details));
        self
    }

    /// The same error with an underlying cause, reported by [`StdError::source`].
    #[must_use]
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
}

/// The fields of an upstream error body besides its message, kept verbatim.
///
/// In the `OpenAI` shape `{"error": {"message", "type", "code", "param"}}`; Anthropic's
/// `{"type": "error", "error": {"type", "message"}}` has a `type` only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpstreamDetails {
    /// The body's `type` (`invalid_request_error`, `overloaded_error`, ...).
    pub kind: Option<String>,
    /// The body's `code` (`context_length_exceeded`, `rate_limit_exceeded`, ...).
    pub code: Option<String>,
    /// The body's `param`: the request field at fault.
    pub param: Option<String>,
}

impl UpstreamDetails {
    /// Details from the three optional fields.
    pub fn new(kind: Option<String>, code: Option<String>, param: Option<String>) -> Self {
        Self { kind, code, param }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class.category.as_str(), self.message)?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        if let Some(model) = &self.model {
            write!(f, " [model {model}]")?;
        }
        Ok(())
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}

impl Classify for Error {
    fn class(&self) -> ErrorClass {
        self.class
    }
}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        Self::with_class(error.class(), error.to_string()).with_source(error)
    }
}

#[cfg(test)]
mod tests;
