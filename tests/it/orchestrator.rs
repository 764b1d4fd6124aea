//! The facade end to end: an `Orchestrator` built with its builder (or from `orkestra.toml`)
//! in front of real simulators on loopback, spoken to by the real wire clients.
//!
//! Resilience settings are small here (1 ms backoff, 400 ms timeouts, breakers that open after
//! two failures for 150 ms) so the whole module runs in a few seconds; the rules they exercise
//! are the ones of the `orkestra::orchestrator` module docs. The breakers, rate limiters and
//! budgets read a manual clock (the builder's `clock`), so they change state only when a test
//! moves it, never because the machine was slow; the simulators speak real HTTP on loopback,
//! which tokio's paused time cannot drive.
//!
//! - [`lifecycle`]: one request's life, cost and quality routing, fallback chains, invalid
//!   inputs, network errors, concurrency and isolation, the task flows and consensus, streams.
//! - [`faults`]: every fault scenario of `ANCHORS.md`, one line per scenario, plain and streamed,
//!   and the scenarios that need their own settings (`Retry-After`, flapping, rate limits).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt as _;
use orkestra::config::RoutingConfig;
use orkestra::{
    CallContext, CallError, Completion, Orchestrator, OrchestratorBuilder, RouteReport,
};
use orkestra_core::{
    ChatBackend, ChatRequest, ChatResponse, ChatStream, Error, ErrorCategory, ManualClock, Message,
    StreamEvent, Usage,
};
use orkestra_mock::{MockConfig, MockServer, ModelBehaviour, Output};
use orkestra_models::{Day, ModelId, ModelSpec, UnixMillis};
use orkestra_providers::{
    AnthropicClient, AnthropicConfig, HttpConfig, OllamaClient, OllamaConfig, OpenAiClient,
    OpenAiConfig, Secret,
};
use orkestra_resilience::breaker::{BreakerConfig, Window};
use orkestra_resilience::retry::BackoffConfig;
use orkestra_resilience::timeout::TimeoutConfig;
use orkestra_resilience::{PipelineConfig, RetryConfig};

mod faults;
mod lifecycle;

/// Every random choice of the simulators derives from this, so a failure replays exactly.
const SEED: u64 = 0x0A4C_E57A;

/// The orchestrator's per-attempt timeout (and a stream's idle limit) in this module.
const TIMEOUT: Duration = Duration::from_millis(400);

/// How long a breaker stays open in this module.
const OPEN: Duration = Duration::from_millis(150);

/// What most simulated models answer: several words, so a stream has a dozen chunks and the
/// mid-stream faults (after three chunks) strike in the middle.
const ANSWER: &str = "Twelve chunks of four characters each make a stream.";

/// Client timeouts well above [`TIMEOUT`], so the orchestrator's own timeout is the one that
/// fires and the tests see what its settings do.
fn http_config() -> HttpConfig {
    HttpConfig {
        connect_timeout: Duration::from_secs(1),
        first_byte_timeout: Duration::from_secs(3),
        idle_timeout: Duration::from_secs(3),
        total_timeout: Duration::from_secs(5),
        ..HttpConfig::default()
    }
}

/// Small resilience for every model: two attempts 1 ms apart, a 400 ms timeout, and a breaker
/// that opens after two failures out of two calls for [`OPEN`].
fn fast_resilience() -> PipelineConfig {
    PipelineConfig {
        retry: Some(RetryConfig {
            max_attempts: 2,
            backoff: BackoffConfig {
                initial: Duration::from_millis(1),
                max: Duration::from_millis(5),
                ..BackoffConfig::default()
            },
            ..RetryConfig::default()
        }),
        rate_limit: None,
        bulkhead: None,
        circuit_breaker: Some(BreakerConfig {
            window: Window::count(4),
            minimum_calls: 2,
            open_duration: OPEN,
            max_open_duration: OPEN,
            half_open_probes: 1,
            ..BreakerConfig::default()
        }),
        timeout: Some(TimeoutConfig { duration: TIMEOUT }),
    }
}

