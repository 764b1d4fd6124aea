use std::time::Duration;

use futures_util::StreamExt;
use orkestra_core::{Classify, Error, ErrorCategory};

use super::*;
use crate::test_server::{Step, TestServer, chunk, json, last_chunk, response, stream_head};

fn client(config: HttpConfig) -> HttpClient {
    HttpClient::new(config).unwrap()
}

fn fast() -> HttpConfig {
    HttpConfig {
        connect_timeout: Duration::from_secs(2),
        first_byte_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(300),
        total_timeout: Duration::from_secs(5),
        ..HttpConfig::default()
    }
}

#[track_caller]
fn check(error: &Error, category: ErrorCategory, fragment: &str) {
    assert_eq!(error.class().category, category, "{error}");
    assert!(
        error.message.contains(fragment),
        "{error} lacks {fragment:?}"
    );
}

#[test]
fn config_reads_human_durations_and_rejects_unknown_fields() {
    let config: HttpConfig = serde_json::from_str(
        r#"{"connect_timeout":"250ms","total_timeout":"2m","pool_max_idle_per_host":4}"#,
    )
    .unwrap();
    assert_eq!(config.connect_timeout, Duration::from_millis(250));
    assert_eq!(config.total_timeout, Duration::from_mins(2));
    assert_eq!(config.pool_max_idle_per_host, 4);
    assert_eq!(config.idle_timeout, HttpConfig::default().idle_timeout);

    let unknown = serde_json::from_str::<HttpConfig>(r#"{"conect_timeout":"1s"}"#).unwrap_err();
    assert!(unknown.to_string().contains("conect_timeout"), "{unknown}");

    let zero = HttpConfig {
        idle_timeout: Duration::ZERO,
        ..HttpConfig::default()
    };
    let error = HttpClient::new(zero).unwrap_err();
    check(&error, ErrorCategory::InvalidRequest, "http.idle_timeout");
}

#[tokio::test]
async fn a_body_is_read_whole_and_a_status_is_classified() {
    let server = TestServer::start(|request| {
        if request.request_line().starts_with("GET /ok") {
            vec![Step::Write(json(200, r#"{"ok":true}"#))]
        } else {
            let mut head =
                b"HTTP/1.1 429 Too Many\r\nretry-after: 3\r\ncontent-type: application/json\r\n"
                    .to_vec();
            let body = br#"{"error":{"message":"slow down","code":"rate_limit_exceeded"}}"#;
            head.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
            head.extend_from_slice(body);
            vec![Step::Write(head)]
        }
    })
    .await;
    let http = client(fast());
    let ok = http.send(http.get(&server.url("/ok"))).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.content_type(), Some("application/json"));
    let ok = ok.error_for_status().await.unwrap();
    assert_eq!(&ok.bytes().await.unwrap()[..], br#"{"ok":true}"#);

    let limited = http.send(http.get(&server.url("/limited"))).await.unwrap();
    let error = limited.error_for_status().await.unwrap_err();
    check(&error, ErrorCategory::RateLimited, "slow down");
    assert_eq!(error.status, Some(429));
    assert_eq!(error.class().retry_after, Some(Duration::from_secs(3)));
}

#[tokio::test]
async fn a_refused_connection_is_a_network_error_on_both_transports() {
    // Bind then drop a listener so the port is very likely closed.
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let http = client(fast());
    // `http://` is hyper_util's client, `https://` reqwest's over it: they classify alike.
    for scheme in ["http", "https"] {
        let error = http
            .send(http.get(&format!("{scheme}://{addr}/")))
            .await
            .unwrap_err();
        check(&error, ErrorCategory::Network, "connection refused");
        assert!(error.class().retryable, "{scheme}");
    }
}

#[tokio::test]
async fn a_reset_before_the_answer_is_a_network_error() {
    let server = TestServer::start(|_| vec![Step::Reset]).await;
    let http = client(fast());
    let error = http.send(http.get(&server.url("/"))).await.unwrap_err();
    assert_eq!(error.class().category, ErrorCategory::Network, "{error}");
}

#[tokio::test]
async fn silence_is_a_first_byte_timeout() {
    let server = TestServer::start(|_| vec![Step::Hang]).await;
    let http = client(fast());
    let error = http.send(http.get(&server.url("/"))).await.unwrap_err();
    check(&error, ErrorCategory::Timeout, "first_byte_timeout");
}

#[tokio::test]
async fn a_stalled_body_is_an_idle_timeout_and_a_long_one_a_total_timeout() {
    let stall = TestServer::start(|_| {
        vec![
            Step::Write(stream_head("text/plain")),
            Step::Write(chunk(b"first")),
            Step::Hang,
        ]
    })
    .await;
    let http = client(fast());
    let answer = http.send(http.get(&stall.url("/"))).await.unwrap();
    let mut body = answer.into_stream();
    assert_eq!(&body.next().await.unwrap().unwrap()[..], b"first");
    let error = body.next().await.unwrap().unwrap_err();
    check(&error, ErrorCategory::Timeout, "idle_timeout");
    assert!(body.next().await.is_none(), "nothing follows an error");

    // Chunks every 100 ms never trip the idle timeout, but the total one.
    let trickle = TestServer::start(|_| {
        let mut steps = vec![Step::Write(stream_head("text/plain"))];
        for _ in 0..30 {
            steps.push(Step::Write(chunk(b".")));
            steps.push(Step::Sleep(Duration::from_millis(100)));
        }
        steps
    })
    .await;
    let http = client(HttpConfig {
        total_timeout: Duration::from_millis(600),
        ..fast()
    });
    let answer = http.send(http.get(&trickle.url("/"))).await.unwrap();
    let error = answer.bytes().await.unwrap_err();
    check(&error, ErrorCategory::Timeout, "total_timeout");
}

#[tokio::test]
async fn bodies_over_the_cap_are_errors_with_or_without_a_length() {
    let big = vec![b'x'; 4096];
    let sized = TestServer::raw(response(200, "application/json", &big)).await;
    let chunked = TestServer::start(move |_| {
        let mut steps = vec![Step::Write(stream_head("application/json"))];
        steps.extend((0..8).map(|_| Step::Write(chunk(&[b'y'; 1024]))));
        steps.push(Step::Write(last_chunk()));
        steps
    })
    .await;
    let http = client(HttpConfig {
        max_body_bytes: 2048,
        ..fast()
    });
    for url in [sized.url("/"), chunked.url("/")] {
        let answer = http.send(http.get(&url)).await.unwrap();
        let error = answer.bytes().await.unwrap_err();
        check(&error, ErrorCategory::Internal, "2048-byte limit");
    }
}

#[tokio::test]
async fn a_body_cut_short_is_a_network_error() {
    let server = TestServer::start(|_| {
        vec![
            Step::Write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"id\":"
                    .to_vec(),
            ),
            Step::Reset,
        ]
    })
    .await;
    let http = client(fast());
    let answer = http.send(http.get(&server.url("/"))).await.unwrap();
    let error = answer.bytes().await.unwrap_err();
    check(&error, ErrorCategory::Network, "body read failed");
}

#[tokio::test]
async fn dropping_the_future_closes_the_connection() {
    let mut server = TestServer::start(|_| vec![Step::Hang]).await;
    let http = client(HttpConfig {
        first_byte_timeout: Duration::from_mins(1),
        ..fast()
    });
    let request = http.send(http.get(&server.url("/")));
    // The caller gives up after 100 ms: the future is dropped, not polled to its end.
    let gave_up = tokio::time::timeout(Duration::from_millis(100), request).await;
    assert!(gave_up.is_err());
    // The server sees the connection closed, long before any timeout of ours.
    tokio::time::timeout(Duration::from_secs(5), server.client_closed())
        .await
        .expect("the client closed the connection when the future was dropped");
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn connections_are_reused() {
    let server = TestServer::raw(json(200, "{}")).await;
    let http = client(fast());
    for _ in 0..3 {
        let answer = http.send(http.get(&server.url("/"))).await.unwrap();
        answer.bytes().await.unwrap();
    }
    assert_eq!(server.received().len(), 3);
    assert_eq!(server.connections(), 1, "one pooled keep-alive connection");
}

#[tokio::test]
async fn an_idle_connection_is_closed_in_the_background_once_past_its_idle_timeout() {
    let mut server = TestServer::raw(json(200, "{}")).await;
    let http = client(HttpConfig {
        pool_idle_timeout: Duration::from_millis(200),
        ..fast()
    });
    let answer = http.send(http.get(&server.url("/"))).await.unwrap();
    answer.bytes().await.unwrap();
    // No other call goes to this host: the pool closes the idle connection by itself.
    tokio::time::timeout(Duration::from_secs(5), server.client_closed())
        .await
        .expect("the idle connection was closed in the background");
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_pooled_connection_the_server_closed_is_replaced_without_an_error() {
    let server = TestServer::start(|_| vec![Step::Write(json(200, "{}")), Step::Close]).await;
    let http = client(fast());
    for round in 0..4 {
        let answer = http.send(http.get(&server.url("/"))).await.unwrap();
        assert_eq!(
            answer.bytes().await.unwrap().as_ref(),
            b"{}",
            "round {round}"
        );
        if round % 2 == 1 {
            // Give the connection task time to see the close; the other rounds race it.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert_eq!(server.received().len(), 4, "each request sent once");
    assert_eq!(server.connections(), 4, "a new connection after each close");
}

#[tokio::test]
async fn a_body_dropped_half_read_closes_its_connection() {
    let mut server = TestServer::start(|request| {
        if request.request_line().starts_with("GET /stream") {
            vec![
                Step::Write(stream_head("text/plain")),
                Step::Write(chunk(b"first")),
                Step::Hang,
            ]
        } else {
            vec![Step::Write(json(200, "{}"))]
        }
    })
    .await;
    let http = client(fast());
    let answer = http.send(http.get(&server.url("/stream"))).await.unwrap();
    let mut body = answer.into_stream();
    assert_eq!(&body.next().await.unwrap().unwrap()[..], b"first");
    drop(body);
    tokio::time::timeout(Duration::from_secs(5), server.client_closed())
        .await
        .expect("the half-read connection was closed, not pooled");
    let answer = http.send(http.get(&server.url("/ok"))).await.unwrap();
    assert_eq!(answer.bytes().await.unwrap().as_ref(), b"{}");
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn requests_carry_host_user_agent_and_the_headers_set() {
    let server = TestServer::raw(json(200, "{}")).await;
    let http = client(fast());
    let mut headers = HeaderMap::new();
    headers.insert("x-first", HeaderValue::from_static("1"));
    headers.insert("x-replaced", HeaderValue::from_static("old"));
    let request = http
        .post(&server.url("/v1/chat?x=1"))
        .headers(headers)
        .header("x-replaced", "new")
        .json(&serde_json::json!({"a": 1}));
    http.send(request).await.unwrap().bytes().await.unwrap();
    let received = &server.received()[0];
    assert_eq!(received.request_line(), "POST /v1/chat?x=1 HTTP/1.1");
    assert_eq!(
        received.header("host"),
        Some(server.url("").trim_start_matches("http://"))
    );
    assert!(
        received
            .header("user-agent")
            .unwrap()
            .starts_with("orkestra/")
    );
    assert_eq!(received.header("x-first"), Some("1"));
    assert_eq!(received.header("x-replaced"), Some("new"));
    assert_eq!(received.header("content-length"), Some("7"));
    assert_eq!(received.body, b"{\"a\":1}");
}

#[tokio::test]
async fn bad_urls_and_headers_are_invalid_requests_naming_them() {
    for (url, fragment) in [
        ("ftp://example.com/", "must start with http:// or https://"),
        ("http://user:secret@example.com/", "credentials in the URL"),
        ("http:///v1", "invalid URL"),
        ("https://exa mple.com/", "invalid URL"),
    ] {
        let error = Endpoint::parse(url).unwrap_err();
        check(&error, ErrorCategory::InvalidRequest, fragment);
    }
    let http = client(fast());
    let error = http
        .send(
            http.get("http://127.0.0.1:9/")
                .header("x-bad", "line\nbreak"),
        )
        .await
        .unwrap_err();
    check(&error, ErrorCategory::InvalidRequest, "header x-bad");
}
