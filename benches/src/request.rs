//! The request `loadgen` sends: where to, its headers and its body.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request};

#[cfg(test)]
mod tests;

/// Why the request could not be prepared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The URL is not `http://HOST:PORT/PATH`.
    #[error("`{0}` is not an http://HOST:PORT/PATH URL")]
    Url(String),
    /// A header name or value that HTTP does not allow.
    #[error("header `{0}` is not a valid HTTP header")]
    Header(String),
}

/// Everything needed to send the same request again and again, prepared once.
#[derive(Debug, Clone)]
pub struct Template {
    /// `HOST:PORT`, what TCP connects to and the `Host` header.
    pub authority: String,
    /// The path and query, sent as the request target.
    pub path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Template {
    /// Prepares `POST url` with this body and these extra headers, besides `Host`,
    /// `Content-Type: application/json` and `Content-Length`.
    pub fn new(url: &str, body: Bytes, extra: &[(String, String)]) -> Result<Self, RequestError> {
        let (authority, path) = split_url(url)?;
        let mut headers = HeaderMap::new();
        let value = |text: &str| {
            HeaderValue::from_str(text).map_err(|_| RequestError::Header(text.to_owned()))
        };
        headers.insert(HOST, value(&authority)?);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        for (name, field) in extra {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| RequestError::Header(format!("{name}: {field}")))?;
            headers.append(name, value(field)?);
        }
        Ok(Self {
            authority,
            path,
            headers,
            body,
        })
    }

    /// A fresh request; the body is shared, not copied.
    pub fn request(&self) -> Request<OnceBody> {
        let mut request = Request::new(OnceBody(Some(self.body.clone())));
        *request.method_mut() = Method::POST;
        // The path was checked to parse as a URI when the template was made.
        if let Ok(uri) = self.path.parse() {
            *request.uri_mut() = uri;
        }
        *request.headers_mut() = self.headers.clone();
        request
    }
}

/// Splits `http://HOST:PORT/PATH` into `HOST:PORT` and `/PATH` (`/` when there is none).
pub fn split_url(url: &str) -> Result<(String, String), RequestError> {
    let bad = || RequestError::Url(url.to_owned());
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, "/"),
    };
    let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || port.parse::<u16>().is_err() || path.parse::<hyper::Uri>().is_err() {
        return Err(bad());
    }
    Ok((authority.to_owned(), path.to_owned()))
}

/// The default body: an OpenAI chat request of about 1 KB, not streamed, for `model`.
pub fn default_body(model: &str) -> Bytes {
    let sentence =
        "The quick brown fox jumps over the lazy dog while the scheduler routes requests. ";
    let prompt: String = sentence.repeat(13).chars().take(1000).collect();
    let body = serde_json::json!({
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": prompt},
        ],
        "stream": false,
        "temperature": 0.2,
        "max_tokens": 512,
    });
    Bytes::from(body.to_string())
}

/// A body sent in one frame, shared between requests without copying.
#[derive(Debug)]
pub struct OnceBody(Option<Bytes>);

impl Body for OnceBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.take().map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |data| data.len() as u64))
    }
}