/// A simulator serving `models`.
async fn simulator(models: Vec<ModelBehaviour>) -> MockServer {
    MockServer::start(MockConfig {
        seed: SEED,
        models,
        default_model: None,
    })
    .await
    .unwrap()
}

/// A simulated model that always answers [`ANSWER`].
fn fixed(name: &str) -> ModelBehaviour {
    ModelBehaviour {
        output: Output::Fixed(ANSWER.to_owned()),
        ..ModelBehaviour::echo(name)
    }
}

/// An OpenAI-compatible client named `name` for `mock`.
fn openai(name: &str, mock: &MockServer) -> Arc<dyn ChatBackend> {
    openai_at(name, &format!("{}/v1", mock.base_url()))
}

/// An OpenAI-compatible client named `name` for the API root `base_url`.
fn openai_at(name: &str, base_url: &str) -> Arc<dyn ChatBackend> {
    Arc::new(
        OpenAiClient::new(OpenAiConfig {
            http: http_config(),
            ..OpenAiConfig::local(name, base_url)
        })
        .unwrap(),
    )
}

/// An Anthropic client named `name` for `mock`.
fn anthropic(name: &str, mock: &MockServer) -> Arc<dyn ChatBackend> {
    let config = AnthropicConfig {
        name: name.to_owned(),
        base_url: mock.base_url(),
        http: http_config(),
        ..AnthropicConfig::default()
    };
    Arc::new(AnthropicClient::with_key(config, Secret::new("sk-ant-e2e")).unwrap())
}

/// An Ollama client named `name` for `mock`.
fn ollama(name: &str, mock: &MockServer) -> Arc<dyn ChatBackend> {
    Arc::new(
        OllamaClient::new(OllamaConfig {
            name: name.to_owned(),
            base_url: mock.base_url(),
            http: http_config(),
            ..OllamaConfig::default()
        })
        .unwrap(),
    )
}

/// A model spec with this id and context window and the defaults for the rest.
fn spec(id: &str, context_window: u32) -> ModelSpec {
    ModelSpec::new(ModelId::new(id).unwrap(), context_window)
}

/// A builder with [`fast_resilience`] for every model, its policies on a manual clock that
/// never moves.
fn builder() -> OrchestratorBuilder {
    builder_on(&ManualClock::new())
}

/// A builder with [`fast_resilience`] for every model, its policies reading `clock`.
fn builder_on(clock: &ManualClock) -> OrchestratorBuilder {
    Orchestrator::builder()
        .resilience(fast_resilience())
        .clock(Arc::new(clock.clone()))
}

/// Routing defaults, with `max_models` high enough for the longest chain of this module.
fn routing() -> RoutingConfig {
    RoutingConfig {
        max_models: 6,
        ..RoutingConfig::default()
    }
}

/// A one-message request for `model`.
fn ask(model: &str, text: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user(text)])
}

/// Calls `orchestrator` with the default context.
async fn complete(
    orchestrator: &Orchestrator,
    request: &ChatRequest,
) -> Result<Completion, CallError> {
    orchestrator
        .complete(request, &CallContext::default())
        .await
}

/// Each attempt as `(model, outcome)`: `("sim/a", "ok")`, `("sim/a", "overloaded")`.
fn attempts(report: &RouteReport) -> Vec<(String, &'static str)> {
    report
        .attempts
        .iter()
        .map(|attempt| (attempt.model.to_string(), attempt.outcome()))
        .collect()
}

/// The expected attempts, written as `&[("sim/a", "ok")]`.
fn expect(attempts: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
    attempts
        .iter()
        .map(|(model, outcome)| ((*model).to_owned(), *outcome))
        .collect()
}

/// How many chat requests the simulator received for `model` (its upstream name).
fn upstream_calls(mock: &MockServer, model: &str) -> usize {
    mock.requests()
        .iter()
        .filter(|request| request.model == model)
        .count()
}

