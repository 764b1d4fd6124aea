//! The Messages wire mapping, against request fixtures written here and response bodies and
//! stream transcripts copied from Anthropic's API reference (`tests/fixtures/anthropic`).

use orkestra_core::{
    ChatRequest, ChatResponse, Classify, ErrorCategory, FinishReason, FunctionCall,
    FunctionDefinition, Message, Resource, StreamAccumulator, StreamEvent, Tool, ToolCall,
};
use serde_json::{Value, json};

use super::*;

const MESSAGE_TEXT: &str = include_str!("../../tests/fixtures/anthropic/message_text.json");
const MESSAGE_TOOL_USE: &str = include_str!("../../tests/fixtures/anthropic/message_tool_use.json");
const STREAM_TEXT: &str = include_str!("../../tests/fixtures/anthropic/stream_text.sse");
const STREAM_TOOL_USE: &str = include_str!("../../tests/fixtures/anthropic/stream_tool_use.sse");
const STREAM_THINKING: &str = include_str!("../../tests/fixtures/anthropic/stream_thinking.sse");
const ERROR_OVERLOADED: &str = include_str!("../../tests/fixtures/anthropic/error_overloaded.sse");

// ---------------------------------------------------------------------------------------------
// Request bodies.

/// The body for `request` under its own model name, as the JSON sent.
fn body_of(request: &ChatRequest, default_max_tokens: u32, stream: bool) -> Result<Value, Error> {
    request_body(&request.model, request, default_max_tokens, stream)
        .map(|body| serde_json::to_value(body).expect("a body serialises"))
}

/// Checks the body for `request` (default limit 4096, not streamed) against `expected`.
#[track_caller]
fn check_body(request: &ChatRequest, expected: &Value) {
    let body = body_of(request, 4096, false).expect("the request maps");
    assert_eq!(&body, expected);
}

#[track_caller]
fn check_body_error(request: &ChatRequest, fragment: &str) {
    let error = body_of(request, 4096, false).expect_err("the request must be refused");
    assert_eq!(error.class().category, ErrorCategory::InvalidRequest);
    assert!(
        error.message.contains(fragment),
        "{:?} should mention {fragment:?}",
        error.message
    );
}

fn request_from(value: Value) -> ChatRequest {
    serde_json::from_value(value).expect("a chat request")
}

#[test]
fn a_plain_question_gets_the_default_max_tokens() {
    check_body(
        &ChatRequest::new("claude-sonnet-4-5", vec![Message::user("Hello")]),
        &json!({
            "model": "claude-sonnet-4-5",
            "messages": [{"role": "user", "content": "Hello"}],
            "max_tokens": 4096,
        }),
    );
}

#[test]
fn system_messages_are_lifted_out_and_joined() {
    check_body(
        &ChatRequest::new(
            "m",
            vec![
                Message::system("Be brief."),
                Message::user("Hi"),
                Message::new(orkestra_core::Role::Developer, "Answer in French."),
                Message::assistant("Bonjour"),
                Message::system(""),
                Message::user("Ça va ?"),
            ],
        ),
        &json!({
            "model": "m",
            "system": "Be brief.\n\nAnswer in French.",
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Bonjour"},
                {"role": "user", "content": "Ça va ?"},
            ],
            "max_tokens": 4096,
        }),
    );
}

#[test]
fn consecutive_turns_of_one_role_are_merged() {
    check_body(
        &ChatRequest::new(
            "m",
            vec![
                Message::user("one"),
                Message::user("two"),
                Message::assistant("three"),
                Message::assistant("four"),
                Message::user(""),
                Message::user("five"),
            ],
        ),
        &json!({
            "model": "m",
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "one"},
                    {"type": "text", "text": "two"},
                ]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "three"},
                    {"type": "text", "text": "four"},
                ]},
                {"role": "user", "content": "five"},
            ],
            "max_tokens": 4096,
        }),
    );
}

