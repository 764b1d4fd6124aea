//! The three wire formats, without IO: reading the few request fields the simulator needs, and
//! writing answers, stream events and errors in each format's shape.
//!
//! Requests are read into borrowed structs that name only the fields used (model, messages,
//! stream, `stream_options`, `max_tokens`, system); serde skips everything else without building
//! it. Answers are written straight into byte buffers, with strings escaped by `serde_json`.

use std::borrow::Cow;
use std::fmt;

use hyper::StatusCode;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::behaviour::{Answer, Finish};

pub(crate) mod anthropic;
pub(crate) mod ollama;
pub(crate) mod openai;

#[cfg(test)]
mod tests;

/// Which API a request spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireFormat {
    /// OpenAI-compatible `POST /v1/chat/completions`.
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic `POST /v1/messages`.
    Anthropic,
    /// Ollama `POST /api/chat`.
    Ollama,
}

impl WireFormat {
    /// The media type of a streamed answer.
    pub(crate) fn stream_content_type(self) -> &'static str {
        match self {
            Self::OpenAi | Self::Anthropic => "text/event-stream",
            Self::Ollama => "application/x-ndjson",
        }
    }
}

impl fmt::Display for WireFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
            Self::Ollama => "ollama",
        })
    }
}

/// What the simulator reads from a chat request, in any format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChatInput<'a> {
    /// The model asked for.
    pub(crate) model: Cow<'a, str>,
    /// The text of the last user message (parts joined by newlines).
    pub(crate) last_user: Cow<'a, str>,
    /// Characters in every message and the system prompt.
    pub(crate) chars: usize,
    /// Whether the answer streams.
    pub(crate) stream: bool,
    /// OpenAI `stream_options.include_usage`.
    pub(crate) include_usage: bool,
    /// The output limit, if any.
    pub(crate) max_tokens: Option<u32>,
}

/// A chat message: only its role and text matter here.
#[derive(Debug, Deserialize)]
pub(crate) struct InMessage<'a> {
    #[serde(borrow)]
    role: Cow<'a, str>,
    #[serde(borrow, default)]
    content: Content<'a>,
}

/// A message's content: a string, null, or an array of parts whose `text` fields count.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) enum Content<'a> {
    /// Null or absent.
    #[default]
    Empty,
    /// A plain string.
    Text(Cow<'a, str>),
    /// The texts of an array of content parts.
    Parts(Vec<Cow<'a, str>>),
}

impl<'a> Content<'a> {
    /// Characters of text.
    pub(crate) fn chars(&self) -> usize {
        match self {
            Self::Empty => 0,
            Self::Text(text) => text.chars().count(),
            Self::Parts(parts) => parts.iter().map(|part| part.chars().count()).sum(),
        }
    }

    /// The text, parts joined by newlines.
    pub(crate) fn into_text(self) -> Cow<'a, str> {
        match self {
            Self::Empty => Cow::Borrowed(""),
            Self::Text(text) => text,
            Self::Parts(mut parts) if parts.len() == 1 => parts.swap_remove(0),
            Self::Parts(parts) => Cow::Owned(parts.join("\n")),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ContentVisitor)
    }
}

struct ContentVisitor;

/// One part of an array content: only its text, if any, matters.
#[derive(Deserialize)]
struct Part<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
}

impl<'de> Visitor<'de> for ContentVisitor {
    type Value = Content<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, an array of content parts or null")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Content::Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Content::Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Content::Text(Cow::Owned(text)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Content::Empty)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Content::Empty)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut parts = Vec::new();
        while let Some(part) = seq.next_element::<Part<'de>>()? {
            if let Some(text) = part.text {
                parts.push(text);
            }
        }
        Ok(Content::Parts(parts))
    }
}

/// Folds messages (and a system prompt) into the character count and the last user text.
pub(crate) fn fold_messages<'a>(
    messages: Vec<InMessage<'a>>,
    system: &Content<'a>,
) -> (usize, Cow<'a, str>) {
    let chars = system.chars()
        + messages
            .iter()
            .map(|message| message.content.chars())
            .sum::<usize>();
    let last_user = messages
        .into_iter()
        .rev()
        .find(|message| message.role == "user")
        .map_or(Cow::Borrowed(""), |message| message.content.into_text());
    (chars, last_user)
}

/// Why a request is answered with an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiError {
    /// The body could not be read as a request of this format: what was wrong.
    Invalid(String),
    /// The model is not served.
    ModelNotFound(String),
    /// The body exceeds the size limit.
    TooLarge(usize),
    /// The path and method name no endpoint.
    NoRoute(String),
    /// The rate limit fault.
    RateLimited,
    /// The status fault.
    Status(StatusCode),
    /// The context length fault.
    ContextLength,
    /// The content filter fault.
    ContentFilter,
}

