//! Turns a stream of wire items (SSE events, body chunks) into a [`ChatStream`] through a
//! format's parser, shared by the Anthropic and Ollama clients.

use std::collections::VecDeque;
use std::pin::Pin;

use futures_util::{Stream, StreamExt};
use orkestra_core::{ChatStream, Error, StreamEvent};

/// A boxed stream of wire items.
pub(crate) type Items<T> = Pin<Box<dyn Stream<Item = Result<T, Error>> + Send>>;

/// A format's parser, fed one wire item at a time.
pub(crate) trait Framing: Send + 'static {
    /// One wire item.
    type Item;
    /// The events of one item.
    fn item(&mut self, item: Self::Item) -> Result<Vec<StreamEvent>, Error>;
    /// The events left when the wire ends, or the error of a stream cut before its end.
    fn end(&mut self) -> Result<Vec<StreamEvent>, Error>;
    /// Whether the format's terminator was seen: nothing after it is read.
    fn is_done(&self) -> bool;
}

/// The events of `items` through `framing`. The first error ends the stream, after passing
/// through `decorate` (which adds the provider and model). Once the terminator is seen the
/// wire is dropped, closing the connection or returning it to the pool, and dropping the
/// stream cancels the call.
pub(crate) fn drive<F: Framing>(
    items: Items<F::Item>,
    framing: F,
    decorate: impl Fn(Error) -> Error + Send + 'static,
) -> ChatStream
where
    F::Item: Send,
{
    struct State<F: Framing, D> {
        items: Option<Items<F::Item>>,
        framing: F,
        pending: VecDeque<StreamEvent>,
        decorate: D,
    }
    let state = Some(State {
        items: Some(items),
        framing,
        pending: VecDeque::new(),
        decorate,
    });
    Box::pin(futures_util::stream::unfold(state, |state| async move {
        let mut state = state?;
        loop {
            if let Some(event) = state.pending.pop_front() {
                return Some((Ok(event), Some(state)));
            }
            let items = state.items.as_mut()?;
            let outcome = match items.next().await {
                Some(Ok(item)) => state.framing.item(item),
                Some(Err(failure)) => Err(failure),
                None => {
                    state.items = None;
                    state.framing.end()
                }
            };
            match outcome {
                Ok(events) => state.pending.extend(events),
                Err(failure) => return Some((Err((state.decorate)(failure)), None)),
            }
            if state.framing.is_done() {
                state.items = None;
            }
        }
    }))
}
