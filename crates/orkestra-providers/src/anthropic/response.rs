//! The `/v1/messages` response body to [`ChatResponse`], and Anthropic error types to classes.

use orkestra_core::{
    ChatResponse, Choice, ErrorCategory, FinishReason, FunctionCall, Message, Resource, Role,
    ToolCall, Usage,
};
use serde::Deserialize;
use serde_json::{Map, Value};

/// A Messages API response body, the parts we map.
#[derive(Debug, Deserialize)]
pub(crate) struct MessageBody {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) model: String,
    #[serde(default)]
    pub(crate) content: Vec<Value>,
    #[serde(default)]
    pub(crate) stop_reason: Option<String>,
    #[serde(default)]
    pub(crate) stop_sequence: Option<String>,
    #[serde(default)]
    pub(crate) usage: Option<WireUsage>,
}

/// The `usage` object of a message or a `message_delta` event; every field may be absent in
/// a delta.
// The field names are the wire's, which all end in `tokens`.
#[expect(clippy::struct_field_names, reason = "the names are the wire's")]
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    pub(crate) input_tokens: Option<u32>,
    #[serde(default)]
    pub(crate) output_tokens: Option<u32>,
    #[serde(default)]
    pub(crate) cache_creation_input_tokens: Option<u32>,
    #[serde(default)]
    pub(crate) cache_read_input_tokens: Option<u32>,
}

impl WireUsage {
    /// Takes every count `newer` reports; counts it leaves out keep their value.
    pub(crate) fn update(&mut self, newer: &Self) {
        let fields = [
            (&mut self.input_tokens, newer.input_tokens),
            (&mut self.output_tokens, newer.output_tokens),
            (
                &mut self.cache_creation_input_tokens,
                newer.cache_creation_input_tokens,
            ),
            (
                &mut self.cache_read_input_tokens,
                newer.cache_read_input_tokens,
            ),
        ];
        for (slot, value) in fields {
            if value.is_some() {
                *slot = value;
            }
        }
    }

    /// The `OpenAI`-shaped usage.
    ///
    /// Anthropic counts cached prompt tokens apart from `input_tokens`; `OpenAI` counts them
    /// inside `prompt_tokens`. So `prompt_tokens` is the sum of the three input counts, cache
    /// reads are also reported as `prompt_tokens_details.cached_tokens`, and both cache counts
    /// are kept verbatim in `extra`.
    pub(crate) fn to_usage(&self) -> Usage {
        let cache_creation = self.cache_creation_input_tokens.unwrap_or(0);
        let cache_read = self.cache_read_input_tokens.unwrap_or(0);
        let prompt = self
            .input_tokens
            .unwrap_or(0)
            .saturating_add(cache_creation)
            .saturating_add(cache_read);
        let mut usage = Usage::new(prompt, self.output_tokens.unwrap_or(0));
        if let Some(tokens) = self.cache_creation_input_tokens {
            usage
                .extra
                .insert("cache_creation_input_tokens".to_owned(), tokens.into());
        }
        if let Some(tokens) = self.cache_read_input_tokens {
            usage
                .extra
                .insert("cache_read_input_tokens".to_owned(), tokens.into());
            usage.extra.insert(
                "prompt_tokens_details".to_owned(),
                serde_json::json!({"cached_tokens": tokens}),
            );
        }
        usage
    }
}

