//! [`ChatRequest::validate`]: the ranges and shapes the chat completions API documents for
//! each parameter, checked before a request is routed or forwarded.
//!
//! Parsing only checks types where the type says enough (`temperature` is a number); the rest is
//! checked here, so a request `OpenAI` itself would refuse is refused the same way by every
//! orkestra entry point, with the parameter named, instead of being forwarded to a model that
//! may ignore, clamp or reject it.

use std::fmt;

use serde_json::Value;

use super::{ChatRequest, Content, Message, Role};

/// A parameter of a chat request that is out of its range or of the wrong shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct InvalidParam {
    /// The parameter as a JSON path: `temperature`, `messages[1].tool_call_id`,
    /// `response_format.type`.
    pub param: String,
    /// What is wrong and what is expected, naming the parameter, in plain words.
    pub message: String,
}

impl InvalidParam {
    fn new(param: impl Into<String>, expected: impl fmt::Display, got: &Value) -> Self {
        let param = param.into();
        let message = format!("`{param}` must be {expected}, got {}", describe(got));
        Self { param, message }
    }
}

/// A JSON value as a person would name it: `the number 5`, `the string "two"`, `a list`.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => format!("the number {number}"),
        Value::String(text) => format!("the string {}", Value::String(text.clone())),
        Value::Array(items) if items.is_empty() => "an empty list".to_owned(),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// The most stop sequences the API accepts.
const MAX_STOP_SEQUENCES: usize = 4;

impl ChatRequest {
    /// Checks every parameter against the range and shape the chat completions API documents,
    /// and returns the first one that is wrong.
    ///
    /// - `messages` is not empty; every message has content (an assistant message may have
    ///   tool calls instead), a content list is not empty, a `tool` message names its
    ///   `tool_call_id`;
    /// - `temperature` is from 0 to 2, `top_p` from 0 to 1, `presence_penalty` and
    ///   `frequency_penalty` from -2 to 2, `max_tokens` and `max_completion_tokens` at least 1;
    /// - `n` is 1: orkestra answers one choice per request, and saying so beats answering one
    ///   where three were asked for;
    /// - `stop` is a string or a list of up to four strings;
    /// - `tool_choice` is `none`, `auto`, `required` or an object with a `type` (a `function`
    ///   one naming a function of `tools`), and only `none` or `auto` without `tools`;
    /// - `response_format` has a `type` of `text`, `json_object` or `json_schema` (with its
    ///   `json_schema.name`);
    /// - `stream_options` comes with `stream: true`.
    ///
    /// `null` stands for a parameter left out, as the API reads it.
    ///
    /// ```
    /// use orkestra_core::{ChatRequest, Message};
    ///
    /// let mut request = ChatRequest::new("auto", vec![Message::user("hi")]);
    /// assert!(request.validate().is_ok());
    /// request.temperature = Some(3.0);
    /// let error = request.validate().unwrap_err();
    /// assert_eq!(error.param, "temperature");
    /// assert_eq!(error.message, "`temperature` must be a number from 0 to 2, got the number 3");
    /// ```
    pub fn validate(&self) -> Result<(), InvalidParam> {
        self.validate_messages()?;
        range("temperature", self.temperature, 0.0, 2.0)?;
        range("top_p", self.top_p, 0.0, 1.0)?;
        for penalty in ["presence_penalty", "frequency_penalty"] {
            if let Some(value) = present(self.extra.get(penalty)) {
                range(penalty, value.as_f64().ok_or(value), -2.0, 2.0)?;
            }
        }
        for (name, limit) in [
            ("max_tokens", self.max_tokens),
            ("max_completion_tokens", self.max_completion_tokens),
        ] {
            if limit == Some(0) {
                return Err(InvalidParam::new(name, "at least 1", &Value::from(0)));
            }
        }
        if let Some(n) = present(self.extra.get("n"))
            && n.as_u64() != Some(1)
        {
            let expected = if n.is_u64() || n.is_i64() {
                "1: orkestra answers one choice per request"
            } else {
                "a whole number, and 1: orkestra answers one choice per request"
            };
            return Err(InvalidParam::new("n", expected, n));
        }
        self.validate_stop()?;
        self.validate_tool_choice()?;
        self.validate_response_format()?;
        if self.stream_options.is_some() && !self.is_stream() {
            return Err(InvalidParam {
                param: "stream_options".to_owned(),
                message: "`stream_options` is only allowed with `stream: true`".to_owned(),
            });
        }
        Ok(())
    }

    fn validate_messages(&self) -> Result<(), InvalidParam> {
        if self.messages.is_empty() {
            return Err(InvalidParam::new(
                "messages",
                "a list of at least one message",
                &Value::Array(Vec::new()),
            ));
        }
        for (index, message) in self.messages.iter().enumerate() {
            validate_message(index, message)?;
        }
        Ok(())
    }

    fn validate_stop(&self) -> Result<(), InvalidParam> {
        let Some(stop) = present(self.stop.as_ref()) else {
            return Ok(());
        };
        let fits = match stop {
            Value::String(_) => true,
            Value::Array(items) => {
                items.len() <= MAX_STOP_SEQUENCES && items.iter().all(Value::is_string)
            }
            _ => false,
        };
        if fits {
            Ok(())
        } else {
            Err(InvalidParam::new(
                "stop",
                format_args!("a string or a list of up to {MAX_STOP_SEQUENCES} strings"),
                stop,
            ))
        }
    }

