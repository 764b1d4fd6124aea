//! [`ChatRequest`] to the `POST /chat/completions` body, borrowed.

use orkestra_core::{ChatRequest, Message, Tool};
use serde::Serialize;
use serde_json::{Map, Value};

/// Whether a body asks for a streamed answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One answer: `stream` and `stream_options` are left out, whatever the caller sent.
    Plain,
    /// A stream: `stream: true`, and with `include_usage` also
    /// `stream_options.include_usage: true`, over the caller's other stream options.
    Stream {
        /// Ask for a final usage chunk.
        include_usage: bool,
    },
}

/// The body of `POST /chat/completions`: the caller's request as it is, borrowed, with the
/// upstream model's name and the stream fields of this call.
///
/// Field for field the request's own serialisation, in the same order, so a compatible
/// server receives what the caller sent.
#[derive(Debug, Serialize)]
pub struct ChatBody<'a> {
    model: &'a str,
    messages: &'a [Message],
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptionsBody<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<&'a [Tool]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

/// `stream_options`: the caller's, with `include_usage` set when this call asks for usage.
#[derive(Debug, Serialize)]
struct StreamOptionsBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    include_usage: Option<bool>,
    #[serde(flatten)]
    extra: Option<&'a Map<String, Value>>,
}

/// The body for `request`, sent to the upstream model `model`.
///
/// ```
/// use orkestra_core::{ChatRequest, Message};
/// use orkestra_providers::openai::{Mode, request_body};
///
/// let request = ChatRequest::new("openai/gpt-4o-mini", vec![Message::user("Hi")]);
/// let body = request_body("gpt-4o-mini", &request, Mode::Stream { include_usage: true });
/// assert_eq!(
///     serde_json::to_string(&body)?,
///     r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"stream":true,"stream_options":{"include_usage":true}}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn request_body<'a>(model: &'a str, request: &'a ChatRequest, mode: Mode) -> ChatBody<'a> {
    let (stream, stream_options) = match mode {
        Mode::Plain => (None, None),
        Mode::Stream { include_usage } => {
            let caller = request.stream_options.as_ref();
            let options = StreamOptionsBody {
                include_usage: if include_usage {
                    Some(true)
                } else {
                    caller.and_then(|options| options.include_usage)
                },
                extra: caller.map(|options| &options.extra),
            };
            let sent = include_usage || caller.is_some();
            (Some(true), sent.then_some(options))
        }
    };
    ChatBody {
        model,
        messages: &request.messages,
        temperature: request.temperature,
        top_p: request.top_p,
        max_tokens: request.max_tokens,
        max_completion_tokens: request.max_completion_tokens,
        stream,
        stream_options,
        stop: request.stop.as_ref(),
        tools: request.tools.as_deref(),
        tool_choice: request.tool_choice.as_ref(),
        response_format: request.response_format.as_ref(),
        user: request.user.as_deref(),
        extra: &request.extra,
    }
}
