//! Outputs (fixed, script, generated), fixed usage and latency.

use std::time::{Duration, Instant};

use orkestra_mock::{FixedUsage, Latency, ModelBehaviour, Output};

use crate::common::{openai_body, post, post_json, server, sse, sse_json};

fn model(output: Output) -> ModelBehaviour {
    ModelBehaviour {
        output,
        ..ModelBehaviour::echo("m")
    }
}

async fn content(server: &orkestra_mock::MockServer) -> String {
    let (_, answer) = post_json(
        server,
        "/v1/chat/completions",
        &openai_body("m", "ignored", false),
    )
    .await;
    answer["choices"][0]["message"]["content"]
        .as_str()
        .expect("content")
        .to_owned()
}

#[tokio::test]
async fn fixed_output_is_always_the_same() {
    let server = server(vec![model(Output::Fixed("Paris.".into()))]).await;
    assert_eq!(content(&server).await, "Paris.");
    assert_eq!(content(&server).await, "Paris.");
}

#[tokio::test]
async fn a_script_answers_in_turn_and_starts_over() {
    let server = server(vec![model(Output::Script(vec![
        "one".into(),
        "two".into(),
    ]))])
    .await;
    let answers = [
        content(&server).await,
        content(&server).await,
        content(&server).await,
    ];
    assert_eq!(answers, ["one", "two", "one"]);
}

#[tokio::test]
async fn generated_output_has_the_configured_token_count() {
    let server = server(vec![model(Output::Generated { tokens: 50 })]).await;
    let (_, answer) = post_json(
        &server,
        "/v1/chat/completions",
        &openai_body("m", "x", false),
    )
    .await;
    let text = answer["choices"][0]["message"]["content"]
        .as_str()
        .expect("content");
    assert_eq!(text.split(' ').count(), 50, "{text}");
    assert_eq!(answer["usage"]["completion_tokens"], 50);
    // Streamed, it comes as one chunk per token.
    let (_, _, body) = post(
        &server,
        "/v1/chat/completions",
        &openai_body("m", "x", true),
    )
    .await;
    let events = sse(&body);
    let chunks = sse_json(&events[..events.len() - 1]);
    assert_eq!(chunks.len(), 1 + 50 + 1);
}

#[tokio::test]
async fn fixed_usage_is_reported_whatever_the_text() {
    let server = server(vec![ModelBehaviour {
        usage: Some(FixedUsage {
            prompt_tokens: 1000,
            completion_tokens: 7,
        }),
        ..ModelBehaviour::echo("m")
    }])
    .await;
    let (_, answer) = post_json(
        &server,
        "/v1/chat/completions",
        &openai_body("m", "Hello", false),
    )
    .await;
    assert_eq!(answer["usage"]["prompt_tokens"], 1000);
    assert_eq!(answer["usage"]["completion_tokens"], 7);
    assert_eq!(answer["usage"]["total_tokens"], 1007);
}

#[tokio::test]
async fn time_to_first_token_and_per_token_latency_delay_the_answer() {
    let server = server(vec![ModelBehaviour {
        ttft: Latency::Fixed(Duration::from_millis(40)),
        per_token: Latency::Uniform {
            min: Duration::from_millis(5),
            max: Duration::from_millis(10),
        },
        ..ModelBehaviour::echo("m")
    }])
    .await;
    // "abcdefghijklmnopqrst": 5 chunks, 4 pauses of 5 to 10 ms after 40 ms.
    let started = Instant::now();
    let (_, _, body) = post(
        &server,
        "/v1/chat/completions",
        &openai_body("m", "abcdefghijklmnopqrst", true),
    )
    .await;
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(60), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert!(body.ends_with("data: [DONE]\n\n"));
    let started = Instant::now();
    post(
        &server,
        "/v1/chat/completions",
        &openai_body("m", "abcdefghijklmnopqrst", false),
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(60));
}

#[tokio::test]
async fn log_normal_latency_stays_near_its_median() {
    let server = server(vec![ModelBehaviour {
        ttft: Latency::LogNormal {
            median: Duration::from_millis(20),
            sigma: 0.1,
        },
        ..ModelBehaviour::echo("m")
    }])
    .await;
    let started = Instant::now();
    post(
        &server,
        "/v1/chat/completions",
        &openai_body("m", "x", false),
    )
    .await;
    let elapsed = started.elapsed();
    // exp(5 sigma) bounds: 20 ms * e^-0.5 = 12 ms.
    assert!(elapsed >= Duration::from_millis(12), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}
