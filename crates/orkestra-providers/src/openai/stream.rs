//! `OpenAI` stream events to [`StreamEvent`]s.

use orkestra_core::{Error, StreamEvent, Usage};

use super::chunk_events;
use crate::sse::EventFormat;
use crate::usage;

/// The terminator an `OpenAI` stream ends with.
const DONE: &str = "[DONE]";

/// How far a stream has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// No `finish_reason` yet: ending now cuts the answer.
    Answering,
    /// A `finish_reason` arrived: the answer is whole, `[DONE]` may follow.
    Finished,
    /// `[DONE]` arrived: nothing after it is read.
    Done,
}

/// Turns the events of one `OpenAI` stream, in order, into [`StreamEvent`]s.
///
/// Each event's data is a `chat.completion.chunk` ([`chunk_events`]), until `data: [DONE]`.
/// A stream whose server left out the usage gets an estimate, marked so, at its end.
///
/// The end of the answer is its first `finish_reason`: several compatible servers close the
/// stream after it without `data: [DONE]`, and such a stream is complete, even if the body
/// was cut in the middle of one more event. A stream that ends before any `finish_reason` is
/// cut: [`EventFormat::end`] is a `network` error.
#[derive(Debug)]
pub(crate) struct ChunkParser {
    first: bool,
    progress: Progress,
    saw_usage: bool,
    prompt_estimate: u32,
    completion_chars: usize,
}

impl ChunkParser {
    /// A parser whose usage estimate, if the server reports none, counts `prompt_estimate`
    /// prompt tokens.
    pub(crate) fn new(prompt_estimate: u32) -> Self {
        Self {
            first: true,
            progress: Progress::Answering,
            saw_usage: false,
            prompt_estimate,
            completion_chars: 0,
        }
    }

    /// The estimated usage, unless the server reported one.
    fn missing_usage(&self) -> Option<StreamEvent> {
        (!self.saw_usage).then(|| {
            StreamEvent::Usage(Usage::estimated(
                self.prompt_estimate,
                usage::chars_tokens(self.completion_chars),
            ))
        })
    }
}

impl EventFormat for ChunkParser {
    fn event(&mut self, data: &str) -> Result<Vec<StreamEvent>, Error> {
        let data = data.trim();
        if data == DONE {
            self.progress = Progress::Done;
            return Ok(self.missing_usage().into_iter().collect());
        }
        if data.is_empty() {
            return Ok(Vec::new());
        }
        let events = chunk_events(data.as_bytes(), self.first)?;
        self.first = false;
        for event in &events {
            match event {
                StreamEvent::Delta(delta) => {
                    if let Some(content) = &delta.content {
                        self.completion_chars += content.chars().count();
                    }
                    for call in &delta.tool_calls {
                        if let Some(function) = &call.function {
                            let name = function.name.as_deref().unwrap_or_default();
                            let arguments = function.arguments.as_deref().unwrap_or_default();
                            self.completion_chars +=
                                name.chars().count() + arguments.chars().count();
                        }
                    }
                }
                StreamEvent::Finish { .. } if self.progress == Progress::Answering => {
                    self.progress = Progress::Finished;
                }
                StreamEvent::Usage(_) => self.saw_usage = true,
                _ => {}
            }
        }
        Ok(events)
    }

    fn end(&mut self) -> Result<Vec<StreamEvent>, Error> {
        if self.progress == Progress::Finished {
            Ok(self.missing_usage().into_iter().collect())
        } else {
            Err(crate::error::stream_cut("data: [DONE]"))
        }
    }

    fn is_done(&self) -> bool {
        self.progress == Progress::Done
    }

    fn is_complete(&self) -> bool {
        self.progress != Progress::Answering
    }
}
