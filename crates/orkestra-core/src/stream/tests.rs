//! Streams against server-sent-event transcripts shaped like `OpenAI`'s streamed chat
//! completions with `stream_options.include_usage` (`tests/fixtures/openai/*.sse`).

use serde_json::json;

use super::*;

const STREAM_TEXT: &str = include_str!("../../tests/fixtures/openai/stream_text.sse");
const STREAM_TOOL_CALLS: &str = include_str!("../../tests/fixtures/openai/stream_tool_calls.sse");

/// The JSON payloads of a transcript's `data: ` lines, up to `[DONE]`.
fn sse_payloads(transcript: &str) -> Vec<&str> {
    transcript
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .take_while(|payload| *payload != "[DONE]")
        .collect()
}

/// Parses one chunk and checks that writing it back gives the same JSON value.
#[track_caller]
fn check_chunk_round_trip(payload: &str) -> ChatChunk {
    let original: Value = serde_json::from_str(payload).expect("payload is JSON");
    let chunk: ChatChunk = serde_json::from_str(payload).expect("payload is a chunk");
    let written = serde_json::to_value(&chunk).expect("chunk serializes");
    assert_eq!(written, original, "round trip changed the chunk");
    chunk
}

/// Every chunk of a transcript, each checked to round-trip.
#[track_caller]
fn sse_chunks(transcript: &str) -> Vec<ChatChunk> {
    // A loop rather than `map(check_chunk_round_trip)`, so a failure points at the test.
    let mut chunks = Vec::new();
    for payload in sse_payloads(transcript) {
        chunks.push(check_chunk_round_trip(payload));
    }
    chunks
}

/// The events of `chunks` in order, as a client reading the stream would produce them.
fn events(chunks: Vec<ChatChunk>) -> Vec<StreamEvent> {
    chunks
        .into_iter()
        .enumerate()
        .flat_map(|(position, chunk)| chunk.into_events(position == 0))
        .collect()
}

fn accumulate(events: impl IntoIterator<Item = StreamEvent>) -> StreamAccumulator {
    let mut accumulator = StreamAccumulator::default();
    for event in events {
        accumulator.push(event);
    }
    accumulator
}

/// The transcript up to, not including, the first chunk whose line contains `marker`.
#[track_caller]
fn cut_before<'a>(transcript: &'a str, marker: &str) -> &'a str {
    let at = transcript.find(marker).expect("marker in transcript");
    let line_start = transcript[..at].rfind("data: ").expect("a data line");
    &transcript[..line_start]
}

/// Writes `events` back as an `OpenAI` SSE transcript through [`ChatChunk::from_event`].
fn to_sse(id: &str, model: &str, created: u64, events: Vec<StreamEvent>) -> String {
    let mut transcript = String::new();
    for event in events {
        if let Some(chunk) = ChatChunk::from_event(id, model, created, event) {
            let payload = serde_json::to_string(&chunk).expect("chunk serializes");
            transcript.push_str("data: ");
            transcript.push_str(&payload);
            transcript.push_str("\n\n");
        }
    }
    transcript.push_str("data: [DONE]\n\n");
    transcript
}

fn details() -> Value {
    json!({
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0
        }
    })
}

#[test]
fn text_stream_chunks_round_trip() {
    let chunks = sse_chunks(STREAM_TEXT);
    assert_eq!(chunks.len(), 12, "role, 9 content deltas, finish, usage");
    let first = &chunks[0];
    assert_eq!(first.object, "chat.completion.chunk");
    assert_eq!(first.choices[0].delta.role, Some(Role::Assistant));
    assert_eq!(first.choices[0].delta.content.as_deref(), Some(""));
    // `"usage": null` on every chunk but the last is kept, not mistaken for a usage.
    assert_eq!(first.usage, None);
    assert_eq!(first.extra["usage"], Value::Null);
    assert_eq!(first.extra["system_fingerprint"], "fp_6f2eabb9a5");
    let last = &chunks[11];
    assert!(last.choices.is_empty());
    assert_eq!(last.usage.as_ref().map(|u| u.total_tokens), Some(28));
    assert!(!last.extra.contains_key("usage"));
}

