//! The gateway on a real loopback listener, called with reqwest: echo models for answers, a
//! scripted backend for failures, slowness and cut streams.

// Helpers outside `#[test]` functions panic on purpose: a broken fixture is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use orkestra::Orchestrator;
use orkestra::config::ServerConfig;
use orkestra::models::{ModelId, ModelSpec, TokenPrice};
use orkestra::resilience::rate_limit::RateLimitConfig;
use orkestra::resilience::{PipelineConfig, RetryConfig};
use orkestra_core::{
    ChatBackend, ChatRequest, ChatResponse, ChatStream, Choice, Delta, Error, ErrorCategory,
    ErrorClass, FinishReason, Message, StreamEvent, UpstreamDetails,
};
use orkestra_providers::EchoBackend;
use serde_json::{Value, json};

/// What the scripted backend does on every call.
#[derive(Clone)]
enum Script {
    /// Fails with this class before answering.
    Fail(ErrorClass),
    /// Answers `slow` after this long.
    Slow(Duration),
    /// Streams one token, then fails as a reset connection would.
    CutAfterFirstToken,
    /// Fails as an OpenAI-compatible server does on a prompt too long for its model: HTTP 400
    /// with its own error body.
    ContextTooLong,
    /// Answers with the name of the thread it was called on.
    ThreadName,
}

struct Scripted {
    script: Script,
    calls: AtomicUsize,
}

