//! Ollama's streamed `/api/chat`: newline-delimited JSON objects to [`StreamEvent`]s.

use orkestra_core::{
    ChatRequest, Delta, Error, Role, StreamEvent, ToolCallDelta, stream::FunctionCallDelta,
};
use serde_json::Value;

use super::malformed;
use super::response::{ChatObject, DURATIONS, error_category, finish_reason, usage};
use crate::usage::{prompt_tokens, text_tokens};

/// The longest line [`LineDecoder::new`] accepts by default: 1 MiB, far above any streamed
/// chat object, so a server that never sends a newline cannot grow the buffer without bound.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// Splits a byte stream into lines, whatever the network chunking: a line may arrive split
/// across chunks at any byte, including inside a UTF-8 character or between `\r` and `\n`.
///
/// Lines are returned without their terminator (`\n` or `\r\n`); blank lines are skipped.
#[derive(Debug)]
pub struct LineDecoder {
    buffer: Vec<u8>,
    /// How far `buffer` has been searched for a newline.
    scanned: usize,
    max_line_bytes: usize,
}

impl Default for LineDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LINE_BYTES)
    }
}

impl LineDecoder {
    /// A decoder refusing lines longer than `max_line_bytes`.
    pub fn new(max_line_bytes: usize) -> Self {
        Self {
            buffer: Vec::new(),
            scanned: 0,
            max_line_bytes,
        }
    }

    /// The complete lines that `chunk` ends; a partial line waits for the next chunk.
    ///
    /// Fails when a line grows past the limit.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
        self.buffer.extend_from_slice(chunk);
        let mut lines = Vec::new();
        let mut start = 0;
        let mut at = self.scanned;
        while let Some(offset) = self.buffer[at..].iter().position(|&byte| byte == b'\n') {
            let end = at + offset;
            let mut line = &self.buffer[start..end];
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            if !line.iter().all(u8::is_ascii_whitespace) {
                lines.push(line.to_vec());
            }
            start = end + 1;
            at = start;
        }
        self.buffer.drain(..start);
        self.scanned = self.buffer.len();
        if self.buffer.len() > self.max_line_bytes {
            return Err(malformed(format_args!(
                "stream: a line is longer than {} bytes",
                self.max_line_bytes
            )));
        }
        Ok(lines)
    }

    /// The last line, if the stream ended without a newline after it.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        let rest = std::mem::take(&mut self.buffer);
        self.scanned = 0;
        let rest = rest
            .strip_suffix(b"\r")
            .map_or(rest.clone(), <[u8]>::to_vec);
        (!rest.iter().all(u8::is_ascii_whitespace)).then_some(rest)
    }
}

/// Turns the objects of one Ollama chat stream, one line each, into [`StreamEvent`]s.
///
/// The first object opens the answer (`Start` and the assistant role); each object's
/// `message.content` is a text delta, `message.thinking` a `reasoning_content` delta and each
/// tool call a complete tool call delta; the object with `done: true` gives `Finish` and
/// `Usage` (estimated, and marked so, where Ollama left a count out). An `{"error": ...}`
/// object is a classified `Err`. [`ChunkParser::finish`] fails unless `done: true` was seen:
/// a cut stream is an error, never a shorter answer.
#[derive(Debug)]
pub struct ChunkParser {
    prompt_estimate: u32,
    completion: String,
    started: bool,
    next_tool: u32,
    objects_seen: u64,
    done: bool,
}

impl ChunkParser {
    /// A parser for the answer to `request`, whose prompt size is estimated up front in case
    /// the server does not report it.
    pub fn new(request: &ChatRequest) -> Self {
        Self {
            prompt_estimate: prompt_tokens(request),
            completion: String::new(),
            started: false,
            next_tool: 0,
            objects_seen: 0,
            done: false,
        }
    }

    /// Whether the `done: true` object has been seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The events of one line. Lines after the final object are ignored.
    pub fn push(&mut self, line: &[u8]) -> Result<Vec<StreamEvent>, Error> {
        self.objects_seen += 1;
        let position = self.objects_seen;
        if self.done {
            return Ok(Vec::new());
        }
        let object: ChatObject = serde_json::from_slice(line)
            .map_err(|error| malformed(format_args!("stream line {position}: {error}")))?;
        if let Some(message) = object.error_message() {
            return Err(Error::new(error_category(&message), message));
        }
        let mut events = Vec::new();
        if !self.started {
            self.started = true;
            events.push(StreamEvent::Start {
                id: object.response_id(),
                model: object.model.clone(),
                created: object.created(),
            });
            events.push(StreamEvent::Delta(Delta {
                role: Some(Role::Assistant),
                ..Delta::default()
            }));
        }
        if let Some(message) = object.message {
            if let Some(thinking) = message.thinking.filter(|thinking| !thinking.is_empty()) {
                let mut delta = Delta::default();
                delta
                    .extra
                    .insert("reasoning_content".to_owned(), Value::from(thinking));
                events.push(StreamEvent::Delta(delta));
            }
            if !message.content.is_empty() {
                self.completion.push_str(&message.content);
                events.push(StreamEvent::Delta(Delta::text(0, message.content)));
            }
            for call in message.tool_calls {
                let index = self.next_tool;
                self.next_tool += 1;
                let call = call.into_tool_call(index as usize);
                events.push(StreamEvent::Delta(Delta {
                    tool_calls: vec![ToolCallDelta {
                        index,
                        id: Some(call.id),
                        kind: Some(call.kind),
                        function: Some(FunctionCallDelta {
                            name: Some(call.function.name),
                            arguments: Some(call.function.arguments),
                        }),
                    }],
                    ..Delta::default()
                }));
            }
        }
        if object.done {
            self.done = true;
            events.push(StreamEvent::Finish {
                index: 0,
                reason: finish_reason(object.done_reason.as_deref(), self.next_tool > 0),
            });
            let mut usage = usage(
                object.prompt_eval_count,
                object.eval_count,
                || self.prompt_estimate,
                || text_tokens(&self.completion),
            );
            for key in DURATIONS {
                if let Some(value) = object.rest.get(key) {
                    usage.extra.insert(key.to_owned(), value.clone());
                }
            }
            events.push(StreamEvent::Usage(usage));
        }
        Ok(events)
    }

    /// Checks that the stream ended properly: `Err` unless `done: true` was seen.
    pub fn finish(&self) -> Result<(), Error> {
        if self.done {
            Ok(())
        } else {
            Err(crate::error::stream_cut("`done: true`"))
        }
    }
}
