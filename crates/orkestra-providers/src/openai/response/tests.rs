use orkestra_core::{ChatChunk, ChatResponse, FinishReason, Role};

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../../tests/fixtures/openai/", $name)).as_slice()
    };
}

/// The data of every `data:` event of an SSE transcript except `[DONE]`.
fn chunks(transcript: &[u8]) -> Vec<&[u8]> {
    transcript
        .split(|&b| b == b'\n')
        .filter_map(|line| line.strip_prefix(b"data: "))
        .filter(|data| *data != b"[DONE]")
        .collect()
}

#[track_caller]
fn check_response_matches_core(body: &[u8]) -> ChatResponse {
    let fast = parse_response(body).unwrap();
    let core: ChatResponse = serde_json::from_slice(body).unwrap();
    assert_eq!(fast, core);
    fast
}

#[test]
fn reference_responses_read_the_same_as_the_core_types() {
    let plain = check_response_matches_core(fixture!("chat_completion.json"));
    assert_eq!(plain.text(), "\n\nHello there, how may I assist you today?");
    assert_eq!(plain.finish_reason(), Some(&FinishReason::Stop));
    let usage = plain.usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (9, 12, 21)
    );
    assert!(usage.extra.contains_key("completion_tokens_details"));
    assert_eq!(plain.extra["system_fingerprint"], "fp_44709d6fcb");

    let tools = check_response_matches_core(fixture!("chat_completion_tool_calls.json"));
    let message = &tools.choices[0].message;
    assert_eq!(message.content, None);
    let call = &message.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.function.name, "get_current_weather");
    assert_eq!(
        call.function.arguments,
        "{\n\"location\": \"Boston, MA\"\n}"
    );
    assert_eq!(tools.finish_reason(), Some(&FinishReason::ToolCalls));

    let vllm = check_response_matches_core(fixture!("vllm_chat_completion.json"));
    assert_eq!(vllm.text(), "The capital of France is Paris.");
    assert_eq!(
        vllm.choices[0].extra["stop_reason"],
        serde_json::Value::Null
    );
    assert_eq!(vllm.choices[0].message.tool_calls, Some(Vec::new()));
}

#[test]
fn reference_chunks_read_the_same_as_the_core_types() {
    for transcript in [
        fixture!("stream.sse"),
        fixture!("stream_include_usage.sse"),
        fixture!("stream_tool_calls.sse"),
        fixture!("llamacpp_stream.sse"),
    ] {
        let data = chunks(transcript);
        assert!(data.len() >= 3);
        for chunk in data {
            let fast = parse_chunk(chunk).unwrap();
            let core: ChatChunk = serde_json::from_slice(chunk).unwrap();
            assert_eq!(fast, core, "{}", String::from_utf8_lossy(chunk));
        }
    }
    let usage = chunks(fixture!("stream_include_usage.sse"));
    let last = parse_chunk(usage.last().unwrap()).unwrap();
    assert!(last.choices.is_empty());
    assert_eq!(last.usage.unwrap().total_tokens, 11);
    let first = parse_chunk(usage[0]).unwrap();
    assert_eq!(first.usage, None);
    assert_eq!(first.extra["usage"], serde_json::Value::Null);
}

#[test]
fn compatible_servers_may_leave_fields_out() {
    let body =
        br#"{"choices":[{"message":{"content":"hi"},"finish_reason":"eos"}],"created":1.7e9}"#;
    let response = parse_response(body).unwrap();
    assert_eq!(response.id, "");
    assert_eq!(response.model, "");
    assert_eq!(response.object, "chat.completion");
    assert_eq!(response.created, 1_700_000_000);
    assert_eq!(response.choices[0].index, 0);
    assert_eq!(response.choices[0].message.role, Role::Assistant);
    assert_eq!(
        response.finish_reason(),
        Some(&FinishReason::Other("eos".to_owned()))
    );
    assert_eq!(response.usage, None);

    let usage =
        parse_response(br#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#)
            .unwrap()
            .usage
            .unwrap();
    assert_eq!(usage.total_tokens, 7, "a missing total is the sum");

    let chunk =
        parse_chunk(br#"{"choices":[{"delta":{"content":"x","tool_calls":null},"index":1}]}"#)
            .unwrap();
    assert_eq!(chunk.id, "");
    assert_eq!(chunk.choices[0].index, 1);
    assert_eq!(chunk.choices[0].delta.content.as_deref(), Some("x"));
    assert!(chunk.choices[0].delta.tool_calls.is_empty());
}

#[test]
fn escaped_keys_and_unknown_fields_are_kept() {
    let body = br#"{"choices":[],"x\u0041":1,"nested":{"a":[1,2]}}"#;
    let response = parse_response(body).unwrap();
    assert_eq!(response.extra["xA"], 1);
    assert_eq!(response.extra["nested"]["a"][1], 2);
}

#[test]
fn wrong_shapes_are_errors_naming_the_problem() {
    for (body, expected) in [
        (&br#"{"id":"x"}"#[..], "missing field `choices`"),
        (br#"{"choices":[{"index":0}]}"#, "missing field `message`"),
        (br#"{"choices":[{"message":{"role":"robot"}}]}"#, "robot"),
        (br#"{"choices":"many"}"#, "a list or null"),
        (br#"{"created":-1,"choices":[]}"#, "non-negative"),
        (b"[1,2]", "chat completion object"),
    ] {
        let error = parse_response(body).unwrap_err();
        assert!(
            error.to_string().contains(expected),
            "{error} lacks {expected}"
        );
    }
}
