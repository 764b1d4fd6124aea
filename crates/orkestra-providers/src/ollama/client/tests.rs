//! The Ollama client against a real loopback HTTP server writing raw HTTP/1.1 answers:
//! the reference bodies and transcripts, then everything a broken server can send.

use std::time::Duration;

use futures_util::StreamExt;
use orkestra_core::{Classify, ErrorCategory, FinishReason, Message, Resource, StreamAccumulator};

use super::*;
use crate::test_server::{Step, TestServer, chunk, json, last_chunk, response, stream_head};

const CHAT_PLAIN: &str = include_str!("../../../tests/fixtures/ollama/chat_plain.json");
const STREAM_CHAT: &str = include_str!("../../../tests/fixtures/ollama/stream_chat.ndjson");
const STREAM_ERROR: &str = include_str!("../../../tests/fixtures/ollama/stream_error.ndjson");
const TAGS: &str = include_str!("../../../tests/fixtures/ollama/tags.json");

fn client(server: &TestServer) -> OllamaClient {
    OllamaClient::new(OllamaConfig {
        base_url: server.url("/"),
        http: HttpConfig {
            first_byte_timeout: Duration::from_millis(500),
            idle_timeout: Duration::from_millis(300),
            total_timeout: Duration::from_secs(5),
            max_body_bytes: 64 * 1024,
            ..HttpConfig::default()
        },
        ..OllamaConfig::default()
    })
    .expect("client")
}

fn question() -> ChatRequest {
    ChatRequest::new("llama3.2", vec![Message::user("why is the sky blue?")])
}

fn ndjson_answer(pieces: &[&[u8]]) -> Vec<Step> {
    let mut steps = vec![Step::Write(stream_head("application/x-ndjson"))];
    steps.extend(pieces.iter().map(|piece| Step::Write(chunk(piece))));
    steps.push(Step::Write(last_chunk()));
    steps
}

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
    assert_eq!(error.provider.as_deref(), Some("ollama"));
    assert_eq!(error.model.as_deref(), Some("llama3.2"));
}

#[tokio::test]
async fn chat_posts_the_body_and_parses_the_answer() {
    let server = TestServer::raw(json(200, CHAT_PLAIN)).await;
    let response = client(&server).chat(&question()).await.expect("answers");
    assert_eq!(response.text(), "Hello! How are you today?");
    assert_eq!(response.usage.map(|usage| usage.total_tokens), Some(324));
    let received = &server.received()[0];
    assert_eq!(received.request_line(), "POST /api/chat HTTP/1.1");
    assert_eq!(received.json()["stream"], false);
}

#[tokio::test]
async fn stream_split_into_bytes_gives_the_reference_answer() {
    let pieces: Vec<&[u8]> = STREAM_CHAT.as_bytes().chunks(5).collect();
    let server = TestServer::start(move |_| ndjson_answer(&pieces.clone())).await;
    let (events, error) = collect(client(&server).stream(&question()).await.expect("opens")).await;
    assert!(error.is_none(), "{error:?}");
    let mut accumulator = StreamAccumulator::default();
    for event in events {
        accumulator.push(event);
    }
    let response = accumulator.finish().expect("finished");
    assert_eq!(response.text(), "The");
    assert_eq!(response.finish_reason(), Some(&FinishReason::Stop));
    assert_eq!(server.received()[0].json()["stream"], true);
}

#[tokio::test]
async fn list_models_reads_the_tags() {
    let server = TestServer::raw(json(200, TAGS)).await;
    let models = client(&server).list_models().await.expect("lists");
    assert_eq!(models, ["codellama:13b", "llama3:latest"]);
    assert_eq!(
        server.received()[0].request_line(),
        "GET /api/tags HTTP/1.1"
    );
    let server = TestServer::raw(response(200, "text/html", b"<html>")).await;
    let error = client(&server).list_models().await.expect_err("not tags");
    assert_eq!(error.class().category, ErrorCategory::Internal);
}