impl ApiError {
    /// The HTTP status.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::Invalid(_) | Self::ContextLength | Self::ContentFilter => StatusCode::BAD_REQUEST,
            Self::ModelNotFound(_) | Self::NoRoute(_) => StatusCode::NOT_FOUND,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Status(status) => *status,
        }
    }

    /// The human message.
    pub(crate) fn message(&self, format: WireFormat) -> String {
        match self {
            Self::Invalid(what) => format!("invalid request body: {what}"),
            Self::ModelNotFound(model) => match format {
                WireFormat::OpenAi => format!(
                    "The model `{model}` does not exist or you do not have access to it."
                ),
                WireFormat::Anthropic => format!("model: {model}"),
                WireFormat::Ollama => format!("model '{model}' not found"),
            },
            Self::TooLarge(limit) => format!("request body larger than {limit} bytes"),
            Self::NoRoute(what) => format!("no endpoint for {what}"),
            Self::RateLimited => "Rate limit reached for requests (simulated by orkestra-mock).".into(),
            Self::Status(status) => format!(
                "{} (simulated by orkestra-mock)",
                status.canonical_reason().unwrap_or("error")
            ),
            Self::ContextLength => match format {
                WireFormat::Anthropic => "prompt is too long: 210000 tokens > 200000 maximum".into(),
                _ => "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens. Please reduce the length of the messages.".into(),
            },
            Self::ContentFilter => "The request was rejected by the content management policy (content_filter).".into(),
        }
    }

    /// The error body in the format's shape.
    pub(crate) fn body(&self, format: WireFormat) -> Vec<u8> {
        let message = self.message(format);
        match format {
            WireFormat::OpenAi => openai::error_body(self, &message),
            WireFormat::Anthropic => anthropic::error_body(self, &message),
            WireFormat::Ollama => ollama::error_body(&message),
        }
    }
}

/// What an answer needs besides its text: identity and timings.
#[derive(Debug, Clone)]
pub(crate) struct Envelope<'a> {
    /// The response id (OpenAI `chatcmpl-...`, Anthropic `msg_...`).
    pub(crate) id: &'a str,
    /// The model name as requested.
    pub(crate) model: &'a str,
    /// Unix seconds.
    pub(crate) created: u64,
    /// RFC 3339 time (Ollama's `created_at`).
    pub(crate) created_at: &'a str,
    /// OpenAI `stream_options.include_usage`.
    pub(crate) include_usage: bool,
    /// Planned time to the first token, in nanoseconds (Ollama's `prompt_eval_duration`).
    pub(crate) ttft_ns: u64,
    /// Planned generation time after it, in nanoseconds (Ollama's `eval_duration`).
    pub(crate) generation_ns: u64,
}

/// Appends `text` as a JSON string.
pub(crate) fn push_json_str(out: &mut Vec<u8>, text: &str) {
    // Writing to a `Vec` cannot fail and a `str` always serializes.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// Appends a number.
pub(crate) fn push_u64(out: &mut Vec<u8>, value: u64) {
    use std::io::Write as _;
    // Writing to a `Vec` cannot fail.
    let _ = write!(out, "{value}");
}

/// The finish reason in OpenAI's and Ollama's words.
pub(crate) fn finish_word(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop => "stop",
        Finish::Length => "length",
    }
}

/// The pieces of a streamed answer in one format.
#[derive(Debug, Default)]
pub(crate) struct StreamParts {
    /// Events before the first content chunk.
    pub(crate) head: Vec<Vec<u8>>,
    /// One event per content chunk.
    pub(crate) deltas: Vec<Vec<u8>>,
    /// Events after the content, before the terminator.
    pub(crate) tail: Vec<Vec<u8>>,
    /// The terminator (`data: [DONE]`, `message_stop`, the `done: true` line).
    pub(crate) terminator: Vec<u8>,
    /// A chunk that is not JSON, for the malformed chunk fault.
    pub(crate) malformed: Vec<u8>,
}

/// Writes a streamed answer.
pub(crate) fn stream(format: WireFormat, envelope: &Envelope<'_>, answer: &Answer) -> StreamParts {
    match format {
        WireFormat::OpenAi => openai::stream(envelope, answer),
        WireFormat::Anthropic => anthropic::stream(envelope, answer),
        WireFormat::Ollama => ollama::stream(envelope, answer),
    }
}

/// Writes a plain answer.
pub(crate) fn plain(format: WireFormat, envelope: &Envelope<'_>, answer: &Answer) -> Vec<u8> {
    match format {
        WireFormat::OpenAi => openai::plain(envelope, answer),
        WireFormat::Anthropic => anthropic::plain(envelope, answer),
        WireFormat::Ollama => ollama::plain(envelope, answer),
    }
}

/// Reads a chat request body.
pub(crate) fn parse(format: WireFormat, body: &[u8]) -> Result<ChatInput<'_>, ApiError> {
    match format {
        WireFormat::OpenAi => openai::parse(body),
        WireFormat::Anthropic => anthropic::parse(body),
        WireFormat::Ollama => ollama::parse(body),
    }
    .map_err(ApiError::Invalid)
}

/// Formats a Unix time as RFC 3339 UTC with nanoseconds, as Ollama writes `created_at`.
pub(crate) fn rfc3339(unix_nanos: u128) -> String {
    let seconds = u64::try_from(unix_nanos / 1_000_000_000).unwrap_or(u64::MAX);
    let nanos = unix_nanos % 1_000_000_000;
    let days = seconds / 86_400;
    let second_of_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}
