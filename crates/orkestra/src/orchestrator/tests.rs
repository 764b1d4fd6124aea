//! The walk's rules, on scripted in-process backends and paused time.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use orkestra_core::{
    Choice, ErrorCategory, ErrorClass, FinishReason, ManualClock, Message, StreamEvent, Usage,
};
use orkestra_models::{LatencyProfile, QualityScores, TokenPrice, UnixMillis};
use orkestra_resilience::breaker::BreakerConfig;
use orkestra_resilience::breaker::State;
use orkestra_resilience::retry::{BackoffConfig, BudgetConfig};
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
        retry: Some(quick_retry(3)),
        circuit_breaker: Some(BreakerConfig {
            minimum_calls: 2,
            ..BreakerConfig::default()
        }),
        timeout: None::<TimeoutConfig>,
        ..PipelineConfig::default()
    }
}

/// `max_attempts` calls, 1 ms apart.
fn quick_retry(max_attempts: u32) -> RetryConfig {
    RetryConfig {
        max_attempts,
        backoff: BackoffConfig {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(1),
            ..BackoffConfig::default()
        },
        ..RetryConfig::default()
    }
}

/// `max_attempts` calls 1 ms apart, each with `timeout`; the recommended breaker.
fn attempts_timing_out(max_attempts: u32, timeout: Duration) -> PipelineConfig {
    PipelineConfig {
        retry: Some(quick_retry(max_attempts)),
        timeout: Some(TimeoutConfig { duration: timeout }),
        ..PipelineConfig::default()
    }
}

