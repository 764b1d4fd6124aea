//! Streams: opened until their first token inside an attempt, then recorded as they flow.
//!
//! An attempt of a streamed request lasts until the first content arrives, so a failure before
//! it (a refused connection, a 429, a stream that ends or breaks before any token) is an
//! ordinary failed attempt and the walk falls back. Once content has flowed the model is
//! committed, and how the stream ends decides the rest:
//!
//! | the stream | the client sees | statistics | billed |
//! |---|---|---|---|
//! | ends after every choice's `finish_reason` (with or without `data: [DONE]`, and even if the upstream then fails) | a clean end | a success | the usage, or an estimate marked as such |
//! | ends or fails before a `finish_reason` (cut) | an `Err` item, which the gateway turns into an error event, never a clean finish | a failure | what was streamed, estimated unless the usage came |
//! | is dropped by its reader before every choice finished (the client went away) | - | nothing (a cancellation says nothing about the model) | what was streamed, estimated unless the usage came |
//!
//! Billing a cut or abandoned stream follows the provider, which charges for the tokens it
//! produced whether or not the answer was whole.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use orkestra_core::{
    ChatBackend, ChatRequest, ChatStream, Content, ContentPart, Error, ErrorCategory, StreamEvent,
    Usage,
};
use orkestra_models::Outcome;

use super::walk::{Answered, Tokens};
use super::{CallContext, Orchestrator};

/// About four bytes of English text per token: the estimate when the upstream's usage is
/// missing, marked as estimated wherever it is billed.
const BYTES_PER_TOKEN: usize = 4;

/// A stream whose first content has arrived.
pub(super) struct Primed {
    buffered: VecDeque<StreamEvent>,
    rest: ChatStream,
    ttft: Duration,
}

/// Opens a stream and reads it up to its first content; a stream that ends before any is a
/// failed attempt, so the walk falls back rather than commit to an empty answer.
pub(super) async fn open(
    backend: &dyn ChatBackend,
    request: &ChatRequest,
) -> Result<Primed, Error> {
    let started = Instant::now();
    let mut rest = backend.stream(request).await?;
    let mut buffered = VecDeque::new();
    loop {
        let Some(event) = rest.next().await else {
            return Err(Error::new(
                ErrorCategory::Network,
                "the stream ended before its first token",
            ));
        };
        let event = event?;
        let content = carries_content(&event);
        buffered.push_back(event);
        if content {
            break;
        }
    }
    Ok(Primed {
        buffered,
        rest,
        ttft: started.elapsed(),
    })
}

/// Whether the client has seen the answer begin once this event is sent.
fn carries_content(event: &StreamEvent) -> bool {
    match event {
        StreamEvent::Start { .. } => false,
        StreamEvent::Delta(delta) => {
            delta.content.as_ref().is_some_and(|text| !text.is_empty())
                || !delta.tool_calls.is_empty()
        }
        // Finish, usage, and whatever kind of event is added later: the answer has begun.
        _ => true,
    }
}

/// The bytes of text an event adds to the answer (content and tool-call fragments).
fn answer_bytes(event: &StreamEvent) -> usize {
    let StreamEvent::Delta(delta) = event else {
        return 0;
    };
    let calls: usize = delta
        .tool_calls
        .iter()
        .filter_map(|call| call.function.as_ref())
        .map(|function| {
            function.name.as_ref().map_or(0, String::len)
                + function.arguments.as_ref().map_or(0, String::len)
        })
        .sum();
    delta.content.as_ref().map_or(0, String::len) + calls
}

/// The bytes of text in `request`'s messages, counted without copying them.
fn prompt_bytes(request: &ChatRequest) -> usize {
    request
        .messages
        .iter()
        .filter_map(|message| message.content.as_ref())
        .map(|content| match content {
            Content::Text(text) => text.len(),
            Content::Parts(parts) => parts
                .iter()
                .map(|part| match part {
                    ContentPart::Text { text } => text.len(),
                    _ => 0,
                })
                .sum(),
        })
        .sum()
}

/// Estimated tokens of `bytes` bytes of text.
fn estimated_tokens(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(BYTES_PER_TOKEN)).unwrap_or(u32::MAX)
}

/// Where a stream's outcome is recorded when it ends.
pub(super) struct Recording {
    orchestrator: Orchestrator,
    answered: Answered,
    context: CallContext,
    started: Instant,
    /// The prompt's size, for an estimate when the usage never comes.
    prompt_bytes: usize,
}

impl Recording {
    pub(super) fn new(
        orchestrator: Orchestrator,
        answered: Answered,
        context: CallContext,
        request: &ChatRequest,
    ) -> Self {
        Self {
            orchestrator,
            answered,
            context,
            started: Instant::now(),
            prompt_bytes: prompt_bytes(request),
        }
    }
}

/// How a stream ended, for its statistics and its charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Every choice that began reached its `finish_reason`.
    Complete,
    /// The stream failed or ended before a `finish_reason`.
    Cut,
    /// Its reader dropped it.
    Abandoned,
}