impl Scripted {
    fn new(script: Script) -> Arc<Self> {
        Arc::new(Self {
            script,
            calls: AtomicUsize::new(0),
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

fn answer(text: &str) -> ChatResponse {
    ChatResponse {
        id: "chatcmpl-scripted".to_owned(),
        object: "chat.completion".to_owned(),
        created: 1,
        model: "a".to_owned(),
        choices: vec![Choice {
            index: 0,
            message: Message::assistant(text),
            finish_reason: Some(FinishReason::Stop),
            extra: serde_json::Map::new(),
        }],
        usage: None,
        extra: serde_json::Map::new(),
    }
}

#[async_trait]
impl ChatBackend for Scripted {
    async fn chat(&self, _request: &ChatRequest) -> Result<ChatResponse, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match &self.script {
            Script::Fail(class) => Err(Error::with_class(*class, "scripted failure")),
            Script::Slow(delay) => {
                tokio::time::sleep(*delay).await;
                Ok(answer("slow"))
            }
            Script::CutAfterFirstToken => Ok(answer("whole")),
            Script::ContextTooLong => Err(Error::new(
                ErrorCategory::ContextLength,
                "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
            )
            .with_status(400)
            .with_model("a")
            .with_upstream(UpstreamDetails::new(
                Some("invalid_request_error".to_owned()),
                Some("context_length_exceeded".to_owned()),
                Some("messages".to_owned()),
            ))),
            Script::ThreadName => Ok(answer(
                std::thread::current().name().unwrap_or("unnamed"),
            )),
        }
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        if matches!(self.script, Script::CutAfterFirstToken) {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let events: Vec<Result<StreamEvent, Error>> = vec![
                Ok(StreamEvent::Delta(Delta::text(0, "Hel"))),
                Err(Error::new(
                    ErrorCategory::Network,
                    "connection reset by peer",
                )),
            ];
            return Ok(Box::pin(futures_util::stream::iter(events)));
        }
        let response = self.chat(request).await?;
        let events: Vec<Result<StreamEvent, Error>> = vec![
            Ok(StreamEvent::Delta(Delta::text(0, response.text()))),
            Ok(StreamEvent::Finish {
                index: 0,
                reason: FinishReason::Stop,
            }),
        ];
        Ok(Box::pin(futures_util::stream::iter(events)))
    }
}

fn spec(id: &str, millinanos_per_token: u64) -> ModelSpec {
    let mut spec = ModelSpec::new(ModelId::new(id).expect("a valid model id"), 8_192);
    spec.input_price = TokenPrice::from_millinanos_per_token(millinanos_per_token);
    spec.output_price = TokenPrice::from_millinanos_per_token(millinanos_per_token);
    spec
}

/// One attempt per model, so a scripted failure is answered at once.
fn single_attempt() -> PipelineConfig {
    PipelineConfig {
        retry: Some(RetryConfig {
            max_attempts: 1,
            ..RetryConfig::default()
        }),
        ..PipelineConfig::default()
    }
}

/// Two echo models, `echo/cheap` and `echo/pricey`.
fn echo_orchestrator() -> Orchestrator {
    Orchestrator::builder()
        .model(spec("echo/cheap", 100))
        .model(spec("echo/pricey", 100_000))
        .backend("echo", Arc::new(EchoBackend::new()))
        .build()
        .expect("a valid orchestrator")
}

/// `scripted/a`, served by `backend`.
fn scripted_orchestrator(backend: &Arc<Scripted>) -> Orchestrator {
    Orchestrator::builder()
        .model(spec("scripted/a", 100))
        .backend("scripted", Arc::clone(backend) as Arc<dyn ChatBackend>)
        .resilience(single_attempt())
        .build()
        .expect("a valid orchestrator")
}

/// `scripted/a` (cheap) and `scripted/b` (pricey), both 8K windows, served by `backend`.
fn cheap_and_pricey(backend: &Arc<Scripted>) -> Orchestrator {
    Orchestrator::builder()
        .model(spec("scripted/a", 100))
        .model(spec("scripted/b", 100_000))
        .backend("scripted", Arc::clone(backend) as Arc<dyn ChatBackend>)
        .build()
        .expect("an orchestrator")
}

struct Gateway {
    base: String,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Gateway {
    async fn start(orchestrator: Orchestrator) -> Self {
        Self::with_config(orchestrator, ServerConfig::default()).await
    }

    async fn with_config(orchestrator: Orchestrator, config: ServerConfig) -> Self {
        Self::serving(orchestrator, config, false).await
    }

    /// Served by `serve_on_workers`: connections on `config.workers` threads of their own.
    async fn on_workers(orchestrator: Orchestrator, config: ServerConfig) -> Self {
        Self::serving(orchestrator, config, true).await
    }

    async fn serving(orchestrator: Orchestrator, config: ServerConfig, on_workers: bool) -> Self {
        // reqwest is built without a default TLS provider; plain HTTP still builds a TLS config.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let served = if on_workers {
            tokio::spawn(orkestra_server::serve_on_workers(
                listener,
                orchestrator,
                config,
                shutdown,
            ))
        } else {
            tokio::spawn(orkestra_server::serve(
                listener,
                orchestrator,
                config,
                shutdown,
            ))
        };
        Self {
            base,
            http: reqwest::Client::new(),
            stop: Some(stop),
            served,
        }
    }

    async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .expect("the gateway answers")
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("the gateway answers")
    }

    /// Stops accepting and waits for `serve` to return.
    async fn shut_down(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.served.await.expect("serve did not panic")
    }
}

fn chat(model: &str, prompt: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": prompt}]})
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .expect("an ASCII header")
}

/// The `data:` payloads of an SSE body, in order.
fn sse_data(body: &str) -> Vec<&str> {
    body.split("\n\n")
        .filter(|event| !event.is_empty())
        .map(|event| {
            event
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not a data event: {event:?}"))
        })
        .collect()
}

async fn error_of(response: reqwest::Response) -> Value {
    let body: Value = response.json().await.expect("a JSON error body");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(body["error"]["type"].is_string(), "{body}");
    assert!(body["error"].get("param").is_some(), "{body}");
    body["error"].clone()
}

#[tokio::test]
async fn plain_completion_answers_with_the_routing_headers() {
    let gateway = Gateway::start(echo_orchestrator()).await;
    let response = gateway
        .http
        .post(format!("{}/v1/chat/completions", gateway.base))
        .header("x-request-id", "client-42")
        .json(&chat("echo/pricey", "ping"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "application/json");
    assert_eq!(header(&response, "x-orkestra-model"), "echo/pricey");
    assert_eq!(header(&response, "x-orkestra-attempts"), "1");
    assert_eq!(header(&response, "x-request-id"), "client-42");
    let overhead = header(&response, "x-orkestra-overhead-ms");
    let decimals = overhead.split_once('.').map(|(_, d)| d.len());
    assert_eq!(decimals, Some(3), "overhead {overhead}");
    assert!(overhead.parse::<f64>().expect("a number") >= 0.0);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "echo/pricey");
    assert_eq!(body["choices"][0]["message"]["content"], "ping");

    let response = gateway
        .post("/v1/chat/completions", &chat("echo/cheap", "ping"))
        .await;
    assert!(
        header(&response, "x-request-id").starts_with("req-"),
        "a request id is made when the client sent none"
    );
}

#[tokio::test]
async fn streaming_sends_chunks_then_done_and_usage_only_when_asked() {
    let gateway = Gateway::start(echo_orchestrator()).await;
    let mut request = chat("echo/cheap", "one two three");
    request["stream"] = json!(true);
    request["stream_options"] = json!({"include_usage": true});
    let response = gateway.post("/v1/chat/completions", &request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "text/event-stream");
    assert_eq!(header(&response, "x-orkestra-model"), "echo/cheap");
    assert_eq!(header(&response, "x-orkestra-attempts"), "1");
    assert!(response.headers().contains_key("x-orkestra-overhead-ms"));
    let body = response.text().await.expect("a body");
    let events = sse_data(&body);
    assert_eq!(events.last(), Some(&"[DONE]"), "{body}");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|data| serde_json::from_str(data).expect("a JSON chunk"))
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "one two three");
    assert!(
        chunks
            .iter()
            .all(|chunk| chunk["object"] == "chat.completion.chunk"
                && chunk["model"] == "echo/cheap")
    );
    let finish = chunks
        .iter()
        .find_map(|chunk| chunk["choices"][0]["finish_reason"].as_str());
    assert_eq!(finish, Some("stop"));
    let usage = chunks.last().expect("chunks")["usage"].clone();
    assert!(usage["completion_tokens"].as_u64().is_some(), "{body}");

