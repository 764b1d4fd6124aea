//! [`ChatRequest`] to the `POST /v1/messages` body, borrowed from the request.

use std::borrow::Cow;

use orkestra_core::{
    ChatRequest, Content, ContentPart, Error, ErrorCategory, Message, Role, Tool, ToolCall,
};
use serde::Serialize;
use serde_json::{Map, Value};

/// The system instruction added for `response_format: {"type": "json_object"}`.
pub const JSON_OBJECT_INSTRUCTION: &str =
    "Respond with a single valid JSON object and nothing else: no prose, no code fences.";

/// The body of `POST /v1/messages`, borrowing the request's text, tools and settings.
///
/// Built by [`request_body`]; serialise it with `serde_json`.
#[derive(Debug, Serialize)]
pub struct MessagesBody<'a> {
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<String>,
    messages: Vec<Turn<'a>>,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_sequences: Option<StopSequences<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Vec<ToolDefinition<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<ToolChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Metadata<'a>>,
    // Fields of the request's `extra` that the Messages API understands, sent as they are;
    // everything else in `extra` is `OpenAI`-specific (`seed`, `logit_bias`, `n`, ...) and the
    // Messages API rejects unknown fields, so it is dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_tier: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    container: Option<&'a Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
}

/// One turn: a role and its content.
#[derive(Debug, Serialize)]
struct Turn<'a> {
    role: &'static str,
    content: Blocks<'a>,
}

/// Content as the API's own examples write it: one text block as a plain string, anything else
/// as a list of blocks.
#[derive(Debug)]
struct Blocks<'a>(Vec<Block<'a>>);

impl Serialize for Blocks<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [Block::Text { text }] => serializer.serialize_str(text),
            blocks => blocks.serialize(serializer),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block<'a> {
    Text {
        text: &'a str,
    },
    Image {
        source: ImageSource<'a>,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: Value,
    },
    ToolResult {
        tool_use_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        content: Option<Blocks<'a>>,
    },
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ImageSource<'a> {
    Base64 { media_type: &'a str, data: &'a str },
    Url { url: &'a str },
}

/// `stop` as `stop_sequences`: always a list.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum StopSequences<'a> {
    One([&'a str; 1]),
    Many(&'a [Value]),
}

#[derive(Debug, Serialize)]
struct ToolDefinition<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    input_schema: Cow<'a, Value>,
}

#[derive(Debug, Serialize)]
struct ToolChoice<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disable_parallel_tool_use: Option<bool>,
}

/// `metadata`: the caller's own object when it sent one, else `user` as `user_id`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Metadata<'a> {
    Given(&'a Value),
    User { user_id: &'a str },
}

/// The `/v1/messages` body for `request`, sent to the upstream model `model`.
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
/// - Of the request's other fields, `top_k`, `metadata`, `thinking`, `service_tier` and
///   `container` are passed through; the rest are `OpenAI`'s and dropped.
pub fn request_body<'a>(
    model: &'a str,
    request: &'a ChatRequest,
    default_max_tokens: u32,
    stream: bool,
) -> Result<MessagesBody<'a>, Error> {
    let mut system = Vec::new();
    let mut turns: Vec<Turn<'a>> = Vec::new();
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
            Some(last) if last.role == role => last.content.0.extend(blocks),
            _ => turns.push(Turn {
                role,
                content: Blocks(blocks),
            }),
        }
    }
    if let Some(instruction) = json_instruction(request.response_format.as_ref()) {
        system.push(instruction);
    }
    let tools = request.tools.as_deref().filter(|tools| !tools.is_empty());
    let extra = |key: &str| request.extra.get(key);
    Ok(MessagesBody {
        model,
        system: (!system.is_empty()).then(|| system.join("\n\n")),
        messages: turns,
        max_tokens: request.output_limit().unwrap_or(default_max_tokens),
        temperature: request.temperature,
        top_p: request.top_p,
        stop_sequences: stop_sequences(request.stop.as_ref())?,
        tools: tools.map(|tools| tools.iter().map(tool_definition).collect()),
        tool_choice: match tools {
            Some(_) => tool_choice(request)?,
            None => None,
        },
        metadata: match (extra("metadata"), &request.user) {
            (Some(given), _) => Some(Metadata::Given(given)),
            (None, Some(user)) => Some(Metadata::User { user_id: user }),
            (None, None) => None,
        },
        top_k: extra("top_k"),
        thinking: extra("thinking"),
        service_tier: extra("service_tier"),
        container: extra("container"),
        stream,
    })
}

