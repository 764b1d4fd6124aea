//! The chat types against request and response bodies shaped like the examples of `OpenAI`'s
//! Chat Completions API reference (`tests/fixtures/openai/`).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::*;

const REQUEST_BASIC: &str = include_str!("../../tests/fixtures/openai/request_basic.json");
const REQUEST_SYSTEM: &str = include_str!("../../tests/fixtures/openai/request_system.json");
const REQUEST_VISION: &str = include_str!("../../tests/fixtures/openai/request_vision.json");
const REQUEST_TOOLS: &str = include_str!("../../tests/fixtures/openai/request_tools.json");
const REQUEST_TOOL_RESULTS: &str =
    include_str!("../../tests/fixtures/openai/request_tool_results.json");
const REQUEST_JSON_SCHEMA: &str =
    include_str!("../../tests/fixtures/openai/request_json_schema.json");
const RESPONSE_TEXT: &str = include_str!("../../tests/fixtures/openai/response_text.json");
const RESPONSE_TOOL_CALLS: &str =
    include_str!("../../tests/fixtures/openai/response_tool_calls.json");
const RESPONSE_REFUSAL: &str = include_str!("../../tests/fixtures/openai/response_refusal.json");
const ERROR_CONTEXT_LENGTH: &str =
    include_str!("../../tests/fixtures/openai/error_context_length.json");

/// Parses `json` as `T`, checks that writing it back gives the same JSON value, and returns it.
#[track_caller]
fn check_round_trip<T: DeserializeOwned + Serialize>(json: &str) -> T {
    let original: Value = serde_json::from_str(json).expect("fixture is JSON");
    let parsed: T = serde_json::from_str(json).expect("fixture parses into our type");
    let written = serde_json::to_value(&parsed).expect("our type serializes");
    assert_eq!(
        written,
        original,
        "round trip changed the body:\nwritten:  {}\noriginal: {}",
        serde_json::to_string_pretty(&written).unwrap_or_default(),
        serde_json::to_string_pretty(&original).unwrap_or_default(),
    );
    parsed
}

#[track_caller]
fn parse_error<T: DeserializeOwned + fmt::Debug>(json: &str) -> String {
    serde_json::from_str::<T>(json)
        .expect_err("the body must be rejected")
        .to_string()
}

#[test]
fn developer_and_user_request_round_trips() {
    let request: ChatRequest = check_round_trip(REQUEST_BASIC);
    assert_eq!(request.model, "gpt-4.1");
    let roles: Vec<Role> = request.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::Developer, Role::User]);
    assert_eq!(request.messages[1], Message::user("Hello!"));
    assert!(request.extra.is_empty());
    assert!(!request.is_stream());
    assert!(!request.wants_json());
    assert_eq!(request.output_limit(), None);
}

#[test]
fn system_conversation_request_round_trips() {
    let request: ChatRequest = check_round_trip(REQUEST_SYSTEM);
    assert_eq!(
        request.messages[0],
        Message::system("You are a helpful assistant.")
    );
    assert_eq!(
        request.messages[2],
        Message::assistant("The Los Angeles Dodgers won the World Series in 2020.")
    );
    assert_eq!(request.user.as_deref(), Some("user-1234"));
    assert_eq!(request.extra["n"], 1);
}

#[test]
fn vision_request_round_trips_with_image_detail() {
    let request: ChatRequest = check_round_trip(REQUEST_VISION);
    let message = &request.messages[0];
    let content = message.content.as_ref().expect("content");
    assert!(content.has_image());
    assert_eq!(message.text(), "What's in this image?");
    let Content::Parts(parts) = content else {
        panic!("expected parts, got {content:?}");
    };
    let ContentPart::ImageUrl { image_url } = &parts[1] else {
        panic!("expected an image part, got {:?}", parts[1]);
    };
    assert!(image_url.url.starts_with("https://upload.wikimedia.org/"));
    assert_eq!(image_url.detail.as_deref(), Some("high"));
    assert_eq!(request.output_limit(), Some(300));
}

#[test]
fn tools_request_round_trips() {
    let request: ChatRequest = check_round_trip(REQUEST_TOOLS);
    let tools = request.tools.as_ref().expect("tools");
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0].kind, "function");
    assert_eq!(tools[0].function.name, "get_current_weather");
    let parameters = tools[0].function.parameters.as_ref().expect("parameters");
    assert_eq!(parameters["required"], json!(["location"]));
    assert_eq!(request.tool_choice, Some(json!("auto")));
}

