//! [`Fallback`]: when a call fails, try ordered alternatives chosen by the error's class.
//!
//! Each alternative names the error categories it can handle: a model with a larger context
//! window for `context_length`, another provider for `overloaded` or `rate_limited`, a cached
//! or canned answer for anything transient. After a failure of category `c`, the fallback runs
//! the next alternative, in the order they were added and after the one that just failed,
//! whose set contains `c`; its failure is handled the same way. When no later alternative
//! handles the latest failure, the call fails with that error. So an `auth` error that no
//! alternative claims fails at once, and no alternative runs twice.
//!
//! The result says who answered ([`Recovered::served_by`]) and every failure on the way, so
//! callers can report that an answer came from a fallback and why.
//!
//! # Defaults
//!
//! A [`Fallback::new`] has no alternatives: every error passes through unchanged (wrapped in a
//! [`FallbackError`]). Which categories an alternative handles is always stated by the caller,
//! since only the caller knows what the alternative can do better.
//!
//! # Cost
//!
//! A primary that succeeds costs nothing extra: no allocation, no classification. The
//! alternatives are boxed closures returning boxed futures, one allocation each per use,
//! which is fine once a call has already failed.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use orkestra_core::{Classify, ErrorClass};

use crate::CategorySet;

/// A boxed alternative: makes a fresh attempt each time it is called.
pub type Alternative<T, E> =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = Result<T, E>> + Send>> + Send + Sync>;

/// One failed attempt: who made it (the primary's name or an alternative's) and its class.
pub type Failure = (Arc<str>, ErrorClass);

/// The name the primary operation goes by in [`Failure`] lists unless renamed.
pub const PRIMARY: &str = "primary";

struct Entry<T, E> {
    name: Arc<str>,
    handles: CategorySet,
    run: Alternative<T, E>,
}

/// An ordered list of alternatives to a primary operation, each for some error categories.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use orkestra_core::{ErrorCategory, ErrorClass};
/// use orkestra_resilience::CategorySet;
/// use orkestra_resilience::fallback::Fallback;
///
/// let fallback = Fallback::<&str, ErrorClass>::new().or_else(
///     "bigger-context",
///     CategorySet::of(&[ErrorCategory::ContextLength]),
///     || async { Ok("answer from the 1M-token model") },
/// );
/// let too_long = ErrorClass::new(ErrorCategory::ContextLength);
/// let recovered = fallback.call(async { Err(too_long) }).await.unwrap();
/// assert_eq!(recovered.served_by.as_deref(), Some("bigger-context"));
/// # }
/// ```
pub struct Fallback<T, E> {
    primary: Arc<str>,
    alternatives: Vec<Entry<T, E>>,
}

impl<T, E> Fallback<T, E> {
    /// A fallback with no alternatives, whose primary is called [`PRIMARY`] in failure lists.
    pub fn new() -> Self {
        Self {
            primary: Arc::from(PRIMARY),
            alternatives: Vec::new(),
        }
    }

    /// Names the primary operation in failure lists (a model or provider name, say).
    #[must_use]
    pub fn with_primary_name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.primary = name.into();
        self
    }

    /// Adds `alternative`, tried after those added before it, for failures whose category is
    /// in `handles`.
    #[must_use]
    pub fn or_else<F, Fut>(
        mut self,
        name: impl Into<Arc<str>>,
        handles: CategorySet,
        alternative: F,
    ) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.alternatives.push(Entry {
            name: name.into(),
            handles,
            run: Box::new(move || Box::pin(alternative())),
        });
        self
    }

    /// The primary's name in failure lists.
    pub fn primary_name(&self) -> &str {
        &self.primary
    }

    /// The alternatives' names and the categories each handles, in the order they are tried.
    pub fn alternatives(&self) -> impl Iterator<Item = (&str, CategorySet)> {
        self.alternatives
            .iter()
            .map(|entry| (&*entry.name, entry.handles))
    }
}

impl<T, E: Classify> Fallback<T, E> {
    /// Runs `primary`, then alternatives as its failures call for them.
    pub async fn call<F>(&self, primary: F) -> Result<Recovered<T>, FallbackError<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        let mut failures = Vec::new();
        let mut error = match primary.await {
            Ok(value) => {
                return Ok(Recovered {
                    value,
                    served_by: None,
                    failures,
                });
            }
            Err(error) => error,
        };
        let mut failed = Arc::clone(&self.primary);
        let mut next = 0;
        loop {
            let class = error.class();
            failures.push((failed, class));
            let Some((index, entry)) = self
                .alternatives
                .iter()
                .enumerate()
                .skip(next)
                .find(|(_, entry)| entry.handles.contains(class.category))
            else {
                return Err(FallbackError { error, failures });
            };
            match (entry.run)().await {
                Ok(value) => {
                    return Ok(Recovered {
                        value,
                        served_by: Some(Arc::clone(&entry.name)),
                        failures,
                    });
                }
                Err(next_error) => {
                    error = next_error;
                    failed = Arc::clone(&entry.name);
                    next = index + 1;
                }
            }
        }
    }
}

impl<T, E> Default for Fallback<T, E> {
    /// The same as [`Fallback::new`]: no alternatives.
    fn default() -> Self {
        Self::new()
    }
}

impl<T, E> fmt::Debug for Fallback<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fallback")
            .field("primary", &self.primary)
            .field("alternatives", &self.alternatives().collect::<Vec<_>>())
            .finish()
    }
}

/// A successful answer, from the primary or an alternative.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovered<T> {
    /// The answer.
    pub value: T,
    /// The alternative that answered; `None` when the primary did.
    pub served_by: Option<Arc<str>>,
    /// Every failure before the answer, in order (empty when the primary answered).
    pub failures: Vec<Failure>,
}

impl<T> Recovered<T> {
    /// Whether the primary answered.
    pub fn is_primary(&self) -> bool {
        self.served_by.is_none()
    }
}

/// The primary failed and no alternative recovered: the last error, and every failure.
#[derive(Debug, Clone, PartialEq)]
pub struct FallbackError<E> {
    /// The last error, from the primary or the last alternative tried.
    pub error: E,
    /// Every failure in order, the last one included.
    pub failures: Vec<Failure>,
}

impl<E> FallbackError<E> {
    /// The last error.
    pub fn into_inner(self) -> E {
        self.error
    }
}

impl<E: Classify> Classify for FallbackError<E> {
    /// The last error's class: it is the one no alternative could handle.
    fn class(&self) -> ErrorClass {
        self.error.class()
    }
}

impl<E: fmt::Display> fmt::Display for FallbackError<E> {
    /// The last error, then the attempts when alternatives were tried:
    /// `upstream overloaded (tried primary: overloaded, backup: overloaded)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)?;
        if self.failures.len() > 1 {
            f.write_str(" (tried ")?;
            for (index, (name, class)) in self.failures.iter().enumerate() {
                if index > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{name}: {}", class.category)?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl<E: std::error::Error + 'static> std::error::Error for FallbackError<E> {
    /// The last error's own source, as [`crate::Error`] does: `Display` already shows the error.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

#[cfg(test)]
mod tests;
