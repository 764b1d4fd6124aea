//! The seed decides faults and generated text, whatever the concurrency.

use orkestra_mock::{Fault, MockConfig, ModelBehaviour, Output, Trigger};

use crate::common::{client, openai_body, post_json, server_with};

fn config(seed: u64) -> MockConfig {
    MockConfig {
        seed,
        models: vec![
            ModelBehaviour::echo("flaky")
                .with_fault(Fault::Status { code: 503 }, Trigger::Rate(0.5)),
            ModelBehaviour {
                output: Output::Generated { tokens: 12 },
                ..ModelBehaviour::echo("writer")
            },
        ],
        default_model: None,
    }
}

/// Which of 40 requests failed, by request number, sending `concurrency` at a time.
async fn failures(seed: u64, concurrency: usize) -> Vec<u64> {
    let server = server_with(config(seed)).await;
    let url = format!("{}/v1/chat/completions", server.base_url());
    let body = openai_body("flaky", "x", false);
    for _ in 0..40 / concurrency {
        let mut batch = tokio::task::JoinSet::new();
        for _ in 0..concurrency {
            let request = client().post(&url).json(&body);
            batch.spawn(async move { request.send().await.map(|response| response.status()) });
        }
        while let Some(result) = batch.join_next().await {
            result
                .expect("the task runs")
                .expect("the request is answered");
        }
    }
    let mut failed: Vec<u64> = server
        .requests()
        .iter()
        .filter(|entry| entry.status == Some(503))
        .map(|entry| entry.request_number)
        .collect();
    failed.sort_unstable();
    failed
}

#[tokio::test]
async fn the_same_seed_fails_the_same_requests_at_any_concurrency() {
    let sequential = failures(11, 1).await;
    assert!(
        !sequential.is_empty() && sequential.len() < 40,
        "{sequential:?}"
    );
    assert_eq!(failures(11, 1).await, sequential);
    assert_eq!(failures(11, 8).await, sequential);
    assert_ne!(
        failures(12, 1).await,
        sequential,
        "another seed fails other requests"
    );
}

async fn generated(seed: u64) -> Vec<String> {
    let server = server_with(config(seed)).await;
    let mut texts = Vec::new();
    for _ in 0..3 {
        let (_, answer) = post_json(
            &server,
            "/v1/chat/completions",
            &openai_body("writer", "x", false),
        )
        .await;
        texts.push(
            answer["choices"][0]["message"]["content"]
                .as_str()
                .expect("content")
                .to_owned(),
        );
    }
    texts
}

#[tokio::test]
async fn the_same_seed_generates_the_same_text() {
    let first = generated(5).await;
    assert_eq!(generated(5).await, first);
    assert_ne!(first[0], first[1], "each request has its own text");
    assert_ne!(generated(6).await, first);
}
