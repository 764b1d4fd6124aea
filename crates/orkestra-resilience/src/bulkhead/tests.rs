use std::future::pending;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::*;

/// The operation's error type in these tests.
type Failure = &'static str;

fn bulkhead(max_concurrent: u32, max_wait: Option<Duration>) -> Arc<Bulkhead> {
    Arc::new(
        Bulkhead::new(&BulkheadConfig {
            max_concurrent,
            max_wait,
        })
        .unwrap(),
    )
}

/// Tracks how many operations run at once and the peak.
#[derive(Default)]
struct Gauge {
    now: AtomicU32,
    peak: AtomicU32,
}

impl Gauge {
    fn enter(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
    }

    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs `callers` concurrent calls of `hold` each through a bulkhead and checks how many were
/// admitted, and that the peak concurrency was exactly `max_concurrent` (or the callers).
#[track_caller]
fn check(max_concurrent: u32, max_wait: Option<Duration>, callers: u32, admitted: u32) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let bulkhead = bulkhead(max_concurrent, max_wait);
    let gauge = Arc::new(Gauge::default());
    let ok = runtime.block_on(async {
        let tasks: Vec<_> = (0..callers)
            .map(|_| {
                let bulkhead = Arc::clone(&bulkhead);
                let gauge = Arc::clone(&gauge);
                tokio::spawn(async move {
                    bulkhead
                        .call(async {
                            gauge.enter();
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            gauge.leave();
                            Ok::<_, Failure>(())
                        })
                        .await
                })
            })
            .collect();
        let mut ok = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => ok += 1,
                Err(error) => assert_eq!(error, Error::BulkheadFull { max_concurrent }),
            }
        }
        ok
    });
    assert_eq!(ok, admitted, "admitted calls");
    assert_eq!(
        gauge.peak.load(Ordering::SeqCst),
        max_concurrent.min(callers),
        "peak concurrency"
    );
    assert_eq!(bulkhead.in_flight(), 0);
    assert_eq!(bulkhead.available(), max_concurrent);
}

#[test]
fn without_wait_calls_beyond_the_limit_are_refused_at_once() {
    check(8, None, 50, 8);
}

#[test]
fn with_a_long_enough_wait_every_call_runs_but_never_more_than_the_limit_at_once() {
    // 50 calls of 10 ms through 8 slots finish within 70 ms.
    check(8, Some(Duration::from_millis(100)), 50, 50);
}

#[test]
fn with_a_short_wait_only_the_calls_that_get_a_slot_in_time_run() {
    // Slots free every 10 ms; waiting 15 ms admits the first wave and the second.
    check(8, Some(Duration::from_millis(15)), 50, 16);
}

