use std::future::{Future, pending};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use orkestra_core::{ErrorCategory, ErrorClass, ManualClock};

use super::*;
use crate::breaker::{State, Window};
use crate::retry::{BackoffConfig, Jitter, Sleeper, Stop};

/// A sleeper that moves a manual clock instead of waiting, so breaker time and retry waits agree.
#[derive(Debug)]
struct ClockSleeper(ManualClock);

impl Sleeper for ClockSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.0.advance(duration);
        Box::pin(std::future::ready(()))
    }
}

fn breaker(clock: &ManualClock, size: u32) -> Arc<CircuitBreaker> {
    let config = BreakerConfig {
        window: Window::Count { size },
        minimum_calls: size,
        open_duration: Duration::from_secs(10),
        half_open_probes: 1,
        ..BreakerConfig::default()
    };
    Arc::new(CircuitBreaker::with_clock("test", config, Arc::new(clock.clone())).unwrap())
}

fn retry(max_attempts: u32, max_retry_after: Duration, clock: &ManualClock) -> Retry {
    Retry::new(RetryConfig {
        max_attempts,
        backoff: BackoffConfig {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            multiplier: 2.0,
            jitter: Jitter::None,
        },
        max_retry_after,
        budget: None,
    })
    .unwrap()
    .with_sleeper(Arc::new(ClockSleeper(clock.clone())))
}

fn fail(category: ErrorCategory) -> std::future::Ready<Result<u32, ErrorClass>> {
    std::future::ready(Err(ErrorClass::new(category)))
}

/// Calls an operation that always fails as overloaded: how many times it ran, and the failure.
async fn always_overloaded(pipeline: &Pipeline) -> (u32, Failure<ErrorClass>) {
    let calls = AtomicU32::new(0);
    let failure = pipeline
        .call(|| {
            calls.fetch_add(1, Ordering::SeqCst);
            fail(ErrorCategory::Overloaded)
        })
        .await
        .unwrap_err();
    (calls.load(Ordering::SeqCst), failure)
}

#[tokio::test]
async fn without_retry_a_pipeline_makes_exactly_one_attempt() {
    let pipeline = Pipeline::builder().build();
    let (calls, failure) = always_overloaded(&pipeline).await;
    assert_eq!(calls, 1);
    assert_eq!(
        (failure.attempts, failure.stop),
        (1, Stop::AttemptsExhausted)
    );
    assert_eq!(
        failure.error,
        Error::Inner(ErrorClass::new(ErrorCategory::Overloaded))
    );
}

#[tokio::test]
async fn an_open_breaker_stops_the_retry_when_its_wait_is_too_long() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, 2);
    breaker.force_open();
    let pipeline = Pipeline::builder()
        .retry(retry(5, Duration::from_secs(1), &clock))
        .circuit_breaker(Arc::clone(&breaker))
        .build();
    let calls = AtomicU32::new(0);
    let failure = pipeline
        .call(|| {
            calls.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok::<_, ErrorClass>(1))
        })
        .await
        .unwrap_err();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "an open breaker never calls the operation"
    );
    assert_eq!(failure.attempts, 1);
    assert!(
        matches!(failure.stop, Stop::RetryAfterTooLong { .. }),
        "{:?}",
        failure.stop
    );
    assert!(matches!(failure.error, Error::CircuitOpen { .. }));
}

#[tokio::test]
async fn an_open_breaker_is_waited_for_when_its_wait_is_short_enough() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, 2);
    let pipeline = Pipeline::builder()
        .retry(retry(4, Duration::from_mins(1), &clock))
        .circuit_breaker(Arc::clone(&breaker))
        .build();
    let calls = AtomicU32::new(0);
    // Two failures open the breaker; the retry then waits out the open duration and the
    // half-open probe succeeds.
    let answer = pipeline
        .call(|| {
            let call = calls.fetch_add(1, Ordering::SeqCst);
            std::future::ready(if call < 2 {
                Err(ErrorClass::new(ErrorCategory::Internal))
            } else {
                Ok(call)
            })
        })
        .await
        .unwrap();
    assert_eq!(answer, 2);
    assert_eq!(breaker.state(), State::Closed);
    assert!(clock.now() >= orkestra_core::Timestamp::ZERO + Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_attempt_counts_as_a_breaker_failure() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, 1);
    let pipeline = Pipeline::builder()
        .circuit_breaker(Arc::clone(&breaker))
        .timeout(Timeout::new(Duration::from_secs(1)))
        .build();
    let failure = pipeline
        .call(pending::<Result<u32, ErrorClass>>)
        .await
        .unwrap_err();
    assert_eq!(
        failure.error,
        Error::Timeout {
            after: Duration::from_secs(1)
        }
    );
    assert_eq!(breaker.state(), State::Open);
}

