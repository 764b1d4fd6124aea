//! Every fault, seen from the client, and every trigger.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use orkestra_core::ManualClock;
use orkestra_mock::{Fault, MockConfig, MockServer, ModelBehaviour, Trigger};
use serde_json::{Value, json};

use crate::common::{
    chunked_complete, client, openai_body, post, post_json, raw_body, raw_post, server, sse,
};

fn faulty(fault: Fault, when: Trigger) -> ModelBehaviour {
    ModelBehaviour::echo("m").with_fault(fault, when)
}

async fn status(server: &MockServer) -> u16 {
    post(
        server,
        "/v1/chat/completions",
        &openai_body("m", "Hello", false),
    )
    .await
    .0
}

#[tokio::test]
async fn rate_limited_sends_429_with_retry_after_in_seconds() {
    let server = server(vec![faulty(
        Fault::RateLimited {
            retry_after: Some(Duration::from_millis(1500)),
            as_date: false,
        },
        Trigger::Always,
    )])
    .await;
    let (status, headers, body) = post(
        &server,
        "/v1/chat/completions",
        &openai_body("m", "x", false),
    )
    .await;
    assert_eq!(status, 429);
    // Rounded up to whole seconds.
    assert_eq!(headers["retry-after"], "2");
    let error: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(error["error"]["code"], "rate_limit_exceeded");
    assert_eq!(server.requests()[0].status, Some(429));
}

#[tokio::test]
async fn rate_limited_can_send_retry_after_as_an_http_date_or_not_at_all() {
    let server = server(vec![faulty(
        Fault::RateLimited {
            retry_after: Some(Duration::from_secs(30)),
            as_date: true,
        },
        Trigger::Always,
    )])
    .await;
    let (status, headers, _) = post(
        &server,
        "/v1/chat/completions",
        &openai_body("m", "x", false),
    )
    .await;
    assert_eq!(status, 429);
    let date = headers["retry-after"].to_str().expect("ASCII");
    let when = httpdate::parse_http_date(date).expect("an HTTP date");
    let ahead = when
        .duration_since(SystemTime::now())
        .expect("in the future");
    assert!(
        ahead > Duration::from_secs(25) && ahead <= Duration::from_secs(31),
        "{ahead:?}"
    );

    server.set_model(faulty(
        Fault::RateLimited {
            retry_after: None,
            as_date: false,
        },
        Trigger::Always,
    ));
    let (status, headers, body) = post(
        &server,
        "/v1/messages",
        &json!({"model": "m", "max_tokens": 5, "messages": []}),
    )
    .await;
    assert_eq!(status, 429);
    assert!(headers.get("retry-after").is_none());
    assert!(body.contains("\"rate_limit_error\""), "{body}");
}

#[tokio::test]
async fn status_faults_send_the_status_in_each_format() {
    let server = server(vec![faulty(Fault::Status { code: 503 }, Trigger::Always)]).await;
    for _ in 0..3 {
        assert_eq!(status(&server).await, 503, "persistent");
    }
    let (code, error) = post_json(
        &server,
        "/v1/chat/completions",
        &openai_body("m", "x", false),
    )
    .await;
    assert_eq!(code, 503);
    assert_eq!(error["error"]["type"], "server_error");
    let (code, error) =
        post_json(&server, "/api/chat", &json!({"model": "m", "messages": []})).await;
    assert_eq!(code, 503);
    assert!(error["error"].is_string());

    server.set_model(faulty(
        Fault::Status { code: 500 },
        Trigger::Requests(vec![1]),
    ));
    assert_eq!(status(&server).await, 500, "one 500");
    assert_eq!(status(&server).await, 200, "then healthy");
}

#[tokio::test]
async fn context_length_and_content_filter_are_400s_with_their_codes() {
    let server = server(vec![faulty(Fault::ContextLength, Trigger::Always)]).await;
    let (code, error) = post_json(
        &server,
        "/v1/chat/completions",
        &openai_body("m", "x", false),
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(error["error"]["code"], "context_length_exceeded");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("maximum context length"))
    );
    let (code, error) = post_json(
        &server,
        "/v1/messages",
        &json!({"model": "m", "max_tokens": 5, "messages": []}),
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("prompt is too long"))
    );

    server.set_model(faulty(Fault::ContentFilter, Trigger::Always));
    let (code, error) = post_json(
        &server,
        "/v1/chat/completions",
        &openai_body("m", "x", false),
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(error["error"]["code"], "content_filter");
}

