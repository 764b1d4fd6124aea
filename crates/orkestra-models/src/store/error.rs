//! The store's side of [`Error`]: how its variants are built without leaking secrets, and
//! how they classify.
//!
//! Messages never hold a password: connection targets are shown with their password replaced
//! by `*****`.

use orkestra_core::{ErrorCategory, ErrorClass};

use crate::error::Error;

impl Error {
    /// A mapper for `map_err` that names the failed store operation.
    pub(crate) fn query(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Query { operation, source }
    }
}

/// The class of a store error (the store's variants of [`Error`]).
pub(crate) fn classify(error: &Error) -> ErrorClass {
    match error {
        Error::Connect { source, .. } | Error::Query { source, .. } => {
            ErrorClass::new(driver_category(source))
        }
        // A broken schema or row will be just as broken on the next try.
        Error::Migrate { .. }
        | Error::NewerSchema { .. }
        | Error::MigrationMismatch { .. }
        | Error::Corrupt { .. }
        | Error::Encode { .. } => ErrorClass::new(ErrorCategory::Internal).with_retryable(false),
        // `UnsupportedStoreUrl` and `OutOfRange`: the caller's value, not the database.
        _ => ErrorClass::new(ErrorCategory::InvalidRequest),
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
