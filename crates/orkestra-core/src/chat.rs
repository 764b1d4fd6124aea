//! Chat types that read and write the `OpenAI` chat completions JSON.
//!
//! Unknown fields are a deliberate choice per type:
//! - on [`ChatRequest`], [`Message`], [`ChatResponse`] and [`Choice`] they are **preserved** in an
//!   `extra` map and written back, so a gateway forwards provider-specific parameters
//!   (`seed`, `logit_bias`, `reasoning_effort`, ...) without knowing them;
//! - on small closed shapes ([`ToolCall`], [`ImageUrl`], [`FunctionDefinition`]) they are
//!   **ignored**, because they carry nothing a router acts on;
//! - an unknown message `role` or content part `type` is an **error** naming the value, because
//!   guessing what it means could send a prompt to a model in the wrong shape.
//!
//! A body read from the wire is written back as the same JSON value, with these rules for
//! `null` and absent fields (each matches how `OpenAI` itself writes the body):
//! - an assistant [`Message`] always carries `content`, written as `null` when it has none
//!   (it only calls tools, or it refused); other roles omit `content` when they have none;
//! - [`Choice::finish_reason`] is always written, `null` when unknown;
//! - `null` values of fields kept in `extra` (`logprobs`, `refusal`, ...) are kept;
//! - on the other optional fields of [`ChatRequest`], `null` reads as absent and is not
//!   written back, and numbers in `f64` fields are written in float form (`1` becomes `1.0`).

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

mod open;
mod validate;

pub use open::Key;
use open::deserialize_open;

pub use validate::InvalidParam;

/// A `POST /v1/chat/completions` request body.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ChatRequest {
    /// A model id, an alias, or `auto` to let the router choose.
    pub model: String,
    /// The conversation so far, oldest first.
    pub messages: Vec<Message>,
    /// Sampling temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Upper bound on generated tokens (the older name, still accepted everywhere).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Upper bound on generated tokens, including reasoning tokens (the newer name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    /// Whether to stream the answer as server-sent events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Streaming options, such as a final usage chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Stop sequences: one string or a list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<Value>,
    /// Tools the model may call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// How the model should choose tools: `"auto"`, `"none"`, `"required"` or an object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// Output format, such as `{"type": "json_object"}` or a JSON schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    /// An end-user identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Every other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

deserialize_open!(ChatRequest, "a chat completion request object", {
    model: "model" (required),
    messages: "messages" (required),
    temperature: "temperature" (default),
    top_p: "top_p" (default),
    max_tokens: "max_tokens" (default),
    max_completion_tokens: "max_completion_tokens" (default),
    stream: "stream" (default),
    stream_options: "stream_options" (default),
    stop: "stop" (default),
    tools: "tools" (default),
    tool_choice: "tool_choice" (default),
    response_format: "response_format" (default),
    user: "user" (default),
});

impl ChatRequest {
    /// A request for `model` with `messages` and nothing else set.
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        Self {
            model: model.into(),
            messages,
            ..Self::default()
        }
    }

    /// Whether the caller asked for a streamed answer.
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// The output token limit, preferring `max_completion_tokens` over `max_tokens`.
    pub fn output_limit(&self) -> Option<u32> {
        self.max_completion_tokens.or(self.max_tokens)
    }

    /// Whether the caller asked for JSON output (`json_object` or `json_schema`).
    pub fn wants_json(&self) -> bool {
        self.response_format
            .as_ref()
            .and_then(|format| format.get("type"))
            .and_then(Value::as_str)
            .is_some_and(|kind| kind == "json_object" || kind == "json_schema")
    }
}

/// `stream_options` of a streaming request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct StreamOptions {
    /// Ask for a final chunk carrying the usage of the whole answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
    /// Every other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

deserialize_open!(StreamOptions, "a stream_options object", {
    include_usage: "include_usage" (default),
});

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Instructions from the application.
    System,
    /// Instructions from the application, the newer name `OpenAI` uses for reasoning models.
    Developer,
    /// The end user.
    User,
    /// The model.
    Assistant,
    /// The result of a tool call.
    Tool,
}

