//! Turns a streamed response body into a [`ChatStream`] through a wire format's parser: the
//! one shape every client's stream has.
//!
//! A format is a [`Framing`]: body chunks in, [`StreamEvent`]s out, and at the end of the body
//! either the events still owed or the error of a stream cut before its answer was whole. The
//! server-sent-event formats (`OpenAI`, Anthropic) share their framing, [`crate::sse::Framed`];
//! Ollama's newline-delimited JSON has its own.

use std::collections::VecDeque;

use futures_util::{FutureExt as _, StreamExt as _};
use orkestra_core::{ChatStream, Error, StreamEvent};

use crate::http::BodyStream;

/// A format's parser, fed the body one chunk at a time.
///
/// Each method pushes the events it completes onto `events`, then fails if the input does: the
/// events before a failure in the same chunk still reach the caller, then the error.
pub(crate) trait Framing: Send + 'static {
    /// The events that `chunk` completes.
    fn chunk(&mut self, chunk: &[u8], events: &mut Vec<StreamEvent>) -> Result<(), Error>;
    /// The events left when the body ends, or the error of a stream cut before its answer was
    /// whole.
    fn end(&mut self, events: &mut Vec<StreamEvent>) -> Result<(), Error>;
    /// Whether the format's terminator was seen: nothing after it is read.
    fn is_done(&self) -> bool;
}

/// The events of `body` through `framing`. The first error ends the stream, after passing
/// through `decorate` (which adds the provider and model). Once the terminator is seen the body
/// is dropped, returning the connection to the pool if its end had already arrived and closing
/// it otherwise; dropping the stream cancels the call the same way.
pub(crate) fn drive<F: Framing>(
    body: BodyStream,
    framing: F,
    decorate: impl Fn(Error) -> Error + Send + 'static,
) -> ChatStream {
    struct State<F, D> {
        body: Option<BodyStream>,
        framing: F,
        pending: VecDeque<StreamEvent>,
        /// The events of the chunk being read, before they join `pending`.
        completed: Vec<StreamEvent>,
        /// The error that ends the stream once `pending` is delivered.
        failure: Option<Error>,
        decorate: D,
    }
    let state = Some(State {
        body: Some(body),
        framing,
        pending: VecDeque::new(),
        completed: Vec::new(),
        failure: None,
        decorate,
    });
    Box::pin(futures_util::stream::unfold(state, |state| async move {
        let mut state = state?;
        loop {
            if let Some(event) = state.pending.pop_front() {
                return Some((Ok(event), Some(state)));
            }
            if let Some(failure) = state.failure.take() {
                return Some((Err((state.decorate)(failure)), None));
            }
            let body = state.body.as_mut()?;
            let outcome = match body.next().await {
                Some(Ok(chunk)) => state.framing.chunk(&chunk, &mut state.completed),
                Some(Err(failure)) => Err(failure),
                None => {
                    state.body = None;
                    state.framing.end(&mut state.completed)
                }
            };
            state.pending.extend(state.completed.drain(..));
            if let Err(failure) = outcome {
                // Nothing after an error is read: the connection goes with the body.
                state.body = None;
                state.failure = Some(failure);
                continue;
            }
            if state.framing.is_done()
                && let Some(mut body) = state.body.take()
            {
                // If the end of the body is already here, reading it returns the connection
                // to the pool; if not, the connection is dropped rather than waited for.
                let _ = body.next().now_or_never();
            }
        }
    }))
}
