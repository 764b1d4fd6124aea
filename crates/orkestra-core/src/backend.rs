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
///
/// A router sends one caller's request to several upstream models in turn, each under its own
/// name (`gpt-4o-mini` for the caller's `openai/gpt-4o-mini`). [`ChatBackend::chat_as`] and
/// [`ChatBackend::stream_as`] take that name beside the request, so a backend that writes the
/// request itself (every wire client) never copies it; the default methods copy the request
/// once with the name changed, which is right for a backend that just forwards it.
#[async_trait]
pub trait ChatBackend: Send + Sync {
    /// Answers `request` in one piece.
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error>;

    /// Answers `request` as a stream of events.
    ///
    /// An `Err` here means no event was produced; failures after the first event arrive as
    /// an `Err` item of the stream.
    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error>;

    /// Answers `request` as if its `model` were `model`.
    ///
    /// The default copies the request with `model` written in, unless it names `model`
    /// already; a backend that serialises the request should override it and write `model`
    /// in place of the request's own.
    async fn chat_as(&self, model: &str, request: &ChatRequest) -> Result<ChatResponse, Error> {
        if request.model == model {
            return self.chat(request).await;
        }
        self.chat(&renamed(model, request)).await
    }

    /// Streams the answer to `request` as if its `model` were `model`; see
    /// [`ChatBackend::chat_as`].
    async fn stream_as(&self, model: &str, request: &ChatRequest) -> Result<ChatStream, Error> {
        if request.model == model {
            return self.stream(request).await;
        }
        self.stream(&renamed(model, request)).await
    }
}

/// A copy of `request` naming `model`.
fn renamed(model: &str, request: &ChatRequest) -> ChatRequest {
    let mut copy = request.clone();
    model.clone_into(&mut copy.model);
    copy
}

/// A borrowed backend that answers every request as one model, through
/// [`ChatBackend::chat_as`] and [`ChatBackend::stream_as`]: the request is passed on as it
/// is, never copied.
///
/// It lets code written against `&dyn ChatBackend` and a request send that request to an
/// upstream model of another name.
///
/// ```
/// use orkestra_core::{AsModel, ChatBackend, ChatRequest, ChatResponse, ChatStream, Error};
/// use orkestra_core::{ErrorCategory, Message};
///
/// /// Answers nothing, but says which model it was asked for.
/// struct Upstream;
///
/// #[async_trait::async_trait]
/// impl ChatBackend for Upstream {
///     async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
///         Err(Error::new(ErrorCategory::NotFound, format!("asked for {}", request.model)))
///     }
///     async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
///         Err(Error::new(ErrorCategory::NotFound, format!("asked for {}", request.model)))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let request = ChatRequest::new("openai/gpt-4o-mini", vec![Message::user("Hi")]);
/// let error = AsModel::new(&Upstream, "gpt-4o-mini").chat(&request).await.unwrap_err();
/// assert_eq!(error.message, "asked for gpt-4o-mini");
/// assert_eq!(request.model, "openai/gpt-4o-mini", "the caller's request is untouched");
/// # }
/// ```
#[derive(Clone, Copy)]
pub struct AsModel<'a> {
    backend: &'a dyn ChatBackend,
    model: &'a str,
}

impl<'a> AsModel<'a> {
    /// `backend`, answering every request as `model`.
    pub fn new(backend: &'a dyn ChatBackend, model: &'a str) -> Self {
        Self { backend, model }
    }

    /// The model every request is sent as.
    pub fn model(&self) -> &str {
        self.model
    }
}

impl fmt::Debug for AsModel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsModel")
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl ChatBackend for AsModel<'_> {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        self.backend.chat_as(self.model, request).await
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        self.backend.stream_as(self.model, request).await
    }

    async fn chat_as(&self, model: &str, request: &ChatRequest) -> Result<ChatResponse, Error> {
        self.backend.chat_as(model, request).await
    }

    async fn stream_as(&self, model: &str, request: &ChatRequest) -> Result<ChatStream, Error> {
        self.backend.stream_as(model, request).await
    }
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
    /// Boxed twice so the field is one pointer wide: an `Error` travels in every `Result` of
    /// the request path, and the cause is rare and only read when reported.
    source: Option<Box<Box<dyn StdError + Send + Sync>>>,
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
        self.source = Some(Box::new(Box::new(source)));
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
            .map(|source| &**source as &(dyn StdError + 'static))
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