#[test]
fn the_limit_holds_on_a_multi_threaded_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap();
    let bulkhead = bulkhead(3, Some(Duration::from_hours(1)));
    let gauge = Arc::new(Gauge::default());
    runtime.block_on(async {
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let bulkhead = Arc::clone(&bulkhead);
                let gauge = Arc::clone(&gauge);
                tokio::spawn(async move {
                    bulkhead
                        .call(async {
                            gauge.enter();
                            assert!(bulkhead.in_flight() <= 3);
                            for _ in 0..5 {
                                tokio::task::yield_now().await;
                            }
                            gauge.leave();
                            Ok::<_, Failure>(())
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
    });
    assert!(gauge.peak.load(Ordering::SeqCst) <= 3);
    assert_eq!(bulkhead.available(), 3);
}

#[tokio::test(start_paused = true)]
async fn try_acquire_refuses_when_full_and_succeeds_once_a_permit_is_dropped() {
    let bulkhead = bulkhead(2, None);
    let first = bulkhead.try_acquire().unwrap();
    let _second = bulkhead.try_acquire().unwrap();
    assert_eq!(bulkhead.in_flight(), 2);
    assert_eq!(bulkhead.available(), 0);
    assert_eq!(
        bulkhead.try_acquire().unwrap_err(),
        BulkheadFull { max_concurrent: 2 }
    );
    assert_eq!(
        bulkhead.call(async { Ok::<_, Failure>(1) }).await,
        Err(Error::BulkheadFull { max_concurrent: 2 })
    );
    drop(first);
    assert_eq!(bulkhead.call(async { Ok::<_, Failure>(1) }).await, Ok(1));
}

#[tokio::test(start_paused = true)]
async fn a_bounded_wait_succeeds_when_a_slot_frees_in_time() {
    let bulkhead = bulkhead(1, Some(Duration::from_millis(100)));
    let held = bulkhead.try_acquire().unwrap();
    let start = Instant::now();
    let waiter = {
        let bulkhead = Arc::clone(&bulkhead);
        tokio::spawn(async move { bulkhead.acquire().await.map(drop) })
    };
    tokio::time::sleep(Duration::from_millis(99)).await;
    drop(held);
    assert_eq!(waiter.await.unwrap(), Ok(()));
    assert_eq!(start.elapsed(), Duration::from_millis(99));
}

#[tokio::test(start_paused = true)]
async fn a_bounded_wait_fails_exactly_at_max_wait_when_no_slot_frees() {
    let bulkhead = bulkhead(1, Some(Duration::from_millis(100)));
    let _held = bulkhead.try_acquire().unwrap();
    let start = Instant::now();
    assert_eq!(
        bulkhead.acquire().await.unwrap_err(),
        BulkheadFull { max_concurrent: 1 }
    );
    assert_eq!(start.elapsed(), Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_call_releases_its_slot() {
    let bulkhead = bulkhead(1, None);
    let running = {
        let bulkhead = Arc::clone(&bulkhead);
        tokio::spawn(async move { bulkhead.call(pending::<Result<(), Failure>>()).await })
    };
    tokio::task::yield_now().await;
    assert_eq!(bulkhead.in_flight(), 1);
    running.abort();
    assert!(running.await.unwrap_err().is_cancelled());
    assert_eq!(bulkhead.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_waiter_takes_no_slot() {
    let bulkhead = bulkhead(1, Some(Duration::from_mins(1)));
    let held = bulkhead.try_acquire().unwrap();
    let waiter = {
        let bulkhead = Arc::clone(&bulkhead);
        tokio::spawn(async move { bulkhead.acquire().await.map(drop) })
    };
    tokio::task::yield_now().await;
    waiter.abort();
    assert!(waiter.await.unwrap_err().is_cancelled());
    drop(held);
    assert_eq!(bulkhead.available(), 1);
    assert!(bulkhead.try_acquire().is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_failed_call_releases_its_slot() {
    let bulkhead = bulkhead(1, None);
    assert_eq!(
        bulkhead.call(async { Err::<(), Failure>("boom") }).await,
        Err(Error::Inner("boom"))
    );
    assert_eq!(bulkhead.available(), 1);
}

#[test]
fn config_defaults_and_human_durations() {
    let default = BulkheadConfig::default();
    assert_eq!(default.max_concurrent, 64);
    assert_eq!(default.max_wait, None);
    assert_eq!(toml::from_str::<BulkheadConfig>("").unwrap(), default);
    let config: BulkheadConfig =
        toml::from_str("max_concurrent = 4\nmax_wait = \"250ms\"").unwrap();
    assert_eq!(config.max_wait, Some(Duration::from_millis(250)));
    let bulkhead = Bulkhead::new(&config).unwrap();
    assert_eq!(bulkhead.max_concurrent(), 4);
    assert_eq!(bulkhead.available(), 4);
}

#[test]
fn config_rejects_unknown_fields_and_zero_slots() {
    assert!(toml::from_str::<BulkheadConfig>("max_concurent = 4").is_err());
    let error = Bulkhead::new(&BulkheadConfig {
        max_concurrent: 0,
        max_wait: None,
    })
    .unwrap_err();
    assert_eq!(error.field, "bulkhead.max_concurrent");
}