#[test]
fn sampling_limits_and_stop_sequences_are_mapped() {
    check_body(
        &request_from(json!({
            "model": "m",
            "messages": [{"role": "user", "content": "Hi"}],
            "temperature": 0.5,
            "top_p": 0.9,
            "max_tokens": 10,
            "max_completion_tokens": 20,
            "stop": "END",
            "user": "user-42",
            "seed": 7,
            "logit_bias": {"1": 2},
            "top_k": 5,
        })),
        &json!({
            "model": "m",
            "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 20,
            "temperature": 0.5,
            "top_p": 0.9,
            "stop_sequences": ["END"],
            "metadata": {"user_id": "user-42"},
            "top_k": 5,
        }),
    );
    let mut request = request_from(json!({
        "model": "m", "messages": [{"role": "user", "content": "Hi"}], "stop": ["a", "b"],
    }));
    let body = body_of(&request, 4096, true).expect("maps");
    assert_eq!(body["stop_sequences"], json!(["a", "b"]));
    assert_eq!(body["stream"], true);
    request.stop = Some(json!(3));
    check_body_error(&request, "stop");
}

fn weather_tool() -> Tool {
    Tool {
        kind: "function".to_owned(),
        function: FunctionDefinition {
            name: "get_weather".to_owned(),
            description: Some("Get the current weather in a given location".to_owned()),
            parameters: Some(json!({
                "type": "object",
                "properties": {"location": {"type": "string"}},
                "required": ["location"],
            })),
            strict: None,
        },
    }
}

#[test]
fn tools_tool_calls_and_tool_results_are_mapped() {
    let mut call = Message::assistant("Let me check.");
    call.tool_calls = Some(vec![ToolCall {
        id: "toolu_01".to_owned(),
        kind: "function".to_owned(),
        function: FunctionCall {
            name: "get_weather".to_owned(),
            arguments: r#"{"location": "Paris"}"#.to_owned(),
        },
    }]);
    let mut request = ChatRequest::new(
        "m",
        vec![
            Message::user("Weather in Paris?"),
            call,
            Message::tool("toolu_01", "15 degrees"),
            Message::user("Thanks. And tomorrow?"),
        ],
    );
    request.tools = Some(vec![weather_tool()]);
    request.tool_choice = Some(json!("required"));
    check_body(
        &request,
        &json!({
            "model": "m",
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "toolu_01", "name": "get_weather",
                     "input": {"location": "Paris"}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01", "content": "15 degrees"},
                    {"type": "text", "text": "Thanks. And tomorrow?"},
                ]},
            ],
            "max_tokens": 4096,
            "tools": [{
                "name": "get_weather",
                "description": "Get the current weather in a given location",
                "input_schema": {
                    "type": "object",
                    "properties": {"location": {"type": "string"}},
                    "required": ["location"],
                },
            }],
            "tool_choice": {"type": "any"},
        }),
    );
}

#[test]
fn tool_choice_modes_and_parallel_calls() {
    let choice = |tool_choice: Value, parallel: Option<bool>| {
        let mut request = ChatRequest::new("m", vec![Message::user("Hi")]);
        request.tools = Some(vec![weather_tool()]);
        request.tool_choice = Some(tool_choice);
        if let Some(parallel) = parallel {
            request
                .extra
                .insert("parallel_tool_calls".to_owned(), parallel.into());
        }
        body_of(&request, 1, false).expect("maps")["tool_choice"].clone()
    };
    assert_eq!(choice(json!("auto"), None), json!({"type": "auto"}));
    assert_eq!(choice(json!("none"), Some(false)), json!({"type": "none"}));
    assert_eq!(
        choice(
            json!({"type": "function", "function": {"name": "get_weather"}}),
            Some(false)
        ),
        json!({"type": "tool", "name": "get_weather", "disable_parallel_tool_use": true}),
    );
}

