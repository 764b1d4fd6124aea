//! [`HttpResponse`]: a response whose headers arrived, and its body read under the idle and
//! total timeouts and the size cap.

use std::pin::Pin;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use http_body_util::BodyExt as _;
use hyper::StatusCode;
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use orkestra_core::Error;
use tokio::time::Instant;

use crate::error::{self, TimeoutKind};

/// A response body of either transport.
#[derive(Debug)]
pub(super) enum Body {
    /// `hyper_util`'s: the connection goes back to its pool once the body is read to the end.
    Plain(Incoming),
    Tls(reqwest::Response),
}

impl Body {
    /// The next chunk of data; `None` at the end.
    async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        match self {
            Self::Plain(incoming) => loop {
                match incoming.frame().await {
                    None => return Ok(None),
                    Some(Ok(frame)) => {
                        // Trailers carry nothing a client here reads.
                        if let Ok(data) = frame.into_data()
                            && !data.is_empty()
                        {
                            return Ok(Some(data));
                        }
                    }
                    Some(Err(failure)) => return Err(error::from_hyper(failure)),
                }
            },
            Self::Tls(response) => response.chunk().await.map_err(error::from_reqwest),
        }
    }
}

/// A boxed stream of body chunks, each gap bounded by the idle timeout and the whole by the
/// total timeout; it ends after the last chunk or after its first `Err`.
pub(crate) type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>;

/// How much of an error body is read to classify it; the rest is not needed.
const ERROR_BODY_BYTES: usize = 64 * 1024;

/// A response whose headers arrived; its body is read under the client's timeouts.
#[derive(Debug)]
pub(crate) struct HttpResponse {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    /// Read from the headers on arrival, so they can be moved out before the body is read.
    pub(super) content_length: Option<u64>,
    pub(super) body: Body,
    pub(super) deadline: Instant,
    pub(super) idle: Duration,
    pub(super) total: Duration,
    pub(super) max_body_bytes: usize,
}

impl HttpResponse {
    /// The HTTP status code.
    pub(crate) fn status(&self) -> u16 {
        self.status.as_u16()
    }

    /// The response headers.
    pub(crate) fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The response headers, moved out: the response keeps none.
    pub(crate) fn take_headers(&mut self) -> HeaderMap {
        std::mem::take(&mut self.headers)
    }

    /// The media type of the body (`application/json`), without parameters.
    pub(crate) fn content_type(&self) -> Option<&str> {
        error::content_type(self.headers())
    }

    /// The `Content-Length`, when the server sent a valid one.
    fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// The response itself on a 2xx status; otherwise the classified error, read from the
    /// status, the headers and the first 64 KiB of the body.
    pub(crate) async fn error_for_status(self) -> Result<Self, Error> {
        if self.status.is_success() {
            return Ok(self);
        }
        let status = self.status();
        let headers = self.headers.clone();
        let mut reader = BodyReader::from(self);
        let mut body = BytesMut::new();
        // An error body cut by a timeout or a reset still classifies by its status.
        while body.len() < ERROR_BODY_BYTES {
            match reader.next_chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        body.truncate(ERROR_BODY_BYTES);
        Err(error::from_status(status, &headers, &body))
    }

    /// The whole body, within the idle and total timeouts and at most `max_body_bytes`.
    pub(crate) async fn bytes(self) -> Result<Bytes, Error> {
        let limit = self.max_body_bytes;
        let length = self.content_length();
        if length.is_some_and(|length| length > limit as u64) {
            return Err(error::body_too_large(limit));
        }
        let capacity = length.map_or(0, |length| usize::try_from(length).unwrap_or(limit));
        let mut reader = BodyReader::from(self);
        // Most bodies arrive as one chunk: return it without copying.
        let Some(first) = reader.next_chunk().await? else {
            return Ok(Bytes::new());
        };
        if first.len() > limit {
            return Err(error::body_too_large(limit));
        }
        let Some(second) = reader.next_chunk().await? else {
            return Ok(first);
        };
        let mut body = BytesMut::with_capacity(capacity.max(first.len() + second.len()));
        body.extend_from_slice(&first);
        let mut next = Some(second);
        while let Some(chunk) = next {
            if body.len() + chunk.len() > limit {
                return Err(error::body_too_large(limit));
            }
            body.extend_from_slice(&chunk);
            next = reader.next_chunk().await?;
        }
        Ok(body.freeze())
    }

    /// The body as a stream of chunks under the idle and total timeouts.
    pub(crate) fn into_stream(self) -> BodyStream {
        let reader = Some(BodyReader::from(self));
        Box::pin(futures_util::stream::unfold(reader, |reader| async move {
            let mut reader = reader?;
            match reader.next_chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(reader))),
                Ok(None) => None,
                // Nothing follows an error: the connection is dropped with the reader.
                Err(failure) => Some((Err(failure), None)),
            }
        }))
    }
}

/// Reads body chunks under the idle and total deadlines.
struct BodyReader {
    body: Body,
    deadline: Instant,
    idle: Duration,
    total: Duration,
}

impl From<HttpResponse> for BodyReader {
    fn from(response: HttpResponse) -> Self {
        Self {
            body: response.body,
            deadline: response.deadline,
            idle: response.idle,
            total: response.total,
        }
    }
}

impl BodyReader {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, Error> {
        let idle_deadline = Instant::now() + self.idle;
        let (until, kind, limit) = if idle_deadline < self.deadline {
            (idle_deadline, TimeoutKind::Idle, self.idle)
        } else {
            (self.deadline, TimeoutKind::Total, self.total)
        };
        match tokio::time::timeout_at(until, self.body.chunk()).await {
            Ok(chunk) => chunk,
            Err(_) => Err(error::timeout(kind, limit)),
        }
    }
}
