//! The walk's rules, on scripted in-process backends and paused time.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use orkestra_core::{Choice, ErrorClass, FinishReason, Message, Usage};
use orkestra_models::{LatencyProfile, QualityScores, TokenPrice, UnixMillis};
use orkestra_resilience::breaker::BreakerConfig;
use orkestra_resilience::breaker::State;
use orkestra_resilience::retry::BackoffConfig;
use orkestra_resilience::timeout::TimeoutConfig;
use orkestra_resilience::{PipelineConfig, RetryConfig};

use super::*;
use crate::report::RouteReport;

/// A backend answering from a script, then with a fixed answer; counts its calls.
#[derive(Default)]
struct Scripted {
    script: Mutex<VecDeque<ErrorClass>>,
    calls: AtomicU32,
    models: Mutex<Vec<String>>,
}

impl Scripted {
    fn failing(classes: impl IntoIterator<Item = ErrorClass>) -> Arc<Self> {
        Arc::new(Self {
            script: Mutex::new(classes.into_iter().collect()),
            ..Self::default()
        })
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl ChatBackend for Scripted {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.models.lock().unwrap().push(request.model.clone());
        if let Some(class) = self.script.lock().unwrap().pop_front() {
            return Err(Error::with_class(class, "scripted failure"));
        }
        Ok(ChatResponse {
            id: "chatcmpl-1".to_owned(),
            object: "chat.completion".to_owned(),
            created: 0,
            model: request.model.clone(),
            choices: vec![Choice {
                index: 0,
                message: Message::assistant(format!("answer from {}", request.model)),
                finish_reason: Some(FinishReason::Stop),
                extra: serde_json::Map::new(),
            }],
            usage: Some(Usage::new(10, 5)),
            extra: serde_json::Map::new(),
        })
    }

    async fn stream(&self, _: &ChatRequest) -> Result<ChatStream, Error> {
        Err(Error::new(ErrorCategory::InvalidRequest, "not scripted"))
    }
}

fn spec(id: &str, context_window: u32, price: f64) -> ModelSpec {
    let mut spec = ModelSpec::new(ModelId::new(id).unwrap(), context_window);
    spec.input_price = TokenPrice::from_usd_per_million(price).unwrap();
    spec.output_price = TokenPrice::from_usd_per_million(price).unwrap();
    spec.quality = QualityScores::uniform(0.8);
    spec
}

/// `a/m` on `primary`, falling back to `b/m`, which always answers.
fn falling_back_to_b(models: [ModelSpec; 2], primary: Arc<Scripted>) -> Orchestrator {
    Orchestrator::builder()
        .models(models)
        .backend("a", primary)
        .backend("b", Scripted::failing([]))
        .fallbacks("a/m", vec!["b/m".to_owned()])
        .resilience(fast())
        .build()
        .unwrap()
}

fn class(category: ErrorCategory) -> ErrorClass {
    ErrorClass::new(category)
}

/// Fast resilience for tests: three attempts with 1 ms backoff, a breaker that opens after
/// two failures, no timeout.
fn fast() -> PipelineConfig {
    PipelineConfig {
        retry: Some(RetryConfig {
            max_attempts: 3,
            backoff: BackoffConfig {
                initial: Duration::from_millis(1),
                max: Duration::from_millis(1),
                ..BackoffConfig::default()
            },
            ..RetryConfig::default()
        }),
        circuit_breaker: Some(BreakerConfig {
            minimum_calls: 2,
            ..BreakerConfig::default()
        }),
        timeout: None::<TimeoutConfig>,
        ..PipelineConfig::default()
    }
}

fn request(model: &str) -> ChatRequest {
    ChatRequest::new(
        model,
        vec![Message::user("Summarize the plot of Hamlet in two lines.")],
    )
}

async fn complete(orchestrator: &Orchestrator, model: &str) -> Result<Completion, CallError> {
    orchestrator
        .complete(&request(model), &CallContext::default())
        .await
}

fn outcomes(report: &RouteReport) -> Vec<String> {
    report
        .attempts
        .iter()
        .map(|attempt| format!("{} {}", attempt.model, attempt.outcome()))
        .collect()
}

#[tokio::test]
async fn a_named_model_answers_and_is_billed_under_its_id() {
    let backend = Scripted::failing([]);
    let orchestrator = Orchestrator::builder()
        .model(spec("a/big", 128_000, 10.0))
        .backend("a", backend.clone())
        .resilience(fast())
        .build()
        .unwrap();
    let completion = complete(&orchestrator, "a/big").await.unwrap();
    assert_eq!(completion.response.model, "a/big");
    assert_eq!(
        *backend.models.lock().unwrap(),
        ["big"],
        "the upstream sees its own name"
    );
    assert_eq!(outcomes(&completion.report), ["a/big ok"]);
    let spent = orchestrator
        .ledger()
        .spent_today("default", UnixMillis::now());
    assert_eq!(spent, spec("a/big", 1, 10.0).cost(10, 5));
}

#[tokio::test]
async fn caller_errors_fail_at_once_without_fallback() {
    let primary = Scripted::failing([class(ErrorCategory::InvalidRequest)]);
    let fallback = Scripted::failing([]);
    let orchestrator = Orchestrator::builder()
        .models([spec("a/m", 8_192, 1.0), spec("b/m", 8_192, 1.0)])
        .backend("a", primary.clone())
        .backend("b", fallback.clone())
        .fallbacks("a/m", vec!["b/m".to_owned()])
        .resilience(fast())
        .build()
        .unwrap();
    let error = complete(&orchestrator, "a/m").await.unwrap_err();
    assert_eq!(error.error.class.category, ErrorCategory::InvalidRequest);
    assert_eq!(outcomes(&error.report), ["a/m invalid_request"]);
    assert_eq!(fallback.calls(), 0);
}

#[tokio::test]
async fn context_length_skips_fallbacks_with_no_larger_window() {
    let small = Scripted::failing([class(ErrorCategory::ContextLength)]);
    let smaller = Scripted::failing([]);
    let larger = Scripted::failing([]);
    let orchestrator = Orchestrator::builder()
        .models([
            spec("a/m", 16_000, 1.0),
            spec("b/m", 8_000, 1.0),
            spec("c/m", 200_000, 1.0),
        ])
        .backend("a", small)
        .backend("b", smaller.clone())
        .backend("c", larger.clone())
        .fallbacks("a/m", vec!["b/m".to_owned(), "c/m".to_owned()])
        .resilience(fast())
        .build()
        .unwrap();
    let completion = complete(&orchestrator, "a/m").await.unwrap();
    assert_eq!(
        outcomes(&completion.report),
        ["a/m context_length", "c/m ok"]
    );
    assert_eq!(
        smaller.calls(),
        0,
        "a smaller window cannot hold the request"
    );
}

#[tokio::test]
async fn an_auth_failure_skips_every_model_of_that_provider() {
    let provider = Scripted::failing([class(ErrorCategory::Auth)]);
    let other = Scripted::failing([]);
    let orchestrator = Orchestrator::builder()
        .models([
            spec("a/one", 8_192, 1.0),
            spec("a/two", 8_192, 1.0),
            spec("b/m", 8_192, 1.0),
        ])
        .backend("a", provider.clone())
        .backend("b", other)
        .fallbacks("a/one", vec!["a/two".to_owned(), "b/m".to_owned()])
        .resilience(fast())
        .build()
        .unwrap();
    let completion = complete(&orchestrator, "a/one").await.unwrap();
    assert_eq!(outcomes(&completion.report), ["a/one auth", "b/m ok"]);
    assert_eq!(provider.calls(), 1, "the same key is not tried twice");
}

#[tokio::test]
async fn transient_errors_are_retried_on_the_same_model_first() {
    let flaky = Scripted::failing([class(ErrorCategory::Internal)]);
    let orchestrator = falling_back_to_b([spec("a/m", 8_192, 1.0), spec("b/m", 8_192, 1.0)], flaky);
    let completion = complete(&orchestrator, "a/m").await.unwrap();
    assert_eq!(outcomes(&completion.report), ["a/m internal", "a/m ok"]);
    let spent = orchestrator
        .ledger()
        .spent_today("default", UnixMillis::now());
    assert_eq!(
        spent,
        spec("a/m", 1, 1.0).cost(10, 5),
        "one charge: the answer"
    );
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_is_waited_out_when_no_other_model_is_faster() {
    let limited = Scripted::failing([
        class(ErrorCategory::RateLimited).with_retry_after(Duration::from_secs(2))
    ]);
    let orchestrator = Orchestrator::builder()
        .model(spec("a/m", 8_192, 1.0))
        .backend("a", limited.clone())
        .resilience(fast())
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let completion = complete(&orchestrator, "a/m").await.unwrap();
    assert_eq!(outcomes(&completion.report), ["a/m rate_limited", "a/m ok"]);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After is honoured"
    );
    assert_eq!(completion.report.waited, started.elapsed());
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_moves_on_when_a_fallback_answers_sooner() {
    let limited = Scripted::failing([
        class(ErrorCategory::RateLimited).with_retry_after(Duration::from_secs(20))
    ]);
    let orchestrator =
        falling_back_to_b([spec("a/m", 8_192, 1.0), spec("b/m", 8_192, 1.0)], limited);
    let completion = complete(&orchestrator, "a/m").await.unwrap();
    assert_eq!(outcomes(&completion.report), ["a/m rate_limited", "b/m ok"]);
    assert_eq!(completion.report.waited, Duration::ZERO);
}

/// A named model's route is not analyzed up front; the wait-or-move-on estimate analyzes the
/// request when it needs to. With no analysis (no output expected) the slow-per-token fallback
/// would look instant and win; with it, waiting one second for `a/m` is sooner.
#[tokio::test(start_paused = true)]
async fn a_named_route_is_analyzed_when_a_rate_limit_needs_the_estimate() {
    let limited = Scripted::failing([
        class(ErrorCategory::RateLimited).with_retry_after(Duration::from_secs(1))
    ]);
    let quick = LatencyProfile {
        ttft: Duration::ZERO,
        tokens_per_second: 1_000.0,
    };
    let crawling = LatencyProfile {
        ttft: Duration::ZERO,
        tokens_per_second: 1.0,
    };
    let orchestrator = falling_back_to_b(
        [
            ModelSpec {
                latency: quick,
                ..spec("a/m", 8_192, 1.0)
            },
            ModelSpec {
                latency: crawling,
                ..spec("b/m", 8_192, 1.0)
            },
        ],
        limited,
    );
    let request = request("a/m");
    assert!(
        orchestrator
            .plan_call(&request)
            .unwrap()
            .profile()
            .is_none(),
        "the call path skips the analysis of a named model"
    );
    let expected = orchestrator
        .route(&request)
        .unwrap()
        .profile()
        .unwrap()
        .expected_output_tokens;
    assert!(
        expected > 2,
        "the analysis expects an answer of some length, not {expected} tokens"
    );
    let completion = complete(&orchestrator, "a/m").await.unwrap();
    assert_eq!(outcomes(&completion.report), ["a/m rate_limited", "a/m ok"]);
    assert_eq!(completion.report.waited, Duration::from_secs(1));
}

#[tokio::test]
async fn an_open_breaker_takes_a_model_out_of_automatic_routing() {
    let broken = Scripted::failing(std::iter::repeat_n(class(ErrorCategory::Internal), 20));
    let orchestrator = Orchestrator::builder()
        .models([spec("a/cheap", 8_192, 0.1), spec("b/dear", 8_192, 20.0)])
        .backend("a", broken.clone())
        .backend("b", Scripted::failing([]))
        .resilience(fast())
        .build()
        .unwrap();
    let first = complete(&orchestrator, "auto:cost").await.unwrap();
    assert_eq!(
        first.report.attempts[0].model.as_str(),
        "a/cheap",
        "cheapest first"
    );
    assert_eq!(first.response.model, "b/dear", "then the fallback");
    assert!(
        orchestrator
            .breakers()
            .iter()
            .any(|(id, state)| id.as_str() == "a/cheap" && *state == State::Open)
    );
    let calls = broken.calls();
    let second = complete(&orchestrator, "auto:cost").await.unwrap();
    assert_eq!(outcomes(&second.report), ["b/dear ok"]);
    assert_eq!(
        broken.calls(),
        calls,
        "an open breaker's model is not ranked"
    );
    let route = orchestrator.route(&request("auto:cost")).unwrap();
    let selection = route.selection.unwrap();
    assert!(
        selection.explain().contains("a/cheap"),
        "{}",
        selection.explain()
    );
}

#[tokio::test]
async fn targets_are_ids_aliases_auto_or_auto_with_a_strategy() {
    let mut aliased = spec("a/m", 8_192, 1.0);
    aliased.aliases = vec!["fast".to_owned()];
    let orchestrator = Orchestrator::builder()
        .model(aliased)
        .backend("a", Scripted::failing([]))
        .routing(RoutingConfig {
            strategy: Strategy::Quality,
            ..RoutingConfig::default()
        })
        .build()
        .unwrap();
    assert_eq!(
        orchestrator.target("auto").unwrap(),
        Target::Auto(Strategy::Quality)
    );
    assert_eq!(
        orchestrator.target("auto:cost").unwrap(),
        Target::Auto(Strategy::Cost)
    );
    assert!(
        matches!(orchestrator.target("fast").unwrap(), Target::Model(spec) if spec.id.as_str() == "a/m")
    );
    let error = orchestrator.target("auto:cheapest").unwrap_err();
    assert_eq!(error.class.category, ErrorCategory::InvalidRequest);
    assert!(error.message.contains("auto:quality"), "{}", error.message);
    let error = orchestrator.target("gpt-9").unwrap_err();
    assert_eq!(error.class.category, ErrorCategory::NotFound);
    let completion = complete(&orchestrator, "fast").await.unwrap();
    assert_eq!(completion.response.model, "a/m");
}

#[test]
fn effective_resilience_is_chosen_section_by_section() {
    let levels = ResilienceLevelsForTest::new();
    let effective = levels.0.for_model("a/m", "a");
    assert_eq!(
        effective.timeout.unwrap().duration,
        Duration::from_secs(3),
        "the model's"
    );
    assert_eq!(effective.retry.unwrap().max_attempts, 5, "the provider's");
    assert!(effective.circuit_breaker.is_some(), "the recommended one");
    let other = levels.0.for_model("b/m", "b");
    assert_eq!(
        other.timeout.unwrap().duration,
        Duration::from_secs(9),
        "the default's"
    );
}

struct ResilienceLevelsForTest(builder::ResilienceLevels);

impl ResilienceLevelsForTest {
    fn new() -> Self {
        let mut levels = builder::ResilienceLevels::default();
        levels.default.timeout = Some(TimeoutConfig {
            duration: Duration::from_secs(9),
        });
        levels.providers.insert(
            "a".to_owned(),
            PipelineConfig {
                retry: Some(RetryConfig {
                    max_attempts: 5,
                    ..RetryConfig::default()
                }),
                ..PipelineConfig::default()
            },
        );
        levels.models.insert(
            "a/m".to_owned(),
            PipelineConfig {
                timeout: Some(TimeoutConfig {
                    duration: Duration::from_secs(3),
                }),
                ..PipelineConfig::default()
            },
        );
        Self(levels)
    }
}

/// A wire client's shape: it writes the upstream name itself, so it overrides `chat_as`.
#[derive(Default)]
struct Renaming {
    seen: Mutex<Vec<(String, String)>>,
    inner: Scripted,
}

#[async_trait]
impl ChatBackend for Renaming {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        self.inner.chat(request).await
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        self.inner.stream(request).await
    }

    async fn chat_as(&self, model: &str, request: &ChatRequest) -> Result<ChatResponse, Error> {
        self.seen
            .lock()
            .unwrap()
            .push((model.to_owned(), request.model.clone()));
        self.inner.chat(request).await
    }
}

#[tokio::test]
async fn the_walk_names_the_upstream_model_beside_the_callers_request_without_copying_it() {
    let backend = Arc::new(Renaming::default());
    let orchestrator = Orchestrator::builder()
        .model(spec("a/upstream-name", 8_192, 1.0))
        .backend("a", backend.clone())
        .resilience(fast())
        .build()
        .unwrap();
    let request = ChatRequest::new("a/upstream-name", vec![Message::user("hi")]);
    orchestrator
        .complete(&request, &CallContext::default())
        .await
        .unwrap();
    // The backend was told the upstream name and handed the caller's request itself.
    assert_eq!(
        *backend.seen.lock().unwrap(),
        [("upstream-name".to_owned(), "a/upstream-name".to_owned())]
    );
}
