//! The Ollama wire mapping, against request fixtures written here and bodies and transcripts
//! copied from Ollama's API reference (`tests/fixtures/ollama`).

use orkestra_core::{
    ChatRequest, ChatResponse, Classify, ErrorCategory, FinishReason, FunctionCall, Message,
    Resource, StreamAccumulator, StreamEvent, ToolCall,
};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::response::unix_seconds;
use super::*;

const CHAT_PLAIN: &str = include_str!("../../tests/fixtures/ollama/chat_plain.json");
const CHAT_TOOLS: &str = include_str!("../../tests/fixtures/ollama/chat_tools.json");
const CHAT_STRUCTURED: &str = include_str!("../../tests/fixtures/ollama/chat_structured.json");
const CHAT_LOAD: &str = include_str!("../../tests/fixtures/ollama/chat_load.json");
const STREAM_CHAT: &str = include_str!("../../tests/fixtures/ollama/stream_chat.ndjson");
const STREAM_ERROR: &str = include_str!("../../tests/fixtures/ollama/stream_error.ndjson");
const ERROR_BODY: &str = include_str!("../../tests/fixtures/ollama/error_body.json");
const TAGS: &str = include_str!("../../tests/fixtures/ollama/tags.json");

fn request_from(value: Value) -> ChatRequest {
    serde_json::from_value(value).expect("a chat request")
}

fn question() -> ChatRequest {
    ChatRequest::new("llama3.2", vec![Message::user("why is the sky blue?")])
}

// ---------------------------------------------------------------------------------------------
// Request bodies.

/// The body for `request` under its own model name, as the JSON sent.
fn body_of(request: &ChatRequest, stream: bool) -> Result<Value, orkestra_core::Error> {
    request_body(&request.model, request, stream)
        .map(|body| serde_json::to_value(body).expect("a body serialises"))
}

#[track_caller]
fn check_body(request: &ChatRequest, stream: bool, expected: &Value) {
    assert_eq!(&body_of(request, stream).expect("maps"), expected);
}

#[track_caller]
fn check_body_error(request: &ChatRequest, fragment: &str) {
    let error = body_of(request, false).expect_err("must be refused");
    assert_eq!(error.class().category, ErrorCategory::InvalidRequest);
    assert!(
        error.message.contains(fragment),
        "{} should mention {fragment}",
        error.message
    );
}

#[test]
fn a_plain_question_always_says_whether_to_stream() {
    check_body(
        &question(),
        false,
        &json!({
            "model": "llama3.2",
            "messages": [{"role": "user", "content": "why is the sky blue?"}],
            "stream": false,
        }),
    );
    assert_eq!(body_of(&question(), true).expect("maps")["stream"], true);
}