    request
        .as_object_mut()
        .expect("an object")
        .remove("stream_options");
    let body = gateway
        .post("/v1/chat/completions", &request)
        .await
        .text()
        .await
        .expect("a body");
    assert!(
        !body.contains("\"usage\""),
        "usage without include_usage: {body}"
    );
    assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
}

#[tokio::test]
async fn auto_cost_picks_the_cheapest_model() {
    let gateway = Gateway::start(echo_orchestrator()).await;
    let response = gateway
        .post("/v1/chat/completions", &chat("auto:cost", "What is 2 + 2?"))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-orkestra-model"), "echo/cheap");
}

#[tokio::test]
async fn an_unknown_model_is_404_model_not_found() {
    let gateway = Gateway::start(echo_orchestrator()).await;
    let response = gateway
        .post("/v1/chat/completions", &chat("nobody/nothing", "hi"))
        .await;
    assert_eq!(response.status(), 404);
    assert_eq!(header(&response, "x-orkestra-attempts"), "0");
    let error = error_of(response).await;
    assert_eq!(error["code"], "model_not_found");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("nobody/nothing")),
        "{error}"
    );
}

#[tokio::test]
async fn bad_json_is_400_naming_the_position() {
    let gateway = Gateway::start(echo_orchestrator()).await;
    let response = gateway
        .http
        .post(format!("{}/v1/chat/completions", gateway.base))
        .header("content-type", "application/json")
        .body("{\"model\": \"auto\",\n \"messages\": [{\"role\": 7}]}")
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), 400);
    assert!(response.headers().contains_key("x-request-id"));
    let error = error_of(response).await;
    assert_eq!(error["type"], "invalid_request_error");
    assert_eq!(error["param"], "messages[0].role");
    let message = error["message"].as_str().expect("a message");
    assert!(message.contains("line 2, column"), "{message}");

    let response = gateway
        .post(
            "/v1/chat/completions",
            &json!({"model": "auto", "messages": []}),
        )
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_of(response).await["param"], "messages");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let config = ServerConfig {
        body_limit: 1_024,
        ..ServerConfig::default()
    };
    let gateway = Gateway::with_config(echo_orchestrator(), config).await;
    let response = gateway
        .post("/v1/chat/completions", &chat("auto", &"x".repeat(4_096)))
        .await;
    assert_eq!(response.status(), 413);
    assert_eq!(error_of(response).await["code"], "request_too_large");
    let response = gateway
        .post("/v1/chat/completions", &chat("auto", "small"))
        .await;
    assert_eq!(response.status(), 200, "a body under the limit passes");
}

