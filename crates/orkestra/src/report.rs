//! What a routed call reports: every attempt, the model that answered, and where time went.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use orkestra_core::{ChatResponse, ChatStream, Classify, Error, ErrorClass};
use orkestra_models::{ModelId, Strategy};

/// One turn of one model in the chain: a call (a retry is a new call), or a candidate its own
/// policy refused without calling it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The model called, or refused.
    pub model: ModelId,
    /// The endpoint (provider) that serves it.
    pub endpoint: Arc<str>,
    /// `None` on success, else the error's class.
    pub error: Option<ErrorClass>,
    /// The HTTP status of a failed attempt, when the upstream answered one.
    pub status: Option<u16>,
    /// From the call to its answer (a streamed attempt: to its first token).
    pub latency: Duration,
    /// Whether the model was called: `false` when the model's own policy (an open circuit
    /// breaker, a full bulkhead, its rate limit) refused the attempt before any call.
    pub called: bool,
}

impl Attempt {
    /// Whether the attempt succeeded.
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }

    /// Whether the model's own policy refused the attempt, so no call was made.
    pub fn skipped(&self) -> bool {
        !self.called
    }

    /// `ok`, or the error category's name.
    pub fn outcome(&self) -> &'static str {
        self.error.map_or("ok", |class| class.category.as_str())
    }
}

impl fmt::Display for Attempt {
    /// `sim/fast ok 1.2ms`, `sim/fast rate_limited (HTTP 429) 0.4ms`, or for a candidate its
    /// policy refused, `sim/fast overloaded (skipped, not called)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.model, self.outcome())?;
        if !self.called {
            return f.write_str(" (skipped, not called)");
        }
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
    /// Every attempt, in order, calls and skipped candidates alike; the last one answered when
    /// the call succeeded.
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

    /// Model calls made, retries and fallbacks included.
    pub fn calls(&self) -> usize {
        self.attempts
            .iter()
            .filter(|attempt| attempt.called)
            .count()
    }

    /// Candidates refused by their own policy (an open circuit breaker, a full bulkhead, a rate
    /// limit) without a call.
    pub fn skipped(&self) -> usize {
        self.attempts.len() - self.calls()
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
        let (calls, skipped) = (self.report.calls(), self.report.skipped());
        match (calls, skipped) {
            (0 | 1, 0) => Ok(()),
            (calls, 0) => write!(f, " (after {calls} model calls)"),
            (calls, skipped) => write!(
                f,
                " (after {calls} model call{}, {skipped} candidate{} skipped)",
                if calls == 1 { "" } else { "s" },
                if skipped == 1 { "" } else { "s" }
            ),
        }
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