impl Role {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::Developer => "developer",
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::Tool => "tool",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One message of a conversation.
///
/// Serialization is written by hand for one rule: an assistant message always carries
/// `content`, `null` when it has none, as `OpenAI` writes it (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// What it says; `None` on an assistant message that only calls tools or refused.
    pub content: Option<Content>,
    /// An optional participant name.
    pub name: Option<String>,
    /// Tool calls made by an assistant message.
    pub tool_calls: Option<Vec<ToolCall>>,
    /// On a `tool` message, the id of the call it answers.
    pub tool_call_id: Option<String>,
    /// Every other field (`refusal`, `annotations`, `audio`, ...), kept as sent.
    pub extra: Map<String, Value>,
}

deserialize_open!(Message, "a message object", {
    role: "role" (required),
    content: "content" (default),
    name: "name" (default),
    tool_calls: "tool_calls" (default),
    tool_call_id: "tool_call_id" (default),
});

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("role", &self.role)?;
        // OpenAI writes `"content": null` on assistant messages that only call tools or
        // refuse; writing it back keeps such bodies exact, and every API accepts it.
        if self.content.is_some() || self.role == Role::Assistant {
            map.serialize_entry("content", &self.content)?;
        }
        if let Some(name) = &self.name {
            map.serialize_entry("name", name)?;
        }
        if let Some(tool_calls) = &self.tool_calls {
            map.serialize_entry("tool_calls", tool_calls)?;
        }
        if let Some(tool_call_id) = &self.tool_call_id {
            map.serialize_entry("tool_call_id", tool_call_id)?;
        }
        for (key, value) in &self.extra {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl Message {
    /// A message with `role` and text `content`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: Some(Content::Text(content.into())),
            name: None,
            tool_calls: None,
            tool_call_id: None,
            extra: Map::new(),
        }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// A tool result answering the call `tool_call_id`.
    pub fn tool(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            tool_call_id: Some(tool_call_id.into()),
            ..Self::new(Role::Tool, content)
        }
    }

    /// The text of the message: the string content, or its text parts joined by newlines.
    pub fn text(&self) -> String {
        self.content.as_ref().map(Content::text).unwrap_or_default()
    }
}

/// The content of a message: a plain string or a list of typed parts.
///
/// Deserialization is written by hand rather than `untagged`, so that a part of an unknown
/// `type` is reported by name instead of as "did not match any variant".
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Text and image parts.
    Parts(Vec<ContentPart>),
}

impl Content {
    /// The text: the string itself, or the text parts joined by newlines.
    pub fn text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Parts(parts) => {
                let texts: Vec<&str> = parts
                    .iter()
                    .filter_map(|part| match part {
                        ContentPart::Text { text } => Some(text.as_str()),
                        _ => None,
                    })
                    .collect();
                texts.join("\n")
            }
        }
    }

    /// Whether any part is an image.
    pub fn has_image(&self) -> bool {
        matches!(self, Self::Parts(parts) if parts.iter().any(|part| matches!(part, ContentPart::ImageUrl { .. })))
    }
}

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ContentVisitor;

        impl<'de> Visitor<'de> for ContentVisitor {
            type Value = Content;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of content parts")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Content, E> {
                Ok(Content::Text(text.to_owned()))
            }

            fn visit_string<E: de::Error>(self, text: String) -> Result<Content, E> {
                Ok(Content::Text(text))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, parts: A) -> Result<Content, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(parts)).map(Content::Parts)
            }
        }

        deserializer.deserialize_any(ContentVisitor)
    }
}

impl From<&str> for Content {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<String> for Content {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

/// One typed part of a message's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContentPart {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image by URL or `data:` URL.
    ImageUrl {
        /// The image.
        image_url: ImageUrl,
    },
    /// Audio input, kept as sent.
    InputAudio {
        /// The audio object (`data`, `format`).
        input_audio: Value,
    },
    /// A file input, kept as sent.
    File {
        /// The file object (`file_id`, `file_data`, `filename`).
        file: Value,
    },
}

/// An image reference in a content part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageUrl {
    /// An `https:` or `data:` URL.
    pub url: String,
    /// `low`, `high` or `auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// Always `function` today.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function's signature.
    pub function: FunctionDefinition,
}