/// `a/m` alone on `backend`, with [`fast`] resilience.
fn alone_on_a(backend: Arc<dyn ChatBackend>) -> Orchestrator {
    Orchestrator::builder()
        .model(spec("a/m", 8_192, 1.0))
        .backend("a", backend)
        .resilience(fast())
        .build()
        .unwrap()
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
    let orchestrator = alone_on_a(limited.clone());
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

/// A backend that never answers: every call waits until it is dropped.
struct Hanging;

#[async_trait]
impl ChatBackend for Hanging {
    async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, Error> {
        std::future::pending().await
    }

    async fn stream(&self, _: &ChatRequest) -> Result<ChatStream, Error> {
        std::future::pending().await
    }
}

/// One attempt per model, a one-second timeout.
fn one_attempt_timing_out() -> PipelineConfig {
    attempts_timing_out(1, Duration::from_secs(1))
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_attempt_counts_as_a_failure_in_the_statistics() {
    let orchestrator = Orchestrator::builder()
        .model(spec("a/m", 8_192, 1.0))
        .backend("a", Arc::new(Hanging))
        .resilience(one_attempt_timing_out())
        .build()
        .unwrap();
    let error = complete(&orchestrator, "a/m").await.unwrap_err();
    assert_eq!(outcomes(&error.report), ["a/m timeout"]);
    let report = orchestrator
        .stats()
        .report(&ModelId::new("a/m").unwrap(), UnixMillis::now())
        .expect("the timeout is in the statistics");
    assert_eq!((report.successes, report.failures), (0, 1));
}

/// A budget with no reserve that earns half a retry per call: the first call may not retry,
/// the second may.
#[tokio::test]
async fn the_retry_budget_limits_retries_of_gateway_calls() {
    let flaky = Scripted::failing([
        class(ErrorCategory::Internal),
        class(ErrorCategory::Internal),
    ]);
    let budgeted = PipelineConfig {
        retry: Some(RetryConfig {
            budget: Some(BudgetConfig {
                ttl: Duration::from_mins(1),
                min_retries_per_second: 0,
                retry_ratio: 0.5,
            }),
            ..quick_retry(3)
        }),
        ..PipelineConfig::default()
    };
    let orchestrator = Orchestrator::builder()
        .models([spec("a/m", 8_192, 1.0), spec("b/m", 8_192, 1.0)])
        .backend("a", flaky.clone())
        .backend("b", Scripted::failing([]))
        .fallbacks("a/m", vec!["b/m".to_owned()])
        .resilience(budgeted)
        .build()
        .unwrap();
    let first = complete(&orchestrator, "a/m").await.unwrap();
    assert_eq!(
        outcomes(&first.report),
        ["a/m internal", "b/m ok"],
        "half a retry earned: not enough to retry"
    );
    let second = complete(&orchestrator, "a/m").await.unwrap();
    assert_eq!(
        outcomes(&second.report),
        ["a/m internal", "a/m ok"],
        "a whole retry earned over two calls"
    );
    assert_eq!(flaky.calls(), 3);
}

/// The policy's own words reach the caller: an open breaker says when it will let calls in.
#[tokio::test(start_paused = true)]
async fn a_refusal_keeps_the_policy_message() {
    let broken = Scripted::failing(std::iter::repeat_n(class(ErrorCategory::Internal), 20));
    let orchestrator = alone_on_a(broken.clone());
    // Two failures open the breaker; the third attempt is refused by it.
    let error = complete(&orchestrator, "a/m").await.unwrap_err();
    assert_eq!(broken.calls(), 2);
    assert_eq!(error.error.class.category, ErrorCategory::Overloaded);
    assert!(
        error
            .error
            .message
            .contains("circuit breaker is open; retry after"),
        "{}",
        error.error.message
    );
}

/// A hanging model tried twice, each attempt with a five-second timeout, under a deadline of
/// seven seconds: without the deadline a request would take ten.
fn hanging_under_a_deadline_of_seven_seconds() -> Orchestrator {
    Orchestrator::builder()
        .model(spec("a/m", 8_192, 1.0))
        .backend("a", Arc::new(Hanging))
        .resilience(attempts_timing_out(2, Duration::from_secs(5)))
        .routing(RoutingConfig {
            deadline: Duration::from_secs(7),
            ..RoutingConfig::default()
        })
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cuts_the_last_attempt_and_answers_a_timeout_naming_it() {
    let orchestrator = hanging_under_a_deadline_of_seven_seconds();
    let started = tokio::time::Instant::now();
    let error = complete(&orchestrator, "a/m").await.unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_secs(7), "not ten seconds");
    assert_eq!(error.error.class.category, ErrorCategory::Timeout);
    assert!(
        error.error.message.contains("deadline of 7s"),
        "{}",
        error.error.message
    );
    assert_eq!(outcomes(&error.report), ["a/m timeout", "a/m timeout"]);
    let report = orchestrator
        .stats()
        .report(&ModelId::new("a/m").unwrap(), UnixMillis::now())
        .unwrap();
    assert_eq!(
        report.failures, 1,
        "the attempt the deadline cut had not reached the model's own limit"
    );
}

/// Asks `a/m` with the caller's own `deadline`.
async fn within(orchestrator: &Orchestrator, deadline: Duration) -> Result<Completion, CallError> {
    let context = CallContext {
        deadline: Some(deadline),
        ..CallContext::default()
    };
    orchestrator.complete(&request("a/m"), &context).await
}

#[tokio::test(start_paused = true)]
async fn a_callers_deadline_lowers_the_configured_one_but_never_raises_it() {
    let orchestrator = hanging_under_a_deadline_of_seven_seconds();
    for (own, took) in [(2, 2), (60, 7)] {
        let started = tokio::time::Instant::now();
        let error = within(&orchestrator, Duration::from_secs(own))
            .await
            .unwrap_err();
        assert_eq!(started.elapsed(), Duration::from_secs(took), "own {own}s");
        assert_eq!(error.error.class.category, ErrorCategory::Timeout);
    }
}

/// No attempt starts after the deadline: a `Retry-After` that ends beyond it is not waited
/// for, and the rate limit is the answer at once.
#[tokio::test(start_paused = true)]
async fn a_wait_past_the_deadline_is_not_taken() {
    let limited = Scripted::failing([
        class(ErrorCategory::RateLimited).with_retry_after(Duration::from_secs(3))
    ]);
    let orchestrator = alone_on_a(limited.clone());
    let started = tokio::time::Instant::now();
    let error = within(&orchestrator, Duration::from_secs(2))
        .await
        .unwrap_err();
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(error.error.class.category, ErrorCategory::RateLimited);
    assert_eq!(error.report.waited, Duration::ZERO);
    assert_eq!(limited.calls(), 1);
}

/// A breaker's refusal is a skipped candidate, not a model call.
#[tokio::test(start_paused = true)]
async fn calls_made_and_candidates_skipped_are_reported_apart() {
    let broken = Scripted::failing(std::iter::repeat_n(class(ErrorCategory::Internal), 20));
    let orchestrator =
        falling_back_to_b([spec("a/m", 8_192, 1.0), spec("b/m", 8_192, 1.0)], broken);
    let first = complete(&orchestrator, "a/m").await.unwrap();
    // Two failures open a/m's breaker; its third attempt is refused without a call.
    assert_eq!(
        outcomes(&first.report),
        ["a/m internal", "a/m internal", "a/m overloaded", "b/m ok"]
    );
    assert_eq!((first.report.calls(), first.report.skipped()), (3, 1));
    assert!(first.report.attempts[2].skipped());
    let second = complete(&orchestrator, "a/m").await.unwrap();
    assert_eq!(outcomes(&second.report), ["a/m overloaded", "b/m ok"]);
    assert_eq!((second.report.calls(), second.report.skipped()), (1, 1));
    assert_eq!(
        second.report.attempts[0].to_string(),
        "a/m overloaded (skipped, not called)"
    );
}

/// The clock given to the builder reaches the breakers and the rate limiters: they open and
/// refill as it moves, not as the system clock does.
#[tokio::test]
async fn the_builders_clock_reaches_breakers_and_rate_limiters() {
    let clock = ManualClock::new();
    let broken = Scripted::failing([
        class(ErrorCategory::Internal),
        class(ErrorCategory::Internal),
    ]);
    let limited = PipelineConfig {
        rate_limit: Some(orkestra_resilience::rate_limit::RateLimitConfig {
            requests: 1,
            per: Duration::from_mins(1),
            burst: Some(1),
        }),
        ..PipelineConfig::default()
    };
    let orchestrator = Orchestrator::builder()
        .models([
            spec("a/m", 8_192, 1.0),
            spec("b/m", 8_192, 1.0),
            spec("c/m", 8_192, 1.0),
        ])
        .backend("a", broken)
        .backend("b", Scripted::failing([]))
        .backend("c", Scripted::failing([]))
        .fallbacks("a/m", vec!["b/m".to_owned()])
        .resilience(fast())
        .model_resilience("c/m", limited)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    complete(&orchestrator, "a/m").await.unwrap();
    assert!(
        orchestrator
            .breakers()
            .contains(&(ModelId::new("a/m").unwrap(), State::Open))
    );
    complete(&orchestrator, "c/m").await.unwrap();
    let refused = complete(&orchestrator, "c/m").await.unwrap_err();
    assert_eq!(refused.error.class.category, ErrorCategory::RateLimited);

    // The breaker's open time (10 s by default) and the limit's minute pass on the clock.
    clock.advance(Duration::from_mins(1));
    let probe = complete(&orchestrator, "a/m").await.unwrap();
    assert_eq!(outcomes(&probe.report), ["a/m ok"]);
    let refilled = complete(&orchestrator, "c/m").await.unwrap();
    assert_eq!(outcomes(&refilled.report), ["c/m ok"]);
}

thread_local! {
    /// The `info` lines captured on this thread, while a [`Logged`] guard lives.
    static CAPTURED: std::cell::RefCell<Option<Vec<String>>> = const { std::cell::RefCell::new(None) };
}

/// Captures the `info` events of the current thread, as `message key=value ...`, until dropped.
///
/// The capturing subscriber is the process's global default, installed once: a subscriber set
/// per thread (`set_default`) loses events when another test thread, with no subscriber, is the
/// first to reach a log statement, since tracing then caches that statement as disabled for
/// every thread.
struct Logged;

impl Logged {
    fn start() -> Self {
        static INSTALL: std::sync::Once = std::sync::Once::new();
        INSTALL.call_once(|| {
            tracing::subscriber::set_global_default(Capture)
                .expect("no other global subscriber in this test binary");
            // Statements reached before the install were cached as disabled.
            tracing::callsite::rebuild_interest_cache();
        });
        CAPTURED.with(|captured| *captured.borrow_mut() = Some(Vec::new()));
        Self
    }

    #[expect(
        clippy::unused_self,
        reason = "the lines exist while the guard lives, so reading them asks for the guard"
    )]
    fn lines(&self) -> Vec<String> {
        CAPTURED.with(|captured| captured.borrow().clone().unwrap_or_default())
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        CAPTURED.with(|captured| *captured.borrow_mut() = None);
    }
}

