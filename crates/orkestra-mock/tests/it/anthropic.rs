//! Anthropic Messages, plain and with every stream event.

use orkestra_mock::{Fault, ModelBehaviour, Trigger};
use serde_json::{Value, json};

use crate::common::{client, post, post_json, server, sse, sse_json};

fn body(stream: bool) -> Value {
    json!({
        "model": "claude-test",
        "max_tokens": 1024,
        "system": "You are terse.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello, Claude"}]}],
        "stream": stream,
    })
}

#[tokio::test]
async fn a_plain_answer_has_text_content_stop_reason_and_usage() {
    let server = server(vec![ModelBehaviour::echo("claude-test")]).await;
    let (status, answer) = post_json(&server, "/v1/messages", &body(false)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["type"], "message");
    assert_eq!(answer["role"], "assistant");
    assert!(
        answer["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("msg_"))
    );
    assert_eq!(
        answer["content"],
        json!([{"type": "text", "text": "Hello, Claude"}])
    );
    assert_eq!(answer["stop_reason"], "end_turn");
    assert_eq!(answer["stop_sequence"], Value::Null);
    // "You are terse." (14) + "Hello, Claude" (13) = 27 characters: 7 tokens.
    assert_eq!(answer["usage"]["input_tokens"], 7);
    assert_eq!(answer["usage"]["output_tokens"], 4);
}

#[tokio::test]
async fn a_stream_sends_every_event_type_in_order() {
    let server = server(vec![ModelBehaviour::echo("claude-test")]).await;
    let (status, headers, text) = post(&server, "/v1/messages", &body(true)).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/event-stream");
    let events = sse(&text);
    let data = sse_json(&events);
    for (event, data) in events.iter().zip(&data) {
        assert_eq!(
            event.name.as_deref(),
            data["type"].as_str(),
            "the event name is the data's type"
        );
    }
    let names: Vec<&str> = events
        .iter()
        .filter_map(|event| event.name.as_deref())
        .collect();
    let deltas = names
        .iter()
        .filter(|name| **name == "content_block_delta")
        .count();
    assert_eq!(deltas, 4);
    let mut expected = vec!["message_start", "content_block_start", "ping"];
    expected.extend(std::iter::repeat_n("content_block_delta", deltas));
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names, expected);

    let start = &data[0]["message"];
    assert_eq!(start["content"], json!([]));
    assert_eq!(start["usage"]["input_tokens"], 7);
    assert_eq!(
        data[1]["content_block"],
        json!({"type": "text", "text": ""})
    );
    let text: String = data[3..3 + deltas]
        .iter()
        .map(|delta| {
            assert_eq!(delta["delta"]["type"], "text_delta");
            assert_eq!(delta["index"], 0);
            delta["delta"]["text"].as_str().expect("text").to_owned()
        })
        .collect();
    assert_eq!(text, "Hello, Claude");
    let message_delta = &data[data.len() - 2];
    assert_eq!(message_delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(message_delta["usage"]["output_tokens"], 4);
}

#[tokio::test]
async fn max_tokens_is_required_and_refused_in_anthropic_error_shape() {
    let server = server(vec![ModelBehaviour::echo("claude-test")]).await;
    let mut request = body(false);
    request
        .as_object_mut()
        .expect("object")
        .remove("max_tokens");
    let (status, error) = post_json(&server, "/v1/messages", &request).await;
    assert_eq!(status, 400);
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("max_tokens")),
        "{error}"
    );
}

#[tokio::test]
async fn max_tokens_stops_with_stop_reason_max_tokens() {
    let server = server(vec![ModelBehaviour::echo("claude-test")]).await;
    let mut request = body(false);
    request["max_tokens"] = json!(1);
    let (_, answer) = post_json(&server, "/v1/messages", &request).await;
    assert_eq!(answer["content"][0]["text"], "Hell");
    assert_eq!(answer["stop_reason"], "max_tokens");
}

#[tokio::test]
async fn errors_use_the_anthropic_types() {
    let server = server(vec![
        ModelBehaviour::echo("claude-test")
            .with_fault(Fault::Status { code: 529 }, Trigger::Always),
    ])
    .await;
    let (status, error) = post_json(&server, "/v1/messages", &body(false)).await;
    assert_eq!(status, 529);
    assert_eq!(error["error"]["type"], "overloaded_error");

    let mut request = body(false);
    request["model"] = json!("claude-unknown");
    let (status, error) = post_json(&server, "/v1/messages", &request).await;
    assert_eq!(status, 404);
    assert_eq!(
        error,
        json!({"type": "error", "error": {"type": "not_found_error", "message": "model: claude-unknown"}})
    );
}

#[tokio::test]
async fn models_answers_in_anthropic_shape_when_asked_with_anthropic_version() {
    let server = server(vec![ModelBehaviour::echo("claude-test")]).await;
    let list: Value = client()
        .get(format!("{}/v1/models", server.base_url()))
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("JSON");
    assert_eq!(list["data"][0]["type"], "model");
    assert_eq!(list["data"][0]["id"], "claude-test");
    assert_eq!(list["has_more"], false);
    assert_eq!(list["first_id"], "claude-test");
}
