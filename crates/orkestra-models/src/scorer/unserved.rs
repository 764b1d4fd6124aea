//! [`NoCandidate`]: why no model can serve a request, model by model.

use std::fmt;

use orkestra_core::{ErrorCategory, ErrorClass};

use super::selection::Exclusion;
use crate::spec::{Capability, ModelId};

/// Why no model can serve a request: every model's exclusion, which also decides the class
/// of [`Error::Unserved`](crate::Error::Unserved), the error that carries it.
///
/// | exclusions of the models the routing policy allows | category |
/// |---|---|
/// | every one a context window too small | `context_length` |
/// | one an open circuit breaker | `overloaded`: it may serve the request later |
/// | any other (a missing capability, the output limit, the budget, the latency target) | `invalid_request` |
/// | none: no model at all, or the configuration leaves none | `overloaded`, not retryable |
///
/// Models the configuration rules out ([`Exclusion::is_policy`]: deny and allow lists,
/// local-only, a least context window, no provider) are listed but do not decide the class:
/// they were never the request's to have.
///
/// ```
/// use orkestra_core::{Classify, ErrorCategory};
/// use orkestra_models::{Error, ModelId};
/// use orkestra_models::scorer::{Exclusion, NoCandidate};
///
/// let small = ModelId::new("sim/small")?;
/// let refusal = NoCandidate::new(vec![(small, Exclusion::ContextWindow { needed: 125_010, window: 16_384 })]);
/// let error = Error::Unserved(refusal);
/// assert_eq!(error.class().category, ErrorCategory::ContextLength);
/// assert_eq!(
///     error.to_string(),
///     "the request needs 125010 tokens, more than the context window of every model that may \
///      serve it: sim/small: needs 125010 tokens, context window is 16384"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoCandidate {
    excluded: Vec<(ModelId, Exclusion)>,
}

/// What the exclusions say together: the lead of the message and the class.
enum Verdict {
    ContextLength { needed: u64 },
    Capability(Capability),
    Unavailable,
    NoModel,
    Other,
}

impl NoCandidate {
    /// The refusal of a request every one of these models is excluded from.
    pub fn new(excluded: Vec<(ModelId, Exclusion)>) -> Self {
        Self { excluded }
    }

    /// Each model and why it cannot serve the request.
    pub fn excluded(&self) -> &[(ModelId, Exclusion)] {
        &self.excluded
    }

    fn verdict(&self) -> Verdict {
        let mut relevant = self
            .excluded
            .iter()
            .map(|(_, reason)| reason)
            .filter(|reason| !reason.is_policy())
            .peekable();
        let Some(&first) = relevant.peek() else {
            return Verdict::NoModel;
        };
        let reasons: Vec<&Exclusion> = relevant.collect();
        if reasons.iter().any(|r| matches!(r, Exclusion::BreakerOpen)) {
            return Verdict::Unavailable;
        }
        if let Some(needed) = reasons
            .iter()
            .map(|reason| match reason {
                Exclusion::ContextWindow { needed, .. } => Some(*needed),
                _ => None,
            })
            .try_fold(0, |most: u64, needed| needed.map(|n| most.max(n)))
        {
            return Verdict::ContextLength { needed };
        }
        if let Exclusion::MissingCapability { capability } = first
            && reasons.iter().all(
                |r| matches!(r, Exclusion::MissingCapability { capability: c } if c == capability),
            )
        {
            return Verdict::Capability(*capability);
        }
        Verdict::Other
    }
}

impl NoCandidate {
    /// The class of the refusal, by the table above.
    pub(crate) fn class(&self) -> ErrorClass {
        match self.verdict() {
            Verdict::ContextLength { .. } => ErrorClass::new(ErrorCategory::ContextLength),
            Verdict::Capability(_) | Verdict::Other => {
                ErrorClass::new(ErrorCategory::InvalidRequest)
            }
            Verdict::Unavailable => ErrorClass::new(ErrorCategory::Overloaded),
            // Only a configuration change helps: asking again will not.
            Verdict::NoModel => ErrorClass::new(ErrorCategory::Overloaded).with_retryable(false),
        }
    }
}

impl fmt::Display for NoCandidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.verdict() {
            Verdict::ContextLength { needed } => write!(
                f,
                "the request needs {needed} tokens, more than the context window of every model \
                 that may serve it"
            )?,
            Verdict::Capability(capability) => write!(
                f,
                "the request requires {capability}, which no model that may serve it has"
            )?,
            Verdict::Unavailable => f.write_str(
                "no model can serve this request now: the ones that could have an open circuit \
                 breaker",
            )?,
            Verdict::NoModel if self.excluded.is_empty() => {
                return f.write_str("no model is configured");
            }
            Verdict::NoModel => f.write_str("no configured model is available to this request")?,
            Verdict::Other => f.write_str("no model can serve this request")?,
        }
        for (i, (model, reason)) in self.excluded.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{model}: {reason}")?;
        }
        Ok(())
    }
}
