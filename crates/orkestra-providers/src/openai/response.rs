//! Fast, tolerant readers for `OpenAI` response bodies and stream chunks.
//!
//! They produce the core types ([`ChatResponse`], [`ChatChunk`]) with the same values the
//! core's own `Deserialize` impls give, with two differences:
//!
//! - **Speed.** Each key is read once, borrowed from the input when it has no escapes
//!   ([`Key`]), and only unknown fields become [`Value`]s, as in the core's own readers.
//! - **Tolerance.** Compatible servers leave out `id`, `created`, `model`, `object` or a
//!   choice's `index`, send `created` as a float, or `null` where a list is expected; these
//!   read as empty or zero instead of failing the whole answer.

use std::fmt;

use orkestra_core::chat::Key;
use orkestra_core::{
    ChatChunk, ChatResponse, Choice, ChunkChoice, Content, Delta, FinishReason, Message, Role,
    StreamEvent, ToolCall, ToolCallDelta, Usage,
};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// Reads a `chat.completion` body.
pub(crate) fn parse_response(body: &[u8]) -> Result<ChatResponse, serde_json::Error> {
    match orkestra_core::json::from_slice::<Wire<ChatResponse>>(body) {
        Some(wire) => Ok(wire.0),
        // serde_json reads it again for an error that names the line and column.
        None => serde_json::from_slice::<Wire<ChatResponse>>(body).map(|wire| wire.0),
    }
}

/// Reads one `chat.completion.chunk` (the data of one SSE event).
pub(crate) fn parse_chunk(data: &[u8]) -> Result<ChatChunk, serde_json::Error> {
    serde_json::from_slice::<Wire<ChatChunk>>(data).map(|wire| wire.0)
}

/// A core type read by this module's visitors instead of its own `Deserialize`.
struct Wire<T>(T);

/// A non-negative integer that also reads a float (truncated) or `null` (zero).
struct Lenient(u64);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LenientVisitor;
        impl Visitor<'_> for LenientVisitor {
            type Value = Lenient;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative number or null")
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Lenient, E> {
                Ok(Lenient(value))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Lenient, E> {
                u64::try_from(value)
                    .map(Lenient)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(value), &self))
            }
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "a float count is truncated on purpose; negatives are rejected first"
            )]
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Lenient, E> {
                if value.is_finite() && value >= 0.0 {
                    Ok(Lenient(value as u64))
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(value), &self))
                }
            }
            fn visit_unit<E: de::Error>(self) -> Result<Lenient, E> {
                Ok(Lenient(0))
            }
        }
        deserializer.deserialize_any(LenientVisitor)
    }
}

impl Lenient {
    fn u32(self) -> u32 {
        u32::try_from(self.0).unwrap_or(u32::MAX)
    }
}

/// A list that also reads `null` as empty, each element through `Wire<T>`.
struct WireList<T>(Vec<T>);

impl<'de, T> Deserialize<'de> for WireList<T>
where
    Wire<T>: Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T> Visitor<'de> for ListVisitor<T>
        where
            Wire<T>: Deserialize<'de>,
        {
            type Value = WireList<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<WireList<T>, E> {
                Ok(WireList(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WireList<T>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(16));
                while let Some(Wire(item)) = seq.next_element::<Wire<T>>()? {
                    items.push(item);
                }
                Ok(WireList(items))
            }
        }
        deserializer.deserialize_any(ListVisitor(std::marker::PhantomData))
    }
}

/// Implements `Deserialize` for `Wire<$ty>` with a map visitor body.
macro_rules! wire_map {
    ($ty:ty, $expecting:literal, |$map:ident| $body:block) => {
        impl<'de> Deserialize<'de> for Wire<$ty> {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct MapVisitor;
                impl<'de> Visitor<'de> for MapVisitor {
                    type Value = Wire<$ty>;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_map<A: MapAccess<'de>>(
                        self,
                        mut $map: A,
                    ) -> Result<Wire<$ty>, A::Error> {
                        $body
                    }
                }
                deserializer.deserialize_map(MapVisitor)
            }
        }
    };
}

/// Reads the value of an unknown key into `extra`.
fn keep<'de, A: MapAccess<'de>>(
    map: &mut A,
    extra: &mut Map<String, Value>,
    key: Key<'de>,
) -> Result<(), A::Error> {
    let value = map.next_value::<Value>()?;
    extra.insert(key.into_string(), value);
    Ok(())
}

/// The fields a completion and a chunk share, each left out by some compatible server.
#[derive(Default)]
struct Envelope {
    id: Option<String>,
    object: Option<String>,
    created: u64,
    model: Option<String>,
}