/// The ledger's charges today, per model id: `(model, requests, input, output, cost)`.
fn billed(orchestrator: &Orchestrator) -> Vec<(String, u64, u64, u64, u64)> {
    let today: Day = UnixMillis::now().day();
    let mut rows: Vec<_> = orchestrator
        .ledger()
        .report_by_model(today, today)
        .into_iter()
        .map(|row| {
            (
                row.key,
                row.totals.requests,
                row.totals.input_tokens,
                row.totals.output_tokens,
                row.totals.cost.0,
            )
        })
        .collect();
    rows.sort();
    rows
}

/// The models charged today, with their number of charges.
fn billed_models(orchestrator: &Orchestrator) -> Vec<(String, u64)> {
    billed(orchestrator)
        .into_iter()
        .map(|(model, requests, ..)| (model, requests))
        .collect()
}

/// `(successes, failures)` the statistics hold for `model`.
fn outcomes(orchestrator: &Orchestrator, model: &str) -> (u64, u64) {
    orchestrator
        .stats()
        .report(&ModelId::new(model).unwrap(), UnixMillis::now())
        .map_or((0, 0), |report| (report.successes, report.failures))
}

/// How a routed stream ended.
#[derive(Debug)]
enum Streamed {
    /// The stream ended cleanly: its text, the model its start event named, its usage, and
    /// whether a finish event came.
    Clean {
        text: String,
        model: Option<String>,
        usage: Option<Usage>,
        finished: bool,
        report: RouteReport,
    },
    /// The stream began (a first token arrived), then ended with an `Err` item.
    Broken {
        text: String,
        error: Error,
        report: RouteReport,
    },
    /// No model could begin the stream.
    Refused(CallError),
}

/// Streams `request` through `orchestrator` and reads every item.
async fn stream(orchestrator: &Orchestrator, request: &ChatRequest) -> Streamed {
    let routed = match orchestrator
        .complete_stream(request, &CallContext::default())
        .await
    {
        Ok(routed) => routed,
        Err(error) => return Streamed::Refused(error),
    };
    let report = routed.report;
    let mut events = routed.stream;
    let (mut text, mut model, mut usage, mut finished) = (String::new(), None, None, false);
    while let Some(item) = events.next().await {
        match item {
            Ok(StreamEvent::Start { model: named, .. }) => model = Some(named),
            Ok(StreamEvent::Delta(delta)) => text.push_str(delta.content.as_deref().unwrap_or("")),
            Ok(StreamEvent::Finish { .. }) => finished = true,
            Ok(StreamEvent::Usage(counts)) => usage = Some(counts),
            Ok(_) => {}
            Err(error) => {
                // After an error item the stream must end: nothing may follow it.
                assert!(
                    events.next().await.is_none(),
                    "an item followed the error {error}"
                );
                return Streamed::Broken {
                    text,
                    error,
                    report,
                };
            }
        }
    }
    Streamed::Clean {
        text,
        model,
        usage,
        finished,
        report,
    }
}

/// A backend that records every request it is given, then passes it on.
struct Recording {
    inner: Arc<dyn ChatBackend>,
    seen: Mutex<Vec<ChatRequest>>,
}

impl Recording {
    fn new(inner: Arc<dyn ChatBackend>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            seen: Mutex::new(Vec::new()),
        })
    }

    fn seen(&self) -> Vec<ChatRequest> {
        self.seen.lock().unwrap().clone()
    }
}

#[async_trait]
impl ChatBackend for Recording {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        self.seen.lock().unwrap().push(request.clone());
        self.inner.chat(request).await
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        self.seen.lock().unwrap().push(request.clone());
        self.inner.stream(request).await
    }
}

/// Asserts that `error` has `category`, printing the whole error otherwise.
#[track_caller]
fn assert_category(error: &CallError, category: ErrorCategory) {
    assert_eq!(error.error.class.category, category, "{error}: {error:?}");
}
