//! [`Error`]: the one error type of this crate, able to classify itself.

use std::io;
use std::path::{Path, PathBuf};

use orkestra_core::{Classify, ErrorCategory, ErrorClass, Located, Resource};

use crate::catalog::Format;
use crate::ledger::BudgetPeriod;
use crate::money::Nanodollars;
use crate::scorer::NoCandidate;

/// Why something in this crate failed: a value, a registry change, a catalog, a strategy, a
/// budget, a selection with no candidate, or the store.
///
/// Every message is one line that names the model, the field, the file or the key at fault
/// and what was expected; a catalog problem reads `FILE:LINE:COLUMN: KEY: what was expected`.
/// [`Classify`] says what kind of failure it is: a caller's mistake (`invalid_request`), a
/// missing model (`not_found`), a budget (`resource_exhausted`), or for the store whether
/// trying again can help.
///
/// ```
/// use orkestra_core::{Classify, ErrorCategory};
/// use orkestra_models::{Error, ModelId};
///
/// let error = ModelId::new("gpt-4o").unwrap_err();
/// assert!(matches!(error, Error::InvalidModelId { .. }));
/// assert_eq!(error.class().category, ErrorCategory::InvalidRequest);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A string that is not a valid [`ModelId`](crate::ModelId).
    #[error("invalid model id `{id}`: {problem}")]
    InvalidModelId {
        /// The rejected text.
        id: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A [`ModelSpec`](crate::ModelSpec) value that cannot be right.
    #[error("model `{id}`: `{field}` {problem}")]
    InvalidSpec {
        /// The model's id.
        id: String,
        /// The offending field.
        field: &'static str,
        /// What is wrong and what was expected.
        problem: String,
    },
    /// Two models share an id.
    #[error("model `{id}` is already registered")]
    DuplicateModel {
        /// The id.
        id: String,
    },
    /// An alias collides with another model's id or alias.
    #[error("name `{name}` already refers to model `{by}`")]
    NameTaken {
        /// The colliding alias.
        name: String,
        /// The model that holds it.
        by: String,
    },
    /// No model has this id.
    #[error("no model `{id}` is registered")]
    UnknownModel {
        /// The id asked for.
        id: String,
    },
    /// A catalog's text is not a valid catalog: bad syntax, an unknown key, a value of the
    /// wrong type, or a model the registry refuses. `at` names the file (or the kind of text),
    /// the line and column, the key, and what was expected, in plain words.
    #[error("{at}")]
    Catalog {
        /// The format being read.
        format: Format,
        /// Where the problem is, and what it is.
        at: Located,
    },
    /// A catalog file could not be read.
    #[error("cannot read catalog `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: io::Error,
    },
    /// A catalog file could not be written.
    #[error("cannot write catalog `{}`", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: io::Error,
    },
    /// The path's extension names no catalog format.
    #[error(
        "`{}`: {}, expected `.json` or `.toml`",
        path.display(),
        describe_extension(path)
    )]
    UnsupportedFormat {
        /// The path.
        path: PathBuf,
    },
    /// A model holds a value the format cannot spell (a non-finite number in TOML).
    #[error("cannot write model `{id}` as {format}: `{field}` {problem}")]
    Export {
        /// The format being written.
        format: Format,
        /// The model's id.
        id: String,
        /// The field holding the value.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// A strategy name that is not one of the built-in ones.
    #[error("unknown strategy `{name}`, expected one of quality, cost, speed, balanced, local")]
    UnknownStrategy {
        /// The name given.
        name: String,
    },
    /// Custom strategy weights that cannot rank anything.
    #[error("strategy weights: {problem}")]
    InvalidWeights {
        /// What is wrong with them.
        problem: String,
    },
    /// A call refused because it would exceed a budget.
    #[error(
        "principal `{principal}` would exceed its {period:?} budget of {limit}: spent {spent}, \
         held for calls in flight {held}, this call needs up to {requested}"
    )]
    BudgetExceeded {
        /// Who asked.
        principal: String,
        /// Which budget.
        period: BudgetPeriod,
        /// The limit.
        limit: Nanodollars,
        /// Already charged in the period.
        spent: Nanodollars,
        /// Held by reservations not yet settled.
        held: Nanodollars,
        /// The estimate of this call.
        requested: Nanodollars,
    },
    /// No model can serve a request: each model's exclusion, which also decides the class
    /// (see [`NoCandidate`]).
    #[error("{0}")]
    Unserved(NoCandidate),
    /// The store URL names no backend the store speaks.
    #[cfg(feature = "store")]
    #[error(
        "unsupported store URL `{url}`: expected `postgres://`, `postgresql://`, `sqlite:` or a \
         file path"
    )]
    UnsupportedStoreUrl {
        /// The URL, password redacted.
        url: String,
    },
    /// The database could not be reached or opened.
    #[cfg(feature = "store")]
    #[error("cannot open the {backend} store at `{target}`")]
    Connect {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// The URL, file or host, password redacted.
        target: String,
        /// What the driver said.
        #[source]
        source: sqlx::Error,
    },
    /// A migration failed; the database is left at the previous version.
    #[cfg(feature = "store")]
    #[error("migration {version} ({name}) of orkestra-models failed")]
    Migrate {
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: &'static str,
        /// What the database said.
        #[source]
        source: sqlx::Error,
    },
    /// The database was migrated by a newer orkestra than this one.
    #[cfg(feature = "store")]
    #[error(
        "the database holds orkestra-models migration {found} ({name}), newer than the latest \
         this build knows ({known}): run a newer orkestra or use another database"
    )]
    NewerSchema {
        /// The newest version recorded in the database.
        found: i64,
        /// Its name, as recorded.
        name: String,
        /// The newest version this build knows.
        known: i64,
    },
    /// A recorded migration does not match the one this build has under the same version.
    #[cfg(feature = "store")]
    #[error(
        "the database records orkestra-models migration {version} as `{found}`, but this build \
         names it `{expected}`: the database was made by an incompatible build"
    )]
    MigrationMismatch {
        /// The version.
        version: i64,
        /// The name recorded in the database.
        found: String,
        /// The name this build gives it.
        expected: &'static str,
    },
    /// A statement failed.
    #[cfg(feature = "store")]
    #[error("store operation `{operation}` failed")]
    Query {
        /// The store method that ran it, e.g. `save_registry`.
        operation: &'static str,
        /// What the database said.
        #[source]
        source: sqlx::Error,
    },
    /// A stored row cannot be turned back into a value.
    #[cfg(feature = "store")]
    #[error("corrupt row in `{table}` ({key}): {problem}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The row's key, e.g. `id = "openai/gpt-4o-mini"`.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A value could not be written as JSON for the store.
    #[cfg(feature = "store")]
    #[error("cannot encode the {what} as JSON")]
    Encode {
        /// What was being encoded, e.g. `model spec`.
        what: &'static str,
        /// What the encoder said.
        #[source]
        source: serde_json::Error,
    },
    /// An unsigned value does not fit the signed 64-bit column that would hold it.
    #[cfg(feature = "store")]
    #[error(
        "{what} = {value} is above the largest value the store holds ({})",
        i64::MAX
    )]
    OutOfRange {
        /// Which value, e.g. `charge cost (nano-dollars)`.
        what: &'static str,
        /// The value.
        value: u64,
    },
}

