//! Streamed answers: the provider-neutral [`StreamEvent`], the `OpenAI` chunk shape and an
//! accumulator that folds events into a [`ChatResponse`].
//!
//! A provider turns its wire format (`OpenAI` SSE, Anthropic events, Ollama NDJSON) into
//! [`StreamEvent`]s; the gateway turns them back into `OpenAI` chunks. A stream that ends
//! without its wire terminator must end with an `Err` item, never silently: the accumulator
//! therefore only yields a response when it has seen a [`StreamEvent::Finish`].
//!
//! Chunks read from the wire are written back as the same JSON value. Two `null`s need a
//! rule, and both follow how `OpenAI` writes its chunks:
//! - a [`Delta`] that carries a `role` (the first of a choice) always carries `content`,
//!   `null` when it has none (a tool-call answer);
//! - `"usage": null`, which `OpenAI` puts on every chunk but the last when `include_usage` is
//!   set, is kept in [`ChatChunk::extra`]; a real [`ChatChunk::usage`] takes its place.

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::map::Entry;
use serde_json::{Map, Value};

use crate::chat::{
    ChatResponse, Choice, FinishReason, FunctionCall, Message, Role, ToolCall, Usage,
};

/// One step of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StreamEvent {
    /// The answer started; sent once, first.
    Start {
        /// The completion's id.
        id: String,
        /// The model that answers.
        model: String,
        /// Unix time in seconds.
        created: u64,
    },
    /// New content for one choice.
    Delta(Delta),
    /// One choice finished.
    Finish {
        /// The choice.
        index: u32,
        /// Why it stopped.
        reason: FinishReason,
    },
    /// Token counts of the whole answer, usually after the last `Finish`.
    Usage(Usage),
}

/// New content for one choice of a streamed answer.
///
/// Serialization is written by hand for one rule: a delta with a `role` always carries
/// `content`, `null` when it has none (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct Delta {
    /// The choice this content belongs to (not serialized: the chunk carries it).
    #[serde(skip)]
    pub index: u32,
    /// The role, on the first delta of a choice.
    #[serde(default)]
    pub role: Option<Role>,
    /// Text to append.
    #[serde(default)]
    pub content: Option<String>,
    /// Fragments of tool calls to append.
    #[serde(default)]
    pub tool_calls: Vec<ToolCallDelta>,
    /// Every other field (`refusal`, `reasoning_content`, ...), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Delta {
    /// A text delta for choice `index`.
    pub fn text(index: u32, content: impl Into<String>) -> Self {
        Self {
            index,
            content: Some(content.into()),
            ..Self::default()
        }
    }
}

impl Serialize for Delta {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(role) = &self.role {
            map.serialize_entry("role", role)?;
        }
        // OpenAI opens a tool-call answer with `"content": null` next to the role; writing it
        // back keeps such chunks exact.
        if self.content.is_some() || self.role.is_some() {
            map.serialize_entry("content", &self.content)?;
        }
        if !self.tool_calls.is_empty() {
            map.serialize_entry("tool_calls", &self.tool_calls)?;
        }
        for (key, value) in &self.extra {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// A fragment of a tool call in a stream; fragments with the same `index` concatenate.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ToolCallDelta {
    /// Which tool call of the message this fragment belongs to.
    pub index: u32,
    /// The call's id, on its first fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `function`, on the first fragment.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name and argument fragments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCallDelta>,
}

/// A fragment of a function call's name and arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FunctionCallDelta {
    /// The name, on the first fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A piece of the arguments string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

/// One `chat.completion.chunk` of an `OpenAI` stream (the JSON after `data: `).
///
/// Serde is written by hand (through a private wire shape) for one rule: `"usage": null` is
/// kept in `extra` (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "WireChunk")]
pub struct ChatChunk {
    /// The completion's id, the same on every chunk.
    pub id: String,
    /// Always `chat.completion.chunk`.
    pub object: String,
    /// Unix time in seconds.
    pub created: u64,
    /// The model that answers.
    pub model: String,
    /// Deltas; empty on the final usage chunk.
    pub choices: Vec<ChunkChoice>,
    /// Usage of the whole answer, on the final chunk when `include_usage` was asked.
    pub usage: Option<Usage>,
    /// Every other field (`system_fingerprint`, a `"usage": null`, ...), kept as sent.
    pub extra: Map<String, Value>,
}

fn chunk_object() -> String {
    "chat.completion.chunk".to_owned()
}

/// A [`ChatChunk`] as read from the wire, telling an absent `usage` from a `null` one.
#[derive(Deserialize)]
struct WireChunk {
    id: String,
    #[serde(default = "chunk_object")]
    object: String,
    #[serde(default)]
    created: u64,
    #[serde(default)]
    model: String,
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    usage: WireUsage,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// A chunk's `usage` field as sent: absent, `null`, or a usage.
#[derive(Default)]
enum WireUsage {
    #[default]
    Absent,
    Null,
    Reported(Usage),
}

impl<'de> Deserialize<'de> for WireUsage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // An absent field never reaches this: `#[serde(default)]` gives `Absent`.
        Ok(Option::<Usage>::deserialize(deserializer)?.map_or(Self::Null, Self::Reported))
    }
}