#[test]
fn tool_calls_without_arguments_send_an_empty_input_and_bad_arguments_are_refused() {
    let mut call = Message {
        content: None,
        ..Message::assistant("")
    };
    call.tool_calls = Some(vec![ToolCall {
        id: "t1".to_owned(),
        kind: "function".to_owned(),
        function: FunctionCall {
            name: "now".to_owned(),
            arguments: String::new(),
        },
    }]);
    let request = ChatRequest::new("m", vec![Message::user("time?"), call.clone()]);
    let body = body_of(&request, 1, false).expect("maps");
    assert_eq!(
        body["messages"][1]["content"],
        json!([{"type": "tool_use", "id": "t1", "name": "now", "input": {}}])
    );

    if let Some(calls) = call.tool_calls.as_mut() {
        calls[0].function.arguments = "{not json".to_owned();
    }
    check_body_error(
        &ChatRequest::new("m", vec![Message::user("time?"), call.clone()]),
        "messages[1]: tool call \"t1\": arguments are not JSON",
    );
    if let Some(calls) = call.tool_calls.as_mut() {
        calls[0].function.arguments = "[1, 2]".to_owned();
    }
    check_body_error(
        &ChatRequest::new("m", vec![Message::user("time?"), call]),
        "must be a JSON object",
    );
    check_body_error(
        &ChatRequest::new(
            "m",
            vec![Message {
                tool_call_id: None,
                ..Message::tool("x", "result")
            }],
        ),
        "messages[0]: a tool message needs `tool_call_id`",
    );
}

#[test]
fn images_become_base64_or_url_sources() {
    let request = request_from(json!({
        "model": "m",
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        ]}],
    }));
    check_body(
        &request,
        &json!({
            "model": "m",
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image", "source": {
                    "type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo=",
                }},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            ]}],
            "max_tokens": 4096,
        }),
    );
    for (url, fragment) in [
        ("data:image/png,rawbytes", "must be base64"),
        ("data:;base64,abc", "needs a media type and data"),
        ("ftp://example.com/cat.jpg", "`data:` or `http(s):`"),
    ] {
        check_body_error(
            &request_from(json!({
                "model": "m",
                "messages": [{"role": "user", "content": [
                    {"type": "image_url", "image_url": {"url": url}},
                ]}],
            })),
            fragment,
        );
    }
}

#[test]
fn json_mode_becomes_a_system_instruction() {
    let mut request =
        ChatRequest::new("m", vec![Message::system("Be terse."), Message::user("Hi")]);
    request.response_format = Some(json!({"type": "json_object"}));
    let body = body_of(&request, 1, false).expect("maps");
    assert_eq!(
        body["system"],
        format!("Be terse.\n\n{JSON_OBJECT_INSTRUCTION}")
    );

    request.response_format = Some(json!({
        "type": "json_schema",
        "json_schema": {"name": "age", "schema": {"type": "object", "required": ["age"]}},
    }));
    let body = body_of(&request, 1, false).expect("maps");
    let system = body["system"].as_str().expect("a system string");
    assert!(
        system.ends_with(r#"this JSON schema: {"type":"object","required":["age"]}"#),
        "{system}"
    );

    request.response_format = Some(json!({"type": "text"}));
    let body = body_of(&request, 1, false).expect("maps");
    assert_eq!(body["system"], "Be terse.");
}

// ---------------------------------------------------------------------------------------------
// Response bodies.

#[test]
fn the_reference_text_message_parses() {
    let response = parse_response(MESSAGE_TEXT.as_bytes(), 1_700_000_000).expect("parses");
    assert_eq!(response.id, "msg_013Zva2CMHLNnXjNJJKqJ2EF");
    assert_eq!(response.model, "claude-3-7-sonnet-20250219");
    assert_eq!(response.created, 1_700_000_000);
    assert_eq!(response.text(), "Hi! My name is Claude.");
    assert_eq!(response.finish_reason(), Some(&FinishReason::Stop));
    let usage = response.usage.expect("usage");
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (2095, 503, 2598)
    );
    assert!(!usage.estimated);
}

