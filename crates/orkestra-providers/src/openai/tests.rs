use std::time::Duration;

use futures_util::StreamExt;
use orkestra_core::{
    ChatBackend, ChatRequest, Classify, ErrorCategory as C, Message, StreamAccumulator, StreamEvent,
};

use super::*;
use crate::test_server::{Step, TestServer, chunk, json, last_chunk, response, stream_head};
use crate::{HttpConfig, Secret, usage};
use orkestra_core::{ChatStream, Error};

const KEY: &str = "sk-test-abcdefghijklmnop0123456789";

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../tests/fixtures/openai/", $name)).as_slice()
    };
}

fn config(server: &TestServer) -> OpenAiConfig {
    OpenAiConfig {
        name: "test-openai".to_owned(),
        // A trailing slash, as users write it.
        base_url: server.url("/v1/"),
        http: HttpConfig {
            first_byte_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_millis(500),
            total_timeout: Duration::from_secs(5),
            max_body_bytes: 64 * 1024,
            ..HttpConfig::default()
        },
        ..OpenAiConfig::default()
    }
}

fn client(server: &TestServer) -> OpenAiClient {
    OpenAiClient::with_key(config(server), Some(Secret::new(KEY))).unwrap()
}

fn request() -> ChatRequest {
    ChatRequest::new(
        "gpt-4o-mini",
        vec![Message::system("Be brief."), Message::user("Hello!")],
    )
}

/// A streamed 200 answer made of these body pieces, each its own HTTP chunk.
fn sse_answer(pieces: &[&[u8]], end: bool) -> Vec<Step> {
    let mut steps = vec![Step::Write(stream_head("text/event-stream"))];
    steps.extend(pieces.iter().map(|piece| Step::Write(chunk(piece))));
    if end {
        steps.push(Step::Write(last_chunk()));
    }
    steps
}

/// Collects a stream: the events before the first error, and that error.
async fn collect(stream: ChatStream) -> (Vec<StreamEvent>, Option<Error>) {
    let mut events = Vec::new();
    let mut stream = stream;
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => events.push(event),
            Err(error) => {
                assert!(stream.next().await.is_none(), "nothing follows an error");
                return (events, Some(error));
            }
        }
    }
    (events, None)
}

