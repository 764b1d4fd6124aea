use std::future::{pending, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use orkestra_core::{Classify, ErrorCategory, ErrorClass};

use super::*;

/// The operation's error type in these tests.
type Failure = &'static str;

/// Sets a flag when dropped, to observe cancellation.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Runs an operation that succeeds after `takes` under a timeout of `limit` and checks the outcome.
#[track_caller]
fn check(limit: Duration, takes: Duration, expected: &Result<u32, Error<Failure>>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let outcome = runtime.block_on(Timeout::new(limit).call(async move {
        tokio::time::sleep(takes).await;
        Ok::<u32, Failure>(7)
    }));
    assert_eq!(&outcome, expected);
}

#[test]
fn an_operation_within_the_limit_passes_through() {
    check(Duration::from_secs(5), Duration::from_millis(4_999), &Ok(7));
}

#[test]
fn an_operation_over_the_limit_times_out() {
    let after = Duration::from_secs(5);
    check(
        after,
        Duration::from_millis(5_001),
        &Err(Error::Timeout { after }),
    );
}

#[tokio::test(start_paused = true)]
async fn the_operation_error_is_returned_as_inner() {
    let outcome = Timeout::new(Duration::from_secs(1))
        .call(ready(Err::<u32, Failure>("boom")))
        .await;
    assert_eq!(outcome, Err(Error::Inner("boom")));
}

#[tokio::test(start_paused = true)]
async fn the_timeout_fires_exactly_at_the_limit() {
    let start = tokio::time::Instant::now();
    let outcome = Timeout::new(Duration::from_millis(250))
        .call(pending::<Result<(), Failure>>())
        .await;
    assert_eq!(
        outcome,
        Err(Error::Timeout {
            after: Duration::from_millis(250)
        })
    );
    assert_eq!(start.elapsed(), Duration::from_millis(250));
}

#[tokio::test(start_paused = true)]
async fn the_operation_is_dropped_when_the_limit_passes() {
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = DropFlag(Arc::clone(&dropped));
    let call = Timeout::new(Duration::from_secs(1)).call(async move {
        let _guard = guard;
        pending::<Result<(), Failure>>().await
    });
    tokio::pin!(call);
    let outcome = (&mut call).await;
    assert!(matches!(outcome, Err(Error::Timeout { .. })));
    // The timeout future itself is still alive: the operation went with the deadline.
    assert!(dropped.load(Ordering::SeqCst));
}

#[tokio::test(start_paused = true)]
async fn a_timeout_classifies_as_a_retryable_timeout() {
    let outcome = Timeout::new(Duration::from_secs(1))
        .call(pending::<Result<(), ErrorClass>>())
        .await;
    let class = outcome.unwrap_err().class();
    assert_eq!(class.category, ErrorCategory::Timeout);
    assert!(class.retryable);
}

#[test]
fn a_ready_operation_needs_no_runtime_because_no_timer_is_armed() {
    // Polled outside any tokio runtime: arming a timer here would panic.
    let waker = std::task::Waker::noop();
    let mut cx = Context::from_waker(waker);
    let mut call =
        std::pin::pin!(Timeout::new(Duration::from_secs(1)).call(ready(Ok::<_, Failure>(3))));
    assert_eq!(call.as_mut().poll(&mut cx), Poll::Ready(Ok(3)));
}

#[test]
fn config_defaults_and_human_durations() {
    assert_eq!(TimeoutConfig::default().duration, Duration::from_mins(1));
    let config: TimeoutConfig = toml::from_str(r#"duration = "1m 30s""#).unwrap();
    assert_eq!(config.duration, Duration::from_secs(90));
    let timeout = Timeout::from_config(&config).unwrap();
    assert_eq!(timeout.duration(), Duration::from_secs(90));
    let empty: TimeoutConfig = toml::from_str("").unwrap();
    assert_eq!(empty, TimeoutConfig::default());
}

#[test]
fn config_rejects_unknown_fields_and_a_zero_limit() {
    assert!(toml::from_str::<TimeoutConfig>(r#"durration = "1s""#).is_err());
    let zero: TimeoutConfig = toml::from_str(r#"duration = "0s""#).unwrap();
    let error = Timeout::from_config(&zero).unwrap_err();
    assert_eq!(error.field, "timeout.duration");
}
