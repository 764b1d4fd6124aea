//! Streams: opened until their first token inside an attempt, then recorded as they flow.
//!
//! An attempt of a streamed request lasts until the first content arrives, so a failure before
//! it (a refused connection, a 429, a stream cut before any token) is an ordinary failed attempt
//! and the walk falls back. Once content has flowed the model is committed: a later failure ends
//! the stream with an `Err` item, which the gateway turns into an error event, never a clean
//! finish.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use orkestra_core::{ChatBackend, ChatRequest, ChatStream, Error, ErrorCategory, StreamEvent};
use orkestra_models::{ModelId, Outcome};

use super::{CallContext, Orchestrator};

/// A stream whose first content has arrived.
pub(super) struct Primed {
    buffered: VecDeque<StreamEvent>,
    rest: ChatStream,
    ttft: Duration,
}

/// Opens a stream and reads it up to its first content.
pub(super) async fn open(
    backend: &dyn ChatBackend,
    request: &ChatRequest,
) -> Result<Primed, Error> {
    let started = Instant::now();
    let mut rest = backend.stream(request).await?;
    let mut buffered = VecDeque::new();
    while let Some(event) = rest.next().await {
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

/// Where a stream's outcome is recorded when it ends.
pub(super) struct Recording {
    pub(super) orchestrator: Orchestrator,
    pub(super) model: ModelId,
    pub(super) context: CallContext,
    pub(super) started: Instant,
    /// The longest wait between two events.
    pub(super) idle: Option<Duration>,
}

struct State {
    primed: Primed,
    recording: Recording,
    input_tokens: Option<u32>,
    output_tokens: Option<u32>,
    output_chars: usize,
    done: bool,
}

/// The primed stream, recording statistics and the charge when it ends.
pub(super) fn recorded(primed: Primed, recording: Recording) -> ChatStream {
    let state = State {
        primed,
        recording,
        input_tokens: None,
        output_tokens: None,
        output_chars: 0,
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
                Some(Err(error)) => {
                    state.done = true;
                    state.failed();
                    Some((Err(error), state))
                }
                None => {
                    state.done = true;
                    state.finished();
                    None
                }
            }
        },
    ))
}

impl State {
    async fn next_upstream(&mut self) -> Option<Result<StreamEvent, Error>> {
        match self.recording.idle {
            Some(idle) => match tokio::time::timeout(idle, self.primed.rest.next()).await {
                Ok(next) => next,
                Err(_) => Some(Err(Error::new(
                    ErrorCategory::Timeout,
                    format!("the stream stalled: no event for {idle:?}"),
                )
                .with_model(self.recording.model.to_string()))),
            },
            None => self.primed.rest.next().await,
        }
    }

    fn observe(&mut self, event: &mut StreamEvent) {
        match event {
            // Clients see the id of the model that answers, not the upstream's own name.
            StreamEvent::Start { model, .. } => self.recording.model.to_string().clone_into(model),
            StreamEvent::Delta(delta) => {
                self.output_chars += delta.content.as_ref().map_or(0, String::len);
            }
            StreamEvent::Usage(usage) => {
                self.input_tokens = Some(usage.prompt_tokens);
                self.output_tokens = Some(usage.completion_tokens);
            }
            _ => {}
        }
    }

    fn failed(&self) {
        let latency = self.recording.started.elapsed() + self.primed.ttft;
        self.recording.orchestrator.inner.stats.record(
            &self.recording.model,
            &Outcome::failure(latency),
            orkestra_models::UnixMillis::now(),
        );
    }

    fn finished(&self) {
        let recording = &self.recording;
        let latency = recording.started.elapsed() + self.primed.ttft;
        // Without a usage event the counts are estimated: about four characters per token.
        let output = self
            .output_tokens
            .unwrap_or_else(|| u32::try_from(self.output_chars.div_ceil(4)).unwrap_or(u32::MAX));
        let input = self.input_tokens.unwrap_or(0);
        let outcome = Outcome::success(latency, input, output).with_ttft(self.primed.ttft);
        recording
            .orchestrator
            .record_success(&recording.model, &outcome);
        recording.orchestrator.charge(
            &recording.model,
            u64::from(input),
            u64::from(output),
            &recording.context,
        );
    }
}