impl Envelope {
    /// Reads the value of `key` when it is one of the shared fields; `false` leaves it unread.
    fn read<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "id" => self.id = map.next_value::<Option<String>>()?,
            "object" => self.object = map.next_value::<Option<String>>()?,
            "created" => self.created = map.next_value::<Lenient>()?.0,
            "model" => self.model = map.next_value::<Option<String>>()?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

wire_map!(ChatResponse, "a chat completion object", |map| {
    let mut envelope = Envelope::default();
    let mut choices = None;
    let mut usage = None;
    let mut extra = Map::new();
    while let Some(key) = map.next_key::<Key<'de>>()? {
        if envelope.read(&key.0, &mut map)? {
            continue;
        }
        match key.0.as_ref() {
            "choices" => choices = Some(map.next_value::<WireList<Choice>>()?.0),
            "usage" => usage = map.next_value::<Option<Wire<Usage>>>()?.map(|wire| wire.0),
            _ => keep(&mut map, &mut extra, key)?,
        }
    }
    let choices = choices.ok_or_else(|| de::Error::missing_field("choices"))?;
    Ok(Wire(ChatResponse {
        id: envelope.id.unwrap_or_default(),
        object: envelope
            .object
            .unwrap_or_else(|| "chat.completion".to_owned()),
        created: envelope.created,
        model: envelope.model.unwrap_or_default(),
        choices,
        usage,
        extra,
    }))
});

wire_map!(Choice, "a choice object", |map| {
    let mut index = 0;
    let mut message = None;
    let mut finish_reason = None;
    let mut extra = Map::new();
    while let Some(key) = map.next_key::<Key<'de>>()? {
        match key.0.as_ref() {
            "index" => index = map.next_value::<Lenient>()?.u32(),
            "message" => message = Some(map.next_value::<Wire<Message>>()?.0),
            "finish_reason" => finish_reason = map.next_value::<Option<FinishReason>>()?,
            _ => keep(&mut map, &mut extra, key)?,
        }
    }
    let message = message.ok_or_else(|| de::Error::missing_field("message"))?;
    Ok(Wire(Choice {
        index,
        message,
        finish_reason,
        extra,
    }))
});

wire_map!(Message, "a message object", |map| {
    let mut role = None;
    let mut content = None;
    let mut name = None;
    let mut tool_calls = None;
    let mut tool_call_id = None;
    let mut extra = Map::new();
    while let Some(key) = map.next_key::<Key<'de>>()? {
        match key.0.as_ref() {
            "role" => role = Some(map.next_value::<Role>()?),
            "content" => content = map.next_value::<Option<Content>>()?,
            "name" => name = map.next_value::<Option<String>>()?,
            "tool_calls" => tool_calls = map.next_value::<Option<Vec<ToolCall>>>()?,
            "tool_call_id" => tool_call_id = map.next_value::<Option<String>>()?,
            _ => keep(&mut map, &mut extra, key)?,
        }
    }
    Ok(Wire(Message {
        // A response message without a role can only be the assistant's.
        role: role.unwrap_or(Role::Assistant),
        content,
        name,
        tool_calls,
        tool_call_id,
        extra,
    }))
});

wire_map!(Usage, "a usage object", |map| {
    let mut prompt_tokens = 0;
    let mut completion_tokens = 0;
    let mut total_tokens = None;
    let mut estimated = false;
    let mut extra = Map::new();
    while let Some(key) = map.next_key::<Key<'de>>()? {
        match key.0.as_ref() {
            "prompt_tokens" => prompt_tokens = map.next_value::<Lenient>()?.u32(),
            "completion_tokens" => completion_tokens = map.next_value::<Lenient>()?.u32(),
            "total_tokens" => total_tokens = Some(map.next_value::<Lenient>()?.u32()),
            "estimated" => estimated = map.next_value::<Option<bool>>()?.unwrap_or(false),
            _ => keep(&mut map, &mut extra, key)?,
        }
    }
    Ok(Wire(Usage {
        prompt_tokens,
        completion_tokens,
        total_tokens: total_tokens
            .unwrap_or_else(|| prompt_tokens.saturating_add(completion_tokens)),
        estimated,
        extra,
    }))
});

wire_map!(ChatChunk, "a chat completion chunk object", |map| {
    let mut envelope = Envelope::default();
    let mut choices = Vec::new();
    let mut usage = None;
    let mut extra = Map::new();
    while let Some(key) = map.next_key::<Key<'de>>()? {
        if envelope.read(&key.0, &mut map)? {
            continue;
        }
        match key.0.as_ref() {
            "choices" => choices = map.next_value::<WireList<ChunkChoice>>()?.0,
            "usage" => match map.next_value::<Option<Wire<Usage>>>()? {
                Some(Wire(reported)) => usage = Some(reported),
                // As in the core type: `"usage": null` is kept, so it is written back.
                None => {
                    extra.insert("usage".to_owned(), Value::Null);
                }
            },
            _ => keep(&mut map, &mut extra, key)?,
        }
    }
    if usage.is_some() {
        extra.remove("usage");
    }
    Ok(Wire(ChatChunk {
        id: envelope.id.unwrap_or_default(),
        object: envelope
            .object
            .unwrap_or_else(|| "chat.completion.chunk".to_owned()),
        created: envelope.created,
        model: envelope.model.unwrap_or_default(),
        choices,
        usage,
        extra,
    }))
});