fn invalid(position: usize, what: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCategory::InvalidRequest,
        format!("messages[{position}]: {what}"),
    )
}

/// The content blocks of a user message. Empty text is skipped: the API rejects empty text
/// blocks.
fn content_blocks(message: &Message, position: usize) -> Result<Vec<Block<'_>>, Error> {
    let mut blocks = Vec::new();
    match &message.content {
        None => {}
        Some(Content::Text(text)) if text.is_empty() => {}
        Some(Content::Text(text)) => blocks.push(Block::Text { text }),
        Some(Content::Parts(parts)) => {
            for part in parts {
                match part {
                    ContentPart::Text { text } if text.is_empty() => {}
                    ContentPart::Text { text } => blocks.push(Block::Text { text }),
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
fn image_block(url: &str, position: usize) -> Result<Block<'_>, Error> {
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
        return Ok(Block::Image {
            source: ImageSource::Base64 { media_type, data },
        });
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(Block::Image {
            source: ImageSource::Url { url },
        });
    }
    Err(invalid(
        position,
        "an image URL must be a `data:` or `http(s):` URL",
    ))
}

/// An assistant message: its text, then one `tool_use` block per tool call.
fn assistant_blocks(message: &Message, position: usize) -> Result<Vec<Block<'_>>, Error> {
    let mut blocks = content_blocks(message, position)?;
    for call in message.tool_calls.iter().flatten() {
        blocks.push(tool_use_block(call, position)?);
    }
    Ok(blocks)
}

fn tool_use_block(call: &ToolCall, position: usize) -> Result<Block<'_>, Error> {
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
    Ok(Block::ToolUse {
        id: &call.id,
        name: &call.function.name,
        input,
    })
}

fn tool_result_block(message: &Message, position: usize) -> Result<Block<'_>, Error> {
    let tool_use_id = message
        .tool_call_id
        .as_deref()
        .ok_or_else(|| invalid(position, "a tool message needs `tool_call_id`"))?;
    let content = content_blocks(message, position)?;
    Ok(Block::ToolResult {
        tool_use_id,
        content: (!content.is_empty()).then_some(Blocks(content)),
    })
}

fn tool_definition(tool: &Tool) -> ToolDefinition<'_> {
    ToolDefinition {
        name: &tool.function.name,
        description: tool.function.description.as_deref(),
        // `input_schema` is required; a function without parameters takes an empty object.
        input_schema: tool.function.parameters.as_ref().map_or_else(
            || Cow::Owned(serde_json::json!({"type": "object", "properties": {}})),
            Cow::Borrowed,
        ),
    }
}

/// `tool_choice` in the Messages shape, with `parallel_tool_calls: false` folded in.
fn tool_choice(request: &ChatRequest) -> Result<Option<ToolChoice<'_>>, Error> {
    let mode = |kind| ToolChoice {
        kind,
        name: None,
        disable_parallel_tool_use: None,
    };
    let mut choice = match &request.tool_choice {
        None => None,
        Some(Value::String(given)) => Some(mode(match given.as_str() {
            "auto" => "auto",
            "required" => "any",
            "none" => "none",
            other => {
                return Err(Error::new(
                    ErrorCategory::InvalidRequest,
                    format!(
                        "tool_choice: unknown mode {other:?} (expected auto, required or none)"
                    ),
                ));
            }
        })),
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
            Some(ToolChoice {
                name: Some(name),
                ..mode("tool")
            })
        }
    };
    if request.extra.get("parallel_tool_calls") == Some(&Value::Bool(false)) {
        let choice = choice.get_or_insert_with(|| mode("auto"));
        if choice.kind != "none" {
            choice.disable_parallel_tool_use = Some(true);
        }
    }
    Ok(choice)
}

/// `stop` (a string or a list of strings) as `stop_sequences`.
fn stop_sequences(stop: Option<&Value>) -> Result<Option<StopSequences<'_>>, Error> {
    match stop {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(one)) => Ok(Some(StopSequences::One([one]))),
        Some(Value::Array(many)) if many.iter().all(Value::is_string) => {
            Ok((!many.is_empty()).then_some(StopSequences::Many(many)))
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