/// Collects one event's fields: the message first, then `key=value` pairs in order.
#[derive(Default)]
struct Fields {
    message: String,
    pairs: Vec<String>,
}

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.pairs.push(format!("{}={value:?}", field.name()));
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.pairs.push(format!("{}={value}", field.name()));
    }
}

/// The global subscriber behind [`Logged`]: `info` events of capturing threads.
struct Capture;

impl tracing::Subscriber for Capture {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::INFO
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() != tracing::Level::INFO {
            return;
        }
        CAPTURED.with(|captured| {
            if let Some(lines) = captured.borrow_mut().as_mut() {
                let mut fields = Fields::default();
                event.record(&mut fields);
                lines.push(format!("{} {}", fields.message, fields.pairs.join(" ")));
            }
        });
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// The logged lines with `message`, in order.
fn with_message<'a>(lines: &'a [String], message: &str) -> Vec<&'a String> {
    lines
        .iter()
        .filter(|line| line.starts_with(&format!("{message} ")))
        .collect()
}

/// A failed attempt, a retry and a fallback are each logged once at `info`, with the request
/// id, the model and the class.
#[tokio::test(start_paused = true)]
async fn failures_retries_and_fallbacks_are_logged_once_at_info() {
    let logged = Logged::start();
    let primary = Scripted::failing([
        class(ErrorCategory::Internal),
        class(ErrorCategory::RateLimited).with_retry_after(Duration::from_secs(20)),
    ]);
    let orchestrator =
        falling_back_to_b([spec("a/m", 8_192, 1.0), spec("b/m", 8_192, 1.0)], primary);
    let context = CallContext {
        request_id: Some("req-7".to_owned()),
        ..CallContext::default()
    };
    let completion = orchestrator
        .complete(&request("a/m"), &context)
        .await
        .unwrap();
    assert_eq!(
        outcomes(&completion.report),
        ["a/m internal", "a/m rate_limited", "b/m ok"]
    );
    let lines = logged.lines();
    let failed = with_message(&lines, "attempt failed");
    assert_eq!(failed.len(), 2, "{lines:#?}");
    for (line, class) in failed.iter().zip(["internal", "rate_limited"]) {
        for part in [
            "request_id=req-7",
            "model=a/m",
            &format!("class={class}"),
            "latency_ms=",
        ] {
            assert!(line.contains(part), "{line} lacks {part}");
        }
    }
    let retried = with_message(&lines, "retrying");
    assert_eq!(retried.len(), 1, "{lines:#?}");
    assert!(retried[0].contains("request_id=req-7") && retried[0].contains("class=internal"));
    let fell_back = with_message(&lines, "falling back");
    assert_eq!(fell_back.len(), 1, "{lines:#?}");
    for part in [
        "request_id=req-7",
        "from=a/m",
        "to=b/m",
        "class=rate_limited",
    ] {
        assert!(fell_back[0].contains(part), "{} lacks {part}", fell_back[0]);
    }
}

