use futures_util::StreamExt;
use orkestra_core::{ChatBackend, StreamAccumulator};

use super::*;
use crate::usage::{prompt_tokens, text_tokens};

fn request(messages: Vec<Message>) -> ChatRequest {
    ChatRequest::new("echo-model", messages)
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// Streams `request` and returns every event, failing the test on an `Err` item.
fn stream_events(echo: &EchoBackend, request: &ChatRequest) -> Vec<StreamEvent> {
    block_on(async {
        let stream = echo.stream(request).await.expect("stream opens");
        stream
            .map(|item| item.expect("no error item"))
            .collect::<Vec<_>>()
            .await
    })
}

#[track_caller]
fn check(messages: Vec<Message>, limit: Option<u32>, text: &str, reason: &FinishReason) {
    let echo = EchoBackend::new();
    let mut request = request(messages);
    request.max_tokens = limit;
    let response = block_on(echo.chat(&request)).expect("echo answers");
    assert_eq!(response.text(), text);
    assert_eq!(response.finish_reason(), Some(reason));
    assert_eq!(response.model, "echo-model");
    let usage = response.usage.clone().expect("usage");
    assert_eq!(usage.completion_tokens, text_tokens(text));
    assert_eq!(usage.prompt_tokens, prompt_tokens(&request));
    assert_eq!(
        usage.total_tokens,
        usage.prompt_tokens + usage.completion_tokens
    );
    assert!(!usage.estimated, "the echo model's counts are its own");

    // The stream says the same thing as the plain answer.
    let mut accumulator = StreamAccumulator::default();
    for event in stream_events(&echo, &request) {
        accumulator.push(event);
    }
    let streamed = accumulator.finish().expect("the stream finishes");
    assert_eq!(streamed.text(), text);
    assert_eq!(streamed.finish_reason(), Some(reason));
    assert_eq!(streamed.usage, Some(usage));
}

#[test]
fn answers_the_last_user_message() {
    check(
        vec![
            Message::system("Be brief."),
            Message::user("first question"),
            Message::assistant("an answer"),
            Message::user("second question, in full"),
        ],
        None,
        "second question, in full",
        &FinishReason::Stop,
    );
}

#[test]
fn cuts_the_answer_at_the_output_limit() {
    // Two tokens are eight characters.
    check(
        vec![Message::user("abcdefgh and more")],
        Some(2),
        "abcdefgh",
        &FinishReason::Length,
    );
}

#[test]
fn an_answer_within_the_limit_is_not_cut() {
    check(
        vec![Message::user("short")],
        Some(2),
        "short",
        &FinishReason::Stop,
    );
}

#[test]
fn a_request_without_a_user_message_is_an_invalid_request() {
    let echo = EchoBackend::with_name("echo-b");
    let request = request(vec![Message::system("Only instructions.")]);
    let error = block_on(echo.chat(&request)).expect_err("nothing to echo");
    assert_eq!(error.class.category, ErrorCategory::InvalidRequest);
    assert_eq!(error.provider.as_deref(), Some("echo-b"));
    let Err(error) = block_on(echo.stream(&request)) else {
        panic!("a stream without a user message must fail");
    };
    assert_eq!(error.class.category, ErrorCategory::InvalidRequest);
}

#[test]
fn streams_one_word_per_delta() {
    let echo = EchoBackend::new();
    let events = stream_events(&echo, &request(vec![Message::user("one two  three")]));
    let texts: Vec<&str> = events
        .iter()
        .filter_map(|event| match event {
            StreamEvent::Delta(delta) => delta.content.as_deref(),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["one", " two", "  three"]);
    assert!(matches!(events.first(), Some(StreamEvent::Start { .. })));
    assert!(matches!(events.last(), Some(StreamEvent::Usage(_))));
}

#[test]
fn word_pieces_concatenate_back_to_the_text() {
    for text in ["", " ", "a", " lead", "trail ", "x\ny\tz", "héllo wörld  !"] {
        assert_eq!(word_pieces(text).concat(), text, "{text:?}");
    }
}

#[test]
fn ids_differ_between_calls_and_carry_the_name() {
    let echo = EchoBackend::with_name("mirror");
    let request = request(vec![Message::user("hi")]);
    let first = block_on(echo.chat(&request)).expect("answers");
    let second = block_on(echo.chat(&request)).expect("answers");
    assert_ne!(first.id, second.id);
    assert!(first.id.starts_with("mirror-"), "{}", first.id);
    assert_eq!(echo.name(), "mirror");
}