#[test]
fn the_reference_tool_use_message_parses() {
    let response = parse_response(MESSAGE_TOOL_USE.as_bytes(), 0).expect("parses");
    assert_eq!(
        response.text(),
        "I'll check the current weather in San Francisco for you."
    );
    assert_eq!(response.finish_reason(), Some(&FinishReason::ToolCalls));
    let calls = response.choices[0]
        .message
        .tool_calls
        .clone()
        .expect("tool calls");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].id, "toolu_01A09q90qw90lq917835lq9");
    assert_eq!(calls[0].function.name, "get_weather");
    let arguments: Value = serde_json::from_str(&calls[0].function.arguments).expect("JSON");
    assert_eq!(
        arguments,
        json!({"location": "San Francisco, CA", "unit": "celsius"})
    );
    assert_eq!(response.usage, None, "the reference example has no usage");
}

#[test]
fn cache_tokens_count_in_the_prompt_and_are_kept() {
    let body = json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
        "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
        "stop_reason": "max_tokens", "stop_sequence": null,
        "usage": {"input_tokens": 10, "cache_creation_input_tokens": 100,
                  "cache_read_input_tokens": 1000, "output_tokens": 5},
    });
    let response = parse_response(body.to_string().as_bytes(), 0).expect("parses");
    assert_eq!(response.text(), "ab");
    assert_eq!(response.finish_reason(), Some(&FinishReason::Length));
    let usage = response.usage.expect("usage");
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (1110, 5));
    assert_eq!(usage.extra["prompt_tokens_details"]["cached_tokens"], 1000);
    assert_eq!(usage.extra["cache_creation_input_tokens"], 100);
}

#[test]
fn a_body_that_is_not_a_message_is_a_classified_error() {
    for body in [
        "",
        "<html>502 Bad Gateway</html>",
        r#"{"id": "msg_1", "content": ["#,
        r#"{"content": []}"#,
        r#"{"id": 7}"#,
    ] {
        let error = parse_response(body.as_bytes(), 0).expect_err("not a message");
        assert_eq!(error.class().category, ErrorCategory::Internal, "{body}");
        assert!(
            error.message.starts_with("anthropic response body"),
            "{}",
            error.message
        );
    }
}

#[test]
fn stop_reasons_map_to_finish_reasons() {
    for (stop, expected) in [
        ("end_turn", FinishReason::Stop),
        ("stop_sequence", FinishReason::Stop),
        ("max_tokens", FinishReason::Length),
        ("tool_use", FinishReason::ToolCalls),
        ("refusal", FinishReason::ContentFilter),
        ("pause_turn", FinishReason::Other("pause_turn".to_owned())),
    ] {
        assert_eq!(finish_reason(stop), expected, "{stop}");
    }
}

#[test]
fn error_types_map_to_categories() {
    for (kind, message, expected) in [
        (
            "invalid_request_error",
            "max_tokens: field required",
            ErrorCategory::InvalidRequest,
        ),
        (
            "invalid_request_error",
            "prompt is too long: 208310 tokens > 200000 maximum",
            ErrorCategory::ContextLength,
        ),
        (
            "authentication_error",
            "invalid x-api-key",
            ErrorCategory::Auth,
        ),
        ("permission_error", "", ErrorCategory::Auth),
        (
            "billing_error",
            "",
            ErrorCategory::ResourceExhausted(Resource::Quota),
        ),
        ("not_found_error", "", ErrorCategory::NotFound),
        ("request_too_large", "", ErrorCategory::InvalidRequest),
        ("rate_limit_error", "", ErrorCategory::RateLimited),
        ("api_error", "", ErrorCategory::Internal),
        ("overloaded_error", "Overloaded", ErrorCategory::Overloaded),
        ("timeout_error", "", ErrorCategory::Timeout),
        ("brand_new_error", "", ErrorCategory::Internal),
    ] {
        assert_eq!(error_category(kind, message), expected, "{kind}: {message}");
    }
}

// ---------------------------------------------------------------------------------------------
// Streams.

/// The `data` payloads of an SSE transcript, one per event.
fn sse_data(transcript: &str) -> Vec<String> {
    transcript
        .split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            (!data.is_empty()).then(|| data.join("\n"))
        })
        .collect()
}