#[tokio::test]
async fn reset_is_a_tcp_reset() {
    let server = server(vec![faulty(Fault::Reset, Trigger::Always)]).await;
    let (received, ended) = raw_post(
        &server,
        "/v1/chat/completions",
        &openai_body("m", "x", false).to_string(),
    )
    .await;
    let error = ended.expect_err("the read fails");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset, "{error}");
    assert!(received.is_empty(), "{received}");

    let error = client()
        .post(format!("{}/v1/chat/completions", server.base_url()))
        .json(&openai_body("m", "x", false))
        .send()
        .await
        .expect_err("a reset is an error");
    assert!(!error.is_timeout() && !error.is_status(), "{error:?}");
    let log = server.requests();
    assert_eq!(log.len(), 2);
    assert!(
        log.iter()
            .all(|entry| entry.status.is_none() && entry.fault == Some(Fault::Reset))
    );
}

#[tokio::test]
async fn no_response_keeps_the_connection_open_until_the_client_times_out() {
    let server = server(vec![faulty(Fault::NoResponse, Trigger::First(1))]).await;
    let started = Instant::now();
    let error = client()
        .post(format!("{}/v1/chat/completions", server.base_url()))
        .timeout(Duration::from_millis(200))
        .json(&openai_body("m", "x", false))
        .send()
        .await
        .expect_err("no answer");
    assert!(error.is_timeout(), "{error:?}");
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(server.requests()[0].status, None);
    assert_eq!(status(&server).await, 200, "only the first request");
    // Shutdown does not wait for the unanswered request.
    tokio::time::timeout(Duration::from_secs(3), server.shutdown())
        .await
        .expect("shutdown is prompt");
}

#[tokio::test]
async fn slow_first_token_delays_the_first_chunk() {
    let server = server(vec![faulty(
        Fault::SlowFirstToken {
            delay: Duration::from_millis(120),
        },
        Trigger::Always,
    )])
    .await;
    let started = Instant::now();
    let response = client()
        .post(format!("{}/v1/chat/completions", server.base_url()))
        .json(&openai_body("m", "Hello", true))
        .send()
        .await
        .expect("headers come first");
    let mut response = response;
    let first = response
        .chunk()
        .await
        .expect("a chunk")
        .expect("not the end");
    assert!(
        started.elapsed() >= Duration::from_millis(120),
        "{:?}",
        started.elapsed()
    );
    assert!(String::from_utf8_lossy(&first).starts_with("data: "));
}

#[track_caller]
fn content_events(body: &str) -> usize {
    sse(body)
        .iter()
        .filter(|event| event.data.contains("\"content\":\"") && !event.data.contains("\"role\""))
        .count()
}

#[tokio::test]
async fn a_cut_stream_closes_mid_body_without_the_terminator() {
    let server = server(vec![faulty(
        Fault::CutStream { after_chunks: 2 },
        Trigger::Always,
    )])
    .await;
    let body = openai_body("m", "Hello streaming world", true).to_string();
    let (received, _) = raw_post(&server, "/v1/chat/completions", &body).await;
    assert!(received.starts_with("HTTP/1.1 200"), "{received}");
    assert!(
        !chunked_complete(&received),
        "the chunked body never ends: {received}"
    );
    let sse_body = raw_body(&received);
    assert_eq!(content_events(&sse_body), 2, "{sse_body}");
    assert!(!sse_body.contains("[DONE]"));

    let error = client()
        .post(format!("{}/v1/chat/completions", server.base_url()))
        .json(&openai_body("m", "Hello streaming world", true))
        .send()
        .await
        .expect("headers arrive")
        .text()
        .await
        .expect_err("the body is cut");
    assert!(error.is_body() || error.is_decode(), "{error:?}");
}