/// The answer a server streaming these body pieces gives, which must end without an error.
async fn streamed_answer(pieces: &[&'static [u8]]) -> orkestra_core::ChatResponse {
    let pieces = pieces.to_vec();
    let server = TestServer::start(move |_| sse_answer(&pieces, true)).await;
    let (events, error) = collect(client(&server).stream(&request()).await.unwrap()).await;
    assert!(error.is_none(), "{error:?}");
    let mut accumulator = StreamAccumulator::default();
    for event in events {
        accumulator.push(event);
    }
    accumulator.finish().unwrap()
}

#[track_caller]
fn check(error: &Error, category: C, fragment: &str) {
    assert_eq!(error.class().category, category, "{error}");
    assert!(
        error.message.contains(fragment),
        "{error} lacks {fragment:?}"
    );
    assert_eq!(error.provider.as_deref(), Some("test-openai"), "{error:?}");
    assert!(!format!("{error} {error:?}").contains(KEY));
}

#[tokio::test]
async fn chat_posts_the_request_and_reads_the_reference_response() {
    let server = TestServer::raw(json(
        200,
        std::str::from_utf8(fixture!("chat_completion.json")).unwrap(),
    ))
    .await;
    let mut config = config(&server);
    config.organization = Some("org-42".to_owned());
    config
        .headers
        .insert("X-Title".to_owned(), "orkestra".to_owned());
    let client = OpenAiClient::with_key(config, Some(Secret::new(KEY))).unwrap();
    let mut asked = request();
    // A plain call never sends the caller's stream flags.
    asked.stream = Some(true);
    let answer = client.chat(&asked).await.unwrap();
    assert_eq!(
        answer.text(),
        "\n\nHello there, how may I assist you today?"
    );
    assert_eq!(answer.usage.unwrap().total_tokens, 21);

    let sent = &server.received()[0];
    assert_eq!(sent.request_line(), "POST /v1/chat/completions HTTP/1.1");
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(sent.header("openai-organization"), Some("org-42"));
    assert_eq!(sent.header("x-title"), Some("orkestra"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    let body = sent.json();
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["messages"][1]["content"], "Hello!");
    assert!(body.get("stream").is_none() && body.get("stream_options").is_none());
}

#[tokio::test]
async fn missing_usage_is_estimated_and_marked() {
    let server = TestServer::raw(json(
        200,
        r#"{"choices":[{"message":{"role":"assistant","content":"Hi there"},"finish_reason":"stop"}]}"#,
    ))
    .await;
    let answer = client(&server).chat(&request()).await.unwrap();
    let usage = answer.usage.unwrap();
    assert!(usage.estimated);
    assert_eq!(usage.completion_tokens, 2);
    assert_eq!(usage.prompt_tokens, usage::prompt_tokens(&request()));
}

#[tokio::test]
async fn list_models_reads_the_ids() {
    let server = TestServer::raw(json(
        200,
        std::str::from_utf8(fixture!("models.json")).unwrap(),
    ))
    .await;
    let models = client(&server).list_models().await.unwrap();
    assert_eq!(models, ["model-id-0", "model-id-1", "model-id-2"]);
    assert_eq!(
        server.received()[0].request_line(),
        "GET /v1/models HTTP/1.1"
    );
}

#[tokio::test]
async fn the_reference_stream_gives_events_and_an_estimated_usage() {
    let transcript = fixture!("stream.sse");
    // Split the transcript at awkward places: inside JSON and between CR and LF.
    let server = TestServer::start(move |_| {
        sse_answer(
            &[&transcript[..37], &transcript[37..300], &transcript[300..]],
            true,
        )
    })
    .await;
    let (events, error) = collect(client(&server).stream(&request()).await.unwrap()).await;
    assert!(error.is_none(), "{error:?}");
    assert!(
        matches!(&events[0], StreamEvent::Start { id, model, .. } if id == "chatcmpl-123" && model == "gpt-4o-mini")
    );
    let Some(StreamEvent::Usage(usage)) = events.last() else {
        panic!("usage last: {events:?}");
    };
    assert!(usage.estimated);
    assert_eq!(usage.completion_tokens, 2, "\"Hello\" is five characters");
    let mut accumulator = StreamAccumulator::default();
    for event in events {
        accumulator.push(event);
    }
    assert_eq!(accumulator.finish().unwrap().text(), "Hello");

    let body = server.received()[0].json();
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(
        server.received()[0].header("accept"),
        Some("text/event-stream")
    );
}

#[tokio::test]
async fn reported_stream_usage_is_used_and_tool_calls_accumulate() {
    for (transcript, text, total) in [
        (
            fixture!("stream_include_usage.sse"),
            "Hello there",
            Some(11),
        ),
        (fixture!("llamacpp_stream.sse"), "Paris", Some(13)),
        (fixture!("stream_tool_calls.sse"), "", None),
    ] {
        let answer = streamed_answer(&[transcript]).await;
        assert_eq!(answer.text(), text);
        let usage = answer.usage.unwrap();
        if let Some(total) = total {
            assert!(!usage.estimated);
            assert_eq!(usage.total_tokens, total);
        } else {
            assert!(usage.estimated);
            let call = &answer.choices[0].message.tool_calls.as_ref().unwrap()[0];
            assert_eq!(call.function.name, "get_current_weather");
            assert_eq!(call.function.arguments, r#"{"location": "Boston, MA"}"#);
        }
    }
}

#[tokio::test]
async fn stream_usage_can_be_turned_off_for_servers_that_reject_it() {
    let server = TestServer::start(|_| sse_answer(&[fixture!("stream.sse")], true)).await;
    let mut config = config(&server);
    config.stream_usage = false;
    let client = OpenAiClient::with_key(config, None).unwrap();
    let (_, error) = collect(client.stream(&request()).await.unwrap()).await;
    assert!(error.is_none());
    let sent = &server.received()[0];
    assert!(sent.json().get("stream_options").is_none());
    assert_eq!(sent.header("authorization"), None, "no key, no header");
}

#[tokio::test]
async fn error_statuses_are_classified_and_tagged() {
    for (status, body, category, fragment) in [
        (
            400,
            fixture!("error_context_length.json"),
            C::ContextLength,
            "maximum context length",
        ),
        (
            429,
            fixture!("error_rate_limit.json"),
            C::RateLimited,
            "Rate limit reached",
        ),
        (
            429,
            fixture!("error_insufficient_quota.json"),
            C::ResourceExhausted(orkestra_core::Resource::Quota),
            "quota",
        ),
        (
            401,
            fixture!("error_invalid_api_key.json"),
            C::Auth,
            "Incorrect API key provided",
        ),
        (
            400,
            fixture!("vllm_error_context_length.json"),
            C::ContextLength,
            "maximum context length",
        ),
    ] {
        let server = TestServer::raw(response(status, "application/json", body)).await;
        let client = client(&server);
        let error = client.chat(&request()).await.unwrap_err();
        check(&error, category, fragment);
        assert_eq!(error.status, Some(status));
        assert_eq!(error.model.as_deref(), Some("gpt-4o-mini"));
        // A stream fails the same way, before any event.
        let error = client.stream(&request()).await.err().unwrap();
        check(&error, category, fragment);
    }
}

#[tokio::test]
async fn the_key_never_appears_in_debug_or_errors() {
    let echoed = format!(
        r#"{{"error":{{"message":"Incorrect API key provided: {KEY}.","code":"invalid_api_key"}}}}"#
    );
    let server = TestServer::raw(json(401, &echoed)).await;
    let client = client(&server);
    let debug = format!("{client:?}");
    assert!(!debug.contains(KEY), "{debug}");
    assert!(debug.contains("*****"), "{debug}");
    let error = client.chat(&request()).await.unwrap_err();
    check(&error, C::Auth, "Incorrect API key provided: *****");

    let missing = OpenAiClient::new(OpenAiConfig {
        api_key_env: Some("ORKESTRA_TEST_OPENAI_KEY_UNSET_17".to_owned()),
        ..OpenAiConfig::default()
    })
    .unwrap_err();
    assert_eq!(missing.class().category, C::Auth);
    assert!(
        missing
            .message
            .contains("ORKESTRA_TEST_OPENAI_KEY_UNSET_17")
    );
}

#[tokio::test]
async fn bad_bodies_are_classified_never_a_panic() {
    let huge = format!(r#"{{"choices":[],"pad":"{}"}}"#, "x".repeat(100 * 1024));
    for (raw, category, fragment) in [
        (
            response(200, "application/json", b"\x00\xff\xfegarbage"),
            C::Internal,
            "invalid JSON at line 1 column 1",
        ),
        (
            response(200, "application/json", huge.as_bytes()),
            C::Internal,
            "65536-byte limit",
        ),
        (
            response(200, "text/html", b"<html><body>Proxy login</body></html>"),
            C::Internal,
            "expected application/json, got text/html: <html><body>Proxy login",
        ),
        (
            response(200, "application/json", br#"{"id":"x","choices":[{"mess"#),
            C::Internal,
            "ends early",
        ),
        (
            response(200, "application/json", br#"{"id":"x"}"#),
            C::Internal,
            "missing field `choices`",
        ),
        (
            response(
                200,
                "application/json",
                br#"{"error":{"message":"upstream overloaded","type":"overloaded_error"}}"#,
            ),
            C::Overloaded,
            "upstream overloaded",
        ),
        (
            b"HELLO THERE\r\n\r\n".to_vec(),
            C::Network,
            "request failed",
        ),
    ] {
        let server = TestServer::raw(raw).await;
        let error = client(&server).chat(&request()).await.unwrap_err();
        check(&error, category, fragment);
    }
}

#[tokio::test]
async fn bad_streams_end_with_a_classified_error_never_a_clean_end() {
    let first: &[u8] =
        b"data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n";
    let cases: Vec<(Vec<Step>, C, &str)> = vec![
        // The body ends cleanly but without `data: [DONE]`: a cut, not an answer.
        (sse_answer(&[first], true), C::Network, "without data: [DONE]"),
        // The connection is reset mid-stream.
        ({
            let mut steps = sse_answer(&[first], false);
            steps.push(Step::Reset);
            steps
        }, C::Network, ""),
        // The body ends in the middle of an event.
        (sse_answer(&[first, b"data: {\"id\":\"c\",\"cho"], true), C::Network, "middle of an event"),
        // A chunk that is not JSON.
        (sse_answer(&[first, b"data: {not json}\n\n"], true), C::Internal, "stream chunk: invalid JSON at line 1 column 2"),
        // An error object inside the stream.
        (
            sse_answer(&[first, br#"data: {"error":{"message":"Rate limit reached","code":"rate_limit_exceeded"}}"#, b"\n\n"], true),
            C::RateLimited,
            "Rate limit reached",
        ),
        // Bytes that are not UTF-8 in an event line.
        (sse_answer(&[first, b"data: \xff\xfe\n\n"], true), C::Internal, "not valid UTF-8"),
        // The server stalls after the first event.
        ({
            let mut steps = sse_answer(&[first], false);
            steps.push(Step::Hang);
            steps
        }, C::Timeout, "idle_timeout"),
    ];
    for (steps, category, fragment) in cases {
        let server = TestServer::start(move |_| steps.clone()).await;
        let (events, error) = collect(client(&server).stream(&request()).await.unwrap()).await;
        let error = error.expect("the stream ends with an error");
        check(&error, category, fragment);
        assert_eq!(error.model.as_deref(), Some("gpt-4o-mini"));
        assert!(
            matches!(
                events.as_slice(),
                [StreamEvent::Start { .. }, StreamEvent::Delta(_)]
            ),
            "{events:?}"
        );
    }
}

#[tokio::test]
async fn events_before_a_broken_chunk_arrive_even_when_they_share_its_network_read() {
    let first: &[u8] =
        b"data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n";
    let mut together = first.to_vec();
    together.extend_from_slice(b"data: {not json}\n\n");
    let server = TestServer::start(move |_| sse_answer(&[&together], true)).await;
    let (events, error) = collect(client(&server).stream(&request()).await.unwrap()).await;
    assert!(
        matches!(
            events.as_slice(),
            [StreamEvent::Start { .. }, StreamEvent::Delta(_)]
        ),
        "{events:?}"
    );
    check(&error.expect("then the error"), C::Internal, "invalid JSON");
}

#[tokio::test]
async fn a_stream_that_finished_then_ended_without_done_is_complete() {
    let content: &[u8] =
        b"data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n";
    let finish: &[u8] =
        b"data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
    let usage: &[u8] = b"data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1,\"total_tokens\":10}}\n\n";
    // Several OpenAI-compatible servers close the stream after the finish reason (and usage)
    // without `data: [DONE]`; the answer is whole all the same.
    for (pieces, estimated) in [
        (vec![content, finish], true),
        (vec![content, finish, usage], false),
        // The connection closed while a last event was under way: the answer was already whole.
        (
            vec![content, finish, b"data: {\"id\":\"c\",\"cho".as_slice()],
            true,
        ),
    ] {
        let answer = streamed_answer(&pieces).await;
        assert_eq!(answer.text(), "Hi");
        assert_eq!(
            answer.finish_reason(),
            Some(&orkestra_core::FinishReason::Stop)
        );
        assert_eq!(answer.usage.unwrap().estimated, estimated);
    }
}

#[tokio::test]
async fn a_stream_answered_with_the_wrong_content_type_is_an_error() {
    for (raw, category, fragment) in [
        (response(200, "text/html", b"<html>maintenance</html>"), C::Internal, "expected text/event-stream, got text/html"),
        (
            response(200, "application/json", br#"{"error":{"message":"This model's maximum context length is 10 tokens","code":"context_length_exceeded"}}"#),
            C::ContextLength,
            "maximum context length",
        ),
    ] {
        let server = TestServer::raw(raw).await;
        let error = client(&server).stream(&request()).await.err().unwrap();
        check(&error, category, fragment);
    }
}

#[test]
fn config_rejects_unknown_fields_and_bad_urls() {
    let unknown = serde_json::from_str::<OpenAiConfig>(r#"{"api_key":"sk-1"}"#).unwrap_err();
    assert!(
        unknown.to_string().contains("unknown field `api_key`"),
        "{unknown}"
    );
    let error =
        OpenAiClient::with_key(OpenAiConfig::local("x", "localhost:8000/v1"), None).unwrap_err();
    assert_eq!(error.class().category, C::InvalidRequest);
    assert!(error.message.contains("http://"));
    let client = OpenAiClient::with_key(
        OpenAiConfig::local("vllm", "http://127.0.0.1:8000/v1///"),
        None,
    )
    .unwrap();
    assert_eq!(client.base_url(), "http://127.0.0.1:8000/v1");
    assert_eq!(client.name(), "vllm");
}

#[test]
fn chunk_events_match_the_core_chunk_events_on_every_reference_chunk() {
    for transcript in [
        fixture!("stream.sse"),
        fixture!("stream_include_usage.sse"),
        fixture!("stream_tool_calls.sse"),
        fixture!("llamacpp_stream.sse"),
    ] {
        let data = transcript
            .split(|&b| b == b'\n')
            .filter_map(|line| line.strip_prefix(b"data: "))
            .filter(|data| *data != b"[DONE]");
        for chunk in data {
            for first in [true, false] {
                let core: orkestra_core::ChatChunk = serde_json::from_slice(chunk).unwrap();
                assert_eq!(
                    chunk_events(chunk, first).unwrap(),
                    core.into_events(first),
                    "{}",
                    String::from_utf8_lossy(chunk)
                );
            }
        }
    }
    let error = chunk_events(
        br#"{"error":{"message":"boom","type":"server_error"}}"#,
        false,
    )
    .unwrap_err();
    assert_eq!(error.class().category, C::Internal);
    assert!(error.message.contains("boom"));
    let malformed = chunk_events(b"{\"choices\": [}", true).unwrap_err();
    assert!(
        malformed.message.contains("line 1 column 14"),
        "{malformed}"
    );
}
