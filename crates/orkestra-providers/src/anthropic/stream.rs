//! Anthropic stream events to [`StreamEvent`]s.

use std::collections::HashMap;

use orkestra_core::{
    Delta, Error, ErrorClass, FinishReason, Role, StreamEvent, ToolCallDelta, UpstreamDetails,
    stream::FunctionCallDelta,
};
use serde::Deserialize;
use serde_json::Value;

use super::malformed;
use super::response::{MessageBody, WireUsage, error_category, finish_reason};
use crate::sse::EventFormat;

/// Turns the events of one Anthropic stream, in order, into [`StreamEvent`]s.
///
/// Feed it each server-sent event's `data` with [`EventParser::push`]; when the transport
/// ends, call [`EventParser::finish`]. A stream that ends after the `message_delta` carrying
/// its `stop_reason` is whole even without `message_stop` (the answer ended; only the
/// terminator is missing), and `finish` gives the events `message_stop` would have; a stream
/// that ends before its `stop_reason` is cut, an error, never a shorter answer.
///
/// | Anthropic event | events |
/// |---|---|
/// | `message_start` | `Start`, then a `Delta` with the assistant role |
/// | `content_block_start` (text) | a text `Delta` if the block starts with text |
/// | `content_block_start` (`tool_use`) | a `Delta` opening tool call *n* (id, name) |
/// | `content_block_delta` `text_delta` | a text `Delta` |
/// | `content_block_delta` `input_json_delta` | a `Delta` with an arguments fragment |
/// | `content_block_delta` `thinking_delta` | a `Delta` with `reasoning_content` |
/// | `content_block_stop` | nothing, or `{}` arguments for a tool call that had none |
/// | `message_delta` | nothing: stop reason and usage are kept for the end |
/// | `message_stop` | `Finish`, then `Usage` |
/// | `ping`, unknown types, unknown delta types | nothing |
/// | `error` | `Err`, classified by the error's `type` |
///
/// The `Finish` waits for `message_stop` (or the end of the body after the `stop_reason`), so
/// that a consumer never sees a finished answer on a stream that is then cut.
#[derive(Debug, Default)]
pub struct EventParser {
    created: u64,
    /// Content block index to the tool call index of a `tool_use` block.
    tool_blocks: HashMap<u64, ToolBlock>,
    next_tool: u32,
    stop_reason: Option<String>,
    usage: WireUsage,
    saw_usage: bool,
    events_seen: u64,
    done: bool,
}

#[derive(Debug)]
struct ToolBlock {
    index: u32,
    /// The `input` of `content_block_start`, sent as the arguments if no fragment follows.
    initial_input: Value,
    got_fragment: bool,
}

/// One event's `data`, the fields any event type may carry.
#[derive(Debug, Deserialize)]
struct WireEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    message: Option<MessageBody>,
    #[serde(default)]
    index: Option<u64>,
    #[serde(default)]
    content_block: Option<Value>,
    #[serde(default)]
    delta: Option<Value>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<WireError>,
}

#[derive(Debug, Deserialize)]
struct WireError {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: String,
}

impl EventParser {
    /// A parser for a stream whose answer is stamped `created` (Unix seconds): the Messages
    /// API does not say when a message was created.
    pub fn new(created: u64) -> Self {
        Self {
            created,
            ..Self::default()
        }
    }

    /// Whether `message_stop` has been seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The events carried by one server-sent event's `data`.
    ///
    /// The SSE `event:` name is not needed: every payload repeats it as `type`. Events after
    /// `message_stop` are ignored.
    pub fn push(&mut self, data: &str) -> Result<Vec<StreamEvent>, Error> {
        self.events_seen += 1;
        let position = self.events_seen;
        if self.done {
            return Ok(Vec::new());
        }
        let event: WireEvent = serde_json::from_str(data)
            .map_err(|error| malformed(format_args!("stream event {position}: {error}")))?;
        let mut events = Vec::new();
        match event.kind.as_str() {
            "message_start" => self.message_start(position, event, &mut events)?,
            "content_block_start" => {
                let (Some(index), Some(block)) = (event.index, event.content_block) else {
                    return Err(malformed(format_args!(
                        "stream event {position} (content_block_start): needs `index` and `content_block`"
                    )));
                };
                self.block_start(index, &block, &mut events);
            }
            "content_block_delta" => {
                let (Some(index), Some(delta)) = (event.index, event.delta) else {
                    return Err(malformed(format_args!(
                        "stream event {position} (content_block_delta): needs `index` and `delta`"
                    )));
                };
                self.block_delta(position, index, &delta, &mut events)?;
            }
            "content_block_stop" => {
                if let Some(block) = event.index.and_then(|index| self.tool_blocks.get(&index))
                    && !block.got_fragment
                {
                    events.push(arguments_delta(
                        block.index,
                        block.initial_input.to_string(),
                    ));
                }
            }
            "message_delta" => {
                if let Some(reason) = event
                    .delta
                    .as_ref()
                    .and_then(|delta| delta.get("stop_reason"))
                    .and_then(Value::as_str)
                {
                    self.stop_reason = Some(reason.to_owned());
                }
                if let Some(usage) = &event.usage {
                    self.usage.update(usage);
                    self.saw_usage = true;
                }
            }
            "message_stop" => self.message_stop(&mut events),
            "error" => return Err(error_event(position, event.error)),
            // `ping` keeps the connection alive; unknown types are new API features, which
            // the versioning policy tells clients to ignore.
            _ => {}
        }
        Ok(events)
    }