wire_map!(ChunkChoice, "a chunk choice object", |map| {
    let mut index = 0;
    let mut delta = Delta::default();
    let mut finish_reason = None;
    let mut extra = Map::new();
    while let Some(key) = map.next_key::<Key<'de>>()? {
        match key.0.as_ref() {
            "index" => index = map.next_value::<Lenient>()?.u32(),
            "delta" => {
                if let Some(Wire(read)) = map.next_value::<Option<Wire<Delta>>>()? {
                    delta = read;
                }
            }
            "finish_reason" => finish_reason = map.next_value::<Option<FinishReason>>()?,
            _ => keep(&mut map, &mut extra, key)?,
        }
    }
    Ok(Wire(ChunkChoice {
        index,
        delta,
        finish_reason,
        extra,
    }))
});

wire_map!(Delta, "a delta object", |map| {
    let mut delta = Delta::default();
    while let Some(key) = map.next_key::<Key<'de>>()? {
        match key.0.as_ref() {
            "role" => delta.role = map.next_value::<Option<Role>>()?,
            "content" => delta.content = map.next_value::<Option<String>>()?,
            "tool_calls" => {
                delta.tool_calls = map
                    .next_value::<Option<Vec<ToolCallDelta>>>()?
                    .unwrap_or_default();
            }
            _ => keep(&mut map, &mut delta.extra, key)?,
        }
    }
    Ok(Wire(delta))
});

/// One stream chunk read straight into the events it carries.
#[derive(Debug, Default)]
pub(crate) struct ChunkEvents {
    /// The events, as [`ChatChunk::into_events`] would give them.
    pub(crate) events: Vec<StreamEvent>,
    /// The chunk's `error` object, when the server sent an error inside the stream.
    pub(crate) error: Option<Value>,
}

/// Reads one chunk into its events without building a [`ChatChunk`]: fields the events do not
/// carry (`object`, `system_fingerprint`, a choice's `logprobs`, and `id`, `model` and
/// `created` after the first chunk) are skipped without allocating.
pub(crate) fn parse_chunk_events(
    data: &[u8],
    first: bool,
) -> Result<ChunkEvents, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(data);
    let events = ChunkSeed { first }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(events)
}

/// Reads a chunk into [`ChunkEvents`]; `first` says whether to emit [`StreamEvent::Start`].
struct ChunkSeed {
    first: bool,
}

impl<'de> DeserializeSeed<'de> for ChunkSeed {
    type Value = ChunkEvents;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<ChunkEvents, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ChunkSeed {
    type Value = ChunkEvents;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a chat completion chunk object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ChunkEvents, A::Error> {
        let mut id = None;
        let mut model = None;
        let mut created = 0;
        let mut choices = Vec::new();
        let mut usage = None;
        let mut error = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.0.as_ref() {
                "id" if self.first => id = map.next_value::<Option<String>>()?,
                "model" if self.first => model = map.next_value::<Option<String>>()?,
                "created" if self.first => created = map.next_value::<Lenient>()?.0,
                "choices" => choices = map.next_value::<WireList<StreamChoice>>()?.0,
                "usage" => usage = map.next_value::<Option<Wire<Usage>>>()?.map(|wire| wire.0),
                "error" => error = Some(map.next_value::<Value>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let mut events = Vec::with_capacity(choices.len() + usize::from(self.first) + 1);
        if self.first {
            events.push(StreamEvent::Start {
                id: id.unwrap_or_default(),
                model: model.unwrap_or_default(),
                created,
            });
        }
        // The rules of `ChatChunk::into_events`, from the one place that states them.
        for choice in choices {
            ChunkChoice {
                index: choice.index,
                delta: choice.delta,
                finish_reason: choice.finish_reason,
                extra: Map::new(),
            }
            .push_events(&mut events);
        }
        if let Some(usage) = usage {
            events.push(StreamEvent::Usage(usage));
        }
        Ok(ChunkEvents { events, error })
    }
}

/// A chunk's choice with only what its events carry.
struct StreamChoice {
    index: u32,
    delta: Delta,
    finish_reason: Option<FinishReason>,
}

wire_map!(StreamChoice, "a chunk choice object", |map| {
    let mut choice = StreamChoice {
        index: 0,
        delta: Delta::default(),
        finish_reason: None,
    };
    while let Some(key) = map.next_key::<Key<'de>>()? {
        match key.0.as_ref() {
            "index" => choice.index = map.next_value::<Lenient>()?.u32(),
            "delta" => {
                if let Some(Wire(read)) = map.next_value::<Option<Wire<Delta>>>()? {
                    choice.delta = read;
                }
            }
            "finish_reason" => choice.finish_reason = map.next_value::<Option<FinishReason>>()?,
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(Wire(choice))
});

#[cfg(test)]
mod tests;