#[test]
fn sampling_parameters_go_to_options() {
    check_body(
        &request_from(json!({
            "model": "m",
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": "Hello!"},
            ],
            "temperature": 0,
            "top_p": 0.9,
            "max_tokens": 100,
            "stop": "user:",
            "seed": 101,
            "options": {"num_ctx": 8192, "temperature": 1},
            "keep_alive": "10m",
            "response_format": {"type": "json_object"},
            "logit_bias": {"1": 2},
        })),
        false,
        &json!({
            "model": "m",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hello!"},
            ],
            "stream": false,
            "options": {
                "num_ctx": 8192, "temperature": 0.0, "top_p": 0.9, "num_predict": 100,
                "stop": ["user:"], "seed": 101,
            },
            "format": "json",
            "keep_alive": "10m",
        }),
    );
    let schema = json!({"type": "object", "properties": {"age": {"type": "integer"}}});
    let request = request_from(json!({
        "model": "m",
        "messages": [{"role": "user", "content": "Hi"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
        "stop": ["a", "b"],
    }));
    let body = body_of(&request, false).expect("maps");
    assert_eq!(body["format"], schema);
    assert_eq!(body["options"], json!({"stop": ["a", "b"]}));
    check_body_error(
        &request_from(json!({"model": "m", "messages": [], "stop": {"x": 1}})),
        "stop",
    );
}

#[test]
fn images_tools_tool_calls_and_tool_results_are_mapped() {
    let mut call = Message::assistant("");
    call.tool_calls = Some(vec![ToolCall {
        id: "call_0".to_owned(),
        kind: "function".to_owned(),
        function: FunctionCall {
            name: "get_current_weather".to_owned(),
            arguments: r#"{"location": "Paris, FR"}"#.to_owned(),
        },
    }]);
    let mut request = request_from(json!({
        "model": "llava",
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is in this image?"},
            {"type": "text", "text": "and the weather there?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        ]}],
        "tools": [{"type": "function", "function": {
            "name": "get_current_weather",
            "parameters": {"type": "object", "properties": {}},
        }}],
    }));
    request.messages.push(call);
    request.messages.push(Message::tool("call_0", "15 degrees"));
    check_body(
        &request,
        false,
        &json!({
            "model": "llava",
            "messages": [
                {"role": "user", "content": "what is in this image?\nand the weather there?",
                 "images": ["iVBORw0KGgo="]},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"function": {"name": "get_current_weather",
                                  "arguments": {"location": "Paris, FR"}}},
                ]},
                {"role": "tool", "content": "15 degrees", "tool_name": "get_current_weather"},
            ],
            "stream": false,
            "tools": [{"type": "function", "function": {
                "name": "get_current_weather",
                "parameters": {"type": "object", "properties": {}},
            }}],
        }),
    );
    check_body_error(
        &request_from(
            json!({"model": "m", "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            ]}]}),
        ),
        "messages[0]: Ollama takes images only as base64",
    );
    let mut bad = Message::assistant("");
    bad.tool_calls = Some(vec![ToolCall {
        id: "c".to_owned(),
        kind: "function".to_owned(),
        function: FunctionCall {
            name: "f".to_owned(),
            arguments: "{oops".to_owned(),
        },
    }]);
    check_body_error(
        &ChatRequest::new("m", vec![bad]),
        "messages[0]: tool call \"c\": arguments are not JSON",
    );
}

// ---------------------------------------------------------------------------------------------
// Plain responses, tags and errors.

#[test]
fn the_reference_plain_answer_parses_with_its_counts() {
    let response = parse_response(CHAT_PLAIN.as_bytes(), &question()).expect("parses");
    assert_eq!(response.text(), "Hello! How are you today?");
    assert_eq!(response.model, "llama3.2");
    assert_eq!(response.created, 1_702_390_423, "2023-12-12T14:13:43Z");
    assert_eq!(response.finish_reason(), Some(&FinishReason::Stop));
    let usage = response.usage.expect("usage");
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (26, 298, 324)
    );
    assert!(!usage.estimated);
    assert_eq!(usage.extra["total_duration"], 5_191_566_416_u64);
}

#[test]
fn the_reference_tool_answer_becomes_a_tool_call() {
    let response = parse_response(CHAT_TOOLS.as_bytes(), &question()).expect("parses");
    assert_eq!(response.finish_reason(), Some(&FinishReason::ToolCalls));
    let calls = response.choices[0]
        .message
        .tool_calls
        .clone()
        .expect("calls");
    assert_eq!(calls[0].id, "call_0", "Ollama gives no id, so one is made");
    assert_eq!(calls[0].function.name, "get_current_weather");
    let arguments: Value = serde_json::from_str(&calls[0].function.arguments).expect("JSON");
    assert_eq!(
        arguments,
        json!({"format": "celsius", "location": "Paris, FR"})
    );
}

#[test]
fn the_reference_structured_answer_is_the_json_text() {
    let response = parse_response(CHAT_STRUCTURED.as_bytes(), &question()).expect("parses");
    let answer: Value = serde_json::from_str(&response.text()).expect("JSON answer");
    assert_eq!(answer, json!({"age": 22, "available": false}));
}