#[tokio::test]
async fn a_stream_cut_after_its_first_token_ends_with_an_error_event_and_no_done() {
    let backend = Scripted::new(Script::CutAfterFirstToken);
    let gateway = Gateway::start(scripted_orchestrator(&backend)).await;
    let mut request = chat("scripted/a", "hello");
    request["stream"] = json!(true);
    let response = gateway.post("/v1/chat/completions", &request).await;
    assert_eq!(response.status(), 200, "the first token was already sent");
    let body = response.text().await.expect("a body");
    let events = sse_data(&body);
    assert!(
        !events.contains(&"[DONE]"),
        "a cut stream must not finish: {body}"
    );
    let first: Value = serde_json::from_str(events[0]).expect("a chunk");
    assert_eq!(first["choices"][0]["delta"]["content"], "Hel");
    let last: Value = serde_json::from_str(events.last().expect("events")).expect("JSON");
    assert_eq!(last["error"]["code"], "upstream_unreachable", "{body}");
    assert!(
        last["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("connection reset")),
        "{body}"
    );
}

#[tokio::test]
async fn upstream_failures_are_gateway_errors_with_attempts() {
    let class =
        ErrorClass::new(ErrorCategory::RateLimited).with_retry_after(Duration::from_millis(1_200));
    let backend = Scripted::new(Script::Fail(class));
    let gateway = Gateway::start(scripted_orchestrator(&backend)).await;
    let response = gateway
        .post("/v1/chat/completions", &chat("scripted/a", "hi"))
        .await;
    assert_eq!(response.status(), 429);
    assert_eq!(header(&response, "retry-after"), "2");
    assert_eq!(header(&response, "x-orkestra-attempts"), "1");
    assert_eq!(header(&response, "x-orkestra-model"), "scripted/a");
    assert_eq!(error_of(response).await["type"], "rate_limit_error");

    let backend = Scripted::new(Script::Fail(ErrorClass::new(ErrorCategory::Auth)));
    let gateway = Gateway::start(scripted_orchestrator(&backend)).await;
    let response = gateway
        .post("/v1/chat/completions", &chat("scripted/a", "hi"))
        .await;
    assert_eq!(
        response.status(),
        502,
        "the upstream key failed, not the caller's"
    );
    assert_eq!(error_of(response).await["code"], "upstream_auth_failed");
}

#[tokio::test]
async fn upstream_errors_are_passed_on_as_the_upstream_wrote_them() {
    let backend = Scripted::new(Script::ContextTooLong);
    let gateway = Gateway::start(scripted_orchestrator(&backend)).await;
    let response = gateway
        .post("/v1/chat/completions", &chat("scripted/a", "hi"))
        .await;
    assert_eq!(response.status(), 400);
    let error = error_of(response).await;
    // No category prefix, no `(HTTP 400)`, no `[model ...]` suffix: the upstream's words.
    assert_eq!(
        error["message"],
        "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens."
    );
    assert_eq!(error["type"], "invalid_request_error");
    assert_eq!(error["code"], "context_length_exceeded");
    assert_eq!(error["param"], "messages");
    assert!(
        error["model"].is_string(),
        "the model is named apart: {error}"
    );
}

#[tokio::test]
async fn route_explains_the_choice_without_calling_any_model() {
    let backend = Scripted::new(Script::Slow(Duration::ZERO));
    let gateway = Gateway::start(cheap_and_pricey(&backend)).await;
    let response = gateway
        .post(
            "/v1/route",
            &chat("auto:cost", "Write a haiku about the sea"),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(backend.calls(), 0, "routing must not call a model");
    assert_eq!(body["target"], json!({"kind": "auto", "strategy": "cost"}));
    assert_eq!(body["chain"], json!(["scripted/a", "scripted/b"]));
    assert!(body["task"]["input_tokens"].as_u64().is_some(), "{body}");
    let ranked = body["selection"]["ranked"].as_array().expect("a ranking");
    assert_eq!(ranked[0]["model"], "scripted/a");
    assert!(
        ranked[0]["breakdown"]["cost"]["contribution"].is_number(),
        "{body}"
    );
    let explain = body["explain"].as_str().expect("an explanation");
    assert!(explain.contains("strategy cost"), "{explain}");
    assert!(
        explain.contains("chain: scripted/a -> scripted/b"),
        "{explain}"
    );

    let response = gateway.post("/v1/route", &chat("scripted/b", "hi")).await;
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(
        body["target"],
        json!({"kind": "model", "model": "scripted/b"})
    );
    assert_eq!(body["selection"], Value::Null);
    assert_eq!(backend.calls(), 0);
}

#[tokio::test]
async fn auto_no_model_can_serve_is_a_400_of_its_cause_and_route_explains_it_with_200() {
    let backend = Scripted::new(Script::Slow(Duration::ZERO));
    let gateway = Gateway::start(cheap_and_pricey(&backend)).await;
    // About 10K tokens, for two 8K windows.
    let long = chat("auto", &"word ".repeat(8_000));
    let mut json_mode = chat("auto", "List three colours.");
    json_mode["response_format"] = json!({"type": "json_object"});
    for (body, code, says) in [
        (&long, "context_length_exceeded", "context window is 8192"),
        (&json_mode, "invalid_request", "requires json_mode"),
    ] {
        let response = gateway.post("/v1/chat/completions", body).await;
        assert_eq!(response.status(), 400);
        let error = error_of(response).await;
        assert_eq!(error["code"], code, "{error}");
        let message = error["message"].as_str().expect("a message");
        assert!(message.contains(says), "{message}");
        assert!(
            message.contains("scripted/a") && message.contains("scripted/b"),
            "model by model: {message}"
        );

        let response = gateway.post("/v1/route", body).await;
        assert_eq!(response.status(), 200, "explaining is the route's job");
        let explained: Value = response.json().await.expect("JSON");
        assert_eq!(explained["chain"], json!([]));
        assert_eq!(explained["refusal"]["status"], 400, "{explained}");
        assert_eq!(explained["refusal"]["code"], code, "{explained}");
        assert_eq!(explained["refusal"]["message"], message, "{explained}");
        let excluded = explained["excluded"].as_array().expect("exclusions");
        assert_eq!(excluded.len(), 2, "{explained}");
        let text = explained["explain"].as_str().expect("an explanation");
        assert!(text.contains("refused: "), "{text}");
    }
    // A named model with a window too small is refused the same way, before any call.
    let response = gateway
        .post(
            "/v1/chat/completions",
            &chat("scripted/a", &"word ".repeat(8_000)),
        )
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_of(response).await["code"], "context_length_exceeded");
    assert_eq!(backend.calls(), 0);
}

#[tokio::test]
async fn an_empty_model_is_400_naming_model() {
    let gateway = Gateway::start(echo_orchestrator()).await;
    let response = gateway.post("/v1/chat/completions", &chat("", "hi")).await;
    assert_eq!(response.status(), 400);
    let error = error_of(response).await;
    assert_eq!(error["code"], "invalid_request", "{error}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("model:")),
        "{error}"
    );
}

#[tokio::test]
async fn models_lists_auto_then_the_served_models() {
    let orchestrator = Orchestrator::builder()
        .model(spec("echo/cheap", 100))
        .model(spec("elsewhere/unserved", 100))
        .backend("echo", Arc::new(EchoBackend::new()))
        .build()
        .expect("an orchestrator");
    let gateway = Gateway::start(orchestrator).await;
    let body: Value = gateway.get("/v1/models").await.json().await.expect("JSON");
    assert_eq!(body["object"], "list");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|entry| entry["id"].as_str())
        .collect();
    assert_eq!(ids[0], "auto");
    assert!(ids.contains(&"auto:cost"));
    assert!(ids.contains(&"echo/cheap"));
    assert!(!ids.contains(&"elsewhere/unserved"), "no backend serves it");
    let entry = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|entry| entry["id"] == "echo/cheap")
        .expect("the echo model");
    assert_eq!(entry["owned_by"], "echo");
    assert_eq!(entry["object"], "model");
    assert!(entry["created"].as_u64().is_some());
}