/// The finish reason for an Anthropic `stop_reason`.
///
/// `end_turn` and `stop_sequence` are a natural stop, `max_tokens` the length limit,
/// `tool_use` a tool call and `refusal` a policy refusal; others (`pause_turn`, new ones)
/// are kept verbatim.
pub fn finish_reason(stop_reason: &str) -> FinishReason {
    match stop_reason {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// The category of an Anthropic error `type`, with its `message` to tell a prompt that is too
/// long from other invalid requests.
///
/// Follows the API's error reference: `invalid_request_error` (400), `authentication_error`
/// (401), `billing_error` (402), `permission_error` (403), `not_found_error` (404),
/// `request_too_large` (413), `rate_limit_error` (429), `api_error` (500), `timeout_error`
/// (504) and `overloaded_error` (529). Unknown types are [`ErrorCategory::Internal`].
pub fn error_category(kind: &str, message: &str) -> ErrorCategory {
    match kind {
        "invalid_request_error" if is_context_length_message(message) => {
            ErrorCategory::ContextLength
        }
        "invalid_request_error" | "request_too_large" => ErrorCategory::InvalidRequest,
        "authentication_error" | "permission_error" => ErrorCategory::Auth,
        "billing_error" => ErrorCategory::ResourceExhausted(Resource::Quota),
        "not_found_error" => ErrorCategory::NotFound,
        "rate_limit_error" => ErrorCategory::RateLimited,
        "overloaded_error" => ErrorCategory::Overloaded,
        "timeout_error" => ErrorCategory::Timeout,
        _ => ErrorCategory::Internal,
    }
}

/// Whether an `invalid_request_error` message says the prompt does not fit the context
/// window (the API words it "prompt is too long: N tokens > M maximum").
fn is_context_length_message(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("prompt is too long")
        || message.contains("context window")
        || message.contains("context length")
}

/// Parses a `/v1/messages` response body into a [`ChatResponse`] created at `created`.
///
/// Text blocks are concatenated, `tool_use` blocks become tool calls (their `input` written
/// as the arguments string), `thinking` blocks go to the message's `reasoning_content`, and
/// other block types are skipped.
pub fn parse_response(body: &[u8], created: u64) -> Result<ChatResponse, orkestra_core::Error> {
    let message: MessageBody = serde_json::from_slice(body)
        .map_err(|error| crate::error::malformed_json("anthropic response body", error, body))?;
    Ok(message.into_response(created))
}

impl MessageBody {
    fn into_response(self, created: u64) -> ChatResponse {
        let mut text: Option<String> = None;
        let mut reasoning: Option<String> = None;
        let mut tool_calls = Vec::new();
        for block in self.content {
            match block.get("type").and_then(Value::as_str) {
                Some("text") => {
                    if let Some(fragment) = block.get("text").and_then(Value::as_str) {
                        text.get_or_insert_with(String::new).push_str(fragment);
                    }
                }
                Some("thinking") => {
                    if let Some(fragment) = block.get("thinking").and_then(Value::as_str) {
                        reasoning.get_or_insert_with(String::new).push_str(fragment);
                    }
                }
                Some("tool_use") => tool_calls.push(ToolCall {
                    id: string_field(&block, "id"),
                    kind: "function".to_owned(),
                    function: FunctionCall {
                        name: string_field(&block, "name"),
                        arguments: block
                            .get("input")
                            .map_or_else(|| "{}".to_owned(), Value::to_string),
                    },
                }),
                _ => {}
            }
        }
        let mut message = Message {
            role: Role::Assistant,
            content: text.map(Into::into),
            name: None,
            tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
            tool_call_id: None,
            extra: Map::new(),
        };
        if let Some(reasoning) = reasoning {
            message
                .extra
                .insert("reasoning_content".to_owned(), reasoning.into());
        }
        let mut choice_extra = Map::new();
        if let Some(sequence) = self.stop_sequence {
            choice_extra.insert("stop_sequence".to_owned(), sequence.into());
        }
        ChatResponse {
            id: self.id,
            object: "chat.completion".to_owned(),
            created,
            model: self.model,
            choices: vec![Choice {
                index: 0,
                message,
                finish_reason: self.stop_reason.as_deref().map(finish_reason),
                extra: choice_extra,
            }],
            usage: self.usage.as_ref().map(WireUsage::to_usage),
            extra: Map::new(),
        }
    }
}

fn string_field(block: &Value, key: &str) -> String {
    block
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}
