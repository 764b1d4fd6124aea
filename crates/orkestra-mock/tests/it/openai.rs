//! OpenAI-compatible chat completions, plain and streamed, and model discovery.

use orkestra_mock::{MockConfig, ModelBehaviour};
use serde_json::json;

use crate::common::{client, openai_body, post, post_json, server, server_with, sse, sse_json};

#[tokio::test]
async fn a_plain_answer_echoes_the_last_user_message_with_usage() {
    let server = server(vec![ModelBehaviour::echo("gpt-test")]).await;
    let body = json!({
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "an answer"},
            {"role": "user", "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "there"}]},
        ],
        "temperature": 0.3,
        "tools": [],
    });
    let (status, answer) = post_json(&server, "/v1/chat/completions", &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["model"], "gpt-test");
    assert!(
        answer["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("chatcmpl-"))
    );
    let choice = &answer["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Hello\nthere");
    assert_eq!(choice["finish_reason"], "stop");
    // Prompt: "Be brief." (9) + "first question" (14) + "an answer" (9) + "Hello" + "there" (10)
    // = 42 characters, 11 tokens; answer: 11 characters, 3 tokens.
    assert_eq!(
        answer["usage"],
        json!({"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14})
    );
}

#[tokio::test]
async fn a_stream_has_a_role_chunk_content_chunks_a_finish_chunk_a_usage_chunk_and_done() {
    let server = server(vec![ModelBehaviour::echo("gpt-test")]).await;
    let body = json!({
        "model": "gpt-test",
        "messages": [{"role": "user", "content": "Hello streaming world"}],
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    let (status, headers, text) = post(&server, "/v1/chat/completions", &body).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/event-stream");
    let events = sse(&text);
    assert_eq!(
        events.last().map(|event| event.data.as_str()),
        Some("[DONE]")
    );
    let chunks = sse_json(&events[..events.len() - 1]);
    let id = &chunks[0]["id"];
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(&chunk["id"], id);
        assert_eq!(chunk["model"], "gpt-test");
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let (usage_chunk, rest) = chunks.split_last().expect("chunks");
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(
        usage_chunk["usage"],
        json!({"prompt_tokens": 6, "completion_tokens": 6, "total_tokens": 12})
    );
    let (finish_chunk, content_chunks) = rest.split_last().expect("chunks");
    assert_eq!(finish_chunk["choices"][0]["finish_reason"], "stop");
    assert_eq!(finish_chunk["choices"][0]["delta"], json!({}));
    for chunk in rest {
        assert_eq!(
            chunk["usage"],
            serde_json::Value::Null,
            "usage is null before the last chunk"
        );
    }
    let content: String = content_chunks[1..]
        .iter()
        .map(|chunk| {
            assert_eq!(
                chunk["choices"][0]["finish_reason"],
                serde_json::Value::Null
            );
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .expect("content")
                .to_owned()
        })
        .collect();
    assert_eq!(content, "Hello streaming world");
    // One chunk per token of about four characters.
    assert_eq!(content_chunks.len() - 1, 6);
}

#[tokio::test]
async fn without_include_usage_a_stream_has_no_usage() {
    let server = server(vec![ModelBehaviour::echo("gpt-test")]).await;
    let (_, _, text) = post(
        &server,
        "/v1/chat/completions",
        &openai_body("gpt-test", "Hi", true),
    )
    .await;
    let events = sse(&text);
    let chunks = sse_json(&events[..events.len() - 1]);
    assert!(
        chunks.iter().all(|chunk| chunk.get("usage").is_none()),
        "{text}"
    );
    assert!(
        chunks
            .iter()
            .all(|chunk| !chunk["choices"].as_array().expect("choices").is_empty())
    );
}

#[tokio::test]
async fn max_tokens_cuts_the_answer_with_finish_reason_length() {
    let server = server(vec![ModelBehaviour::echo("gpt-test")]).await;
    let mut body = openai_body("gpt-test", "one two three four five six", false);
    body["max_tokens"] = json!(2);
    let (_, answer) = post_json(&server, "/v1/chat/completions", &body).await;
    assert_eq!(answer["choices"][0]["message"]["content"], "one two ");
    assert_eq!(answer["choices"][0]["finish_reason"], "length");
    assert_eq!(answer["usage"]["completion_tokens"], 2);
}

#[tokio::test]
async fn an_unknown_model_is_a_404_in_openai_shape_unless_a_default_is_set() {
    let server = server(vec![ModelBehaviour::echo("gpt-test")]).await;
    let (status, error) = post_json(
        &server,
        "/v1/chat/completions",
        &openai_body("nope", "Hi", false),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(error["error"]["code"], "model_not_found");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("nope"))
    );
    assert!(error["error"].get("param").is_some());

    let server = server_with(MockConfig {
        default_model: Some(ModelBehaviour::echo("")),
        ..MockConfig::default()
    })
    .await;
    let (status, answer) = post_json(
        &server,
        "/v1/chat/completions",
        &openai_body("anything", "Hi", false),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["model"], "anything");
    assert_eq!(server.requests()[0].request_number, 1);
}

#[track_caller]
fn check_bad_request(status: u16, error: &serde_json::Value, expected: &str) {
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    let message = error["error"]["message"].as_str().expect("a message");
    assert!(
        message.contains(expected),
        "{message:?} should contain {expected:?}"
    );
}

#[tokio::test]
async fn malformed_requests_are_400s_naming_what_was_wrong() {
    let server = server(vec![ModelBehaviour::echo("gpt-test")]).await;
    let url = format!("{}/v1/chat/completions", server.base_url());
    for (body, expected) in [
        ("{\"model\": \"gpt-test\",", "EOF while parsing"),
        ("{\"model\": \"gpt-test\"}", "missing field `messages`"),
        ("{\"messages\": []}", "missing field `model`"),
        (
            "{\"model\": 5, \"messages\": []}",
            "invalid type: integer `5`",
        ),
        (
            "{\"model\": \"gpt-test\", \"messages\": [{\"role\": \"user\", \"content\": 7}]}",
            "expected a string, an array of content parts or null",
        ),
        (
            "{\"model\": \"gpt-test\", \"messages\": [], \"stream\": \"yes\"}",
            "expected a boolean",
        ),
        ("\u{0}\u{1}garbage", "expected value"),
    ] {
        let response = client()
            .post(&url)
            .body(body)
            .send()
            .await
            .expect("answered");
        let status = response.status().as_u16();
        let error: serde_json::Value = response.json().await.expect("a JSON error");
        check_bad_request(status, &error, expected);
    }
    let log = server.requests();
    assert_eq!(log.len(), 7);
    assert!(
        log.iter()
            .all(|entry| entry.status == Some(400) && entry.request_number == 0)
    );
}

#[tokio::test]
async fn models_lists_the_configured_models() {
    let server = server(vec![
        ModelBehaviour::echo("b-model"),
        ModelBehaviour::echo("a-model"),
    ])
    .await;
    let list: serde_json::Value = client()
        .get(format!("{}/v1/models", server.base_url()))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("JSON");
    assert_eq!(list["object"], "list");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|model| {
            assert_eq!(model["object"], "model");
            model["id"].as_str().expect("id")
        })
        .collect();
    assert_eq!(ids, ["a-model", "b-model"]);
}

#[tokio::test]
async fn an_unknown_path_is_a_404() {
    let server = server(vec![]).await;
    let response = client()
        .get(format!("{}/v1/engines", server.base_url()))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status().as_u16(), 404);
    let error: serde_json::Value = response.json().await.expect("JSON");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("GET /v1/engines"))
    );
}