#[tokio::test]
async fn a_cut_plain_answer_declares_more_than_it_sends() {
    let server = server(vec![faulty(
        Fault::CutStream { after_chunks: 0 },
        Trigger::Always,
    )])
    .await;
    let (received, _) = raw_post(
        &server,
        "/v1/chat/completions",
        &openai_body("m", "Hello", false).to_string(),
    )
    .await;
    let (head, body) = received.split_once("\r\n\r\n").expect("a head");
    let declared: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .expect("a content length")
        .parse()
        .expect("a number");
    assert!(
        !body.is_empty() && body.len() < declared,
        "{} of {declared}",
        body.len()
    );
    let error = client()
        .post(format!("{}/v1/chat/completions", server.base_url()))
        .json(&openai_body("m", "Hello", false))
        .send()
        .await
        .expect("headers arrive")
        .text()
        .await
        .expect_err("the body is cut");
    assert!(error.is_body() || error.is_decode(), "{error:?}");
}

#[tokio::test]
async fn a_stall_goes_silent_then_closes() {
    let stall = Duration::from_millis(150);
    let server = server(vec![faulty(
        Fault::Stall {
            after_chunks: 1,
            duration: stall,
        },
        Trigger::Always,
    )])
    .await;
    // Only a lower bound on wall time holds on a busy machine: a gap measured between two reads
    // shrinks when the first read is late, so the whole answer's time is what is judged.
    let started = Instant::now();
    let mut response = client()
        .post(format!("{}/v1/messages", server.base_url()))
        .json(&json!({"model": "m", "max_tokens": 100, "stream": true, "messages": [{"role": "user", "content": "Hello streaming world"}]}))
        .send()
        .await
        .expect("headers arrive");
    let mut received = String::new();
    let ended = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(None) => break Ok(()),
            Err(error) => break Err(error),
        }
    };
    assert!(ended.is_err(), "the stream ends in an error");
    assert!(started.elapsed() >= stall, "{:?}", started.elapsed());
    assert_eq!(
        received.matches("event: content_block_delta").count(),
        1,
        "{received}"
    );
    assert!(!received.contains("message_stop"));
}

#[tokio::test]
async fn a_malformed_chunk_is_not_json_and_the_stream_goes_on() {
    let server = server(vec![faulty(
        Fault::MalformedChunk { after_chunks: 1 },
        Trigger::Always,
    )])
    .await;
    let (status, _, body) = post(
        &server,
        "/v1/chat/completions",
        &openai_body("m", "Hello streaming world", true),
    )
    .await;
    assert_eq!(status, 200);
    let events = sse(&body);
    let bad: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, event)| {
            event.data != "[DONE]" && serde_json::from_str::<Value>(&event.data).is_err()
        })
        .map(|(index, _)| index)
        .collect();
    // After the role chunk and one content chunk.
    assert_eq!(bad, [2], "{body}");
    assert_eq!(
        events.last().map(|event| event.data.as_str()),
        Some("[DONE]")
    );

    let (_, _, body) = post(
        &server,
        "/api/chat",
        &json!({"model": "m", "messages": [{"role": "user", "content": "Hello streaming world"}]}),
    )
    .await;
    let lines: Vec<&str> = body.lines().collect();
    assert!(serde_json::from_str::<Value>(lines[1]).is_err(), "{body}");
    let last: Value = serde_json::from_str(lines[lines.len() - 1]).expect("JSON");
    assert_eq!(last["done"], true);

    let (status, _, body) = post(
        &server,
        "/v1/chat/completions",
        &openai_body("m", "Hello", false),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        serde_json::from_str::<Value>(&body).is_err(),
        "a plain answer is not JSON: {body}"
    );
}