/// The signature of a callable function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionDefinition {
    /// The function's name.
    pub name: String,
    /// What it does, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON schema of its arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// Whether the model must follow the schema exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// A call the model made to a tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The call's id, echoed by the tool message that answers it.
    pub id: String,
    /// Always `function` today.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function and its arguments.
    pub function: FunctionCall,
}

/// A function name and its arguments as a JSON string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// The function's name.
    pub name: String,
    /// The arguments, a JSON document as a string (the model may produce invalid JSON).
    pub arguments: String,
}

/// A `chat.completion` response body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatResponse {
    /// The completion's id.
    pub id: String,
    /// Always `chat.completion`.
    pub object: String,
    /// Unix time in seconds.
    pub created: u64,
    /// The model that answered.
    pub model: String,
    /// The answers; one unless `n` was set.
    pub choices: Vec<Choice>,
    /// Token counts, when the server reported them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Every other field (`system_fingerprint`, `service_tier`, ...), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

deserialize_open!(ChatResponse, "a chat completion object", {
    id: "id" (required),
    object: "object" (default = chat_completion_object()),
    created: "created" (default),
    model: "model" (required),
    choices: "choices" (required),
    usage: "usage" (default),
});

fn chat_completion_object() -> String {
    "chat.completion".to_owned()
}

impl ChatResponse {
    /// The first choice's text, or an empty string.
    pub fn text(&self) -> String {
        self.choices
            .first()
            .map(|choice| choice.message.text())
            .unwrap_or_default()
    }

    /// The first choice's finish reason.
    pub fn finish_reason(&self) -> Option<&FinishReason> {
        self.choices.first()?.finish_reason.as_ref()
    }
}

/// One answer in a [`ChatResponse`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Choice {
    /// Position among the choices.
    pub index: u32,
    /// The assistant's message.
    pub message: Message,
    /// Why generation stopped.
    pub finish_reason: Option<FinishReason>,
    /// Every other field (`logprobs`, ...), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

deserialize_open!(Choice, "a choice object", {
    index: "index" (required),
    message: "message" (required),
    finish_reason: "finish_reason" (default),
});

/// Token counts of one call.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Their sum, as reported.
    pub total_tokens: u32,
    /// True when orkestra estimated the counts because the server did not report them.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
    /// Every other field (`prompt_tokens_details` with cached tokens, ...), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

deserialize_open!(Usage, "a usage object", {
    prompt_tokens: "prompt_tokens" (required),
    completion_tokens: "completion_tokens" (required),
    total_tokens: "total_tokens" (required),
    estimated: "estimated" (default),
});

impl Usage {
    /// Reported counts; `total_tokens` is their sum.
    pub fn new(prompt_tokens: u32, completion_tokens: u32) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens.saturating_add(completion_tokens),
            estimated: false,
            extra: Map::new(),
        }
    }

    /// Estimated counts, marked as such.
    pub fn estimated(prompt_tokens: u32, completion_tokens: u32) -> Self {
        let mut usage = Self::new(prompt_tokens, completion_tokens);
        usage.estimated = true;
        usage
    }
}

/// Why the model stopped generating.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FinishReason {
    /// A natural end or a stop sequence.
    Stop,
    /// The output token limit.
    Length,
    /// The model called tools.
    ToolCalls,
    /// The provider's content filter cut the answer.
    ContentFilter,
    /// The legacy single function call.
    FunctionCall,
    /// A reason this crate does not know, kept verbatim.
    Other(String),
}

impl FinishReason {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::ToolCalls => "tool_calls",
            Self::ContentFilter => "content_filter",
            Self::FunctionCall => "function_call",
            Self::Other(other) => other,
        }
    }
}

impl From<&str> for FinishReason {
    fn from(value: &str) -> Self {
        match value {
            "stop" => Self::Stop,
            "length" => Self::Length,
            "tool_calls" => Self::ToolCalls,
            "content_filter" => Self::ContentFilter,
            "function_call" => Self::FunctionCall,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for FinishReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FinishReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FinishReason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(Self::from(value.as_ref()))
    }
}

#[cfg(test)]
mod tests;
