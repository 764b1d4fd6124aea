//! [`ChatRequest`] to the `POST /api/chat` body.

use std::collections::HashMap;

use orkestra_core::{ChatRequest, Content, ContentPart, Error, ErrorCategory, Message, Role};
use serde_json::{Map, Value, json};

/// Fields of a request's `extra` map that Ollama understands at the top level of the body.
const PASSED_THROUGH: [&str; 2] = ["keep_alive", "think"];

/// The `/api/chat` body for `request`; `stream` is always written, because Ollama streams
/// unless told not to.
///
/// - `system` and `developer` messages are `system` messages; text parts are joined by a
///   newline; images must be base64 `data:` URLs and go to the message's `images`;
/// - assistant tool calls carry their arguments as a JSON object; a `tool` message carries
///   `tool_name`, looked up from the call it answers;
/// - `temperature`, `top_p`, the output limit (`num_predict`), `stop` and `seed` go to
///   `options`, over any `options` object the caller put in `extra`;
/// - `response_format` `json_object` is `format: "json"`, `json_schema` is its schema.
pub fn request_body(request: &ChatRequest, stream: bool) -> Result<Value, Error> {
    let mut tool_names: HashMap<&str, &str> = HashMap::new();
    let mut messages = Vec::with_capacity(request.messages.len());
    for (position, message) in request.messages.iter().enumerate() {
        for call in message.tool_calls.iter().flatten() {
            tool_names.insert(call.id.as_str(), call.function.name.as_str());
        }
        messages.push(message_body(message, position, &tool_names)?);
    }

    let mut body = Map::new();
    body.insert("model".to_owned(), Value::from(request.model.as_str()));
    body.insert("messages".to_owned(), Value::Array(messages));
    body.insert("stream".to_owned(), Value::Bool(stream));

    let mut options = match request.extra.get("options") {
        Some(Value::Object(options)) => options.clone(),
        _ => Map::new(),
    };
    if let Some(temperature) = request.temperature {
        options.insert("temperature".to_owned(), temperature.into());
    }
    if let Some(top_p) = request.top_p {
        options.insert("top_p".to_owned(), top_p.into());
    }
    if let Some(limit) = request.output_limit() {
        options.insert("num_predict".to_owned(), limit.into());
    }
    match &request.stop {
        None | Some(Value::Null) => {}
        Some(Value::String(one)) => {
            options.insert("stop".to_owned(), json!([one]));
        }
        Some(Value::Array(many)) if many.iter().all(Value::is_string) => {
            options.insert("stop".to_owned(), Value::Array(many.clone()));
        }
        Some(_) => {
            return Err(Error::new(
                ErrorCategory::InvalidRequest,
                "stop: expected a string or a list of strings",
            ));
        }
    }
    if let Some(seed) = request.extra.get("seed") {
        options.insert("seed".to_owned(), seed.clone());
    }
    if !options.is_empty() {
        body.insert("options".to_owned(), Value::Object(options));
    }

    if let Some(format) = format(request.response_format.as_ref()) {
        body.insert("format".to_owned(), format);
    }
    if let Some(tools) = request.tools.as_deref().filter(|tools| !tools.is_empty()) {
        // Ollama takes tools in the OpenAI shape.
        let tools = serde_json::to_value(tools).map_err(|error| {
            Error::new(ErrorCategory::InvalidRequest, format!("tools: {error}"))
        })?;
        body.insert("tools".to_owned(), tools);
    }
    for key in PASSED_THROUGH {
        if let Some(value) = request.extra.get(key) {
            body.insert(key.to_owned(), value.clone());
        }
    }
    Ok(Value::Object(body))
}

fn invalid(position: usize, what: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCategory::InvalidRequest,
        format!("messages[{position}]: {what}"),
    )
}

fn message_body(
    message: &Message,
    position: usize,
    tool_names: &HashMap<&str, &str>,
) -> Result<Value, Error> {
    let role = match message.role {
        Role::System | Role::Developer => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    let mut texts = Vec::new();
    let mut images = Vec::new();
    match &message.content {
        None => {}
        Some(Content::Text(text)) => texts.push(text.as_str()),
        Some(Content::Parts(parts)) => {
            for part in parts {
                match part {
                    ContentPart::Text { text } => texts.push(text.as_str()),
                    ContentPart::ImageUrl { image_url } => {
                        images.push(base64_image(&image_url.url, position)?);
                    }
                    _ => {
                        return Err(invalid(
                            position,
                            "only text and image parts can be sent to Ollama",
                        ));
                    }
                }
            }
        }
    }
    let mut body = Map::new();
    body.insert("role".to_owned(), Value::from(role));
    body.insert("content".to_owned(), Value::from(texts.join("\n")));
    if !images.is_empty() {
        body.insert("images".to_owned(), Value::from(images));
    }
    if let Some(calls) = message
        .tool_calls
        .as_deref()
        .filter(|calls| !calls.is_empty())
    {
        let mut wire_calls = Vec::with_capacity(calls.len());
        for call in calls {
            let arguments = call.function.arguments.trim();
            let arguments = if arguments.is_empty() {
                Value::Object(Map::new())
            } else {
                serde_json::from_str::<Value>(arguments).map_err(|error| {
                    invalid(
                        position,
                        format_args!("tool call {:?}: arguments are not JSON ({error})", call.id),
                    )
                })?
            };
            wire_calls.push(json!({
                "function": {"name": call.function.name, "arguments": arguments},
            }));
        }
        body.insert("tool_calls".to_owned(), Value::Array(wire_calls));
    }
    if message.role == Role::Tool
        && let Some(name) = message
            .tool_call_id
            .as_deref()
            .and_then(|id| tool_names.get(id))
    {
        body.insert("tool_name".to_owned(), Value::from(*name));
    }
    Ok(Value::Object(body))
}

/// The base64 data of a `data:` URL; Ollama takes images only inline.
fn base64_image(url: &str, position: usize) -> Result<&str, Error> {
    url.strip_prefix("data:")
        .and_then(|rest| rest.split_once(";base64,"))
        .map(|(_, data)| data)
        .filter(|data| !data.is_empty())
        .ok_or_else(|| {
            invalid(
                position,
                "Ollama takes images only as base64 `data:<type>;base64,<data>` URLs",
            )
        })
}

/// `format` for `response_format`: `"json"` for JSON mode, the schema for a JSON schema.
fn format(response_format: Option<&Value>) -> Option<Value> {
    let response_format = response_format?;
    match response_format.get("type").and_then(Value::as_str)? {
        "json_object" => Some(Value::from("json")),
        "json_schema" => Some(
            response_format
                .pointer("/json_schema/schema")
                .cloned()
                .unwrap_or_else(|| Value::from("json")),
        ),
        _ => None,
    }
}