#[tokio::test]
async fn a_missing_terminator_ends_cleanly_without_it() {
    let server = server(vec![faulty(Fault::MissingTerminator, Trigger::Always)]).await;
    let (_, _, body) = post(
        &server,
        "/v1/chat/completions",
        &openai_body("m", "Hello", true),
    )
    .await;
    assert!(body.contains("\"finish_reason\":\"stop\""));
    assert!(!body.contains("[DONE]"), "{body}");

    let anthropic = json!({"model": "m", "max_tokens": 9, "stream": true, "messages": [{"role": "user", "content": "Hello"}]});
    let (_, _, body) = post(&server, "/v1/messages", &anthropic).await;
    assert!(body.contains("event: message_delta"));
    assert!(!body.contains("message_stop"), "{body}");

    let (_, _, body) = post(
        &server,
        "/api/chat",
        &json!({"model": "m", "messages": [{"role": "user", "content": "Hello"}]}),
    )
    .await;
    assert!(!body.contains("\"done\":true"), "{body}");
    assert!(body.contains("\"done\":false"));

    let (status, _, body) = post(
        &server,
        "/v1/chat/completions",
        &openai_body("m", "Hello", false),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body.starts_with('{') && serde_json::from_str::<Value>(&body).is_err(),
        "{body}"
    );
}

async fn statuses(server: &MockServer, count: usize) -> Vec<u16> {
    let mut statuses = Vec::with_capacity(count);
    for _ in 0..count {
        statuses.push(status(server).await);
    }
    statuses
}

#[tokio::test]
async fn counted_triggers_pick_their_requests() {
    let fault = Fault::Status { code: 503 };
    let server = server(vec![faulty(fault.clone(), Trigger::Requests(vec![2, 4]))]).await;
    assert_eq!(statuses(&server, 5).await, [200, 503, 200, 503, 200]);
    server.set_model(faulty(fault.clone(), Trigger::First(2)));
    assert_eq!(
        statuses(&server, 4).await,
        [503, 503, 200, 200],
        "setting the model restarts the count"
    );
    server.set_model(faulty(fault.clone(), Trigger::Rate(0.0)));
    assert_eq!(statuses(&server, 3).await, [200, 200, 200]);
    server.set_model(faulty(fault.clone(), Trigger::Rate(1.0)));
    assert_eq!(statuses(&server, 3).await, [503, 503, 503]);
    server.set_model(
        faulty(fault, Trigger::Always).with_fault(Fault::Status { code: 500 }, Trigger::Always),
    );
    assert_eq!(
        statuses(&server, 1).await,
        [503],
        "the first rule that fires applies"
    );
}

/// The schedule is read on the server's clock, so the test moves it by hand: a boundary is
/// judged exactly, however slowly the machine answers.
#[tokio::test]
async fn flapping_is_down_then_up_on_a_schedule_from_when_the_model_was_set() {
    let clock = Arc::new(ManualClock::new());
    let config = MockConfig {
        seed: 7,
        models: vec![],
        default_model: None,
    };
    let server = MockServer::start_with_clock(config, clock.clone())
        .await
        .expect("the server starts");
    // The clock runs before the model is set: its schedule starts when it is set.
    clock.advance(Duration::from_secs(1));
    server.set_model(faulty(
        Fault::Status { code: 503 },
        Trigger::Flapping {
            down: Duration::from_millis(150),
            up: Some(Duration::from_millis(150)),
        },
    ));
    let mut seen = Vec::new();
    // Down for [0, 150), up for [150, 300), down again from 300.
    for step in [0, 149, 1, 148, 1, 1, 149, 1] {
        clock.advance(Duration::from_millis(step));
        seen.push(status(&server).await);
    }
    // At 0, 149, 150, 298, 299, 300, 449 and 450 ms.
    assert_eq!(seen, [503, 503, 200, 200, 200, 503, 503, 200]);

    server.set_model(faulty(
        Fault::Status { code: 503 },
        Trigger::Flapping {
            down: Duration::from_millis(100),
            up: None,
        },
    ));
    assert_eq!(status(&server).await, 503);
    clock.advance(Duration::from_millis(99));
    assert_eq!(status(&server).await, 503, "still down");
    clock.advance(Duration::from_millis(1));
    assert_eq!(
        statuses(&server, 3).await,
        [200, 200, 200],
        "healthy for good"
    );
    clock.advance(Duration::from_hours(1));
    assert_eq!(status(&server).await, 200, "still healthy an hour later");
}
