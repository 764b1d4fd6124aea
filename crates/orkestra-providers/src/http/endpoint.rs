//! [`Endpoint`]: a URL parsed once, when a client is built, and requested many times.

use std::fmt;
use std::sync::Arc;

use hyper::Uri;
use orkestra_core::{Error, ErrorCategory};

/// A URL parsed once, to be requested many times. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Endpoint {
    inner: Arc<EndpointInner>,
}

struct EndpointInner {
    url: String,
    target: Target,
}

pub(super) enum Target {
    /// `http://`: `hyper_util`'s pooled client, the URL as it takes it.
    Plain(Uri),
    /// `https://`: `reqwest`.
    Tls(reqwest::Url),
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Endpoint").field(&self.inner.url).finish()
    }
}

impl Endpoint {
    /// Parses an `http://` or `https://` URL; anything else, a URL with credentials in it, or
    /// one that does not parse is an `invalid_request` error naming it.
    pub(crate) fn parse(url: &str) -> Result<Self, Error> {
        let invalid = |why: &str| {
            Error::new(
                ErrorCategory::InvalidRequest,
                format!("invalid URL {url:?}: {why}"),
            )
        };
        let target = if url.starts_with("http://") {
            let uri = url.parse::<Uri>().map_err(|e| invalid(&e.to_string()))?;
            let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
            if authority.as_str().contains('@') {
                return Err(invalid(
                    "credentials in the URL are not supported; send them as a header",
                ));
            }
            if authority.host().is_empty() {
                return Err(invalid("no host"));
            }
            Target::Plain(uri)
        } else if url.starts_with("https://") {
            Target::Tls(reqwest::Url::parse(url).map_err(|e| invalid(&e.to_string()))?)
        } else {
            return Err(invalid("must start with http:// or https://"));
        };
        Ok(Self {
            inner: Arc::new(EndpointInner {
                url: url.to_owned(),
                target,
            }),
        })
    }
}

/// What a request can be sent to: an [`Endpoint`], or a URL parsed on the spot.
pub(crate) trait IntoEndpoint {
    /// The endpoint, or why the URL is not one.
    fn into_endpoint(self) -> Result<Endpoint, Error>;
}

impl IntoEndpoint for &Endpoint {
    fn into_endpoint(self) -> Result<Endpoint, Error> {
        Ok(self.clone())
    }
}

impl IntoEndpoint for Endpoint {
    fn into_endpoint(self) -> Result<Endpoint, Error> {
        Ok(self)
    }
}

impl IntoEndpoint for &str {
    fn into_endpoint(self) -> Result<Endpoint, Error> {
        Endpoint::parse(self)
    }
}

impl IntoEndpoint for &String {
    fn into_endpoint(self) -> Result<Endpoint, Error> {
        Endpoint::parse(self)
    }
}

impl Endpoint {
    /// Where requests to this endpoint go.
    pub(super) fn target(&self) -> &Target {
        &self.inner.target
    }
}