/// A timeout and an open breaker are logged once each: the timed-out attempt, the breaker's
/// opening where it happens, and each candidate the open breaker refuses.
#[tokio::test(start_paused = true)]
async fn timeouts_and_open_breakers_are_logged_once_at_info() {
    let logged = Logged::start();
    let config = PipelineConfig {
        circuit_breaker: Some(BreakerConfig {
            minimum_calls: 1,
            ..BreakerConfig::default()
        }),
        ..one_attempt_timing_out()
    };
    let orchestrator = Orchestrator::builder()
        .model(spec("a/m", 8_192, 1.0))
        .backend("a", Arc::new(Hanging))
        .resilience(config)
        .build()
        .unwrap();
    complete(&orchestrator, "a/m").await.unwrap_err();
    complete(&orchestrator, "a/m").await.unwrap_err();
    let lines = logged.lines();
    let timed_out = with_message(&lines, "attempt timed out");
    assert_eq!(timed_out.len(), 1, "{lines:#?}");
    assert!(timed_out[0].contains("model=a/m") && timed_out[0].contains("latency_ms="));
    let opened = with_message(&lines, "circuit breaker state changed");
    assert_eq!(opened.len(), 1, "{lines:#?}");
    assert!(opened[0].contains("to=open"), "{}", opened[0]);
    let skipped = with_message(&lines, "candidate skipped");
    assert_eq!(skipped.len(), 1, "{lines:#?}");
    assert!(
        skipped[0].contains("circuit breaker is open"),
        "{}",
        skipped[0]
    );
    assert!(
        with_message(&lines, "attempt failed").is_empty(),
        "{lines:#?}"
    );
}