struct State {
    primed: Primed,
    recording: Recording,
    usage: Option<Usage>,
    /// Bytes of answer text handed to the reader.
    output_bytes: usize,
    /// Choices that have begun and that have finished, as bit sets of their index (an index
    /// above 63 counts as 63).
    begun: u64,
    finished: u64,
    /// The outcome is recorded and billed; nothing more may be.
    recorded: bool,
    /// Nothing more is handed out.
    done: bool,
}

/// The primed stream, recording statistics and the charge when it ends, however it ends.
pub(super) fn recorded(primed: Primed, recording: Recording) -> ChatStream {
    let state = State {
        primed,
        recording,
        usage: None,
        output_bytes: 0,
        begun: 0,
        finished: 0,
        recorded: false,
        done: false,
    };
    Box::pin(futures_util::stream::unfold(
        state,
        |mut state| async move {
            if state.done {
                return None;
            }
            let next = match state.primed.buffered.pop_front() {
                Some(event) => Some(Ok(event)),
                None => state.next_upstream().await,
            };
            match next {
                Some(Ok(mut event)) => {
                    state.observe(&mut event);
                    Some((Ok(event), state))
                }
                // The answer is whole once every choice finished: a failure after that (a
                // missing terminator, a lost usage chunk) costs at most the usage, which is
                // then estimated.
                Some(Err(error)) if state.complete() => {
                    tracing::debug!(model = %state.recording.answered.spec.id, %error, "the stream failed after its answer was complete");
                    state.end(End::Complete);
                    None
                }
                Some(Err(error)) => {
                    state.end(End::Cut);
                    Some((Err(error), state))
                }
                None if state.complete() => {
                    state.end(End::Complete);
                    None
                }
                None => {
                    let error = Error::new(
                        ErrorCategory::Network,
                        "the stream ended before its finish_reason: the answer is cut",
                    )
                    .with_model(state.recording.answered.spec.id.to_string());
                    state.end(End::Cut);
                    Some((Err(error), state))
                }
            }
        },
    ))
}

/// The bit of choice `index` in [`State::begun`] and [`State::finished`].
fn choice_bit(index: u32) -> u64 {
    1 << index.min(63)
}

impl State {
    async fn next_upstream(&mut self) -> Option<Result<StreamEvent, Error>> {
        match self.recording.answered.idle {
            Some(idle) => match tokio::time::timeout(idle, self.primed.rest.next()).await {
                Ok(next) => next,
                Err(_) => Some(Err(Error::new(
                    ErrorCategory::Timeout,
                    format!("the stream stalled: no event for {idle:?}"),
                )
                .with_model(self.recording.answered.spec.id.to_string()))),
            },
            None => self.primed.rest.next().await,
        }
    }

    fn observe(&mut self, event: &mut StreamEvent) {
        self.output_bytes += answer_bytes(event);
        match event {
            // Clients see the id of the model that answers, not the upstream's own name.
            StreamEvent::Start { model, .. } => {
                model.clear();
                model.push_str(self.recording.answered.spec.id.as_str());
            }
            StreamEvent::Delta(delta) => self.begun |= choice_bit(delta.index),
            StreamEvent::Finish { index, .. } => {
                self.begun |= choice_bit(*index);
                self.finished |= choice_bit(*index);
            }
            StreamEvent::Usage(usage) => self.usage = Some(usage.clone()),
            _ => {}
        }
    }

    /// Whether every choice that began has finished.
    fn complete(&self) -> bool {
        self.finished != 0 && self.begun & !self.finished == 0
    }

    /// Records the stream's outcome and bills it, once.
    fn end(&mut self, end: End) {
        self.done = true;
        if std::mem::replace(&mut self.recorded, true) {
            return;
        }
        // An abandoned stream bills what the upstream produced, which includes what was
        // received but not yet handed out.
        if end == End::Abandoned {
            self.output_bytes += self.primed.buffered.iter().map(answer_bytes).sum::<usize>();
        }
        let recording = &mut self.recording;
        let tokens = match &self.usage {
            Some(usage) => Tokens {
                input: usage.prompt_tokens,
                output: usage.completion_tokens,
                estimated: usage.estimated,
            },
            None => Tokens {
                input: estimated_tokens(recording.prompt_bytes),
                output: estimated_tokens(self.output_bytes),
                estimated: true,
            },
        };
        let latency = recording.started.elapsed() + self.primed.ttft;
        let spec = &recording.answered.spec;
        match end {
            End::Complete => recording.orchestrator.record(
                spec,
                &Outcome::success(latency, tokens.input, tokens.output).with_ttft(self.primed.ttft),
            ),
            End::Cut => recording
                .orchestrator
                .record(spec, &Outcome::failure(latency)),
            End::Abandoned => {}
        }
        // The stream is over, so its context is no longer needed: its strings go to the
        // charge rather than being copied.
        let principal = std::mem::take(&mut recording.context.principal);
        let request_id = recording.context.request_id.take();
        recording
            .orchestrator
            .charge(spec, tokens, principal, request_id);
    }
}

impl Drop for State {
    /// A reader that drops the stream before its end abandons it, unless the answer was
    /// already complete (a reader may stop at the last `finish_reason`).
    fn drop(&mut self) {
        if !self.recorded {
            let end = if self.complete() {
                End::Complete
            } else {
                End::Abandoned
            };
            self.end(end);
        }
    }
}