#[test]
fn tool_results_request_keeps_null_assistant_content() {
    let request: ChatRequest = check_round_trip(REQUEST_TOOL_RESULTS);
    let call = &request.messages[1];
    assert_eq!(call.role, Role::Assistant);
    assert_eq!(call.content, None);
    assert_eq!(call.text(), "");
    let tool_calls = call.tool_calls.as_ref().expect("tool calls");
    assert_eq!(tool_calls[0].id, "call_abc123");
    assert_eq!(
        tool_calls[0].function.arguments,
        "{\n\"location\": \"Boston, MA\"\n}"
    );
    let answer = &request.messages[2];
    assert_eq!(answer.role, Role::Tool);
    assert_eq!(answer.tool_call_id.as_deref(), Some("call_abc123"));
    let tools = request.tools.as_ref().expect("tools");
    assert_eq!(tools[0].function.strict, Some(true));
    assert_eq!(
        request.tool_choice.as_ref().expect("tool_choice")["type"],
        "function"
    );
    assert_eq!(request.extra["parallel_tool_calls"], false);
}

#[test]
fn json_schema_request_round_trips_and_keeps_unknown_fields() {
    let request: ChatRequest = check_round_trip(REQUEST_JSON_SCHEMA);
    assert!(request.wants_json());
    assert!(request.is_stream());
    assert_eq!(
        request
            .stream_options
            .as_ref()
            .and_then(|o| o.include_usage),
        Some(true)
    );
    assert_eq!(request.output_limit(), Some(512));
    assert_eq!(request.temperature, Some(0.2));
    assert_eq!(request.stop, Some(json!(["\n\n"])));
    // Fields the type does not model are kept, so a gateway forwards them unchanged.
    assert_eq!(request.extra["seed"], 42);
    assert_eq!(
        request.extra["logit_bias"],
        json!({"50256": -100, "1734": 5})
    );
    assert_eq!(request.extra.len(), 2, "{:?}", request.extra);
}

#[test]
fn text_response_round_trips() {
    let response: ChatResponse = check_round_trip(RESPONSE_TEXT);
    assert_eq!(response.id, "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT");
    assert_eq!(response.object, "chat.completion");
    assert_eq!(response.text(), "Hello! How can I assist you today?");
    assert_eq!(response.finish_reason(), Some(&FinishReason::Stop));
    assert_eq!(response.extra["system_fingerprint"], "fp_b3f1157249");
    assert_eq!(response.extra["service_tier"], "default");
    let choice = &response.choices[0];
    assert_eq!(choice.extra["logprobs"], Value::Null);
    assert_eq!(choice.message.extra["refusal"], Value::Null);
    assert_eq!(choice.message.extra["annotations"], json!([]));
    let usage = response.usage.as_ref().expect("usage");
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (19, 10, 29)
    );
    assert!(!usage.estimated);
    assert_eq!(usage.extra["prompt_tokens_details"]["cached_tokens"], 0);
    assert_eq!(
        usage.extra["completion_tokens_details"]["rejected_prediction_tokens"],
        0
    );
}

#[test]
fn tool_call_response_round_trips_with_null_content() {
    let response: ChatResponse = check_round_trip(RESPONSE_TOOL_CALLS);
    assert_eq!(response.finish_reason(), Some(&FinishReason::ToolCalls));
    let message = &response.choices[0].message;
    assert_eq!(message.content, None);
    assert_eq!(response.text(), "");
    let tool_calls = message.tool_calls.as_ref().expect("tool calls");
    assert_eq!(tool_calls[0].function.name, "get_current_weather");
    let arguments: Value =
        serde_json::from_str(&tool_calls[0].function.arguments).expect("arguments are JSON");
    assert_eq!(arguments, json!({"location": "Boston, MA"}));
}

#[test]
fn refusal_response_round_trips_with_null_content() {
    let response: ChatResponse = check_round_trip(RESPONSE_REFUSAL);
    let message = &response.choices[0].message;
    assert_eq!(message.content, None);
    assert_eq!(message.tool_calls, None);
    assert_eq!(
        message.extra["refusal"],
        "I'm sorry, I cannot assist with that request."
    );
}

#[test]
fn error_body_is_not_a_chat_response() {
    // A provider that answers 200 with an error body must not turn it into an empty answer.
    let message = parse_error::<ChatResponse>(ERROR_CONTEXT_LENGTH);
    assert!(message.contains("missing field `id`"), "{message}");
    let body: Value = serde_json::from_str(ERROR_CONTEXT_LENGTH).expect("JSON");
    assert_eq!(body["error"]["code"], "context_length_exceeded");
}

#[test]
fn unknown_role_is_an_error_naming_it() {
    let message = parse_error::<ChatRequest>(
        r#"{"model": "auto", "messages": [{"role": "critic", "content": "Rate this."}]}"#,
    );
    assert!(message.contains("critic"), "{message}");
}

#[test]
fn unknown_content_part_type_is_an_error_naming_it() {
    let message = parse_error::<Message>(
        r#"{"role": "user", "content": [
            {"type": "text", "text": "What happens here?"},
            {"type": "input_video", "input_video": {"url": "https://example.com/clip.mp4"}}
        ]}"#,
    );
    assert!(message.contains("input_video"), "{message}");
}