/// A timeout is the upstream taking too long: not a refusal, though a policy ended the call.
#[test]
fn only_refusals_before_the_call_are_rejections() {
    let refusals: [Error<ErrorClass>; 3] = [
        Error::CircuitOpen {
            retry_after: Duration::from_secs(1),
        },
        Error::BulkheadFull { max_concurrent: 1 },
        Error::RateLimited {
            retry_after: Duration::from_secs(1),
        },
    ];
    assert!(refusals.iter().all(Error::is_rejection));
    let ran: [Error<ErrorClass>; 3] = [
        Error::Inner(ErrorClass::new(ErrorCategory::Internal)),
        Error::Timeout {
            after: Duration::from_secs(1),
        },
        Error::DeadlineExceeded {
            after: Duration::from_secs(1),
        },
    ];
    assert!(!ran.iter().any(Error::is_rejection));
}

/// The caller's deadline, shorter than the timeout, bounds the attempt; the breaker does not
/// count an attempt it cut. A deadline longer than the timeout changes nothing.
#[tokio::test(start_paused = true)]
async fn a_deadline_shorter_than_the_timeout_cuts_the_attempt_uncounted() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, 1);
    let pipeline = Pipeline::builder()
        .circuit_breaker(Arc::clone(&breaker))
        .timeout(Timeout::new(Duration::from_secs(5)))
        .build();
    let started = tokio::time::Instant::now();
    let error = pipeline
        .attempt_within(
            pending::<Result<u32, ErrorClass>>,
            Some(Duration::from_secs(2)),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error,
        Error::DeadlineExceeded {
            after: Duration::from_secs(2)
        }
    );
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    assert!(
        !error.class().retryable,
        "no time is left for another attempt"
    );
    assert_eq!(
        breaker.snapshot().calls,
        0,
        "the cut attempt is not counted"
    );
    assert_eq!(breaker.state(), State::Closed);

    let error = pipeline
        .attempt_within(
            pending::<Result<u32, ErrorClass>>,
            Some(Duration::from_secs(9)),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error,
        Error::Timeout {
            after: Duration::from_secs(5)
        }
    );
    assert_eq!(
        breaker.state(),
        State::Open,
        "the upstream's own timeout counts"
    );
}

/// Without a timeout policy the deadline still bounds the attempt.
#[tokio::test(start_paused = true)]
async fn a_deadline_bounds_an_attempt_without_a_timeout() {
    let pipeline = Pipeline::builder().build();
    let error = pipeline
        .attempt_within(
            pending::<Result<u32, ErrorClass>>,
            Some(Duration::from_millis(300)),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error,
        Error::DeadlineExceeded {
            after: Duration::from_millis(300)
        }
    );
    let answer = pipeline
        .attempt_within(|| std::future::ready(Ok::<_, ErrorClass>(7)), None)
        .await;
    assert_eq!(answer, Ok(7));
}

/// A pipeline built with a clock gives it to its rate limiter too: the limit refills when
/// that clock moves, not the system's.
#[tokio::test]
async fn the_rate_limiter_reads_the_pipeline_clock() {
    let clock = ManualClock::new();
    let config = PipelineConfig {
        rate_limit: Some(RateLimitConfig {
            requests: 1,
            per: Duration::from_mins(1),
            burst: Some(1),
        }),
        ..PipelineConfig::default()
    };
    let pipeline = Pipeline::from_config_with_clock("m", &config, Arc::new(clock.clone())).unwrap();
    let ok = || std::future::ready(Ok::<_, ErrorClass>(1));
    assert_eq!(pipeline.attempt_within(ok, None).await, Ok(1));
    assert_eq!(
        pipeline.attempt_within(ok, None).await,
        Err(Error::RateLimited {
            retry_after: Duration::from_mins(1)
        })
    );
    clock.advance(Duration::from_mins(1));
    assert_eq!(pipeline.attempt_within(ok, None).await, Ok(1));
}

