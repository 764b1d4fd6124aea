//! The Anthropic client against a real loopback HTTP server writing raw HTTP/1.1 answers:
//! the reference bodies and transcripts, then everything a broken server can send.

use std::time::Duration;

use futures_util::StreamExt;
use orkestra_core::{
    Classify, ErrorCategory, FinishReason, Message, StreamAccumulator, StreamEvent,
};

use super::*;
use crate::test_server::{Step, TestServer, chunk, json, last_chunk, response, stream_head};

const MESSAGE_TEXT: &str = include_str!("../../../tests/fixtures/anthropic/message_text.json");
const STREAM_TOOL_USE: &str = include_str!("../../../tests/fixtures/anthropic/stream_tool_use.sse");
const ERROR_NOT_FOUND: &str =
    include_str!("../../../tests/fixtures/anthropic/error_not_found.json");

const KEY: &str = "sk-ant-test-0123456789abcdef";

fn client(server: &TestServer) -> AnthropicClient {
    let config = AnthropicConfig {
        base_url: server.url(""),
        default_max_tokens: 256,
        headers: BTreeMap::from([("anthropic-beta".to_owned(), "test-beta".to_owned())]),
        http: HttpConfig {
            first_byte_timeout: Duration::from_millis(500),
            idle_timeout: Duration::from_millis(300),
            total_timeout: Duration::from_secs(5),
            max_body_bytes: 64 * 1024,
            ..HttpConfig::default()
        },
        ..AnthropicConfig::default()
    };
    AnthropicClient::with_key(config, Secret::new(KEY)).expect("client")
}

fn hello() -> ChatRequest {
    ChatRequest::new(
        "claude-sonnet-4-5",
        vec![Message::system("Be brief."), Message::user("Hello")],
    )
}

/// A streamed answer whose body is `pieces`, each its own chunk.
fn sse_answer(pieces: &[&[u8]]) -> Vec<Step> {
    let mut steps = vec![Step::Write(stream_head("text/event-stream"))];
    steps.extend(pieces.iter().map(|piece| Step::Write(chunk(piece))));
    steps.push(Step::Write(last_chunk()));
    steps
}

/// Collects a stream: the events before the end, and the error it ended with, if any.
async fn collect(stream: ChatStream) -> (Vec<StreamEvent>, Option<Error>) {
    let mut events = Vec::new();
    let mut stream = stream;
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => events.push(event),
            Err(error) => return (events, Some(error)),
        }
    }
    (events, None)
}

#[track_caller]
fn check(error: &Error, category: ErrorCategory, fragment: &str) {
    assert_eq!(error.class().category, category, "{error}");
    assert!(
        error.to_string().contains(fragment),
        "{error} lacks {fragment:?}"
    );
    assert_eq!(error.provider.as_deref(), Some("anthropic"));
    assert_eq!(error.model.as_deref(), Some("claude-sonnet-4-5"));
    assert!(!error.to_string().contains(KEY), "the key leaked: {error}");
}