#[test]
fn missing_counts_are_estimated_and_marked() {
    let response = parse_response(CHAT_LOAD.as_bytes(), &question()).expect("parses");
    assert_eq!(
        response.finish_reason(),
        Some(&FinishReason::Other("load".to_owned()))
    );
    let usage = response.usage.expect("usage");
    assert!(usage.estimated);
    // The shared estimate for the question; the empty answer is 0.
    assert_eq!(
        (usage.prompt_tokens, usage.completion_tokens),
        (crate::usage::prompt_tokens(&question()), 0)
    );

    // Ollama leaves out `prompt_eval_count` when the prompt was cached: only that is estimated.
    let body = json!({
        "model": "m", "created_at": "2024-01-01T00:00:00Z", "done": true,
        "message": {"role": "assistant", "content": "twelve chars"}, "eval_count": 9,
    });
    let usage = parse_response(body.to_string().as_bytes(), &question())
        .expect("parses")
        .usage
        .expect("usage");
    assert!(usage.estimated);
    assert_eq!(
        (usage.prompt_tokens, usage.completion_tokens),
        (crate::usage::prompt_tokens(&question()), 9)
    );
}

#[test]
fn error_bodies_and_broken_bodies_are_classified() {
    let error = parse_response(ERROR_BODY.as_bytes(), &question()).expect_err("an error body");
    assert_eq!(error.class().category, ErrorCategory::Internal);
    assert_eq!(error.message, "the model failed to generate a response");
    for body in [
        "",
        "garbage",
        r#"{"model": "m", "message": {"content": "cut"#,
        r#"{"model": "m", "done": false}"#,
        r#"{"done": "yes"}"#,
    ] {
        let error = parse_response(body.as_bytes(), &question()).expect_err(body);
        assert_eq!(error.class().category, ErrorCategory::Internal, "{body}");
        assert!(
            error.message.starts_with("ollama response body"),
            "{}",
            error.message
        );
    }
}

#[test]
fn error_messages_map_to_categories() {
    for (message, expected) in [
        (
            "model 'llama9' not found, try pulling it first",
            ErrorCategory::NotFound,
        ),
        (
            "an error was encountered while running the model: CUDA error: out of memory",
            ErrorCategory::ResourceExhausted(Resource::Memory),
        ),
        (
            "model requires more system memory (16 GiB) than is available (8 GiB)",
            ErrorCategory::ResourceExhausted(Resource::Memory),
        ),
        (
            "input length exceeds the context length",
            ErrorCategory::ContextLength,
        ),
        (
            "an error was encountered while running the model",
            ErrorCategory::Internal,
        ),
    ] {
        assert_eq!(error_category(message), expected, "{message}");
    }
}

#[test]
fn the_reference_tags_list_model_names() {
    assert_eq!(
        parse_tags(TAGS.as_bytes()).expect("parses"),
        ["codellama:13b", "llama3:latest"]
    );
    assert_eq!(
        parse_tags(br#"{"models": []}"#).expect("parses"),
        Vec::<String>::new()
    );
    let error = parse_tags(b"<html>").expect_err("not tags");
    assert_eq!(error.class().category, ErrorCategory::Internal);
    assert!(error.message.contains("/api/tags"), "{}", error.message);
}

#[test]
fn rfc3339_timestamps_convert_to_unix_seconds() {
    for (timestamp, expected) in [
        ("1970-01-01T00:00:00Z", Some(0)),
        ("2023-08-04T19:22:45.499127Z", Some(1_691_176_965)),
        ("2023-08-04T08:52:19.385406455-07:00", Some(1_691_164_339)),
        ("2000-02-29T12:00:00+01:00", Some(951_822_000)),
        ("2023-08-04", None),
        ("2023-13-04T00:00:00Z", None),
        ("2023-08-04T00:00:00", None),
        ("not a time at all, really", None),
    ] {
        assert_eq!(unix_seconds(timestamp), expected, "{timestamp}");
    }
}

// ---------------------------------------------------------------------------------------------
// Streams.

/// Decodes `chunks` into lines and parses each; the events, or the first error.
fn parse_chunks(
    chunks: &[&[u8]],
    request: &ChatRequest,
) -> Result<(Vec<StreamEvent>, ChunkParser), orkestra_core::Error> {
    let mut decoder = LineDecoder::default();
    let mut parser = ChunkParser::new(request);
    let mut events = Vec::new();
    for chunk in chunks {
        for line in decoder.push(chunk)? {
            events.extend(parser.push(&line)?);
        }
    }
    if let Some(line) = decoder.finish() {
        events.extend(parser.push(&line)?);
    }
    Ok((events, parser))
}

#[track_caller]
fn stream_response(transcript: &str, request: &ChatRequest) -> ChatResponse {
    let (events, parser) = parse_chunks(&[transcript.as_bytes()], request).expect("parses");
    parser.finish().expect("the stream ended with done: true");
    let mut accumulator = StreamAccumulator::default();
    for event in events {
        accumulator.push(event);
    }
    accumulator.finish().expect("the answer finished")
}

#[test]
fn the_reference_stream_gives_the_answer_and_its_usage() {
    let response = stream_response(STREAM_CHAT, &question());
    assert_eq!(response.text(), "The");
    assert_eq!(response.model, "llama3.2");
    assert_eq!(response.finish_reason(), Some(&FinishReason::Stop));
    let usage = response.usage.expect("usage");
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (26, 282));
    assert!(!usage.estimated);
    assert_eq!(usage.extra["eval_duration"], 4_535_599_000_u64);
}