#[test]
fn text_stream_accumulates_into_the_non_streamed_response() {
    let accumulator = accumulate(events(sse_chunks(STREAM_TEXT)));
    assert!(accumulator.is_finished());
    assert_eq!(accumulator.text(), "Hello! How can I help you today?");
    let response = accumulator.finish().expect("the stream finished");
    assert_eq!(response.text(), "Hello! How can I help you today?");
    assert_eq!(response.finish_reason(), Some(&FinishReason::Stop));
    let usage = response.usage.as_ref().expect("usage");
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (19, 9, 28)
    );
    let mut expected_usage =
        json!({"prompt_tokens": 19, "completion_tokens": 9, "total_tokens": 28});
    expected_usage
        .as_object_mut()
        .expect("object")
        .extend(details().as_object().expect("object").clone());
    assert_eq!(
        serde_json::to_value(&response).expect("serializes"),
        json!({
            "id": "chatcmpl-C1pXr7mN4bQe2sTzK9wYdLf0aHgUv",
            "object": "chat.completion",
            "created": 1_754_380_212,
            "model": "gpt-4.1-mini-2025-04-14",
            "choices": [{
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hello! How can I help you today?",
                    "refusal": null
                },
                "finish_reason": "stop"
            }],
            "usage": expected_usage
        })
    );
}

#[test]
fn tool_call_stream_accumulates_names_and_arguments() {
    let chunks = sse_chunks(STREAM_TOOL_CALLS);
    let first = &chunks[0].choices[0].delta;
    assert_eq!(
        first.content, None,
        "a tool-call answer opens with null content"
    );
    let response = accumulate(events(chunks))
        .finish()
        .expect("the stream finished");
    assert_eq!(response.id, "chatcmpl-C1pYa2GfR8hLk0wNq5TzXc3VbMe1d");
    assert_eq!(response.model, "gpt-4.1-2025-04-14");
    assert_eq!(response.created, 1_754_380_251);
    assert_eq!(response.finish_reason(), Some(&FinishReason::ToolCalls));
    assert_eq!(response.usage.as_ref().map(|u| u.total_tokens), Some(142));
    let message = &response.choices[0].message;
    assert_eq!(message.role, Role::Assistant);
    assert_eq!(message.content, None);
    assert_eq!(response.text(), "");
    let calls = message.tool_calls.as_ref().expect("tool calls");
    let summary: Vec<(&str, &str, &str, &str)> = calls
        .iter()
        .map(|call| {
            (
                call.id.as_str(),
                call.kind.as_str(),
                call.function.name.as_str(),
                call.function.arguments.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "call_DdmO9pD3xa9XTPNJ32zg2hcA",
                "function",
                "get_current_weather",
                r#"{"location":"Boston, MA","unit":"fahrenheit"}"#
            ),
            (
                "call_k3Xq7TvN1pRz8WcY2mLbH0sJ",
                "function",
                "get_current_weather",
                r#"{"location":"San Francisco, CA","unit":"fahrenheit"}"#
            ),
        ]
    );
    // The accumulated message is written like a non-streamed tool-call answer.
    let written = serde_json::to_value(message).expect("serializes");
    assert_eq!(written["content"], Value::Null);
    assert_eq!(written["refusal"], Value::Null);
}