/// A backend that streams `events`, then ends, or hangs when `hang` is set.
struct Streaming {
    events: Vec<StreamEvent>,
    hang: bool,
}

#[async_trait]
impl ChatBackend for Streaming {
    async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, Error> {
        Err(Error::new(ErrorCategory::InvalidRequest, "streams only"))
    }

    async fn stream(&self, _: &ChatRequest) -> Result<ChatStream, Error> {
        let events = futures_util::stream::iter(self.events.clone().into_iter().map(Ok));
        Ok(if self.hang {
            Box::pin(events.chain(futures_util::stream::pending()))
        } else {
            Box::pin(events)
        })
    }
}

/// `a/m` streaming "Hello there" (11 bytes, so 3 estimated tokens), with a finish or not.
fn streaming(finished: bool, hang: bool) -> Orchestrator {
    let mut events = vec![StreamEvent::Delta(orkestra_core::Delta::text(
        0,
        "Hello there",
    ))];
    if finished {
        events.push(StreamEvent::Finish {
            index: 0,
            reason: FinishReason::Stop,
        });
    }
    alone_on_a(Arc::new(Streaming { events, hang }))
}

/// `(successes, failures)` of `a/m` in the statistics, and the tokens billed to it.
fn recorded_for_a(orchestrator: &Orchestrator) -> ((u64, u64), (u64, u64)) {
    let outcomes = orchestrator
        .stats()
        .report(&ModelId::new("a/m").unwrap(), UnixMillis::now())
        .map_or((0, 0), |report| (report.successes, report.failures));
    let today = UnixMillis::now().day();
    let billed = orchestrator
        .ledger()
        .report_by_model(today, today)
        .first()
        .map_or((0, 0), |row| {
            (row.totals.requests, row.totals.output_tokens)
        });
    (outcomes, billed)
}

/// A stream that ends without a `finish_reason` is cut: an error item, a failure, billed for
/// what it streamed. One that ends after it, with no terminator of its own, is whole.
#[tokio::test]
async fn a_stream_is_whole_after_its_finish_reason_and_cut_before_it() {
    for (finished, whole) in [(true, true), (false, false)] {
        let orchestrator = streaming(finished, false);
        let routed = orchestrator
            .complete_stream(&request("a/m"), &CallContext::default())
            .await
            .unwrap();
        let items: Vec<_> = routed.stream.collect().await;
        let last = items.last().unwrap();
        assert_eq!(last.is_ok(), whole, "finished {finished}: {last:?}");
        let outcome = if whole { (1, 0) } else { (0, 1) };
        assert_eq!(recorded_for_a(&orchestrator), (outcome, (1, 3)));
    }
}

/// A reader that stops at the `finish_reason` has the whole answer; one that stops before it
/// abandoned the stream, which is billed but says nothing about the model.
#[tokio::test]
async fn a_stream_dropped_by_its_reader_is_billed_and_judged_by_whether_it_finished() {
    for (finished, outcome) in [(true, (1, 0)), (false, (0, 0))] {
        let orchestrator = streaming(finished, true);
        let routed = orchestrator
            .complete_stream(&request("a/m"), &CallContext::default())
            .await
            .unwrap();
        let mut events = routed.stream;
        let wanted = if finished { 2 } else { 1 };
        for _ in 0..wanted {
            events.next().await.unwrap().unwrap();
        }
        drop(events);
        assert_eq!(
            recorded_for_a(&orchestrator),
            (outcome, (1, 3)),
            "finished {finished}"
        );
    }
}