#[tokio::test]
async fn healthz_passes_and_readyz_needs_a_callable_model() {
    let gateway = Gateway::start(echo_orchestrator()).await;
    let response = gateway.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "application/health+json");
    assert_eq!(
        response.json::<Value>().await.expect("JSON")["status"],
        "pass"
    );
    let response = gateway.get("/readyz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.expect("JSON")["status"],
        "pass"
    );

    let unserved = Orchestrator::builder()
        .model(spec("elsewhere/unserved", 100))
        .build()
        .expect("an orchestrator");
    let gateway = Gateway::start(unserved).await;
    let response = gateway.get("/readyz").await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["status"], "fail");
    assert_eq!(body["checks"]["models"]["status"], "fail");
    assert_eq!(body["checks"]["storage"]["status"], "pass");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_openai_shape() {
    let gateway = Gateway::start(echo_orchestrator()).await;
    let response = gateway.get("/v1/nothing").await;
    assert_eq!(response.status(), 404);
    assert_eq!(error_of(response).await["code"], "unknown_url");
    let response = gateway.get("/v1/chat/completions").await;
    assert_eq!(response.status(), 405);
    assert_eq!(error_of(response).await["code"], "method_not_allowed");
}

#[tokio::test]
async fn graceful_shutdown_drains_an_in_flight_request() {
    let backend = Scripted::new(Script::Slow(Duration::from_millis(300)));
    let gateway = Gateway::start(scripted_orchestrator(&backend)).await;
    let base = gateway.base.clone();
    check_drains_an_in_flight_request(gateway, &backend).await;
    let after = reqwest::Client::new()
        .get(format!("{base}/healthz"))
        .send()
        .await;
    assert!(after.is_err(), "the listener is closed after shutdown");
}

/// Shuts `gateway` down while a request to `backend` (slow) is under way: it is answered.
async fn check_drains_an_in_flight_request(gateway: Gateway, backend: &Scripted) {
    let in_flight = {
        let http = gateway.http.clone();
        let url = format!("{}/v1/chat/completions", gateway.base);
        tokio::spawn(async move {
            http.post(url)
                .json(&chat("scripted/a", "take your time"))
                .send()
                .await
        })
    };
    while backend.calls() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    gateway.shut_down().await.expect("serve returns cleanly");
    let response = in_flight
        .await
        .expect("the request task")
        .expect("the in-flight request was answered, not cut");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["choices"][0]["message"]["content"], "slow");
}

