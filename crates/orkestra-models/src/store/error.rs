//! [`StoreError`] and the helpers that build it without leaking secrets.

use orkestra_core::{Classify, ErrorCategory, ErrorClass};

/// Why the store could not open, migrate, read or write.
///
/// Messages never hold a password: connection targets are shown with their password replaced
/// by `*****`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The URL names no backend this store speaks.
    #[error(
        "unsupported store URL `{url}`: expected `postgres://`, `postgresql://`, `sqlite:` or a \
         file path"
    )]
    UnsupportedUrl {
        /// The URL, password redacted.
        url: String,
    },
    /// The database could not be reached or opened.
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
    #[error("store operation `{operation}` failed")]
    Query {
        /// The store method that ran it, e.g. `save_registry`.
        operation: &'static str,
        /// What the database said.
        #[source]
        source: sqlx::Error,
    },
    /// A stored row cannot be turned back into a value.
    #[error("corrupt row in `{table}` ({key}): {problem}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The row's key, e.g. `id = "openai/gpt-4o-mini"`.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A value could not be written as JSON.
    #[error("cannot encode the {what} as JSON")]
    Encode {
        /// What was being encoded, e.g. `model spec`.
        what: &'static str,
        /// What the encoder said.
        #[source]
        source: serde_json::Error,
    },
    /// An unsigned value does not fit the signed 64-bit column that would hold it.
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

impl StoreError {
    /// A mapper for `map_err` that names the failed operation.
    pub(super) fn query(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Query { operation, source }
    }

    /// Whether trying again later can succeed: the database was unreachable, busy or timed out.
    pub fn is_retryable(&self) -> bool {
        self.class().retryable
    }
}

impl Classify for StoreError {
    fn class(&self) -> ErrorClass {
        let category = match self {
            Self::Connect { source, .. } | Self::Query { source, .. } => driver_category(source),
            Self::Migrate { .. }
            | Self::NewerSchema { .. }
            | Self::MigrationMismatch { .. }
            | Self::Corrupt { .. }
            | Self::Encode { .. } => ErrorCategory::Internal,
            Self::UnsupportedUrl { .. } | Self::OutOfRange { .. } => ErrorCategory::InvalidRequest,
        };
        let class = ErrorClass::new(category);
        // A broken schema or row will be just as broken on the next try.
        if matches!(
            self,
            Self::Migrate { .. }
                | Self::NewerSchema { .. }
                | Self::MigrationMismatch { .. }
                | Self::Corrupt { .. }
                | Self::Encode { .. }
        ) {
            class.with_retryable(false)
        } else {
            class
        }
    }
}

fn driver_category(error: &sqlx::Error) -> ErrorCategory {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolClosed => {
            ErrorCategory::Network
        }
        sqlx::Error::PoolTimedOut => ErrorCategory::Timeout,
        sqlx::Error::Configuration(_) => ErrorCategory::InvalidRequest,
        _ => ErrorCategory::Internal,
    }
}

/// `url` with any password replaced by `*****`: the one in `user:password@` and any
/// `password=` query parameter.
pub(super) fn redact(url: &str) -> String {
    const HIDDEN: &str = "*****";
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut out = String::with_capacity(url.len());
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '#']).unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            out.push_str(scheme);
            out.push_str("://");
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => {
                    match userinfo.split_once(':') {
                        Some((user, _password)) => {
                            out.push_str(user);
                            out.push(':');
                            out.push_str(HIDDEN);
                        }
                        None => out.push_str(userinfo),
                    }
                    out.push('@');
                    out.push_str(host);
                }
                None => out.push_str(authority),
            }
            out.push_str(path);
        }
        None => out.push_str(base),
    }
    if !url.contains('?') {
        return out;
    }
    out.push('?');
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                out.push_str(key);
                out.push('=');
                out.push_str(HIDDEN);
            }
            _ => out.push_str(pair),
        }
    }
    out
}