/// Every event of `payloads`, failing on the first error, and the parser at the end.
fn parse_all(payloads: &[String]) -> Result<(Vec<StreamEvent>, EventParser), orkestra_core::Error> {
    let mut parser = EventParser::new(42);
    let mut events = Vec::new();
    for payload in payloads {
        events.extend(parser.push(payload)?);
    }
    Ok((events, parser))
}

/// Parses a whole transcript, checks it finished, and folds it into a response.
#[track_caller]
fn stream_response(transcript: &str) -> (Vec<StreamEvent>, ChatResponse) {
    let (events, mut parser) = parse_all(&sse_data(transcript)).expect("every event parses");
    parser.finish().expect("the stream ended with message_stop");
    let mut accumulator = StreamAccumulator::default();
    for event in events.clone() {
        accumulator.push(event);
    }
    (events, accumulator.finish().expect("the answer finished"))
}

#[test]
fn the_reference_text_stream_gives_the_answer_and_its_usage() {
    let (events, response) = stream_response(STREAM_TEXT);
    assert_eq!(
        events.first(),
        Some(&StreamEvent::Start {
            id: "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY".to_owned(),
            model: "claude-sonnet-4-5-20250929".to_owned(),
            created: 42,
        })
    );
    assert_eq!(response.text(), "Hello!");
    assert_eq!(response.finish_reason(), Some(&FinishReason::Stop));
    let usage = response.usage.expect("usage");
    // The input count comes from message_start, the final output count from message_delta.
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (25, 15));
    assert!(matches!(events.last(), Some(StreamEvent::Usage(_))));
}

#[test]
fn the_reference_tool_stream_assembles_text_and_the_tool_call() {
    let (_, response) = stream_response(STREAM_TOOL_USE);
    assert_eq!(
        response.text(),
        "Okay, let's check the weather for San Francisco, CA:"
    );
    assert_eq!(response.finish_reason(), Some(&FinishReason::ToolCalls));
    let calls = response.choices[0]
        .message
        .tool_calls
        .clone()
        .expect("tool calls");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].id, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
    assert_eq!(calls[0].function.name, "get_weather");
    let arguments: Value = serde_json::from_str(&calls[0].function.arguments).expect("JSON");
    assert_eq!(
        arguments,
        json!({"location": "San Francisco, CA", "unit": "fahrenheit"})
    );
    let usage = response.usage.expect("usage");
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (472, 89));
}

#[test]
fn the_reference_thinking_stream_keeps_the_reasoning_apart() {
    let (events, response) = stream_response(STREAM_THINKING);
    assert_eq!(response.text(), "27 * 453 = 12,231");
    let reasoning = response.choices[0].message.extra["reasoning_content"]
        .as_str()
        .expect("reasoning");
    assert!(
        reasoning.starts_with("Let me solve this step by step"),
        "{reasoning}"
    );
    assert!(reasoning.ends_with("= 12,231"), "{reasoning}");
    assert!(
        !events
            .iter()
            .any(|event| matches!(event, StreamEvent::Usage(_))),
        "this transcript reports no usage, so none is invented"
    );
}

#[test]
fn a_stream_cut_before_its_stop_reason_is_an_error_and_after_it_is_whole() {
    let payloads = sse_data(STREAM_TOOL_USE);
    let stop_reason = payloads
        .iter()
        .position(|payload| payload.contains("\"stop_reason\":\"tool_use\""))
        .expect("the transcript's message_delta");
    let whole = {
        let (mut events, mut parser) = parse_all(&payloads).expect("parses");
        events.extend(parser.finish().expect("whole"));
        events
    };
    for cut in 0..payloads.len() {
        let (mut events, mut parser) = parse_all(&payloads[..cut]).expect("the prefix parses");
        assert!(
            !events
                .iter()
                .any(|event| matches!(event, StreamEvent::Finish { .. })),
            "no Finish before the stream ends (cut at {cut})"
        );
        if cut <= stop_reason {
            let error = parser.finish().expect_err("a cut stream must fail");
            assert_eq!(error.class().category, ErrorCategory::Network);
            assert!(error.class().retryable);
            assert!(
                error.message.contains("without message_stop"),
                "{}",
                error.message
            );
        } else {
            // The answer ended; only `message_stop` is missing: the stream is whole, and ends
            // with what `message_stop` would have given.
            events.extend(parser.finish().expect("whole after its stop_reason"));
            assert_eq!(events, whole, "cut at {cut}");
        }
    }
}