#[tokio::test]
async fn on_workers_each_connection_stays_on_one_thread_and_connections_take_turns() {
    let backend = Scripted::new(Script::ThreadName);
    let config = ServerConfig {
        workers: 2,
        ..ServerConfig::default()
    };
    let gateway = Gateway::on_workers(scripted_orchestrator(&backend), config).await;
    let url = format!("{}/v1/chat/completions", gateway.base);
    let mut threads = Vec::new();
    for _ in 0..4 {
        // A client of its own is a connection of its own, kept alive for its two requests.
        let http = reqwest::Client::new();
        for _ in 0..2 {
            let response = http
                .post(&url)
                .json(&chat("scripted/a", "which thread?"))
                .send()
                .await
                .expect("the gateway answers");
            assert_eq!(response.status(), 200);
            let body: Value = response.json().await.expect("JSON");
            threads.push(body["choices"][0]["message"]["content"].clone());
        }
    }
    let (first, second) = ("orkestra-worker-0", "orkestra-worker-1");
    assert_eq!(
        threads,
        [first, first, second, second, first, first, second, second]
    );
    gateway.shut_down().await.expect("serve returns cleanly");
}

#[tokio::test]
async fn on_workers_shutdown_drains_an_in_flight_request() {
    let backend = Scripted::new(Script::Slow(Duration::from_millis(300)));
    let config = ServerConfig {
        workers: 2,
        ..ServerConfig::default()
    };
    let gateway = Gateway::on_workers(scripted_orchestrator(&backend), config).await;
    check_drains_an_in_flight_request(gateway, &backend).await;
}

#[tokio::test]
async fn shutdown_gives_up_on_requests_after_the_grace_period() {
    let backend = Scripted::new(Script::Slow(Duration::from_secs(30)));
    let config = ServerConfig {
        shutdown_grace: Duration::from_millis(100),
        ..ServerConfig::default()
    };
    let gateway = Gateway::with_config(scripted_orchestrator(&backend), config).await;
    let http = gateway.http.clone();
    let url = format!("{}/v1/chat/completions", gateway.base);
    let _stuck =
        tokio::spawn(async move { http.post(url).json(&chat("scripted/a", "hi")).send().await });
    while backend.calls() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let returned = tokio::time::timeout(Duration::from_secs(10), gateway.shut_down()).await;
    assert!(
        matches!(returned, Ok(Ok(()))),
        "serve must return once the grace period is over"
    );
}

/// Reads until the gateway closes the connection, for at most `bound`; what it sent.
async fn read_until_closed(stream: &mut tokio::net::TcpStream, bound: Duration) -> Vec<u8> {
    use tokio::io::AsyncReadExt as _;
    let mut received = Vec::new();
    tokio::time::timeout(bound, stream.read_to_end(&mut received))
        .await
        .expect("the gateway closed the connection in time")
        .expect("the socket reads");
    received
}