#[tokio::test]
async fn chat_sends_the_headers_and_body_and_parses_the_answer() {
    let server = TestServer::raw(json(200, MESSAGE_TEXT)).await;
    let response = client(&server).chat(&hello()).await.expect("answers");
    assert_eq!(response.text(), "Hi! My name is Claude.");
    assert_eq!(response.usage.map(|usage| usage.total_tokens), Some(2598));

    let received = &server.received()[0];
    assert_eq!(received.request_line(), "POST /v1/messages HTTP/1.1");
    assert_eq!(received.header("x-api-key"), Some(KEY));
    assert_eq!(received.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(received.header("anthropic-beta"), Some("test-beta"));
    assert_eq!(received.header("content-type"), Some("application/json"));
    let body = received.json();
    assert_eq!(body["system"], "Be brief.");
    assert_eq!(body["max_tokens"], 256);
    assert_eq!(
        body["messages"],
        serde_json::json!([{"role": "user", "content": "Hello"}])
    );
    assert!(body.get("stream").is_none());
}

#[tokio::test]
async fn stream_splits_anywhere_and_assembles_the_reference_answer() {
    // The transcript arrives in 7-byte chunks: events and lines split everywhere.
    let pieces: Vec<&[u8]> = STREAM_TOOL_USE.as_bytes().chunks(7).collect();
    let server = TestServer::start(move |_| sse_answer(&pieces.clone())).await;
    let stream = client(&server).stream(&hello()).await.expect("opens");
    let (events, error) = collect(stream).await;
    assert!(error.is_none(), "{error:?}");
    let mut accumulator = StreamAccumulator::default();
    for event in events {
        accumulator.push(event);
    }
    let response = accumulator.finish().expect("finished");
    assert_eq!(response.finish_reason(), Some(&FinishReason::ToolCalls));
    assert_eq!(
        response.usage.map(|usage| usage.completion_tokens),
        Some(89)
    );
    assert_eq!(server.received()[0].json()["stream"], true);
}

#[tokio::test]
async fn http_errors_are_classified() {
    let overloaded =
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    let too_long = r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 208310 tokens > 200000 maximum"}}"#;
    let bad_key = format!(
        r#"{{"type":"error","error":{{"type":"authentication_error","message":"invalid x-api-key {KEY}"}}}}"#
    );
    for (status, body, category, fragment) in [
        (
            529,
            overloaded.to_owned(),
            ErrorCategory::Overloaded,
            "HTTP 529",
        ),
        (
            404,
            ERROR_NOT_FOUND.to_owned(),
            ErrorCategory::NotFound,
            "The requested resource could not be found.",
        ),
        (
            400,
            too_long.to_owned(),
            ErrorCategory::ContextLength,
            "prompt is too long",
        ),
        (401, bad_key, ErrorCategory::Auth, "*****"),
        (
            502,
            "<html>Bad Gateway</html>".to_owned(),
            ErrorCategory::Internal,
            "non-JSON",
        ),
    ] {
        let server = TestServer::raw(json(status, &body)).await;
        let error = client(&server)
            .chat(&hello())
            .await
            .expect_err("an error status");
        check(&error, category, fragment);
        assert_eq!(error.status, Some(status));
    }
}

#[tokio::test]
async fn bad_bodies_are_classified_errors_never_panics() {
    let huge = format!("{{\"id\":\"{}\"}}", "x".repeat(100 * 1024));
    let cut = &MESSAGE_TEXT[..MESSAGE_TEXT.len() / 2];
    for (answer, category, fragment) in [
        (
            json(200, "\u{0}\u{1}garbage"),
            ErrorCategory::Internal,
            "invalid JSON",
        ),
        (json(200, cut), ErrorCategory::Internal, "ends early"),
        (json(200, &huge), ErrorCategory::Internal, "max_body_bytes"),
        (
            response(200, "text/html", b"<html>login</html>"),
            ErrorCategory::Internal,
            "expected application/json, got text/html",
        ),
    ] {
        let server = TestServer::raw(answer).await;
        let error = client(&server)
            .chat(&hello())
            .await
            .expect_err("a bad body");
        check(&error, category, fragment);
    }
}

#[tokio::test]
async fn bad_streams_end_with_a_classified_error() {
    let payloads: Vec<&str> = STREAM_TOOL_USE.split_inclusive("\n\n").collect();
    let half: String = payloads[..payloads.len() / 2].concat();
    let cases: Vec<(Vec<Step>, ErrorCategory, &str)> = vec![
        // Cut mid-way at an event boundary: the chunked body ends cleanly without message_stop.
        (sse_answer(&[half.as_bytes()]), ErrorCategory::Network, "without message_stop"),
        // Cut mid-event, the connection dropped.
        (
            vec![
                Step::Write(stream_head("text/event-stream")),
                Step::Write(chunk(b"event: message_start\ndata: {\"type\":\"mess")),
                Step::Reset,
            ],
            ErrorCategory::Network,
            "",
        ),
        // A malformed event.
        (
            sse_answer(&[b"event: content_block_delta\ndata: {not json\n\n"]),
            ErrorCategory::Internal,
            "malformed stream chunk",
        ),
        // An error event mid-stream.
        (
            sse_answer(&[
                payloads[0].as_bytes(),
                b"event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n",
            ]),
            ErrorCategory::Overloaded,
            "Overloaded",
        ),
        // A stall longer than the idle timeout.
        (
            vec![
                Step::Write(stream_head("text/event-stream")),
                Step::Write(chunk(payloads[0].as_bytes())),
                Step::Hang,
            ],
            ErrorCategory::Timeout,
            "idle",
        ),
    ];
    for (steps, category, fragment) in cases {
        let server = TestServer::start(move |_| steps.clone()).await;
        let stream = client(&server).stream(&hello()).await.expect("opens");
        let (_, error) = collect(stream).await;
        let error = error.expect("the stream must end with an error");
        check(&error, category, fragment);
    }
    // The wrong content type is refused before any event.
    let server = TestServer::raw(json(200, MESSAGE_TEXT)).await;
    let Err(error) = client(&server).stream(&hello()).await else {
        panic!("a JSON body is not an event stream");
    };
    check(
        &error,
        ErrorCategory::Internal,
        "expected text/event-stream",
    );
}

#[tokio::test]
async fn dropping_a_stream_closes_the_connection() {
    let mut server = TestServer::start(|_| {
        vec![
            Step::Write(stream_head("text/event-stream")),
            Step::Write(chunk(
                b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"x\"}}\n\n",
            )),
            Step::Hang,
        ]
    })
    .await;
    let mut stream = client(&server).stream(&hello()).await.expect("opens");
    assert!(matches!(
        stream.next().await,
        Some(Ok(StreamEvent::Start { .. }))
    ));
    drop(stream);
    tokio::time::timeout(Duration::from_secs(2), server.client_closed())
        .await
        .expect("the client closed the connection when the stream was dropped");
}

#[test]
fn config_rejects_unknown_fields_and_a_missing_key_is_an_auth_error() {
    let error =
        serde_json::from_str::<AnthropicConfig>(r#"{"base_uri": "x"}"#).expect_err("unknown field");
    assert!(error.to_string().contains("base_uri"), "{error}");
    let config = AnthropicConfig {
        api_key_env: "ORKESTRA_TEST_SURELY_UNSET_ANTHROPIC_KEY".to_owned(),
        ..AnthropicConfig::default()
    };
    let error = AnthropicClient::new(config).expect_err("no key");
    assert_eq!(error.class().category, ErrorCategory::Auth);
    assert!(
        error
            .message
            .contains("ORKESTRA_TEST_SURELY_UNSET_ANTHROPIC_KEY")
    );
}