#[test]
fn content_that_is_neither_text_nor_parts_is_an_error() {
    let message = parse_error::<Message>(r#"{"role": "user", "content": 42}"#);
    assert!(
        message.contains("a string or a list of content parts"),
        "{message}"
    );
}

#[test]
fn assistant_message_always_carries_content() {
    // The one rule that makes null content exact: an assistant message writes `null`...
    let mut call = Message::assistant("");
    call.content = None;
    assert_eq!(
        serde_json::to_value(&call).expect("serializes"),
        json!({"role": "assistant", "content": null})
    );
    // ...while other roles omit content they do not have.
    let mut user = Message::user("");
    user.content = None;
    assert_eq!(
        serde_json::to_value(&user).expect("serializes"),
        json!({"role": "user"})
    );
    let tool = Message::tool("call_abc123", "22 C");
    assert_eq!(
        serde_json::to_value(&tool).expect("serializes"),
        json!({"role": "tool", "content": "22 C", "tool_call_id": "call_abc123"})
    );
}

#[test]
fn output_limit_prefers_max_completion_tokens() {
    let mut request = ChatRequest::new("auto", vec![Message::user("Hi")]);
    assert_eq!(request.output_limit(), None);
    request.max_tokens = Some(300);
    assert_eq!(request.output_limit(), Some(300));
    request.max_completion_tokens = Some(512);
    assert_eq!(request.output_limit(), Some(512));
}

#[test]
fn wants_json_for_json_object_and_json_schema_only() {
    let mut request = ChatRequest::new("auto", vec![Message::user("Hi")]);
    for (format, expected) in [
        (None, false),
        (Some(json!({"type": "text"})), false),
        (Some(json!({"type": "json_object"})), true),
        (
            Some(json!({"type": "json_schema", "json_schema": {"name": "x"}})),
            true,
        ),
        (Some(json!("json_object")), false),
    ] {
        request.response_format.clone_from(&format);
        assert_eq!(request.wants_json(), expected, "{format:?}");
    }
}

#[test]
fn is_stream_only_when_stream_is_true() {
    let mut request = ChatRequest::new("auto", vec![Message::user("Hi")]);
    for (stream, expected) in [(None, false), (Some(false), false), (Some(true), true)] {
        request.stream = stream;
        assert_eq!(request.is_stream(), expected, "{stream:?}");
    }
}

#[test]
fn message_text_joins_text_parts_and_skips_images() {
    let message: Message = serde_json::from_value(json!({
        "role": "user",
        "content": [
            {"type": "text", "text": "Compare"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "text", "text": "with the one before."}
        ]
    }))
    .expect("parses");
    assert_eq!(message.text(), "Compare\nwith the one before.");
    assert!(message.content.as_ref().is_some_and(Content::has_image));
}

#[test]
fn has_image_is_false_without_image_parts() {
    assert!(!Content::from("an image of a cat").has_image());
    let parts = Content::Parts(vec![ContentPart::Text {
        text: "no image".to_owned(),
    }]);
    assert!(!parts.has_image());
}

#[test]
fn response_helpers_handle_missing_answers() {
    let response: ChatResponse = check_round_trip(
        r#"{"id": "chatcmpl-empty", "object": "chat.completion", "created": 1741569952,
            "model": "gpt-4.1", "choices": []}"#,
    );
    assert_eq!(response.text(), "");
    assert_eq!(response.finish_reason(), None);
    let unfinished: ChatResponse = check_round_trip(
        r#"{"id": "chatcmpl-open", "object": "chat.completion", "created": 1741569952,
            "model": "gpt-4.1", "choices": [{"index": 0, "finish_reason": null,
            "message": {"role": "assistant", "content": "Partial"}}]}"#,
    );
    assert_eq!(unfinished.text(), "Partial");
    assert_eq!(unfinished.finish_reason(), None);
}

#[test]
fn finish_reason_keeps_unknown_values_verbatim() {
    for (wire, expected) in [
        ("stop", FinishReason::Stop),
        ("length", FinishReason::Length),
        ("tool_calls", FinishReason::ToolCalls),
        ("content_filter", FinishReason::ContentFilter),
        ("function_call", FinishReason::FunctionCall),
        (
            "insufficient_system_resource",
            FinishReason::Other("insufficient_system_resource".to_owned()),
        ),
        ("end_turn", FinishReason::Other("end_turn".to_owned())),
    ] {
        let parsed: FinishReason = serde_json::from_value(json!(wire)).expect("parses");
        assert_eq!(parsed, expected, "{wire}");
        assert_eq!(parsed.to_string(), wire);
        assert_eq!(
            serde_json::to_value(&parsed).expect("serializes"),
            json!(wire)
        );
    }
}

#[test]
fn usage_estimated_is_written_only_when_true() {
    let reported = serde_json::to_value(Usage::new(19, 10)).expect("serializes");
    assert_eq!(
        reported,
        json!({"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29})
    );
    let estimated = serde_json::to_value(Usage::estimated(19, 10)).expect("serializes");
    assert_eq!(estimated["estimated"], true);
    let read_back: Usage = serde_json::from_value(estimated).expect("parses");
    assert_eq!(read_back, Usage::estimated(19, 10));
}