#[test]
fn stream_cut_before_its_finish_chunk_has_no_response() {
    let cut = cut_before(STREAM_TEXT, r#""finish_reason":"stop""#);
    let accumulator = accumulate(events(sse_chunks(cut)));
    assert!(!accumulator.is_finished());
    assert_eq!(accumulator.text(), "Hello! How can I help you today?");
    assert_eq!(accumulator.finish(), None);

    let cut = cut_before(STREAM_TOOL_CALLS, r#""finish_reason":"tool_calls""#);
    assert_eq!(accumulate(events(sse_chunks(cut))).finish(), None);
}

#[test]
fn empty_stream_has_no_response() {
    let accumulator = StreamAccumulator::default();
    assert!(!accumulator.is_finished());
    assert_eq!(accumulator.text(), "");
    assert_eq!(accumulator.finish(), None);
}

#[test]
fn events_come_in_order_and_skip_empty_deltas() {
    let chunks = sse_chunks(STREAM_TEXT);
    let first = chunks[0].clone().into_events(true);
    assert!(
        matches!(&first[0], StreamEvent::Start { id, model, created: 1_754_380_212 }
            if id == "chatcmpl-C1pXr7mN4bQe2sTzK9wYdLf0aHgUv" && model == "gpt-4.1-mini-2025-04-14"),
        "{first:?}"
    );
    assert!(matches!(&first[1], StreamEvent::Delta(delta) if delta.role == Some(Role::Assistant)));
    assert_eq!(first.len(), 2);
    // The finish chunk's delta is `{}`: it yields the finish only.
    assert_eq!(
        chunks[10].clone().into_events(false),
        [StreamEvent::Finish {
            index: 0,
            reason: FinishReason::Stop
        }]
    );
    let usage = chunks[11].clone().into_events(false);
    assert!(matches!(usage.as_slice(), [StreamEvent::Usage(u)] if u.prompt_tokens == 19));
}

#[test]
fn from_event_chunks_re_accumulate_to_the_same_response() {
    for transcript in [STREAM_TEXT, STREAM_TOOL_CALLS] {
        let original_events = events(sse_chunks(transcript));
        let StreamEvent::Start { id, model, created } = &original_events[0] else {
            panic!("the first event is Start: {:?}", original_events[0]);
        };
        let (id, model, created) = (id.clone(), model.clone(), *created);
        assert_eq!(
            ChatChunk::from_event(&id, &model, created, original_events[0].clone()),
            None,
            "Start has no chunk of its own"
        );
        let expected = accumulate(original_events.clone())
            .finish()
            .expect("finished");

        let rewritten = to_sse(&id, &model, created, original_events);
        let chunks = sse_chunks(&rewritten);
        assert!(
            chunks
                .iter()
                .all(|chunk| chunk.id == id && chunk.model == model)
        );
        let response = accumulate(events(chunks)).finish().expect("finished");
        assert_eq!(response, expected);
    }
}

#[test]
fn real_usage_replaces_a_null_usage_when_written() {
    let payload = sse_payloads(STREAM_TEXT)[1];
    let mut chunk = check_chunk_round_trip(payload);
    chunk.usage = Some(Usage::new(19, 9));
    let written = serde_json::to_string(&chunk).expect("serializes");
    assert_eq!(written.matches(r#""usage""#).count(), 1, "{written}");
    let value: Value = serde_json::from_str(&written).expect("JSON");
    assert_eq!(value["usage"]["total_tokens"], 28);
}

#[test]
fn streamed_refusal_fragments_concatenate() {
    let opening = Delta {
        role: Some(Role::Assistant),
        extra: Map::from_iter([("refusal".to_owned(), Value::Null)]),
        ..Delta::default()
    };
    let fragment = |text: &str| {
        let mut delta = Delta::default();
        delta.extra.insert("refusal".to_owned(), json!(text));
        StreamEvent::Delta(delta)
    };
    let response = accumulate([
        StreamEvent::Delta(opening),
        fragment("I'm sorry, "),
        fragment("I cannot assist with that request."),
        StreamEvent::Delta({
            // A later `null` does not erase what was streamed.
            let mut delta = Delta::default();
            delta.extra.insert("refusal".to_owned(), Value::Null);
            delta
        }),
        StreamEvent::Finish {
            index: 0,
            reason: FinishReason::Stop,
        },
    ])
    .finish()
    .expect("finished");
    let message = &response.choices[0].message;
    assert_eq!(message.content, None);
    assert_eq!(
        message.extra["refusal"],
        "I'm sorry, I cannot assist with that request."
    );
}

#[test]
fn delta_writes_content_only_with_text_or_a_role() {
    assert_eq!(
        serde_json::to_value(Delta::text(0, "Hi")).expect("serializes"),
        json!({"content": "Hi"})
    );
    assert_eq!(
        serde_json::to_value(Delta::default()).expect("serializes"),
        json!({})
    );
    let opening = Delta {
        role: Some(Role::Assistant),
        ..Delta::default()
    };
    assert_eq!(
        serde_json::to_value(opening).expect("serializes"),
        json!({"role": "assistant", "content": null})
    );
}

#[test]
fn choices_finish_independently() {
    let mut accumulator = StreamAccumulator::default();
    accumulator.push(StreamEvent::Delta(Delta::text(0, "A")));
    accumulator.push(StreamEvent::Delta(Delta::text(1, "B")));
    accumulator.push(StreamEvent::Finish {
        index: 1,
        reason: FinishReason::Length,
    });
    assert!(!accumulator.is_finished(), "choice 0 is still open");
    accumulator.push(StreamEvent::Finish {
        index: 0,
        reason: FinishReason::Stop,
    });
    let response = accumulator.finish().expect("finished");
    let summary: Vec<(u32, String, Option<&FinishReason>)> = response
        .choices
        .iter()
        .map(|c| (c.index, c.message.text(), c.finish_reason.as_ref()))
        .collect();
    assert_eq!(
        summary,
        [
            (0, "A".to_owned(), Some(&FinishReason::Stop)),
            (1, "B".to_owned(), Some(&FinishReason::Length)),
        ]
    );
}
