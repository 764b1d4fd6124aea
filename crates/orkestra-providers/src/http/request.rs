//! [`RequestBuilder`]: a request's method, endpoint, headers and body.

use bytes::Bytes;
use hyper::Method;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use orkestra_core::{Error, ErrorCategory};

use super::Endpoint;

/// A request being built: method, endpoint, headers and body. An invalid URL or header is
/// reported by [`super::HttpClient::send`], as an `invalid_request` error.
#[derive(Debug)]
pub(crate) struct RequestBuilder {
    pub(super) method: Method,
    pub(super) endpoint: Result<Endpoint, Error>,
    pub(super) headers: HeaderMap,
    pub(super) body: Bytes,
}

impl RequestBuilder {
    pub(super) fn new(method: Method, endpoint: Result<Endpoint, Error>) -> Self {
        Self {
            method,
            endpoint,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// Sets every header of `headers`, replacing values already set under the same names.
    #[must_use]
    pub(crate) fn headers(mut self, headers: HeaderMap) -> Self {
        let mut last = None;
        for (name, value) in headers {
            // A name comes with its first value only; the others follow with `None`.
            match name {
                Some(name) => {
                    self.headers.insert(name.clone(), value);
                    last = Some(name);
                }
                None => {
                    if let Some(name) = &last {
                        self.headers.append(name.clone(), value);
                    }
                }
            }
        }
        self
    }

    /// Sets one header, replacing a value already set under its name.
    #[must_use]
    pub(crate) fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        HeaderValue: TryFrom<V>,
    {
        let name = HeaderName::try_from(name).ok();
        let value = HeaderValue::try_from(value).ok();
        match (name, value) {
            (Some(name), Some(value)) => {
                self.headers.insert(name, value);
            }
            (name, _) => {
                if self.endpoint.is_ok() {
                    let what = name.map_or("a header name".to_owned(), |name| {
                        format!("the value of header {name}")
                    });
                    self.endpoint = Err(Error::new(
                        ErrorCategory::InvalidRequest,
                        format!("invalid request: {what} is not valid in HTTP"),
                    ));
                }
            }
        }
        self
    }

    /// Sets the body to `body` as JSON, with `Content-Type: application/json`. A body that
    /// cannot be written as JSON is reported by [`super::HttpClient::send`], as an `invalid_request`
    /// error.
    #[must_use]
    pub(crate) fn json(mut self, body: &impl serde::Serialize) -> Self {
        match orkestra_core::json::to_vec(body) {
            Ok(bytes) => {
                self.body = Bytes::from(bytes);
                self.headers.insert(
                    hyper::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
            Err(failure) => {
                if self.endpoint.is_ok() {
                    self.endpoint = Err(Error::new(
                        ErrorCategory::InvalidRequest,
                        format!("the request could not be written as JSON: {failure}"),
                    ));
                }
            }
        }
        self
    }
}