    fn message_start(
        &mut self,
        position: u64,
        event: WireEvent,
        events: &mut Vec<StreamEvent>,
    ) -> Result<(), Error> {
        let message = event.message.ok_or_else(|| {
            malformed(format_args!(
                "stream event {position} (message_start): no `message`"
            ))
        })?;
        if let Some(usage) = &message.usage {
            self.usage.update(usage);
            self.saw_usage = true;
        }
        events.push(StreamEvent::Start {
            id: message.id,
            model: message.model,
            created: self.created,
        });
        events.push(StreamEvent::Delta(Delta {
            role: Some(Role::Assistant),
            ..Delta::default()
        }));
        Ok(())
    }

    fn message_stop(&mut self, events: &mut Vec<StreamEvent>) {
        self.done = true;
        events.push(StreamEvent::Finish {
            index: 0,
            reason: self
                .stop_reason
                .as_deref()
                .map_or(FinishReason::Stop, finish_reason),
        });
        if self.saw_usage {
            events.push(StreamEvent::Usage(self.usage.to_usage()));
        }
    }

    fn block_start(&mut self, index: u64, block: &Value, events: &mut Vec<StreamEvent>) {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                if let Some(text) = block.get("text").and_then(Value::as_str)
                    && !text.is_empty()
                {
                    events.push(StreamEvent::Delta(Delta::text(0, text)));
                }
            }
            Some("tool_use") => {
                let tool_index = self.next_tool;
                self.next_tool += 1;
                let id = block.get("id").and_then(Value::as_str).map(str::to_owned);
                let name = block.get("name").and_then(Value::as_str).map(str::to_owned);
                events.push(StreamEvent::Delta(Delta {
                    tool_calls: vec![ToolCallDelta {
                        index: tool_index,
                        id,
                        kind: Some("function".to_owned()),
                        function: Some(FunctionCallDelta {
                            name,
                            arguments: None,
                        }),
                    }],
                    ..Delta::default()
                }));
                let initial_input = block
                    .get("input")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
                self.tool_blocks.insert(
                    index,
                    ToolBlock {
                        index: tool_index,
                        initial_input,
                        got_fragment: false,
                    },
                );
            }
            Some("thinking") => {
                if let Some(text) = block.get("thinking").and_then(Value::as_str)
                    && !text.is_empty()
                {
                    events.push(reasoning_delta(text));
                }
            }
            _ => {}
        }
    }

    fn block_delta(
        &mut self,
        position: u64,
        index: u64,
        delta: &Value,
        events: &mut Vec<StreamEvent>,
    ) -> Result<(), Error> {
        let field = |name: &str| {
            delta.get(name).and_then(Value::as_str).ok_or_else(|| {
                malformed(format_args!(
                    "stream event {position} (content_block_delta): no `{name}` string"
                ))
            })
        };
        match delta.get("type").and_then(Value::as_str) {
            Some("text_delta") => {
                events.push(StreamEvent::Delta(Delta::text(0, field("text")?)));
            }
            Some("input_json_delta") => {
                let fragment = field("partial_json")?;
                let block = self.tool_blocks.get_mut(&index).ok_or_else(|| {
                    malformed(format_args!(
                        "stream event {position}: input_json_delta for block {index}, which is not a tool_use block"
                    ))
                })?;
                if !fragment.is_empty() {
                    block.got_fragment = true;
                    events.push(arguments_delta(block.index, fragment.to_owned()));
                }
            }
            Some("thinking_delta") => events.push(reasoning_delta(field("thinking")?)),
            // `signature_delta`, `citations_delta` and future delta types carry nothing the
            // chat completion shape has a place for.
            _ => {}
        }
        Ok(())
    }

    /// The events still owed when the transport ends: none after `message_stop`, those of
    /// `message_stop` after a `stop_reason` without it, and an error (`network`, the stream
    /// was cut) before any `stop_reason`.
    pub fn finish(&mut self) -> Result<Vec<StreamEvent>, Error> {
        if self.done {
            return Ok(Vec::new());
        }
        if self.stop_reason.is_none() {
            return Err(crate::error::stream_cut("message_stop"));
        }
        let mut events = Vec::new();
        self.message_stop(&mut events);
        Ok(events)
    }
}

impl EventFormat for EventParser {
    fn event(&mut self, data: &str) -> Result<Vec<StreamEvent>, Error> {
        self.push(data)
    }

    fn end(&mut self) -> Result<Vec<StreamEvent>, Error> {
        self.finish()
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn is_complete(&self) -> bool {
        self.done || self.stop_reason.is_some()
    }
}

/// The classified error of an `error` event: the server's message as it wrote it, its `type`
/// kept beside it.
fn error_event(position: u64, error: Option<WireError>) -> Error {
    let (kind, message) = error.map_or((String::new(), String::new()), |error| {
        (error.kind, error.message)
    });
    let category = error_category(&kind, &message);
    let message = if message.is_empty() {
        format!("anthropic stream event {position}: an error event without a message")
    } else {
        message
    };
    let error = Error::with_class(ErrorClass::new(category), message);
    if kind.is_empty() {
        error
    } else {
        error.with_upstream(UpstreamDetails::new(Some(kind), None, None))
    }
}

fn arguments_delta(index: u32, arguments: String) -> StreamEvent {
    StreamEvent::Delta(Delta {
        tool_calls: vec![ToolCallDelta {
            index,
            id: None,
            kind: None,
            function: Some(FunctionCallDelta {
                name: None,
                arguments: Some(arguments),
            }),
        }],
        ..Delta::default()
    })
}

fn reasoning_delta(text: &str) -> StreamEvent {
    let mut delta = Delta::default();
    delta
        .extra
        .insert("reasoning_content".to_owned(), Value::from(text));
    StreamEvent::Delta(delta)
}
