//! The response body: a whole buffer, or a planned sequence of data, pauses and an abort.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

/// One step of a planned body.
#[derive(Debug)]
pub(crate) enum Step {
    /// Send these bytes.
    Data(Bytes),
    /// Send nothing for this long.
    Sleep(Duration),
    /// Yield once so hyper flushes what it holds, then go on.
    Flush,
    /// Fail the body: hyper closes the connection without finishing the message.
    Abort,
}

/// Builds a plan, merging consecutive data so a zero-latency stream is written in few frames.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    steps: VecDeque<Step>,
    pending: Vec<u8>,
}

impl Plan {
    /// Appends bytes.
    pub(crate) fn data(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    /// Appends a pause; zero is no pause at all.
    pub(crate) fn sleep(&mut self, duration: Duration) {
        if !duration.is_zero() {
            self.flush_pending();
            self.steps.push_back(Step::Sleep(duration));
        }
    }

    /// Ends the body abruptly after sending what came before.
    pub(crate) fn abort(self) -> ReplyBody {
        self.abort_declaring(None)
    }

    /// Ends the body abruptly after declaring a `Content-Length` of `len`.
    pub(crate) fn abort_with_len(self, len: u64) -> ReplyBody {
        self.abort_declaring(Some(len))
    }

    fn abort_declaring(mut self, exact_len: Option<u64>) -> ReplyBody {
        self.flush_pending();
        // Yield once first, so hyper writes what came before and the client sees a body cut
        // mid-way rather than no body at all.
        self.steps.push_back(Step::Flush);
        self.steps.push_back(Step::Abort);
        self.finish(exact_len)
    }

    /// Ends the body; `exact_len` declares a `Content-Length` (else chunked encoding).
    pub(crate) fn finish(mut self, exact_len: Option<u64>) -> ReplyBody {
        self.flush_pending();
        ReplyBody::Planned {
            steps: self.steps,
            sleep: None,
            exact_len,
        }
    }

    fn flush_pending(&mut self) {
        if !self.pending.is_empty() {
            let bytes = Bytes::from(std::mem::take(&mut self.pending));
            self.steps.push_back(Step::Data(bytes));
        }
    }
}

/// A response body.
#[derive(Debug)]
pub(crate) enum ReplyBody {
    /// A whole buffer (taken when sent).
    Full(Option<Bytes>),
    /// A planned sequence.
    Planned {
        /// What is left to do.
        steps: VecDeque<Step>,
        /// The pause under way.
        sleep: Option<Pin<Box<Sleep>>>,
        /// The declared length, if any.
        exact_len: Option<u64>,
    },
}

impl ReplyBody {
    /// A whole buffer.
    pub(crate) fn full(bytes: impl Into<Bytes>) -> Self {
        Self::Full(Some(bytes.into()))
    }

    /// No body.
    pub(crate) fn empty() -> Self {
        Self::Full(None)
    }
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            Self::Full(bytes) => Poll::Ready(bytes.take().map(|bytes| Ok(Frame::data(bytes)))),
            Self::Planned { steps, sleep, .. } => loop {
                if let Some(pause) = sleep {
                    if pause.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    *sleep = None;
                }
                match steps.pop_front() {
                    None => return Poll::Ready(None),
                    Some(Step::Data(bytes)) => return Poll::Ready(Some(Ok(Frame::data(bytes)))),
                    Some(Step::Sleep(duration)) => {
                        *sleep = Some(Box::pin(tokio::time::sleep(duration)));
                    }
                    Some(Step::Flush) => {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    Some(Step::Abort) => {
                        return Poll::Ready(Some(Err(io::Error::new(
                            io::ErrorKind::ConnectionAborted,
                            "orkestra-mock: body cut by a fault",
                        ))));
                    }
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Full(bytes) => bytes.is_none(),
            Self::Planned { steps, sleep, .. } => steps.is_empty() && sleep.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |bytes| bytes.len() as u64))
            }
            Self::Planned {
                exact_len: Some(len),
                ..
            } => SizeHint::with_exact(*len),
            Self::Planned { .. } => SizeHint::default(),
        }
    }
}