#[tokio::test]
async fn http_errors_are_classified_and_refined_by_the_message() {
    for (status, body, category) in [
        (
            404,
            r#"{"error":"model 'llama9' not found, try pulling it first"}"#,
            ErrorCategory::NotFound,
        ),
        (
            500,
            r#"{"error":"an error was encountered while running the model: CUDA error: out of memory"}"#,
            ErrorCategory::ResourceExhausted(Resource::Memory),
        ),
        (
            500,
            r#"{"error":"the model failed to generate a response"}"#,
            ErrorCategory::Internal,
        ),
        (
            429,
            r#"{"error":"too many requests"}"#,
            ErrorCategory::RateLimited,
        ),
        (503, "", ErrorCategory::Overloaded),
    ] {
        let server = TestServer::raw(json(status, body)).await;
        let error = client(&server)
            .chat(&question())
            .await
            .expect_err("an error status");
        check(&error, category, "");
        assert_eq!(error.status, Some(status));
    }
}

#[tokio::test]
async fn bad_bodies_and_bad_streams_are_classified_errors() {
    let huge = format!("{{\"model\":\"{}\"}}", "x".repeat(100 * 1024));
    for (answer, category, fragment) in [
        (
            json(200, "garbage"),
            ErrorCategory::Internal,
            "invalid JSON",
        ),
        (
            json(200, &CHAT_PLAIN[..40]),
            ErrorCategory::Internal,
            "ends early",
        ),
        (json(200, &huge), ErrorCategory::Internal, "max_body_bytes"),
        (
            response(200, "text/plain", b"hi"),
            ErrorCategory::Internal,
            "expected application/json",
        ),
    ] {
        let server = TestServer::raw(answer).await;
        let error = client(&server)
            .chat(&question())
            .await
            .expect_err("a bad body");
        check(&error, category, fragment);
    }

    let first_line = STREAM_CHAT.lines().next().unwrap_or_default().to_owned() + "\n";
    let cases: Vec<(Vec<Step>, ErrorCategory, &str)> = vec![
        (
            ndjson_answer(&[first_line.as_bytes()]),
            ErrorCategory::Network,
            "without `done: true`",
        ),
        (
            ndjson_answer(&[STREAM_ERROR.as_bytes()]),
            ErrorCategory::Internal,
            "an error was encountered while running the model",
        ),
        (
            ndjson_answer(&[b"{\"model\": \"m\", \"don\n"]),
            ErrorCategory::Internal,
            "stream line 1",
        ),
        (
            ndjson_answer(&[&STREAM_CHAT.as_bytes()[..STREAM_CHAT.len() - 20]]),
            ErrorCategory::Internal,
            "stream line 2",
        ),
        (
            vec![
                Step::Write(stream_head("application/x-ndjson")),
                Step::Write(chunk(first_line.as_bytes())),
                Step::Hang,
            ],
            ErrorCategory::Timeout,
            "idle",
        ),
        (
            vec![
                Step::Write(stream_head("application/x-ndjson")),
                Step::Write(chunk(first_line.as_bytes())),
                Step::Reset,
            ],
            ErrorCategory::Network,
            "",
        ),
    ];
    for (steps, category, fragment) in cases {
        let server = TestServer::start(move |_| steps.clone()).await;
        let stream = client(&server).stream(&question()).await.expect("opens");
        let (_, error) = collect(stream).await;
        check(
            &error.expect("the stream must end with an error"),
            category,
            fragment,
        );
    }
}

#[tokio::test]
async fn dropping_a_stream_closes_the_connection() {
    let first_line = STREAM_CHAT.lines().next().unwrap_or_default().to_owned() + "\n";
    let mut server = TestServer::start(move |_| {
        vec![
            Step::Write(stream_head("application/x-ndjson")),
            Step::Write(chunk(first_line.as_bytes())),
            Step::Hang,
        ]
    })
    .await;
    let mut stream = client(&server).stream(&question()).await.expect("opens");
    assert!(matches!(
        stream.next().await,
        Some(Ok(StreamEvent::Start { .. }))
    ));
    drop(stream);
    tokio::time::timeout(Duration::from_secs(2), server.client_closed())
        .await
        .expect("the client closed the connection when the stream was dropped");
}
