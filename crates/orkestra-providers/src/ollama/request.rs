//! [`ChatRequest`] to the `POST /api/chat` body, borrowed from the request.

use std::borrow::Cow;
use std::collections::HashMap;

use orkestra_core::{ChatRequest, Content, ContentPart, Error, ErrorCategory, Message, Role, Tool};
use serde::ser::SerializeMap as _;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// The body of `POST /api/chat`, borrowing the request's text, tools and settings.
///
/// Built by [`request_body`]; serialise it with `serde_json`.
#[derive(Debug, Serialize)]
pub struct ChatBody<'a> {
    model: &'a str,
    messages: Vec<ChatMessage<'a>>,
    stream: bool,
    #[serde(skip_serializing_if = "Options::is_empty")]
    options: Options<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<Format<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<&'a [Tool]>,
    // Fields of the request's `extra` that Ollama understands at the top level, as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    keep_alive: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    think: Option<&'a Value>,
}

#[derive(Debug, Serialize)]
struct ChatMessage<'a> {
    role: &'static str,
    content: Cow<'a, str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    images: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<Vec<ToolCallBody<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_name: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct ToolCallBody<'a> {
    function: FunctionBody<'a>,
}

#[derive(Debug, Serialize)]
struct FunctionBody<'a> {
    name: &'a str,
    arguments: Value,
}

/// `options`: the caller's own `options` object, under the request's sampling settings.
#[derive(Debug, Default)]
struct Options<'a> {
    given: Option<&'a Map<String, Value>>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    num_predict: Option<u32>,
    stop: Option<Stop<'a>>,
    seed: Option<&'a Value>,
}

/// `stop` as Ollama takes it: always a list.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Stop<'a> {
    One([&'a str; 1]),
    Many(&'a [Value]),
}

impl Options<'_> {
    /// The settings the request itself sets, by name, in the order they are written.
    fn settings(&self) -> [(&'static str, Option<Setting<'_>>); 5] {
        [
            ("temperature", self.temperature.map(Setting::Float)),
            ("top_p", self.top_p.map(Setting::Float)),
            ("num_predict", self.num_predict.map(Setting::Count)),
            ("stop", self.stop.as_ref().map(Setting::Stop)),
            ("seed", self.seed.map(Setting::Given)),
        ]
    }

    fn is_empty(&self) -> bool {
        self.given.is_none_or(Map::is_empty) && self.settings().iter().all(|(_, set)| set.is_none())
    }
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Setting<'a> {
    Float(f64),
    Count(u32),
    Stop(&'a Stop<'a>),
    Given(&'a Value),
}

impl Serialize for Options<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let settings = self.settings();
        let mut map = serializer.serialize_map(None)?;
        // The caller's options first, except those the request's own settings replace.
        for (key, value) in self.given.into_iter().flatten() {
            let replaced = settings
                .iter()
                .any(|(name, set)| set.is_some() && name == key);
            if !replaced {
                map.serialize_entry(key, value)?;
            }
        }
        for (name, set) in &settings {
            if let Some(value) = set {
                map.serialize_entry(name, value)?;
            }
        }
        map.end()
    }
}

/// The `/api/chat` body for `request`, sent to the upstream model `model`; `stream` is always
/// written, because Ollama streams unless told not to.
///
/// - `system` and `developer` messages are `system` messages; text parts are joined by a
///   newline; images must be base64 `data:` URLs and go to the message's `images`;
/// - assistant tool calls carry their arguments as a JSON object; a `tool` message carries
///   `tool_name`, looked up from the call it answers;
/// - `temperature`, `top_p`, the output limit (`num_predict`), `stop` and `seed` go to
///   `options`, over any `options` object the caller put in `extra`;
/// - `response_format` `json_object` is `format: "json"`, `json_schema` is its schema;
/// - `keep_alive` and `think` from the request's other fields are passed through.
pub fn request_body<'a>(
    model: &'a str,
    request: &'a ChatRequest,
    stream: bool,
) -> Result<ChatBody<'a>, Error> {
    let mut tool_names: HashMap<&str, &str> = HashMap::new();
    let mut messages = Vec::with_capacity(request.messages.len());
    for (position, message) in request.messages.iter().enumerate() {
        for call in message.tool_calls.iter().flatten() {
            tool_names.insert(call.id.as_str(), call.function.name.as_str());
        }
        messages.push(message_body(message, position, &tool_names)?);
    }
    let stop = match &request.stop {
        None | Some(Value::Null) => None,
        Some(Value::String(one)) => Some(Stop::One([one])),
        Some(Value::Array(many)) if many.iter().all(Value::is_string) => Some(Stop::Many(many)),
        Some(_) => {
            return Err(Error::new(
                ErrorCategory::InvalidRequest,
                "stop: expected a string or a list of strings",
            ));
        }
    };
    Ok(ChatBody {
        model,
        messages,
        stream,
        options: Options {
            given: match request.extra.get("options") {
                Some(Value::Object(given)) => Some(given),
                _ => None,
            },
            temperature: request.temperature,
            top_p: request.top_p,
            num_predict: request.output_limit(),
            stop,
            seed: request.extra.get("seed"),
        },
        format: format(request.response_format.as_ref()),
        // Ollama takes tools in the `OpenAI` shape.
        tools: request.tools.as_deref().filter(|tools| !tools.is_empty()),
        keep_alive: request.extra.get("keep_alive"),
        think: request.extra.get("think"),
    })
}

fn invalid(position: usize, what: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCategory::InvalidRequest,
        format!("messages[{position}]: {what}"),
    )
}

fn message_body<'a>(
    message: &'a Message,
    position: usize,
    tool_names: &HashMap<&str, &'a str>,
) -> Result<ChatMessage<'a>, Error> {
    let role = match message.role {
        Role::System | Role::Developer => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    let mut images = Vec::new();
    let content = match &message.content {
        None => Cow::Borrowed(""),
        Some(Content::Text(text)) => Cow::Borrowed(text.as_str()),
        Some(Content::Parts(parts)) => {
            let mut texts = Vec::new();
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
            match texts.as_slice() {
                [one] => Cow::Borrowed(*one),
                _ => Cow::Owned(texts.join("\n")),
            }
        }
    };
    let mut tool_calls = None;
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
            wire_calls.push(ToolCallBody {
                function: FunctionBody {
                    name: &call.function.name,
                    arguments,
                },
            });
        }
        tool_calls = Some(wire_calls);
    }
    let tool_name = match message.role {
        Role::Tool => message
            .tool_call_id
            .as_deref()
            .and_then(|id| tool_names.get(id).copied()),
        _ => None,
    };
    Ok(ChatMessage {
        role,
        content,
        images,
        tool_calls,
        tool_name,
    })
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
fn format(response_format: Option<&Value>) -> Option<Format<'_>> {
    let response_format = response_format?;
    match response_format.get("type").and_then(Value::as_str)? {
        "json_object" => Some(Format::Json),
        "json_schema" => Some(
            response_format
                .pointer("/json_schema/schema")
                .map_or(Format::Json, Format::Schema),
        ),
        _ => None,
    }
}

/// Ollama's `format`: JSON mode, or a JSON schema the answer must follow.
#[derive(Debug)]
enum Format<'a> {
    Json,
    Schema(&'a Value),
}

impl Serialize for Format<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Json => serializer.serialize_str("json"),
            Self::Schema(schema) => schema.serialize(serializer),
        }
    }
}
