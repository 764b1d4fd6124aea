//! [`ChatRequest`] to the `POST /v1/messages` body.

use orkestra_core::{
    ChatRequest, Content, ContentPart, Error, ErrorCategory, Message, Role, Tool, ToolCall,
};
use serde_json::{Map, Value, json};

/// Fields of a request's `extra` map that the Messages API understands and receives as sent.
///
/// Everything else in `extra` is `OpenAI`-specific (`seed`, `logit_bias`, `n`, ...) and the
/// Messages API rejects unknown fields, so it is dropped.
const PASSED_THROUGH: [&str; 5] = ["top_k", "metadata", "thinking", "service_tier", "container"];

/// The system instruction added for `response_format: {"type": "json_object"}`.
pub const JSON_OBJECT_INSTRUCTION: &str =
    "Respond with a single valid JSON object and nothing else: no prose, no code fences.";

/// The `/v1/messages` body for `request`.
///
/// - Every `system` and `developer` message, wherever it stands, is lifted into the top-level
///   `system` string; several are joined by a blank line, in order.
/// - Consecutive messages of the same role are merged into one message (the API requires
///   turns to alternate); `tool` messages become `tool_result` blocks of a `user` turn, so a
///   tool result followed by a user message forms one turn too.
/// - `max_tokens` is always sent: the request's limit, else `default_max_tokens`.
/// - `response_format` has no counterpart: JSON mode becomes a system instruction
///   ([`JSON_OBJECT_INSTRUCTION`], plus the schema for `json_schema`).
/// - Images must be `data:` URLs (sent as base64 sources) or `http(s)` URLs (sent as URL
///   sources); anything else is an [`ErrorCategory::InvalidRequest`] error naming the message.
pub fn request_body(
    request: &ChatRequest,
    default_max_tokens: u32,
    stream: bool,
) -> Result<Value, Error> {
    let mut body = Map::new();
    body.insert("model".to_owned(), Value::from(request.model.as_str()));

    let mut system = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (position, message) in request.messages.iter().enumerate() {
        let (role, blocks) = match message.role {
            Role::System | Role::Developer => {
                let text = message.text();
                if !text.is_empty() {
                    system.push(text);
                }
                continue;
            }
            Role::User => ("user", content_blocks(message, position)?),
            Role::Assistant => ("assistant", assistant_blocks(message, position)?),
            Role::Tool => ("user", vec![tool_result_block(message, position)?]),
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last_role, last_blocks)) if *last_role == role => last_blocks.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    if let Some(instruction) = json_instruction(request.response_format.as_ref()) {
        system.push(instruction);
    }
    if !system.is_empty() {
        body.insert("system".to_owned(), Value::from(system.join("\n\n")));
    }
    let messages = turns
        .into_iter()
        .map(|(role, blocks)| json!({"role": role, "content": simplify(blocks)}))
        .collect();
    body.insert("messages".to_owned(), Value::Array(messages));
    body.insert(
        "max_tokens".to_owned(),
        Value::from(request.output_limit().unwrap_or(default_max_tokens)),
    );
    if let Some(temperature) = request.temperature {
        body.insert("temperature".to_owned(), Value::from(temperature));
    }
    if let Some(top_p) = request.top_p {
        body.insert("top_p".to_owned(), Value::from(top_p));
    }
    if let Some(stop) = stop_sequences(request.stop.as_ref())? {
        body.insert("stop_sequences".to_owned(), stop);
    }
    if let Some(tools) = request.tools.as_deref().filter(|tools| !tools.is_empty()) {
        body.insert(
            "tools".to_owned(),
            Value::Array(tools.iter().map(tool_definition).collect()),
        );
        if let Some(choice) = tool_choice(request)? {
            body.insert("tool_choice".to_owned(), choice);
        }
    }
    if let Some(user) = &request.user {
        body.insert("metadata".to_owned(), json!({"user_id": user}));
    }
    for key in PASSED_THROUGH {
        if let Some(value) = request.extra.get(key) {
            body.insert(key.to_owned(), value.clone());
        }
    }
    if stream {
        body.insert("stream".to_owned(), Value::Bool(true));
    }
    Ok(Value::Object(body))
}

fn invalid(position: usize, what: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCategory::InvalidRequest,
        format!("messages[{position}]: {what}"),
    )
}

/// A message whose blocks are one text block is sent as a plain string, as the API's own
/// examples are written.
fn simplify(mut blocks: Vec<Value>) -> Value {
    if blocks.len() == 1
        && blocks[0]["type"] == "text"
        && let Some(Value::String(text)) = blocks[0].get_mut("text").map(Value::take)
    {
        return Value::String(text);
    }
    Value::Array(blocks)
}

fn text_block(text: &str) -> Value {
    json!({"type": "text", "text": text})
}

/// The content blocks of a user message. Empty text is skipped: the API rejects empty text
/// blocks.
fn content_blocks(message: &Message, position: usize) -> Result<Vec<Value>, Error> {
    let mut blocks = Vec::new();
    match &message.content {
        None => {}
        Some(Content::Text(text)) if text.is_empty() => {}
        Some(Content::Text(text)) => blocks.push(text_block(text)),
        Some(Content::Parts(parts)) => {
            for part in parts {
                match part {
                    ContentPart::Text { text } if text.is_empty() => {}
                    ContentPart::Text { text } => blocks.push(text_block(text)),
                    ContentPart::ImageUrl { image_url } => {
                        blocks.push(image_block(&image_url.url, position)?);
                    }
                    _ => {
                        return Err(invalid(
                            position,
                            "only text and image parts can be sent to the Anthropic Messages API",
                        ));
                    }
                }
            }
        }
    }
    Ok(blocks)
}