    fn validate_tool_choice(&self) -> Result<(), InvalidParam> {
        const EXPECTED: &str = "`none`, `auto`, `required` or an object with a `type`";
        let Some(choice) = present(self.tool_choice.as_ref()) else {
            return Ok(());
        };
        let tools = self.tools.as_deref().unwrap_or_default();
        let needs_tools = match choice {
            Value::String(mode) if mode == "none" || mode == "auto" => false,
            Value::String(mode) if mode == "required" => true,
            Value::Object(object) => match object.get("type").and_then(Value::as_str) {
                Some("function") => {
                    let name = object
                        .get("function")
                        .and_then(|function| function.get("name"))
                        .and_then(Value::as_str);
                    let Some(name) = name else {
                        return Err(InvalidParam {
                            param: "tool_choice.function.name".to_owned(),
                            message: "`tool_choice.function.name` must name the function to call"
                                .to_owned(),
                        });
                    };
                    if !tools.is_empty() && !tools.iter().any(|tool| tool.function.name == name) {
                        return Err(InvalidParam {
                            param: "tool_choice.function.name".to_owned(),
                            message: format!(
                                "`tool_choice.function.name` must be the name of a function in `tools`, got `{name}`"
                            ),
                        });
                    }
                    true
                }
                Some(_) => true,
                None => return Err(InvalidParam::new("tool_choice", EXPECTED, choice)),
            },
            _ => return Err(InvalidParam::new("tool_choice", EXPECTED, choice)),
        };
        if needs_tools && tools.is_empty() {
            return Err(InvalidParam {
                param: "tool_choice".to_owned(),
                message:
                    "`tool_choice` asks for a tool call, so `tools` must list at least one tool"
                        .to_owned(),
            });
        }
        Ok(())
    }

    fn validate_response_format(&self) -> Result<(), InvalidParam> {
        let Some(format) = present(self.response_format.as_ref()) else {
            return Ok(());
        };
        let Some(object) = format.as_object() else {
            return Err(InvalidParam::new(
                "response_format",
                "an object with a `type`",
                format,
            ));
        };
        let kind = object.get("type").unwrap_or(&Value::Null);
        match kind.as_str() {
            Some("text" | "json_object") => Ok(()),
            Some("json_schema") => {
                let named = object
                    .get("json_schema")
                    .and_then(|schema| schema.get("name"))
                    .is_some_and(Value::is_string);
                if named {
                    Ok(())
                } else {
                    Err(InvalidParam {
                        param: "response_format.json_schema".to_owned(),
                        message: "`response_format.json_schema` must be an object with a `name` and a `schema`".to_owned(),
                    })
                }
            }
            _ => Err(InvalidParam::new(
                "response_format.type",
                "`text`, `json_object` or `json_schema`",
                kind,
            )),
        }
    }
}

fn validate_message(index: usize, message: &Message) -> Result<(), InvalidParam> {
    let at = |field: &str| format!("messages[{index}].{field}");
    match &message.content {
        Some(Content::Parts(parts)) if parts.is_empty() => {
            let param = at("content");
            return Err(InvalidParam {
                message: format!(
                    "`{param}` must be a string or a list of at least one content part, got an empty list"
                ),
                param,
            });
        }
        Some(_) => {}
        None => {
            // An assistant message may only call tools (or carry a refusal) and have no text.
            let calls_tools = message
                .tool_calls
                .as_ref()
                .is_some_and(|calls| !calls.is_empty())
                || ["function_call", "refusal", "audio"]
                    .iter()
                    .any(|key| present(message.extra.get(*key)).is_some());
            if !(message.role == Role::Assistant && calls_tools) {
                let param = at("content");
                let message = if message.role == Role::Assistant {
                    format!("`{param}` must be given when the message has no `tool_calls`")
                } else {
                    format!(
                        "`{param}` must be given on a `{}` message",
                        message.role.as_str()
                    )
                };
                return Err(InvalidParam { param, message });
            }
        }
    }
    if message.role == Role::Tool && message.tool_call_id.as_deref().is_none_or(str::is_empty) {
        let param = at("tool_call_id");
        return Err(InvalidParam {
            message: format!("`{param}` must name the tool call this `tool` message answers"),
            param,
        });
    }
    Ok(())
}

/// A value that is there and not `null`.
fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|value| !value.is_null())
}

/// Checks an optional number against an inclusive range; `Err(value)` is a value that is not a
/// number at all.
fn range<'a>(
    param: &str,
    value: impl Into<Checked<'a>>,
    low: f64,
    high: f64,
) -> Result<(), InvalidParam> {
    let expected = || format!("a number from {low} to {high}");
    match value.into() {
        Checked::Absent => Ok(()),
        Checked::Number(number) if (low..=high).contains(&number) => Ok(()),
        Checked::Number(number) => Err(InvalidParam {
            param: param.to_owned(),
            message: format!("`{param}` must be {}, got the number {number}", expected()),
        }),
        Checked::NotANumber(value) => Err(InvalidParam::new(param, expected(), value)),
    }
}

/// A parameter read for [`range`].
enum Checked<'a> {
    Absent,
    Number(f64),
    NotANumber(&'a Value),
}

impl From<Option<f64>> for Checked<'_> {
    fn from(value: Option<f64>) -> Self {
        value.map_or(Self::Absent, Self::Number)
    }
}

impl<'a> From<Result<f64, &'a Value>> for Checked<'a> {
    fn from(value: Result<f64, &'a Value>) -> Self {
        match value {
            Ok(number) => Self::Number(number),
            Err(value) => Self::NotANumber(value),
        }
    }
}

#[cfg(test)]
mod tests;