impl From<WireChunk> for ChatChunk {
    fn from(wire: WireChunk) -> Self {
        let mut extra = wire.extra;
        let usage = match wire.usage {
            WireUsage::Reported(usage) => Some(usage),
            WireUsage::Null => {
                extra.insert("usage".to_owned(), Value::Null);
                None
            }
            WireUsage::Absent => None,
        };
        Self {
            id: wire.id,
            object: wire.object,
            created: wire.created,
            model: wire.model,
            choices: wire.choices,
            usage,
            extra,
        }
    }
}

impl Serialize for ChatChunk {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("object", &self.object)?;
        map.serialize_entry("created", &self.created)?;
        map.serialize_entry("model", &self.model)?;
        map.serialize_entry("choices", &self.choices)?;
        if let Some(usage) = &self.usage {
            map.serialize_entry("usage", usage)?;
        }
        for (key, value) in &self.extra {
            // A real usage replaces a `"usage": null` kept from the wire; JSON keys are unique.
            if self.usage.is_none() || key != "usage" {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

/// One choice's delta in a [`ChatChunk`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// The choice.
    pub index: u32,
    /// New content.
    #[serde(default)]
    pub delta: Delta,
    /// Set on the choice's last chunk.
    #[serde(default)]
    pub finish_reason: Option<FinishReason>,
    /// Every other field (`logprobs`, ...), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChunkChoice {
    /// Pushes the events this choice carries: a `Delta` when it has any content, then a
    /// `Finish` when it ends the choice. Its `extra` fields travel in no event.
    pub fn push_events(self, events: &mut Vec<StreamEvent>) {
        let mut delta = self.delta;
        delta.index = self.index;
        let has_content = delta.role.is_some()
            || delta.content.is_some()
            || !delta.tool_calls.is_empty()
            || !delta.extra.is_empty();
        if has_content {
            events.push(StreamEvent::Delta(delta));
        }
        if let Some(reason) = self.finish_reason {
            events.push(StreamEvent::Finish {
                index: self.index,
                reason,
            });
        }
    }
}

impl ChatChunk {
    /// The events this chunk carries, in order: `Start` when `first`, deltas, finishes, usage.
    pub fn into_events(self, first: bool) -> Vec<StreamEvent> {
        let mut events = Vec::with_capacity(self.choices.len() + 2);
        if first {
            events.push(StreamEvent::Start {
                id: self.id,
                model: self.model,
                created: self.created,
            });
        }
        for choice in self.choices {
            choice.push_events(&mut events);
        }
        if let Some(usage) = self.usage {
            events.push(StreamEvent::Usage(usage));
        }
        events
    }

    /// The chunk that carries `event` for a stream with this `id`, `model` and `created`.
    ///
    /// Returns `None` for [`StreamEvent::Start`], which the `OpenAI` format has no chunk for:
    /// its fields ride on every chunk instead.
    pub fn from_event(id: &str, model: &str, created: u64, event: StreamEvent) -> Option<Self> {
        let (choices, usage) = match event {
            StreamEvent::Start { .. } => return None,
            StreamEvent::Delta(delta) => (
                vec![ChunkChoice {
                    index: delta.index,
                    delta,
                    finish_reason: None,
                    extra: Map::new(),
                }],
                None,
            ),
            StreamEvent::Finish { index, reason } => (
                vec![ChunkChoice {
                    index,
                    delta: Delta::default(),
                    finish_reason: Some(reason),
                    extra: Map::new(),
                }],
                None,
            ),
            StreamEvent::Usage(usage) => (Vec::new(), Some(usage)),
        };
        Some(Self {
            id: id.to_owned(),
            object: chunk_object(),
            created,
            model: model.to_owned(),
            choices,
            usage,
            extra: Map::new(),
        })
    }
}

/// Folds [`StreamEvent`]s into the [`ChatResponse`] a non-streamed call would have returned.
///
/// Text and tool-call fragments concatenate. Other delta fields go to the message's `extra`:
/// string fragments concatenate (a streamed `refusal` or `reasoning_content`), a `null` never
/// replaces a value, and any other value replaces the previous one.
///
/// ```
/// use orkestra_core::{Delta, FinishReason, StreamAccumulator, StreamEvent};
///
/// let mut acc = StreamAccumulator::default();
/// acc.push(StreamEvent::Delta(Delta::text(0, "Hel")));
/// acc.push(StreamEvent::Delta(Delta::text(0, "lo")));
/// assert!(!acc.is_finished(), "no Finish yet: a cut stream is not an answer");
/// acc.push(StreamEvent::Finish { index: 0, reason: FinishReason::Stop });
/// let response = acc.finish().expect("finished");
/// assert_eq!(response.text(), "Hello");
/// ```
#[derive(Debug, Clone, Default)]
pub struct StreamAccumulator {
    id: String,
    model: String,
    created: u64,
    choices: Vec<AccumulatedChoice>,
    usage: Option<Usage>,
}

#[derive(Debug, Clone, Default)]
struct AccumulatedChoice {
    role: Option<Role>,
    text: Option<String>,
    tool_calls: Vec<ToolCall>,
    extra: Map<String, Value>,
    finish_reason: Option<FinishReason>,
}

/// Folds one delta field the accumulator does not model into the message's `extra`.
fn merge_extra(extra: &mut Map<String, Value>, key: String, value: Value) {
    match extra.entry(key) {
        Entry::Vacant(slot) => {
            slot.insert(value);
        }
        Entry::Occupied(mut slot) => match (slot.get_mut(), value) {
            (Value::String(text), Value::String(fragment)) => text.push_str(&fragment),
            (_, Value::Null) => {}
            (_, value) => {
                slot.insert(value);
            }
        },
    }
}

impl StreamAccumulator {
    /// Adds one event.
    pub fn push(&mut self, event: StreamEvent) {
        match event {
            StreamEvent::Start { id, model, created } => {
                self.id = id;
                self.model = model;
                self.created = created;
            }
            StreamEvent::Delta(delta) => {
                let choice = self.choice(delta.index);
                if delta.role.is_some() {
                    choice.role = delta.role;
                }
                if let Some(content) = delta.content {
                    choice
                        .text
                        .get_or_insert_with(String::new)
                        .push_str(&content);
                }
                for fragment in delta.tool_calls {
                    let slot = fragment.index as usize;
                    if choice.tool_calls.len() <= slot {
                        choice.tool_calls.resize_with(slot + 1, || ToolCall {
                            id: String::new(),
                            kind: "function".to_owned(),
                            function: FunctionCall {
                                name: String::new(),
                                arguments: String::new(),
                            },
                        });
                    }
                    let call = &mut choice.tool_calls[slot];
                    if let Some(id) = fragment.id {
                        call.id = id;
                    }
                    if let Some(kind) = fragment.kind {
                        call.kind = kind;
                    }
                    if let Some(function) = fragment.function {
                        if let Some(name) = function.name {
                            call.function.name.push_str(&name);
                        }
                        if let Some(arguments) = function.arguments {
                            call.function.arguments.push_str(&arguments);
                        }
                    }
                }
                for (key, value) in delta.extra {
                    merge_extra(&mut choice.extra, key, value);
                }
            }
            StreamEvent::Finish { index, reason } => {
                self.choice(index).finish_reason = Some(reason);
            }
            StreamEvent::Usage(usage) => self.usage = Some(usage),
        }
    }

    fn choice(&mut self, index: u32) -> &mut AccumulatedChoice {
        let index = index as usize;
        if self.choices.len() <= index {
            self.choices
                .resize_with(index + 1, AccumulatedChoice::default);
        }
        &mut self.choices[index]
    }

    /// Whether every choice seen so far has finished (and at least one was seen).
    pub fn is_finished(&self) -> bool {
        !self.choices.is_empty() && self.choices.iter().all(|c| c.finish_reason.is_some())
    }

    /// The text accumulated so far for choice 0.
    pub fn text(&self) -> &str {
        self.choices
            .first()
            .and_then(|choice| choice.text.as_deref())
            .unwrap_or_default()
    }

    /// The response, or `None` if some choice never finished (the stream was cut).
    pub fn finish(self) -> Option<ChatResponse> {
        if !self.is_finished() {
            return None;
        }
        let choices = self
            .choices
            .into_iter()
            .zip(0u32..)
            .map(|(choice, index)| Choice {
                index,
                message: Message {
                    role: choice.role.unwrap_or(Role::Assistant),
                    content: choice.text.map(Into::into),
                    name: None,
                    tool_calls: (!choice.tool_calls.is_empty()).then_some(choice.tool_calls),
                    tool_call_id: None,
                    extra: choice.extra,
                },
                finish_reason: choice.finish_reason,
                extra: Map::new(),
            })
            .collect();
        Some(ChatResponse {
            id: self.id,
            object: "chat.completion".to_owned(),
            created: self.created,
            model: self.model,
            choices,
            usage: self.usage,
            extra: Map::new(),
        })
    }
}

#[cfg(test)]
mod tests;
