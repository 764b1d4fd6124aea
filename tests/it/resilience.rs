//! A chat backend behind the resilience pipeline: retry, breaker, half-open recovery.

use std::sync::Arc;
use std::time::Duration;

use orkestra_core::{ChatBackend, ChatRequest, Classify, ErrorCategory, ManualClock, Message};
use orkestra_resilience::breaker::{BreakerConfig, State, Window};
use orkestra_resilience::retry::{BackoffConfig, Jitter, Stop};
use orkestra_resilience::{CircuitBreaker, Pipeline, Retry, RetryConfig};
use orkestra_tests::{ScriptedBackend, Step};

fn request() -> ChatRequest {
    ChatRequest::new("auto", vec![Message::user("Write a haiku about retries.")])
}

fn quick_retry(max_attempts: u32) -> Retry {
    Retry::new(RetryConfig {
        max_attempts,
        backoff: BackoffConfig {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(100),
            multiplier: 2.0,
            jitter: Jitter::Full,
        },
        ..RetryConfig::default()
    })
    .unwrap()
}

/// A breaker on a manual clock that judges the last 4 calls once 4 were made.
fn small_breaker(clock: &ManualClock) -> Arc<CircuitBreaker> {
    let config = BreakerConfig {
        window: Window::Count { size: 4 },
        minimum_calls: 4,
        failure_rate_threshold: 0.5,
        open_duration: Duration::from_secs(30),
        half_open_probes: 1,
        ..BreakerConfig::default()
    };
    Arc::new(CircuitBreaker::with_clock("scripted", config, Arc::new(clock.clone())).unwrap())
}

/// A breaker, a backend failing with `category`, and a pipeline whose breaker those
/// failures have just opened.
struct Tripped {
    clock: ManualClock,
    breaker: Arc<CircuitBreaker>,
    backend: ScriptedBackend,
    pipeline: Pipeline,
    request: ChatRequest,
}

async fn tripped(name: &str, category: ErrorCategory) -> Tripped {
    let clock = ManualClock::new();
    let breaker = small_breaker(&clock);
    let backend = ScriptedBackend::new(name, [], Step::fail(category));
    let pipeline = Pipeline::builder()
        .circuit_breaker(Arc::clone(&breaker))
        .build();
    let request = request();
    for _ in 0..4 {
        assert!(pipeline.call(|| backend.chat(&request)).await.is_err());
    }
    assert_eq!(breaker.state(), State::Open);
    Tripped {
        clock,
        breaker,
        backend,
        pipeline,
        request,
    }
}

#[tokio::test(start_paused = true)]
async fn retry_on_failure_then_success() {
    let backend = ScriptedBackend::new(
        "flaky",
        [
            Step::fail(ErrorCategory::Overloaded),
            Step::fail(ErrorCategory::Network),
        ],
        Step::answer("Backoff, then calm"),
    );
    let pipeline = Pipeline::builder().retry(quick_retry(3)).build();
    let request = request();
    let response = pipeline.call(|| backend.chat(&request)).await.unwrap();
    assert_eq!(response.text(), "Backoff, then calm");
    assert_eq!(backend.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn retry_gives_up_with_the_class_it_decided_on() {
    let backend = ScriptedBackend::new("down", [], Step::fail(ErrorCategory::Overloaded));
    let pipeline = Pipeline::builder().retry(quick_retry(3)).build();
    let request = request();
    let failure = pipeline.call(|| backend.chat(&request)).await.unwrap_err();
    assert_eq!(failure.attempts, 3);
    assert_eq!(failure.stop, Stop::AttemptsExhausted);
    assert!(
        failure.class.retryable,
        "an exhausted retry reports the retryable class it saw"
    );
    assert_eq!(failure.class().category, ErrorCategory::Overloaded);

    let caller_error =
        ScriptedBackend::new("strict", [], Step::fail(ErrorCategory::InvalidRequest));
    let failure = pipeline
        .call(|| caller_error.chat(&request))
        .await
        .unwrap_err();
    assert_eq!((failure.attempts, failure.stop), (1, Stop::NonRetryable));
    assert_eq!(caller_error.calls(), 1);
}

#[tokio::test]
async fn circuit_breaker_opens_on_failures_and_stops_calling_the_backend() {
    let Tripped {
        breaker,
        backend,
        pipeline,
        request,
        ..
    } = tripped("down", ErrorCategory::Internal).await;
    assert_eq!(breaker.state(), State::Open);
    let rejected = pipeline.call(|| backend.chat(&request)).await.unwrap_err();
    assert_eq!(
        backend.calls(),
        4,
        "an open breaker does not call the backend"
    );
    assert!(rejected.error.is_rejection());
    assert_eq!(rejected.class().retry_after, Some(Duration::from_secs(30)));
}

#[tokio::test]
async fn half_open_recovery_closes_the_breaker() {
    let Tripped {
        clock,
        breaker,
        backend,
        pipeline,
        request,
    } = tripped("recovering", ErrorCategory::Timeout).await;
    assert_eq!(breaker.state(), State::Open);

    backend.set_after_script(Step::answer("back"));
    clock.advance(Duration::from_secs(30));
    let response = pipeline.call(|| backend.chat(&request)).await.unwrap();
    assert_eq!(response.text(), "back");
    assert_eq!(
        breaker.state(),
        State::Closed,
        "one successful probe closes it"
    );
}

#[tokio::test]
async fn half_open_probe_failure_reopens_the_breaker() {
    let Tripped {
        clock,
        breaker,
        backend,
        pipeline,
        request,
    } = tripped("still-down", ErrorCategory::Network).await;
    clock.advance(Duration::from_secs(30));
    assert!(pipeline.call(|| backend.chat(&request)).await.is_err());
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(backend.calls(), 5, "exactly one probe reached the backend");
}

#[tokio::test]
async fn state_is_recovered_after_an_error() {
    let clock = ManualClock::new();
    let breaker = small_breaker(&clock);
    let backend = ScriptedBackend::new(
        "blip",
        [Step::fail(ErrorCategory::Internal)],
        Step::answer("fine"),
    );
    let pipeline = Pipeline::builder()
        .circuit_breaker(Arc::clone(&breaker))
        .build();
    let request = request();
    assert!(pipeline.call(|| backend.chat(&request)).await.is_err());
    for _ in 0..8 {
        assert_eq!(
            pipeline
                .call(|| backend.chat(&request))
                .await
                .unwrap()
                .text(),
            "fine"
        );
    }
    let snapshot = breaker.snapshot();
    assert_eq!(snapshot.state, State::Closed);
    assert_eq!(
        snapshot.failures, 0,
        "the failure slid out of the 4-call window"
    );
    assert_eq!(snapshot.calls, 4);
}
