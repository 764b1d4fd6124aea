//! Ollama native chat: NDJSON by default, plain with `stream: false`; `/api/tags`.

use orkestra_mock::ModelBehaviour;
use serde_json::{Value, json};

use crate::common::{client, post, post_json, server};

#[tokio::test]
async fn chat_streams_ndjson_by_default_ending_with_done_and_counts() {
    let server = server(vec![ModelBehaviour::echo("llama-test")]).await;
    let body = json!({"model": "llama-test", "messages": [{"role": "user", "content": "Why is the sky blue?"}]});
    let (status, headers, text) = post(&server, "/api/chat", &body).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/x-ndjson");
    assert!(text.ends_with('\n'));
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect();
    let (last, content) = lines.split_last().expect("lines");
    let answer: String = content
        .iter()
        .map(|line| {
            assert_eq!(line["done"], false);
            assert_eq!(line["model"], "llama-test");
            assert_eq!(line["message"]["role"], "assistant");
            line["message"]["content"]
                .as_str()
                .expect("content")
                .to_owned()
        })
        .collect();
    assert_eq!(answer, "Why is the sky blue?");
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "stop");
    assert_eq!(last["message"]["content"], "");
    assert_eq!(last["prompt_eval_count"], 5);
    assert_eq!(last["eval_count"], 5);
    for field in [
        "total_duration",
        "load_duration",
        "prompt_eval_duration",
        "eval_duration",
    ] {
        assert!(last[field].is_u64(), "{field} in {last}");
    }
    assert!(
        last["total_duration"]
            .as_u64()
            .is_some_and(|nanos| nanos > 0)
    );
    assert!(
        last["created_at"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z') && at.contains('T'))
    );
}

#[tokio::test]
async fn chat_with_stream_false_is_one_object() {
    let server = server(vec![ModelBehaviour::echo("llama-test")]).await;
    let body = json!({"model": "llama-test", "stream": false, "messages": [{"role": "user", "content": "Hi"}]});
    let (status, answer) = post_json(&server, "/api/chat", &body).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["message"],
        json!({"role": "assistant", "content": "Hi"})
    );
    assert_eq!(answer["done"], true);
    assert_eq!(answer["eval_count"], 1);
}

#[tokio::test]
async fn errors_are_ollama_shaped() {
    let server = server(vec![ModelBehaviour::echo("llama-test")]).await;
    let body = json!({"model": "missing", "messages": []});
    let (status, error) = post_json(&server, "/api/chat", &body).await;
    assert_eq!(status, 404);
    assert_eq!(error, json!({"error": "model 'missing' not found"}));
    let (status, error) = post_json(&server, "/api/chat", &json!({"model": "llama-test"})).await;
    assert_eq!(status, 400);
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|message| message.contains("missing field `messages`")),
        "{error}"
    );
}

#[tokio::test]
async fn tags_lists_the_models() {
    let server = server(vec![ModelBehaviour::echo("llama-test")]).await;
    let tags: Value = client()
        .get(format!("{}/api/tags", server.base_url()))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("JSON");
    assert_eq!(tags["models"][0]["name"], "llama-test");
    assert_eq!(tags["models"][0]["model"], "llama-test");
    assert!(tags["models"][0]["details"]["format"].is_string());
}