impl Error {
    /// Whether trying again later can succeed: for the store, the database was unreachable,
    /// busy or timed out; for a selection, a circuit breaker may close.
    pub fn is_retryable(&self) -> bool {
        self.class().retryable
    }

    /// Where in a user's file the problem is, for a catalog problem.
    pub fn located(&self) -> Option<&Located> {
        match self {
            Self::Catalog { at, .. } => Some(at),
            _ => None,
        }
    }

    /// This error, now naming `path` as its file (errors from text parsing know no file).
    pub(crate) fn in_file(mut self, path: &Path) -> Self {
        if let Self::Catalog { at, .. } = &mut self {
            at.file = path.display().to_string();
        }
        self
    }
}

impl Classify for Error {
    fn class(&self) -> ErrorClass {
        match self {
            Self::InvalidModelId { .. }
            | Self::InvalidSpec { .. }
            | Self::DuplicateModel { .. }
            | Self::NameTaken { .. }
            | Self::Catalog { .. }
            | Self::UnsupportedFormat { .. }
            | Self::Export { .. }
            | Self::UnknownStrategy { .. }
            | Self::InvalidWeights { .. } => ErrorClass::new(ErrorCategory::InvalidRequest),
            Self::UnknownModel { .. } => ErrorClass::new(ErrorCategory::NotFound),
            Self::Read { source, .. } | Self::Write { source, .. } => source.class(),
            Self::BudgetExceeded { .. } => {
                ErrorClass::new(ErrorCategory::ResourceExhausted(Resource::Quota))
            }
            Self::Unserved(refusal) => refusal.class(),
            #[cfg(feature = "store")]
            store => crate::store::classify(store),
        }
    }
}

/// The error a backend call reports when this crate refused it: the same class, the message
/// as displayed here.
impl From<Error> for orkestra_core::Error {
    fn from(error: Error) -> Self {
        Self::with_class(error.class(), error.to_string())
    }
}

fn describe_extension(path: &Path) -> String {
    match path.extension() {
        Some(extension) => format!(
            "unsupported catalog extension `.{}`",
            extension.to_string_lossy()
        ),
        None => "no file extension to choose a catalog format".to_owned(),
    }
}

#[cfg(test)]
mod tests;
