//! One connection over an in-memory pipe, on tokio's paused clock: every deadline is exact, and
//! no test waits on the wall clock.

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse as _, Response};
use axum::routing::post;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{Limits, builder, connection};
use crate::request::read_body;

const LIMITS: Limits = Limits {
    header_read: Duration::from_secs(2),
    body_read: Duration::from_secs(5),
    idle: Duration::from_secs(30),
};

/// Answers the length of the body it read, or the error reading it.
async fn length(request: Request) -> Response {
    let (parts, body) = request.into_parts();
    match read_body(&parts.headers, body, 1_024).await {
        Ok(body) => body.len().to_string().into_response(),
        Err(error) => error.into_response(),
    }
}

/// A connection served in a task, and the client's end of it.
fn open() -> (DuplexStream, JoinHandle<Result<(), hyper::Error>>) {
    let (client, server_end) = tokio::io::duplex(64 * 1_024);
    let app = Router::new()
        .route("/length", post(length))
        .route("/ping", axum::routing::get(|| async { "pong" }));
    let task = tokio::spawn(connection(server_end, app, LIMITS, &builder()));
    (client, task)
}

fn request(body: &str) -> String {
    format!(
        "POST /length HTTP/1.1\r\nhost: gateway\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Reads one response: its head, then as many body bytes as its `content-length` says.
async fn response(client: &mut DuplexStream) -> String {
    let mut received = Vec::new();
    let mut chunk = [0_u8; 4_096];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length: "))
                .and_then(|length| length.parse().ok())
                .expect("a content-length");
            if body.len() >= length {
                return text;
            }
        }
        let read = client.read(&mut chunk).await.expect("the pipe reads");
        assert!(read > 0, "the connection closed mid-response: {text:?}");
        received.extend_from_slice(&chunk[..read]);
    }
}

/// Waits for the server to close the connection; what it sent before, and when it closed.
///
/// A connection left open fails the test after an hour of paused time, instead of hanging it.
async fn closed(client: &mut DuplexStream) -> (String, Instant) {
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_hours(1), client.read_to_end(&mut rest))
        .await
        .expect("the server closed the connection")
        .expect("the pipe reads");
    (String::from_utf8_lossy(&rest).into_owned(), Instant::now())
}

#[tokio::test(start_paused = true)]
async fn a_half_request_is_closed_at_the_header_read_timeout() {
    let (mut client, served) = open();
    let started = Instant::now();
    client
        .write_all(b"POST /length HTTP/1.1\r\nhost: gateway\r\n")
        .await
        .expect("written");
    let (answered, at) = closed(&mut client).await;
    assert_eq!(answered, "", "nothing is answered to half a request");
    assert_eq!(at - started, LIMITS.header_read);
    let ended = served.await.expect("no panic");
    assert!(
        ended.is_err(),
        "the connection ends on its timeout: {ended:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_new_connection_is_closed_at_the_header_read_timeout() {
    let (mut client, _served) = open();
    let started = Instant::now();
    let (answered, at) = closed(&mut client).await;
    assert_eq!(answered, "");
    assert_eq!(at - started, LIMITS.header_read);
}

#[tokio::test(start_paused = true)]
async fn headers_sent_a_byte_at_a_time_must_all_arrive_within_the_header_read_timeout() {
    let (mut client, _served) = open();
    let head = request("");
    let started = Instant::now();
    for byte in head.as_bytes() {
        // Each byte comes well within any per-read timeout, the whole head does not; once the
        // connection is closed, writing fails.
        if client.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (answered, at) = closed(&mut client).await;
    assert_eq!(answered, "");
    assert!(at - started <= LIMITS.header_read + Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn an_idle_keep_alive_connection_is_closed_at_the_idle_timeout() {
    let (mut client, _served) = open();
    client
        .write_all(request("hi").as_bytes())
        .await
        .expect("written");
    let answer = response(&mut client).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("\r\n\r\n2"), "{answer}");
    let idle_since = Instant::now();
    let (answered, at) = closed(&mut client).await;
    assert_eq!(answered, "");
    // The idle wait is its own deadline, not the (shorter) header-read one.
    assert_eq!(at - idle_since, LIMITS.idle);
}

#[tokio::test(start_paused = true)]
async fn a_connection_idle_after_a_request_without_body_is_closed_at_the_idle_timeout() {
    // hyper reads such a connection while it answers, then may not read again by itself.
    let (mut client, _served) = open();
    client
        .write_all(b"GET /ping HTTP/1.1\r\nhost: gateway\r\n\r\n")
        .await
        .expect("written");
    let answer = response(&mut client).await;
    assert!(answer.ends_with("pong"), "{answer}");
    let idle_since = Instant::now();
    let (answered, at) = closed(&mut client).await;
    assert_eq!(answered, "");
    assert_eq!(at - idle_since, LIMITS.idle);
}

#[tokio::test(start_paused = true)]
async fn each_answer_restarts_the_idle_wait_and_the_connection_is_reused() {
    let (mut client, _served) = open();
    for body in ["one", "three", "fifteen"] {
        client
            .write_all(request(body).as_bytes())
            .await
            .expect("written");
        let answer = response(&mut client).await;
        assert!(
            answer.ends_with(&format!("\r\n\r\n{}", body.len())),
            "{answer}"
        );
        // Most of the idle timeout passes between requests, and more than the header timeout.
        tokio::time::sleep(LIMITS.idle.saturating_sub(Duration::from_secs(1))).await;
    }
}

#[tokio::test(start_paused = true)]
async fn headers_that_arrive_in_parts_within_the_timeout_are_answered() {
    let (mut client, _served) = open();
    let whole = request("abc");
    let (first, second) = whole.split_at(20);
    client.write_all(first.as_bytes()).await.expect("written");
    tokio::time::sleep(LIMITS.header_read.saturating_sub(Duration::from_millis(1))).await;
    client.write_all(second.as_bytes()).await.expect("written");
    let answer = response(&mut client).await;
    assert!(answer.ends_with("\r\n\r\n3"), "{answer}");
}

#[tokio::test(start_paused = true)]
async fn a_body_still_arriving_at_the_body_read_timeout_is_408() {
    let (mut client, _served) = open();
    let started = Instant::now();
    client
        .write_all(b"POST /length HTTP/1.1\r\nhost: gateway\r\ncontent-length: 10\r\n\r\nabc")
        .await
        .expect("written");
    let answer = response(&mut client).await;
    assert_eq!(started.elapsed(), LIMITS.body_read);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    assert!(answer.contains("server.body_read_timeout"), "{answer}");
}

#[tokio::test(start_paused = true)]
async fn a_slow_answer_is_not_cut_by_the_connection_deadlines() {
    async fn slow() -> &'static str {
        tokio::time::sleep(LIMITS.idle * 2).await;
        "done"
    }
    let (mut client, server) = tokio::io::duplex(4_096);
    let app = Router::new().route("/length", post(slow));
    let _served = tokio::spawn(connection(server, app, LIMITS, &builder()));
    client
        .write_all(request("").as_bytes())
        .await
        .expect("written");
    let answer = response(&mut client).await;
    assert!(answer.ends_with("done"), "{answer}");
}
