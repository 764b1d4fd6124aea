//! The control endpoint, the request log, shutdown, and garbage on the wire.

use std::time::Duration;

use orkestra_mock::{Fault, LoggedRequest, ModelBehaviour, Trigger, WireFormat};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::{client, openai_body, post, post_json, server};

async fn send(method: reqwest::Method, url: String, body: Option<&str>) -> (u16, String) {
    let mut request = client().request(method, url);
    if let Some(body) = body {
        request = request.body(body.to_owned());
    }
    let response = request.send().await.expect("answered");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a body"))
}

#[tokio::test]
async fn models_can_be_listed_set_read_and_removed_while_running() {
    let server = server(vec![ModelBehaviour::echo("a")]).await;
    let base = server.base_url();
    let (status, body) = send(reqwest::Method::GET, format!("{base}/_mock/models"), None).await;
    assert_eq!(status, 200);
    let models: Vec<ModelBehaviour> = serde_json::from_str(&body).expect("behaviours");
    assert_eq!(models, [ModelBehaviour::echo("a")]);

    let put = r#"{"output": {"fixed": "from the control endpoint"}, "faults": [{"fault": "context_length", "when": {"requests": [2]}}]}"#;
    let (status, body) = send(
        reqwest::Method::PUT,
        format!("{base}/_mock/models/b%2Fone"),
        Some(put),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = send(
        reqwest::Method::GET,
        format!("{base}/_mock/models/b%2Fone"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let behaviour: ModelBehaviour = serde_json::from_str(&body).expect("a behaviour");
    assert_eq!(behaviour.name, "b/one");
    assert_eq!(behaviour.faults[0].fault, Fault::ContextLength);

    let (_, answer) = post_json(
        &server,
        "/v1/chat/completions",
        &openai_body("b/one", "x", false),
    )
    .await;
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "from the control endpoint"
    );
    let (status, _, _) = post(
        &server,
        "/v1/chat/completions",
        &openai_body("b/one", "x", false),
    )
    .await;
    assert_eq!(status, 400, "the second request hits the fault");
    let (status, _) = send(
        reqwest::Method::PUT,
        format!("{base}/_mock/models/b%2Fone"),
        Some(put),
    )
    .await;
    assert_eq!(status, 200, "replaced");
    let (status, _, _) = post(
        &server,
        "/v1/chat/completions",
        &openai_body("b/one", "x", false),
    )
    .await;
    assert_eq!(status, 200, "the counter started again");
    assert_eq!(server.models().len(), 2);

    let (status, _) = send(
        reqwest::Method::DELETE,
        format!("{base}/_mock/models/b%2Fone"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = send(
        reqwest::Method::DELETE,
        format!("{base}/_mock/models/b%2Fone"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert!(body.contains("no model named `b/one`"), "{body}");
    let (status, _, _) = post(
        &server,
        "/v1/chat/completions",
        &openai_body("b/one", "x", false),
    )
    .await;
    assert_eq!(status, 404);
    assert!(server.remove_model("a"));
    assert!(!server.remove_model("a"));
}

#[track_caller]
fn check_refused(status: u16, body: &str, expected: &str) {
    assert_eq!(status, 400, "{body}");
    let error: Value = serde_json::from_str(body).expect("a JSON error");
    let message = error["error"].as_str().expect("a message");
    assert!(
        message.contains(expected),
        "{message:?} should contain {expected:?}"
    );
}

#[tokio::test]
async fn bad_behaviours_are_refused_naming_what_was_wrong() {
    let server = server(vec![]).await;
    let url = format!("{}/_mock/models/m", server.base_url());
    for (body, expected) in [
        (r#"{"ttf": {"fixed": "1ms"}}"#, "unknown field `ttf`"),
        (r#"{"output": {"fixed": 3}}"#, "invalid type: integer `3`"),
        (r#"{"ttft": {"fixed": "soon"}}"#, "line 1 column"),
        (
            r#"{"name": "other"}"#,
            "the body names `other` but the path names `m`",
        ),
        (
            r#"{"faults": [{"fault": "reset", "when": {"rate": 1.5}}]}"#,
            "model.faults[0].when.rate: 1.5 is not a probability",
        ),
        (
            r#"{"faults": [{"fault": {"status": {"code": 200}}, "when": "always"}]}"#,
            "model.faults[0].fault.status.code",
        ),
        (
            r#"{"ttft": {"uniform": {"min": "5ms", "max": "1ms"}}}"#,
            "model.ttft.uniform: min 5ms is above max 1ms",
        ),
        ("not json", "expected ident"),
    ] {
        let (status, text) = send(reqwest::Method::PUT, url.clone(), Some(body)).await;
        check_refused(status, &text, expected);
    }
    let (status, _) = send(reqwest::Method::POST, url, Some("{}")).await;
    assert_eq!(status, 405);
    let (status, body) = send(
        reqwest::Method::GET,
        format!("{}/_mock/nothing", server.base_url()),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert!(body.contains("GET /_mock/models"), "{body}");
    assert!(server.models().is_empty());
}

#[tokio::test]
async fn the_request_log_records_each_chat_request() {
    let server =
        server(vec![ModelBehaviour::echo("m").with_fault(
            Fault::Status { code: 502 },
            Trigger::Requests(vec![2]),
        )])
        .await;
    post(
        &server,
        "/v1/chat/completions",
        &openai_body("m", "x", true),
    )
    .await;
    post(
        &server,
        "/api/chat",
        &json!({"model": "m", "stream": false, "messages": []}),
    )
    .await;
    post(
        &server,
        "/v1/messages",
        &json!({"model": "m", "max_tokens": 3, "messages": []}),
    )
    .await;
    let log = server.requests();
    let summary: Vec<(WireFormat, &str, bool, u64, Option<u16>)> = log
        .iter()
        .map(|entry| {
            (
                entry.format,
                entry.path.as_str(),
                entry.stream,
                entry.request_number,
                entry.status,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                WireFormat::OpenAi,
                "/v1/chat/completions",
                true,
                1,
                Some(200)
            ),
            (WireFormat::Ollama, "/api/chat", false, 2, Some(502)),
            (WireFormat::Anthropic, "/v1/messages", false, 3, Some(200)),
        ]
    );
    assert_eq!(log[1].fault, Some(Fault::Status { code: 502 }));
    assert!(
        log.windows(2)
            .all(|pair| pair[0].received_at <= pair[1].received_at)
    );

    let (status, body) = send(
        reqwest::Method::GET,
        format!("{}/_mock/requests", server.base_url()),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let over_http: Vec<LoggedRequest> = serde_json::from_str(&body).expect("log entries");
    assert_eq!(over_http, log);
    assert!(body.contains("\"format\":\"openai\""), "{body}");

    let (status, _) = send(
        reqwest::Method::DELETE,
        format!("{}/_mock/requests", server.base_url()),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert!(server.requests().is_empty());
    post(
        &server,
        "/v1/chat/completions",
        &openai_body("m", "x", false),
    )
    .await;
    assert_eq!(server.requests().len(), 1);
    server.clear_requests();
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn garbage_on_the_wire_gets_a_400_and_the_server_keeps_serving() {
    let server = server(vec![ModelBehaviour::echo("m")]).await;
    let mut stream = tokio::net::TcpStream::connect(server.addr())
        .await
        .expect("connects");
    stream
        .write_all(b"\x16\x03\x01\x00\xa5garbage\r\n\r\n")
        .await
        .expect("writes");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );

    let huge = "x".repeat(9 * 1024 * 1024);
    let response = client()
        .post(format!("{}/v1/chat/completions", server.base_url()))
        .body(huge)
        .send()
        .await;
    if let Ok(response) = response {
        assert_eq!(response.status().as_u16(), 413);
    }
    let (status, _, _) = post(
        &server,
        "/v1/chat/completions",
        &openai_body("m", "still here", false),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let server = server(vec![ModelBehaviour::echo("m")]).await;
    let addr = server.addr();
    let (status, _, _) = post(
        &server,
        "/v1/chat/completions",
        &openai_body("m", "x", false),
    )
    .await;
    assert_eq!(status, 200);
    tokio::time::timeout(Duration::from_secs(3), server.shutdown())
        .await
        .expect("shutdown is prompt");
    let refused = tokio::net::TcpStream::connect(addr).await;
    assert!(refused.is_err(), "nothing listens any more");
}

#[tokio::test]
async fn run_serves_until_its_signal() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("an address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = orkestra_mock::MockConfig {
        models: vec![ModelBehaviour::echo("m")],
        ..orkestra_mock::MockConfig::default()
    };
    let serving = tokio::spawn(orkestra_mock::MockServer::run(
        listener,
        config,
        async move {
            let _ = stopped.await;
        },
    ));
    let response = client()
        .post(format!("http://{addr}/v1/chat/completions"))
        .json(&openai_body("m", "x", false))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status().as_u16(), 200);
    stop.send(()).expect("the server waits");
    let result = tokio::time::timeout(Duration::from_secs(3), serving)
        .await
        .expect("run returns")
        .expect("the task completes");
    assert!(result.is_ok());
}
