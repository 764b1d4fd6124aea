//! What a routed call reports: every attempt, the model that answered, and where time went.

use std::fmt;
use std::time::Duration;

use orkestra_core::{ChatResponse, ChatStream, Classify, Error, ErrorClass};
use orkestra_models::{ModelId, Strategy};

/// One call of one model (a retry is a new attempt).
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The model called.
    pub model: ModelId,
    /// The endpoint (provider) that served it.
    pub endpoint: String,
    /// `None` on success, else the error's class.
    pub error: Option<ErrorClass>,
    /// The HTTP status of a failed attempt, when the upstream answered one.
    pub status: Option<u16>,
    /// From the call to its answer (a streamed attempt: to its first token).
    pub latency: Duration,
}

impl Attempt {
    /// Whether the attempt succeeded.
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }

    /// `ok`, or the error category's name.
    pub fn outcome(&self) -> &'static str {
        self.error.map_or("ok", |class| class.category.as_str())
    }
}

impl fmt::Display for Attempt {
    /// `sim/fast ok 1.2ms` or `sim/fast rate_limited (HTTP 429) 0.4ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.model, self.outcome())?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        write!(f, " {:.1}ms", self.latency.as_secs_f64() * 1e3)
    }
}

/// How a request was routed and served.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RouteReport {
    /// The strategy of an automatic selection; `None` when the request named a model.
    pub strategy: Option<Strategy>,
    /// Every attempt, in order; the last one answered when the call succeeded.
    pub attempts: Vec<Attempt>,
    /// Time spent inside upstream calls, summed over attempts.
    pub upstream: Duration,
    /// Time spent waiting between attempts (backoff, `Retry-After`).
    pub waited: Duration,
}

impl RouteReport {
    /// The model that answered: the last attempt's, when it succeeded.
    pub fn model(&self) -> Option<&ModelId> {
        self.attempts
            .last()
            .filter(|attempt| attempt.succeeded())
            .map(|attempt| &attempt.model)
    }
}

/// A routed, answered request.
#[derive(Debug, Clone)]
pub struct Completion {
    /// The answer, with `model` set to the id of the model that answered.
    pub response: ChatResponse,
    /// How it was routed.
    pub report: RouteReport,
}

/// A routed stream whose first token has arrived: failures before it were absorbed by falling
/// back; a failure after it ends the stream with an `Err` item.
pub struct RoutedStream {
    /// The events, the first content already buffered.
    pub stream: ChatStream,
    /// How it was routed, up to the first token.
    pub report: RouteReport,
}

impl fmt::Debug for RoutedStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoutedStream")
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

/// A request no model answered: the error to report, and every attempt made.
#[derive(Debug)]
pub struct CallError {
    /// The error the caller sees: the caller's own mistake, or the last model's failure.
    pub error: Error,
    /// How it was routed.
    pub report: RouteReport,
}

impl CallError {
    /// An error before any model was called.
    pub fn before_routing(error: Error) -> Self {
        Self {
            error,
            report: RouteReport::default(),
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)?;
        let attempts = self.report.attempts.len();
        if attempts > 1 {
            write!(f, " (after {attempts} attempts)")?;
        }
        Ok(())
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl Classify for CallError {
    fn class(&self) -> ErrorClass {
        self.error.class
    }
}

impl From<CallError> for Error {
    fn from(error: CallError) -> Self {
        error.error
    }
}