#[test]
fn an_error_line_is_a_classified_error_item() {
    let error = parse_chunks(&[STREAM_ERROR.as_bytes()], &question()).expect_err("error line");
    assert_eq!(error.class().category, ErrorCategory::Internal);
    assert!(error.class().retryable);
    assert_eq!(
        error.message,
        "an error was encountered while running the model"
    );
}

#[test]
fn a_stream_cut_before_done_is_an_error_at_every_cut() {
    let lines: Vec<&str> = STREAM_CHAT.lines().collect();
    for cut in 0..lines.len() {
        let transcript: String = lines[..cut]
            .iter()
            .flat_map(|line| {
                [
                    *line, "
",
                ]
            })
            .collect();
        let (events, parser) =
            parse_chunks(&[transcript.as_bytes()], &question()).expect("the prefix parses");
        let error = parser.finish().expect_err("a cut stream must fail");
        assert!(
            error.message.contains("without `done: true`"),
            "{}",
            error.message
        );
        assert!(
            !events
                .iter()
                .any(|event| matches!(event, StreamEvent::Finish { .. }))
        );
    }
    // A line cut mid-JSON is a malformed line, not a shorter answer.
    let cut = &STREAM_CHAT[..STREAM_CHAT.len() - 30];
    let error = parse_chunks(&[cut.as_bytes()], &question()).expect_err("cut mid-JSON");
    assert_eq!(error.class().category, ErrorCategory::Internal);
    assert!(error.message.contains("stream line 2"), "{}", error.message);
}

#[test]
fn a_stream_without_counts_has_estimated_usage() {
    let transcript = concat!(
        r#"{"model":"m","created_at":"2024-01-01T00:00:00Z","message":{"role":"assistant","content":"Hello "},"done":false}"#,
        "\r\n\r\n",
        r#"{"model":"m","created_at":"2024-01-01T00:00:00Z","message":{"role":"assistant","content":"there!"},"done":false}"#,
        "\n",
        r#"{"model":"m","created_at":"2024-01-01T00:00:01Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"length"}"#,
    );
    let response = stream_response(transcript, &question());
    assert_eq!(response.text(), "Hello there!");
    assert_eq!(response.created, 1_704_067_200);
    assert_eq!(response.finish_reason(), Some(&FinishReason::Length));
    let usage = response.usage.expect("usage");
    assert!(usage.estimated);
    // "Hello there!" is 12 characters: 3 tokens.
    assert_eq!(
        (usage.prompt_tokens, usage.completion_tokens),
        (crate::usage::prompt_tokens(&question()), 3)
    );
}