#[test]
fn an_error_event_is_a_classified_error_item() {
    let payloads = sse_data(ERROR_OVERLOADED);
    let mut parser = EventParser::new(0);
    let error = parser.push(&payloads[0]).expect_err("an error event");
    let class = error.class();
    assert_eq!(class.category, ErrorCategory::Overloaded);
    assert!(class.retryable);
    assert_eq!(
        error.message, "Overloaded",
        "the server's message as it wrote it"
    );
    assert_eq!(
        error
            .upstream
            .as_deref()
            .and_then(|details| details.kind.as_deref()),
        Some("overloaded_error")
    );
}

#[test]
fn unknown_events_and_deltas_are_ignored_and_late_events_too() {
    let mut payloads = sse_data(STREAM_TEXT);
    payloads.insert(
        2,
        r#"{"type": "brand_new_event", "stuff": [1, 2]}"#.to_owned(),
    );
    payloads.insert(
        3,
        r#"{"type": "content_block_delta", "index": 0, "delta": {"type": "citations_delta", "citation": {}}}"#
            .to_owned(),
    );
    payloads.push(r#"{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "late"}}"#.to_owned());
    let (events, mut parser) = parse_all(&payloads).expect("parses");
    parser.finish().expect("finished");
    let mut accumulator = StreamAccumulator::default();
    for event in events {
        accumulator.push(event);
    }
    assert_eq!(accumulator.finish().expect("finished").text(), "Hello!");
}

#[test]
fn malformed_events_are_classified_errors_naming_the_event() {
    for (payload, fragment) in [
        ("{not json", "stream event 2"),
        (r#"{"no_type": 1}"#, "stream event 2"),
        (
            r#"{"type": "content_block_delta", "index": 0}"#,
            "needs `index` and `delta`",
        ),
        (
            r#"{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}}"#,
            "no `text` string",
        ),
        (
            r#"{"type": "content_block_delta", "index": 5, "delta": {"type": "input_json_delta", "partial_json": "{"}}"#,
            "block 5, which is not a tool_use block",
        ),
        (
            r#"{"type": "content_block_start", "index": 1}"#,
            "needs `index` and `content_block`",
        ),
    ] {
        let mut parser = EventParser::new(0);
        parser
            .push(&sse_data(STREAM_TEXT)[0])
            .expect("message_start");
        let error = parser.push(payload).expect_err(payload);
        assert_eq!(error.class().category, ErrorCategory::Internal, "{payload}");
        assert!(
            error.message.contains(fragment),
            "{} should mention {fragment}",
            error.message
        );
    }
    let mut parser = EventParser::new(0);
    let error = parser
        .push(r#"{"type": "message_start"}"#)
        .expect_err("no message");
    assert!(error.message.contains("no `message`"), "{}", error.message);
}

#[test]
fn a_tool_call_without_fragments_gets_its_start_input() {
    let payloads: Vec<String> = [
        r#"{"type":"message_start","message":{"id":"m1","model":"x","content":[],"usage":{"input_tokens":3,"output_tokens":1}}}"#,
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t1","name":"now","input":{}}}"#,
        r#"{"type":"content_block_stop","index":0}"#,
        r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":7}}"#,
        r#"{"type":"message_stop"}"#,
    ]
    .map(str::to_owned)
    .to_vec();
    let (events, parser) = parse_all(&payloads).expect("parses");
    assert!(parser.is_done());
    let mut accumulator = StreamAccumulator::default();
    for event in events {
        accumulator.push(event);
    }
    let response = accumulator.finish().expect("finished");
    let calls = response.choices[0]
        .message
        .tool_calls
        .clone()
        .expect("calls");
    assert_eq!(calls[0].function.arguments, "{}");
    assert_eq!(response.usage.map(|usage| usage.completion_tokens), Some(7));
}