#[tokio::test]
async fn connections_that_sent_half_a_request_are_closed_at_the_header_read_timeout() {
    use tokio::io::AsyncWriteExt as _;
    let config = ServerConfig {
        header_read_timeout: Duration::from_millis(200),
        ..ServerConfig::default()
    };
    let gateway = Gateway::with_config(echo_orchestrator(), config).await;
    let address = gateway.base.trim_start_matches("http://").to_owned();
    let mut half_sent = Vec::new();
    for _ in 0..50 {
        let mut stream = tokio::net::TcpStream::connect(&address)
            .await
            .expect("a connection");
        stream
            .write_all(b"POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\ncontent-")
            .await
            .expect("written");
        half_sent.push(stream);
    }
    let started = std::time::Instant::now();
    for stream in &mut half_sent {
        // Before the fix, every one of them stayed open for as long as anyone waited.
        let received = read_until_closed(stream, Duration::from_secs(10)).await;
        assert!(
            received.is_empty(),
            "{:?}",
            String::from_utf8_lossy(&received)
        );
    }
    assert!(started.elapsed() >= Duration::from_millis(100));
    let response = gateway
        .post("/v1/chat/completions", &chat("echo/cheap", "still serving"))
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_at_the_idle_timeout() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let config = ServerConfig {
        idle_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    };
    let gateway = Gateway::with_config(echo_orchestrator(), config).await;
    let address = gateway.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("a connection");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: gateway\r\n\r\n")
        .await
        .expect("written");
    let mut answer = vec![0_u8; 1_024];
    let read = stream.read(&mut answer).await.expect("an answer");
    let answer = String::from_utf8_lossy(&answer[..read]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let idle_since = std::time::Instant::now();
    let received = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(received.is_empty());
    assert!(idle_since.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn beyond_max_connections_a_new_connection_waits_for_one_to_close() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    // One connection at a time; the first, once answered, holds its place until its idle
    // timeout closes it, and only then is the second accepted.
    let idle = Duration::from_millis(500);
    let config = ServerConfig {
        max_connections: 1,
        idle_timeout: idle,
        ..ServerConfig::default()
    };
    let gateway = Gateway::with_config(echo_orchestrator(), config).await;
    let address = gateway.base.trim_start_matches("http://").to_owned();
    let request = b"GET /healthz HTTP/1.1\r\nhost: gateway\r\n\r\n";
    let mut first = tokio::net::TcpStream::connect(&address)
        .await
        .expect("a connection");
    first.write_all(request).await.expect("written");
    let mut answer = vec![0_u8; 1_024];
    assert!(first.read(&mut answer).await.expect("an answer") > 0);

    let waiting_since = std::time::Instant::now();
    let mut second = tokio::net::TcpStream::connect(&address)
        .await
        .expect("the operating system queues the connection");
    second.write_all(request).await.expect("written");
    let read = tokio::time::timeout(Duration::from_secs(10), second.read(&mut answer))
        .await
        .expect("answered once the first connection closed")
        .expect("an answer");
    let waited = waiting_since.elapsed();
    assert!(
        String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer[..read])
    );
    // Without the cap it is answered at once, in about a millisecond; with it, only after the
    // first connection's idle timeout (less the moment between its answer and this connect).
    assert!(waited >= idle / 2, "answered after {waited:?}");
    assert!(
        read_until_closed(&mut first, Duration::from_secs(10))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn models_retrieve_answers_one_model_and_404_for_an_unknown_id() {
    let mut cheap = spec("echo/cheap", 100);
    cheap.aliases = vec!["cheapest".to_owned()];
    let orchestrator = Orchestrator::builder()
        .model(cheap)
        .model(spec("elsewhere/unserved", 100))
        .backend("echo", Arc::new(EchoBackend::new()))
        .build()
        .expect("an orchestrator");
    let gateway = Gateway::start(orchestrator).await;

    // An id with `/` in it, as written and as some clients percent-encode it.
    for path in ["/v1/models/echo/cheap", "/v1/models/echo%2Fcheap"] {
        let response = gateway.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let entry: Value = response.json().await.expect("JSON");
        assert_eq!(entry["id"], "echo/cheap", "{path}");
        assert_eq!(entry["object"], "model");
        assert_eq!(entry["owned_by"], "echo");
        assert!(entry["created"].as_u64().is_some());
    }
    let entry: Value = gateway
        .get("/v1/models/cheapest")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(entry["id"], "echo/cheap", "an alias answers its model");
    let entry: Value = gateway
        .get("/v1/models/auto:cost")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(entry["owned_by"], "orkestra");

    for unknown in ["nobody/nothing", "elsewhere/unserved"] {
        let response = gateway.get(&format!("/v1/models/{unknown}")).await;
        assert_eq!(response.status(), 404, "{unknown}");
        let error = error_of(response).await;
        assert_eq!(error["code"], "model_not_found");
        assert_eq!(error["param"], "model");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains(unknown)),
            "{error}"
        );
    }
}

#[tokio::test]
async fn out_of_range_parameters_are_400_naming_the_parameter() {
    let backend = Scripted::new(Script::Slow(Duration::ZERO));
    let gateway = Gateway::start(scripted_orchestrator(&backend)).await;
    let user = json!({"role": "user", "content": "hi"});
    let cases = [
        (json!({"temperature": -1}), "temperature"),
        (json!({"temperature": 100}), "temperature"),
        (json!({"top_p": 5}), "top_p"),
        (json!({"n": 0}), "n"),
        (json!({"n": 100}), "n"),
        (json!({"n": "two"}), "n"),
        (json!({"n": 3}), "n"),
        (json!({"stop": 5}), "stop"),
        (json!({"tool_choice": 5}), "tool_choice"),
        (
            json!({"response_format": {"type": "nonsense"}}),
            "response_format.type",
        ),
        (
            json!({"messages": [user, {"role": "tool", "content": "42"}]}),
            "messages[1].tool_call_id",
        ),
        (
            json!({"messages": [{"role": "user", "content": []}]}),
            "messages[0].content",
        ),
    ];
    for (fields, param) in cases {
        let mut request = json!({"model": "scripted/a", "messages": [user]});
        for (key, value) in fields.as_object().expect("an object") {
            request[key] = value.clone();
        }
        let response = gateway.post("/v1/chat/completions", &request).await;
        assert_eq!(response.status(), 400, "{request}");
        let error = error_of(response).await;
        assert_eq!(error["param"], param, "{request}: {error}");
        assert_eq!(error["type"], "invalid_request_error", "{error}");
        assert_eq!(error["code"], "invalid_value", "{error}");
        assert!(
            error["message"].as_str().is_some_and(|m| m.contains(param)),
            "the message names `{param}`: {error}"
        );
    }
    assert_eq!(backend.calls(), 0, "nothing invalid was forwarded");
    let mut fine = chat("scripted/a", "hi");
    fine["n"] = json!(1);
    fine["temperature"] = json!(0.7);
    fine["stop"] = json!(["\n\n", "END"]);
    let response = gateway.post("/v1/chat/completions", &fine).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_candidate_skipped_by_its_rate_limit_is_not_counted_as_a_call() {
    let orchestrator = Orchestrator::builder()
        .model(spec("echo/cheap", 100))
        .model(spec("echo/pricey", 100_000))
        .backend("echo", Arc::new(EchoBackend::new()))
        .model_resilience(
            "echo/cheap",
            PipelineConfig {
                rate_limit: Some(RateLimitConfig {
                    requests: 1,
                    per: Duration::from_hours(1),
                    burst: Some(1),
                }),
                ..PipelineConfig::default()
            },
        )
        .fallbacks("echo/cheap", vec!["echo/pricey".to_owned()])
        .build()
        .expect("a valid orchestrator");
    let gateway = Gateway::start(orchestrator).await;
    let first = gateway
        .post("/v1/chat/completions", &chat("echo/cheap", "hi"))
        .await;
    assert_eq!(header(&first, "x-orkestra-attempts"), "1");
    assert_eq!(header(&first, "x-orkestra-skipped"), "0");
    let second = gateway
        .post("/v1/chat/completions", &chat("echo/cheap", "hi"))
        .await;
    assert_eq!(second.status(), 200);
    assert_eq!(header(&second, "x-orkestra-model"), "echo/pricey");
    assert_eq!(
        header(&second, "x-orkestra-attempts"),
        "1",
        "the refused candidate was not called"
    );
    assert_eq!(header(&second, "x-orkestra-skipped"), "1");
}

#[tokio::test]
async fn the_deadline_header_lowers_the_deadline_and_its_passing_is_a_504() {
    let backend = Scripted::new(Script::Slow(Duration::from_secs(30)));
    let gateway = Gateway::start(scripted_orchestrator(&backend)).await;
    let response = gateway
        .http
        .post(format!("{}/v1/chat/completions", gateway.base))
        .header("x-orkestra-deadline-ms", "50")
        .json(&chat("scripted/a", "hi"))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 504);
    assert_eq!(header(&response, "x-orkestra-attempts"), "1");
    let error = error_of(response).await;
    let message = error["message"].as_str().expect("a message");
    assert!(message.contains("deadline of 50ms"), "{message}");

    for bad in ["soon", "0", "-5", "1.5"] {
        let response = gateway
            .http
            .post(format!("{}/v1/chat/completions", gateway.base))
            .header("x-orkestra-deadline-ms", bad)
            .json(&chat("scripted/a", "hi"))
            .send()
            .await
            .expect("the gateway answers");
        assert_eq!(response.status(), 400, "{bad}");
        let error = error_of(response).await;
        assert_eq!(error["param"], "x-orkestra-deadline-ms", "{bad}");
        let message = error["message"].as_str().expect("a message");
        assert!(
            message.contains("milliseconds") && message.contains(bad),
            "{message}"
        );
    }
    assert_eq!(backend.calls(), 1, "a bad header calls no model");
}

#[tokio::test]
async fn readyz_warns_while_charges_are_dropped() {
    let store = orkestra::models::store::Store::open("sqlite::memory:")
        .await
        .expect("an in-memory store");
    let orchestrator = Orchestrator::builder()
        .model(spec("echo/cheap", 100))
        .backend("echo", Arc::new(EchoBackend::new()))
        // Nothing is written for an hour: the second charge finds the one place taken.
        .store_with_bound(store.clone(), Duration::from_hours(1), 1)
        .build()
        .expect("a valid orchestrator");
    let gateway = Gateway::start(orchestrator).await;
    for _ in 0..2 {
        let response = gateway
            .post("/v1/chat/completions", &chat("echo/cheap", "hi"))
            .await;
        assert_eq!(response.status(), 200);
    }
    let response = gateway.get("/readyz").await;
    assert_eq!(response.status(), 200, "the gateway still answers");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["status"], "warn", "{body}");
    let recording = &body["checks"]["recording"];
    assert_eq!(recording["status"], "warn", "{body}");
    assert_eq!(recording["observed_value"], 1, "{body}");
    let output = recording["output"].as_str().expect("an explanation");
    assert!(
        output.contains("1 charges dropped") && output.contains("storage.max_pending"),
        "{output}"
    );

    // The database goes away: the store check fails, and the gateway is not ready.
    store.close().await;
    let response = gateway.get("/readyz").await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["checks"]["storage"]["status"], "fail", "{body}");
    assert_eq!(body["checks"]["recording"]["status"], "warn", "{body}");
}