/// An `image` block from a `data:` URL (base64 source) or an `http(s)` URL (URL source).
fn image_block(url: &str, position: usize) -> Result<Value, Error> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (media_type, data) = rest.split_once(";base64,").ok_or_else(|| {
            invalid(
                position,
                "an image data URL must be base64 (`data:<type>;base64,<data>`)",
            )
        })?;
        if media_type.is_empty() || data.is_empty() {
            return Err(invalid(
                position,
                "an image data URL needs a media type and data",
            ));
        }
        return Ok(json!({
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }));
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(json!({"type": "image", "source": {"type": "url", "url": url}}));
    }
    Err(invalid(
        position,
        "an image URL must be a `data:` or `http(s):` URL",
    ))
}

/// An assistant message: its text, then one `tool_use` block per tool call.
fn assistant_blocks(message: &Message, position: usize) -> Result<Vec<Value>, Error> {
    let mut blocks = content_blocks(message, position)?;
    for call in message.tool_calls.iter().flatten() {
        blocks.push(tool_use_block(call, position)?);
    }
    Ok(blocks)
}

fn tool_use_block(call: &ToolCall, position: usize) -> Result<Value, Error> {
    let arguments = call.function.arguments.trim();
    // The API wants `input` as an object; an empty arguments string means no arguments.
    let input = if arguments.is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_str::<Value>(arguments).map_err(|error| {
            invalid(
                position,
                format_args!("tool call {:?}: arguments are not JSON ({error})", call.id),
            )
        })?
    };
    if !input.is_object() {
        return Err(invalid(
            position,
            format_args!("tool call {:?}: arguments must be a JSON object", call.id),
        ));
    }
    Ok(json!({
        "type": "tool_use",
        "id": call.id,
        "name": call.function.name,
        "input": input,
    }))
}

fn tool_result_block(message: &Message, position: usize) -> Result<Value, Error> {
    let id = message
        .tool_call_id
        .as_deref()
        .ok_or_else(|| invalid(position, "a tool message needs `tool_call_id`"))?;
    let mut block = json!({"type": "tool_result", "tool_use_id": id});
    let content = content_blocks(message, position)?;
    if !content.is_empty() {
        block["content"] = simplify(content);
    }
    Ok(block)
}

fn tool_definition(tool: &Tool) -> Value {
    let mut definition = Map::new();
    definition.insert("name".to_owned(), Value::from(tool.function.name.as_str()));
    if let Some(description) = &tool.function.description {
        definition.insert("description".to_owned(), Value::from(description.as_str()));
    }
    // `input_schema` is required; a function without parameters takes an empty object.
    let schema = tool
        .function
        .parameters
        .clone()
        .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
    definition.insert("input_schema".to_owned(), schema);
    Value::Object(definition)
}

/// `tool_choice` in the Messages shape, with `parallel_tool_calls: false` folded in.
fn tool_choice(request: &ChatRequest) -> Result<Option<Value>, Error> {
    let mut choice = match &request.tool_choice {
        None => None,
        Some(Value::String(mode)) => Some(match mode.as_str() {
            "auto" => json!({"type": "auto"}),
            "required" => json!({"type": "any"}),
            "none" => json!({"type": "none"}),
            other => {
                return Err(Error::new(
                    ErrorCategory::InvalidRequest,
                    format!(
                        "tool_choice: unknown mode {other:?} (expected auto, required or none)"
                    ),
                ));
            }
        }),
        Some(object) => {
            let name = object
                .pointer("/function/name")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    Error::new(
                        ErrorCategory::InvalidRequest,
                        "tool_choice: expected a mode or {\"type\": \"function\", \"function\": {\"name\": ...}}",
                    )
                })?;
            Some(json!({"type": "tool", "name": name}))
        }
    };
    if request.extra.get("parallel_tool_calls") == Some(&Value::Bool(false)) {
        let choice = choice.get_or_insert_with(|| json!({"type": "auto"}));
        if choice["type"] != "none" {
            choice["disable_parallel_tool_use"] = Value::Bool(true);
        }
    }
    Ok(choice)
}

/// `stop` (a string or a list of strings) as `stop_sequences`.
fn stop_sequences(stop: Option<&Value>) -> Result<Option<Value>, Error> {
    match stop {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(one)) => Ok(Some(json!([one]))),
        Some(Value::Array(many)) if many.iter().all(Value::is_string) => {
            Ok((!many.is_empty()).then(|| Value::Array(many.clone())))
        }
        Some(_) => Err(Error::new(
            ErrorCategory::InvalidRequest,
            "stop: expected a string or a list of strings",
        )),
    }
}

/// The system instruction standing in for `response_format`, if it asks for JSON.
fn json_instruction(format: Option<&Value>) -> Option<String> {
    let format = format?;
    match format.get("type").and_then(Value::as_str)? {
        "json_object" => Some(JSON_OBJECT_INSTRUCTION.to_owned()),
        "json_schema" => {
            let schema = format
                .pointer("/json_schema/schema")
                .map_or_else(|| "{}".to_owned(), Value::to_string);
            Some(format!(
                "{JSON_OBJECT_INSTRUCTION} The object must follow this JSON schema: {schema}"
            ))
        }
        _ => None,
    }
}