#[test]
fn streamed_tool_calls_and_thinking_are_kept() {
    let transcript = concat!(
        r#"{"model":"m","created_at":"2024-01-01T00:00:00Z","message":{"role":"assistant","content":"","thinking":"Paris, then."},"done":false}"#,
        "\n",
        r#"{"model":"m","created_at":"2024-01-01T00:00:00Z","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Paris"}}}]},"done":false}"#,
        "\n",
        r#"{"model":"m","created_at":"2024-01-01T00:00:00Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":10,"eval_count":4}"#,
        "\n",
    );
    let response = stream_response(transcript, &question());
    assert_eq!(response.finish_reason(), Some(&FinishReason::ToolCalls));
    let message = &response.choices[0].message;
    assert_eq!(message.extra["reasoning_content"], "Paris, then.");
    let calls = message.tool_calls.clone().expect("calls");
    assert_eq!(calls[0].function.name, "get_weather");
    assert_eq!(calls[0].function.arguments, r#"{"city":"Paris"}"#);
}

#[test]
fn a_line_longer_than_the_limit_is_refused() {
    let mut decoder = LineDecoder::new(16);
    assert!(decoder.push(b"0123456789").expect("fits").is_empty());
    let error = decoder.push(b"0123456789").expect_err("too long");
    assert_eq!(error.class().category, ErrorCategory::Internal);
    assert!(
        error.message.contains("longer than 16 bytes"),
        "{}",
        error.message
    );
    // Complete lines do not count against the limit, however many arrive at once.
    let mut decoder = LineDecoder::new(16);
    let many = "{\"a\":1}\n".repeat(100);
    assert_eq!(
        decoder.push(many.as_bytes()).expect("short lines").len(),
        100
    );
}

#[test]
fn malformed_lines_name_the_line() {
    for (line, fragment) in [
        (&b"{oops"[..], "stream line 1"),
        (&b"\xff\xfe"[..], "stream line 1"),
        (&br#"{"done": 1}"#[..], "stream line 1"),
    ] {
        let mut parser = ChunkParser::new(&question());
        let error = parser.push(line).expect_err("malformed");
        assert_eq!(error.class().category, ErrorCategory::Internal);
        assert!(error.message.contains(fragment), "{}", error.message);
    }
}

/// Splits `bytes` at the given cut points (taken modulo its length, sorted).
fn split_at_points(bytes: &[u8], mut cuts: Vec<usize>) -> Vec<&[u8]> {
    if bytes.is_empty() {
        return vec![bytes];
    }
    for cut in &mut cuts {
        *cut %= bytes.len() + 1;
    }
    cuts.sort_unstable();
    let mut pieces = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for cut in cuts {
        pieces.push(&bytes[start..cut]);
        start = cut;
    }
    pieces.push(&bytes[start..]);
    pieces
}

/// Every line `decoder` gives for `pieces`, the unterminated tail included.
fn decode(pieces: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut decoder = LineDecoder::default();
    let mut lines = Vec::new();
    for piece in pieces {
        lines.extend(decoder.push(piece).expect("within the limit"));
    }
    lines.extend(decoder.finish());
    lines
}

proptest! {
    /// However the network splits the bytes, the decoder gives the same lines.
    #[test]
    fn any_split_gives_the_same_lines(
        lines in prop::collection::vec("[a-zé{}\":, ]{0,12}", 0..8),
        crlf in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let terminator = if crlf { "\r\n" } else { "\n" };
        let text: String = lines.iter().flat_map(|line| [line.as_str(), terminator]).collect();
        let whole = decode(&[text.as_bytes()]);
        let expected: Vec<Vec<u8>> = lines
            .iter()
            .filter(|line| !line.trim().is_empty())
            .map(|line| line.as_bytes().to_vec())
            .collect();
        prop_assert_eq!(&whole, &expected);
        prop_assert_eq!(decode(&split_at_points(text.as_bytes(), cuts)), whole);
    }

    /// Split anywhere, the reference stream parses to the same events.
    #[test]
    fn any_split_of_the_reference_stream_gives_the_same_events(
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let pieces = split_at_points(STREAM_CHAT.as_bytes(), cuts);
        let (split, _) = parse_chunks(&pieces, &question()).expect("parses");
        let (whole, _) = parse_chunks(&[STREAM_CHAT.as_bytes()], &question()).expect("parses");
        prop_assert_eq!(split, whole);
    }
}
