//! [`Secret`]: an API key that never shows itself in `Debug`, `Display`, `Serialize` or errors.
//!
//! Keys come from the environment ([`Secret::from_env`]); configuration files name the
//! variable, never the key. The only way to read the key is [`Secret::expose`], which the
//! clients call when they write the authentication header, and nowhere else.

use std::borrow::Cow;
use std::fmt;

use hyper::header::HeaderValue;
use orkestra_core::{Error, ErrorCategory};
use serde::{Serialize, Serializer};

/// What [`Secret`] prints instead of its value.
pub(crate) const REDACTED: &str = "*****";

/// A secret string, such as an API key, redacted everywhere it could be printed.
///
/// ```
/// use orkestra_providers::Secret;
///
/// let key = Secret::new("sk-live-1234");
/// assert_eq!(format!("{key:?} {key}"), "***** *****");
/// assert_eq!(key.expose(), "sk-live-1234");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Reads the secret from the environment variable `var`.
    ///
    /// An unset, non-Unicode or empty variable is an [`ErrorCategory::Auth`] error naming the
    /// variable (never its value): nothing will authenticate until an operator sets it.
    pub fn from_env(var: &str) -> Result<Self, Error> {
        Self::from_lookup(var, std::env::var(var))
    }

    /// [`Self::from_env`] on an already looked-up value, so tests need not set variables
    /// (`std::env::set_var` is unsafe and this crate forbids `unsafe`).
    fn from_lookup(var: &str, lookup: Result<String, std::env::VarError>) -> Result<Self, Error> {
        match lookup {
            Ok(value) if !value.trim().is_empty() => Ok(Self(value)),
            Ok(_) => Err(Error::new(
                ErrorCategory::Auth,
                format!("environment variable {var} is empty; set it to the API key"),
            )),
            Err(std::env::VarError::NotPresent) => Err(Error::new(
                ErrorCategory::Auth,
                format!("environment variable {var} is not set; set it to the API key"),
            )),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::new(
                ErrorCategory::Auth,
                format!("environment variable {var} is not valid Unicode"),
            )),
        }
    }

    /// The key in the environment variable `var` when a variable is named, for provider
    /// `provider`: a named variable that is unset or empty is an error naming both.
    pub(crate) fn from_optional_env(
        var: Option<&str>,
        provider: &str,
    ) -> Result<Option<Self>, Error> {
        var.map(|var| Self::from_env(var).map_err(|error| error.with_provider(provider)))
            .transpose()
    }

    /// The secret after `prefix` (`"Bearer "`, or nothing) as a header value, marked sensitive so
    /// that HTTP libraries never log it; a key with characters a header cannot carry is an
    /// error saying so, without the key.
    pub(crate) fn header_value(&self, prefix: &str) -> Result<HeaderValue, String> {
        let mut value = HeaderValue::from_str(&format!("{prefix}{}", self.0))
            .map_err(|_| "the API key contains characters not allowed in a header".to_owned())?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// The secret itself. Call it only to write it where it is meant to go (a header).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the secret replaced by `*****`.
    ///
    /// Servers sometimes quote the key they rejected in their error message; clients pass
    /// such messages through this before they reach an [`Error`]. Secrets shorter than
    /// 8 bytes are not searched for: they would match ordinary words.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.0.len() >= 8 && text.contains(self.0.as_str()) {
            Cow::Owned(text.replace(self.0.as_str(), REDACTED))
        } else {
            Cow::Borrowed(text)
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

#[cfg(test)]
mod tests;
