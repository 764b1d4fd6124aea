//! Helpers shared by the suite: servers, clients, and readers for SSE and NDJSON.

use std::time::Duration;

use orkestra_mock::{MockConfig, MockServer, ModelBehaviour};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A server with these models and seed 7.
pub(crate) async fn server(models: Vec<ModelBehaviour>) -> MockServer {
    server_with(MockConfig {
        seed: 7,
        models,
        default_model: None,
    })
    .await
}

pub(crate) async fn server_with(config: MockConfig) -> MockServer {
    MockServer::start(config).await.expect("the server starts")
}

/// A reqwest client without proxies; reqwest needs a rustls provider even for plain HTTP.
pub(crate) fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client builds")
}

/// POSTs JSON and returns status, headers and body text.
pub(crate) async fn post(
    server: &MockServer,
    path: &str,
    body: &Value,
) -> (u16, reqwest::header::HeaderMap, String) {
    let response = client()
        .post(format!("{}{path}", server.base_url()))
        .json(body)
        .send()
        .await
        .expect("the request is answered");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("the body reads");
    (status, headers, text)
}

/// POSTs JSON and parses the JSON answer.
pub(crate) async fn post_json(server: &MockServer, path: &str, body: &Value) -> (u16, Value) {
    let (status, _, text) = post(server, path, body).await;
    let value = serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}: {text}"));
    (status, value)
}

/// An OpenAI chat body with one user message.
pub(crate) fn openai_body(model: &str, text: &str, stream: bool) -> Value {
    serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "stream": stream,
    })
}

/// One server-sent event: its `event:` name (if any) and its `data:` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) name: Option<String>,
    pub(crate) data: String,
}

/// Splits an SSE body into events; panics on a line that is neither `event:` nor `data:`.
pub(crate) fn sse(body: &str) -> Vec<Event> {
    body.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut event = Event {
                name: None,
                data: String::new(),
            };
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event.name = Some(name.to_owned());
                } else if let Some(data) = line.strip_prefix("data: ") {
                    event.data.push_str(data);
                } else {
                    panic!("unexpected SSE line {line:?} in {body}");
                }
            }
            event
        })
        .collect()
}

/// Parses every event's data as JSON.
pub(crate) fn sse_json(events: &[Event]) -> Vec<Value> {
    events
        .iter()
        .map(|event| {
            serde_json::from_str(&event.data)
                .unwrap_or_else(|error| panic!("{error}: {}", event.data))
        })
        .collect()
}

/// Sends a raw HTTP/1.1 request with `Connection: close` and reads until the server closes.
/// Returns what was read and how reading ended.
pub(crate) async fn raw_post(
    server: &MockServer,
    path: &str,
    body: &str,
) -> (String, std::io::Result<()>) {
    let mut stream = TcpStream::connect(server.addr()).await.expect("connects");
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: mock\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("writes");
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    let ended = loop {
        match stream.read(&mut buffer).await {
            Ok(0) => break Ok(()),
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(error) => break Err(error),
        }
    };
    (String::from_utf8_lossy(&received).into_owned(), ended)
}

/// The body of a raw HTTP response (after the blank line), chunked encoding removed.
pub(crate) fn raw_body(response: &str) -> String {
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {response:?}"));
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return body.to_owned();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            out.push_str(&after[..after.len().min(size)]);
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].strip_prefix("\r\n").unwrap_or("");
    }
    out
}

/// Whether a raw chunked response ended with the terminating zero-length chunk.
pub(crate) fn chunked_complete(response: &str) -> bool {
    response.ends_with("0\r\n\r\n")
}