#[tokio::test]
async fn a_full_bulkhead_is_not_held_against_the_upstream() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, 1);
    let bulkhead = Bulkhead::new(&BulkheadConfig {
        max_concurrent: 1,
        max_wait: None,
    })
    .unwrap();
    let pipeline = Pipeline::builder()
        .bulkhead(bulkhead)
        .circuit_breaker(Arc::clone(&breaker))
        .build();
    let mut busy = Box::pin(pipeline.call(pending::<Result<u32, ErrorClass>>));
    assert!(futures_poll_once(busy.as_mut()).is_none());
    let failure = pipeline
        .call(|| std::future::ready(Ok::<_, ErrorClass>(1)))
        .await
        .unwrap_err();
    assert_eq!(failure.error, Error::BulkheadFull { max_concurrent: 1 });
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(
        breaker.snapshot().calls,
        0,
        "the refusal was not recorded by the breaker"
    );
    drop(busy);
    assert_eq!(
        pipeline.bulkhead().unwrap().available(),
        1,
        "cancelling freed the slot"
    );
}

#[tokio::test]
async fn cancelling_a_half_open_probe_frees_it_for_the_next_caller() {
    let clock = ManualClock::new();
    let breaker = breaker(&clock, 1);
    breaker.force_open();
    clock.advance(Duration::from_secs(10));
    let pipeline = Pipeline::builder()
        .circuit_breaker(Arc::clone(&breaker))
        .build();
    let mut probe = Box::pin(pipeline.call(pending::<Result<u32, ErrorClass>>));
    assert!(futures_poll_once(probe.as_mut()).is_none());
    assert_eq!(breaker.state(), State::HalfOpen);
    drop(probe);
    let answer = pipeline
        .call(|| std::future::ready(Ok::<_, ErrorClass>(7)))
        .await
        .unwrap();
    assert_eq!(answer, 7);
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test]
async fn the_rate_limiter_counts_attempts() {
    let config: PipelineConfig = toml::from_str(
        r#"
        retry = { max_attempts = 5, max_retry_after = "1s" }
        rate_limit = { requests = 2, per = "1h" }
        "#,
    )
    .unwrap();
    let pipeline = Pipeline::from_config("limited", &config).unwrap();
    let (calls, failure) = always_overloaded(&pipeline).await;
    assert_eq!(calls, 2, "the third attempt was refused by the limiter");
    assert!(
        matches!(failure.error, Error::RateLimited { .. }),
        "{:?}",
        failure.error
    );
    assert!(matches!(failure.stop, Stop::RetryAfterTooLong { .. }));
    assert_eq!(failure.attempts, 3);
}

#[test]
fn config_reads_every_section_and_rejects_unknown_keys() {
    let config: PipelineConfig = toml::from_str(
        r#"
        [retry]
        max_attempts = 4
        [circuit_breaker]
        open_duration = "30s"
        [bulkhead]
        max_concurrent = 8
        [timeout]
        duration = "250ms"
        "#,
    )
    .unwrap();
    let pipeline = Pipeline::from_config("openai/gpt-4o-mini", &config).unwrap();
    assert_eq!(pipeline.retry().config().max_attempts, 4);
    assert_eq!(
        pipeline.circuit_breaker().unwrap().name(),
        "openai/gpt-4o-mini"
    );
    assert_eq!(pipeline.bulkhead().unwrap().max_concurrent(), 8);
    assert_eq!(
        pipeline.timeout().unwrap().duration(),
        Duration::from_millis(250)
    );
    assert!(pipeline.rate_limit().is_none());

    let error = toml::from_str::<PipelineConfig>("[circuit_breakr]\nopen_duration = \"1s\"")
        .unwrap_err()
        .to_string();
    assert!(error.contains("circuit_breakr"), "{error}");

    let invalid = toml::from_str::<PipelineConfig>("[retry]\nmax_attempts = 0").unwrap();
    let error = Pipeline::from_config("x", &invalid).unwrap_err();
    assert_eq!(error.field, "retry.max_attempts");
}

#[test]
fn recommended_config_enables_retry_breaker_and_timeout() {
    let pipeline = Pipeline::from_config("m", &PipelineConfig::recommended()).unwrap();
    assert_eq!(pipeline.retry().config().max_attempts, 3);
    assert!(pipeline.circuit_breaker().is_some() && pipeline.timeout().is_some());
    assert!(pipeline.bulkhead().is_none() && pipeline.rate_limit().is_none());
}

/// Polls a future once with a no-op waker; `None` if it is pending.
fn futures_poll_once<F: Future>(future: Pin<&mut F>) -> Option<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.poll(&mut cx) {
        std::task::Poll::Ready(output) => Some(output),
        std::task::Poll::Pending => None,
    }
}
