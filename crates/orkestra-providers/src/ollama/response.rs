//! `/api/chat` objects (plain and streamed), `/api/tags`, and Ollama error messages.

use orkestra_core::{
    ChatRequest, ChatResponse, Choice, ErrorCategory, FinishReason, FunctionCall, Message,
    Resource, Role, ToolCall, Usage,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::usage::{prompt_tokens, text_tokens};

/// One `/api/chat` object: the whole plain response, or one line of a stream.
#[derive(Debug, Deserialize)]
pub(crate) struct ChatObject {
    #[serde(default)]
    pub(crate) model: String,
    #[serde(default)]
    pub(crate) created_at: String,
    #[serde(default)]
    pub(crate) message: Option<WireMessage>,
    #[serde(default)]
    pub(crate) done: bool,
    #[serde(default)]
    pub(crate) done_reason: Option<String>,
    #[serde(default)]
    pub(crate) prompt_eval_count: Option<u32>,
    #[serde(default)]
    pub(crate) eval_count: Option<u32>,
    #[serde(default)]
    pub(crate) error: Option<Value>,
    #[serde(flatten)]
    pub(crate) rest: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireMessage {
    #[serde(default)]
    pub(crate) content: String,
    #[serde(default)]
    pub(crate) thinking: Option<String>,
    #[serde(default)]
    pub(crate) tool_calls: Vec<WireToolCall>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireToolCall {
    #[serde(default)]
    pub(crate) id: Option<String>,
    pub(crate) function: WireFunction,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireFunction {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) arguments: Value,
}

/// The timing fields of a final object, in nanoseconds, kept in the usage's `extra` (where a
/// streamed answer can carry them too).
pub(crate) const DURATIONS: [&str; 4] = [
    "total_duration",
    "load_duration",
    "prompt_eval_duration",
    "eval_duration",
];

impl ChatObject {
    /// The response id: Ollama has none, so one is made from the model and the timestamp.
    pub(crate) fn response_id(&self) -> String {
        format!("ollama-{}-{}", self.model, self.created_at)
    }

    /// The Unix time of `created_at`, or 0 when it is missing or not RFC 3339.
    pub(crate) fn created(&self) -> u64 {
        unix_seconds(&self.created_at).unwrap_or(0)
    }

    /// The message of an `{"error": ...}` object.
    pub(crate) fn error_message(&self) -> Option<String> {
        self.error.as_ref().map(|error| match error {
            Value::String(message) => message.clone(),
            other => other.to_string(),
        })
    }
}

impl WireToolCall {
    /// The call as an `OpenAI` tool call; `position` names it when Ollama gave no id.
    pub(crate) fn into_tool_call(self, position: usize) -> ToolCall {
        let arguments = match self.function.arguments {
            Value::Null => "{}".to_owned(),
            Value::String(text) => text,
            other => other.to_string(),
        };
        ToolCall {
            id: self.id.unwrap_or_else(|| format!("call_{position}")),
            kind: "function".to_owned(),
            function: FunctionCall {
                name: self.function.name,
                arguments,
            },
        }
    }
}

/// The finish reason of a final object: tool calls if it made any, else from `done_reason`
/// (`stop`, `length`; others such as `load` kept verbatim; none means `stop`).
pub(crate) fn finish_reason(done_reason: Option<&str>, called_tools: bool) -> FinishReason {
    if called_tools {
        return FinishReason::ToolCalls;
    }
    match done_reason {
        None | Some("stop") => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some(other) => FinishReason::Other(other.to_owned()),
    }
}

/// Usage from the counts Ollama reported; a missing count (Ollama leaves out
/// `prompt_eval_count` when the prompt was cached) is estimated and the usage marked so.
pub(crate) fn usage(
    prompt_eval_count: Option<u32>,
    eval_count: Option<u32>,
    estimate_prompt: impl FnOnce() -> u32,
    estimate_completion: impl FnOnce() -> u32,
) -> Usage {
    match (prompt_eval_count, eval_count) {
        (Some(prompt), Some(completion)) => Usage::new(prompt, completion),
        (prompt, completion) => Usage::estimated(
            prompt.unwrap_or_else(estimate_prompt),
            completion.unwrap_or_else(estimate_completion),
        ),
    }
}

/// The category of an Ollama error message.
///
/// Ollama's errors are `{"error": "<message>"}` with no type, so the message decides:
/// a missing model is [`ErrorCategory::NotFound`], running out of (GPU) memory is
/// [`Resource::Memory`] exhaustion, an input longer than the context is
/// [`ErrorCategory::ContextLength`], anything else [`ErrorCategory::Internal`].
pub fn error_category(message: &str) -> ErrorCategory {
    let message = message.to_ascii_lowercase();
    if message.contains("not found") {
        ErrorCategory::NotFound
    } else if message.contains("out of memory")
        || message.contains("more system memory")
        || message.contains("insufficient memory")
    {
        ErrorCategory::ResourceExhausted(Resource::Memory)
    } else if message.contains("context length") || message.contains("exceeds the context") {
        ErrorCategory::ContextLength
    } else {
        ErrorCategory::Internal
    }
}

/// Parses a plain (`"stream": false`) `/api/chat` response to `request`.
///
/// An `{"error": ...}` body is a classified error; a body that is not a finished chat object
/// is [`ErrorCategory::Internal`].
pub fn parse_response(
    body: &[u8],
    request: &ChatRequest,
) -> Result<ChatResponse, orkestra_core::Error> {
    let object: ChatObject = serde_json::from_slice(body)
        .map_err(|error| crate::error::malformed_json("ollama response body", error, body))?;
    if let Some(message) = object.error_message() {
        return Err(orkestra_core::Error::new(error_category(&message), message));
    }
    if !object.done {
        return Err(orkestra_core::Error::new(
            ErrorCategory::Internal,
            "ollama response body: a plain response must have `done: true`",
        ));
    }
    let id = object.response_id();
    let created = object.created();
    let (content, thinking, tool_calls) = match object.message {
        Some(message) => (
            message.content,
            message.thinking,
            message
                .tool_calls
                .into_iter()
                .enumerate()
                .map(|(position, call)| call.into_tool_call(position))
                .collect::<Vec<_>>(),
        ),
        None => (String::new(), None, Vec::new()),
    };
    let mut usage = usage(
        object.prompt_eval_count,
        object.eval_count,
        || prompt_tokens(request),
        || text_tokens(&content),
    );
    let mut message = Message::assistant(content);
    if let Some(thinking) = thinking.filter(|thinking| !thinking.is_empty()) {
        message
            .extra
            .insert("reasoning_content".to_owned(), thinking.into());
    }
    let finish = finish_reason(object.done_reason.as_deref(), !tool_calls.is_empty());
    message.tool_calls = (!tool_calls.is_empty()).then_some(tool_calls);
    for key in DURATIONS {
        if let Some(value) = object.rest.get(key) {
            usage.extra.insert(key.to_owned(), value.clone());
        }
    }
    Ok(ChatResponse {
        id,
        object: "chat.completion".to_owned(),
        created,
        model: object.model,
        choices: vec![Choice {
            index: 0,
            message: Message {
                role: Role::Assistant,
                ..message
            },
            finish_reason: Some(finish),
            extra: Map::new(),
        }],
        usage: Some(usage),
        extra: Map::new(),
    })
}

/// The model names of a `GET /api/tags` body.
pub fn parse_tags(body: &[u8]) -> Result<Vec<String>, orkestra_core::Error> {
    #[derive(Deserialize)]
    struct Tags {
        models: Vec<Tag>,
    }
    #[derive(Deserialize)]
    struct Tag {
        name: String,
    }
    let tags: Tags = serde_json::from_slice(body)
        .map_err(|error| crate::error::malformed_json("ollama /api/tags body", error, body))?;
    Ok(tags.models.into_iter().map(|tag| tag.name).collect())
}

/// Unix seconds of an RFC 3339 timestamp such as `2023-08-04T08:52:19.385406455-07:00`.
pub(crate) fn unix_seconds(timestamp: &str) -> Option<u64> {
    let bytes = timestamp.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = timestamp.get(range)?;
        if digits.bytes().all(|byte| byte.is_ascii_digit()) {
            digits.parse().ok()
        } else {
            None
        }
    };
    if bytes.len() < 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    // Skip the fraction of a second, then read the offset.
    let mut at = 19;
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        while bytes.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
    }
    let offset = match bytes.get(at)? {
        b'Z' | b'z' if at + 1 == bytes.len() => 0,
        sign @ (b'+' | b'-') if at + 6 == bytes.len() && bytes[at + 3] == b':' => {
            let minutes = number(at + 1..at + 3)? * 60 + number(at + 4..at + 6)?;
            if *sign == b'+' {
                minutes * 60
            } else {
                -minutes * 60
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    u64::try_from(seconds).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}
