//! One test per bug known in other breakers, named after what it guards.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use orkestra_core::{Clock, ErrorCategory, ErrorClass, ManualClock, Timestamp};

use super::super::{BreakerConfig, CircuitBreaker, Outcome, Permit, State, Window};
use super::{breaker, check_history, record_changes, small};

fn tripped(config: BreakerConfig) -> (CircuitBreaker, ManualClock) {
    let (breaker, clock) = breaker(config);
    breaker.force_open();
    clock.advance(breaker.config().open_duration);
    (breaker, clock)
}

/// Polly #216: when the break ended, every waiting caller went through at once.
#[test]
fn half_open_stampede_admits_exactly_the_configured_probes() {
    const CALLERS: usize = 8;
    for probes in [1, 2, 5] {
        let (breaker, clock) = breaker(BreakerConfig {
            half_open_probes: probes,
            ..small()
        });
        let changes = record_changes(&breaker);
        for _round in 0..50 {
            breaker.force_open();
            clock.advance(Duration::from_mins(5));
            let start = Barrier::new(CALLERS);
            let done = Barrier::new(CALLERS);
            let admitted = AtomicU32::new(0);
            std::thread::scope(|scope| {
                for _ in 0..CALLERS {
                    scope.spawn(|| {
                        start.wait();
                        let permit = breaker.try_acquire();
                        if permit.is_ok() {
                            admitted.fetch_add(1, Ordering::SeqCst);
                        }
                        // Every caller holds its permit until all have tried.
                        done.wait();
                        drop(permit);
                    });
                }
            });
            assert_eq!(admitted.load(Ordering::SeqCst), probes);
        }
        let changes = changes.lock().unwrap();
        check_history(&changes);
        let half_opens = changes.iter().filter(|c| c.to == State::HalfOpen).count();
        assert_eq!(half_opens, 50, "one open -> half-open transition per round");
    }
}

/// resilience4j #903 / #935: a half-open permit that was never recorded kept its slot, so the
/// breaker stayed half-open and rejected everything forever.
#[test]
fn dropped_half_open_permits_free_their_slot_so_the_breaker_cannot_stick() {
    let (breaker, _clock) = tripped(BreakerConfig {
        half_open_probes: 1,
        ..small()
    });
    for _ in 0..1_000 {
        let probe = breaker.try_acquire().expect("the slot was freed");
        assert!(probe.is_probe());
        assert!(breaker.try_acquire().is_err(), "only one probe at a time");
        drop(probe);
        assert_eq!(breaker.snapshot().half_open_in_flight, 0);
    }
    breaker.try_acquire().unwrap().success();
    assert_eq!(breaker.state(), State::Closed);
}

/// resilience4j #903 / #935, the async form: a future cancelled mid-call (here by a timeout)
/// drops its probe permit, which must free the slot.
#[tokio::test(start_paused = true)]
async fn probe_cancelled_mid_call_frees_its_slot() {
    let (breaker, _clock) = tripped(BreakerConfig {
        half_open_probes: 1,
        ..small()
    });
    let slow_call = breaker.call(async {
        tokio::time::sleep(Duration::from_mins(1)).await;
        Ok::<_, ErrorClass>("late")
    });
    let cancelled = tokio::time::timeout(Duration::from_secs(1), slow_call).await;
    assert!(cancelled.is_err(), "the timeout cancelled the call");
    assert_eq!(breaker.state(), State::HalfOpen);
    assert_eq!(breaker.snapshot().half_open_in_flight, 0);
    let answer = breaker.call(async { Ok::<_, ErrorClass>("ok") }).await;
    assert_eq!(answer, Ok("ok"));
    assert_eq!(breaker.state(), State::Closed);
}

/// resilience4j #1432, Failsafe #391: under concurrency more half-open calls ran than
/// configured.
#[test]
fn concurrent_acquires_never_exceed_half_open_probes() {
    const PROBES: u32 = 3;
    let (breaker, _clock) = tripped(BreakerConfig {
        half_open_probes: PROBES,
        ..small()
    });
    // Probes are only ever dropped or ignored, so the breaker stays in this half-open period.
    let in_flight = AtomicU32::new(0);
    let most = AtomicU32::new(0);
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let (breaker, in_flight, most) = (&breaker, &in_flight, &most);
            scope.spawn(move || {
                for i in 0..20_000 {
                    let Ok(permit) = breaker.try_acquire() else {
                        continue;
                    };
                    // Counted after admission and uncounted before release, so the count
                    // never exceeds the probes really in flight.
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    assert!(breaker.snapshot().half_open_in_flight <= PROBES);
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    if (i + thread) % 2 == 0 {
                        permit.record(Outcome::Ignored);
                    } else {
                        drop(permit);
                    }
                }
            });
        }
    });
    let most = most.load(Ordering::SeqCst);
    assert!(
        (1..=PROBES).contains(&most),
        "{most} probes in flight at once"
    );
    assert_eq!(breaker.state(), State::HalfOpen);
    assert_eq!(breaker.snapshot().half_open_in_flight, 0);
}

/// resilience4j #646 / #674: a call admitted before the breaker last closed finished late and
/// its failure re-opened (or polluted) the newly closed breaker.
#[test]
fn stale_permit_from_an_earlier_generation_cannot_reopen_a_closed_breaker() {
    let (breaker, clock) = breaker(BreakerConfig {
        minimum_calls: 1,
        half_open_probes: 1,
        ..small()
    });
    let changes = record_changes(&breaker);
    let stale = breaker.try_acquire().unwrap();
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), State::Open);
    clock.advance(Duration::from_secs(10));
    breaker.try_acquire().unwrap().success();
    assert_eq!(breaker.state(), State::Closed);
    // One failure would be enough to open (minimum_calls = 1), but this one is stale.
    stale.failure();
    assert_eq!(breaker.state(), State::Closed);
    let snapshot = breaker.snapshot();
    assert_eq!(
        (snapshot.calls, snapshot.failures),
        (0, 0),
        "the new window is clean"
    );
    check_history(&changes.lock().unwrap());
}

/// resilience4j #646 / #674, half-open form: a probe of an earlier half-open period must not
/// decide, or free a slot of, the current one.
#[test]
fn stale_probe_cannot_decide_a_later_half_open_period() {
    let (breaker, clock) = tripped(BreakerConfig {
        half_open_probes: 1,
        ..small()
    });
    let stale = breaker.try_acquire().unwrap();
    breaker.force_open();
    clock.advance(Duration::from_secs(20));
    let current = breaker.try_acquire().unwrap();
    assert!(current.is_probe());
    stale.success();
    assert_eq!(
        breaker.state(),
        State::HalfOpen,
        "the stale success closed nothing"
    );
    assert_eq!(breaker.snapshot().half_open_in_flight, 1);
    assert!(breaker.try_acquire().is_err(), "and freed no slot");
    current.failure();
    assert_eq!(breaker.state(), State::Open);
}

/// A clock that runs a hook on its next read, standing in for a thread suspended between
/// reading the state and reading the time.
#[derive(Default)]
struct HookClock {
    time: ManualClock,
    #[allow(clippy::type_complexity)]
    hook: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl std::fmt::Debug for HookClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookClock")
            .field("time", &self.time)
            .finish_non_exhaustive()
    }
}

impl Clock for HookClock {
    fn now(&self) -> Timestamp {
        let hook = self.hook.lock().unwrap().take();
        if let Some(hook) = hook {
            hook();
        }
        self.time.now()
    }
}

/// resilience4j #646 / #674, clock form: a thread that saw the breaker open, then read the
/// clock late (after the breaker had been reset), must not move the closed breaker to
/// half-open.
#[test]
fn late_clock_check_cannot_misfire_the_open_to_half_open_transition() {
    let clock = Arc::new(HookClock::default());
    let breaker = Arc::new(
        CircuitBreaker::with_clock("late", small(), Arc::clone(&clock) as Arc<dyn Clock>).unwrap(),
    );
    let changes = record_changes(&breaker);
    breaker.force_open();
    clock.time.advance(Duration::from_secs(10));
    // While `try_acquire` below is between loading the open state and comparing the time,
    // an operator resets the breaker.
    let other = Arc::clone(&breaker);
    *clock.hook.lock().unwrap() = Some(Box::new(move || other.reset()));
    let permit: Permit<'_> = breaker.try_acquire().expect("closed breakers admit");
    assert!(
        !permit.is_probe(),
        "the late thread must not have opened a half-open period"
    );
    drop(permit);
    assert_eq!(breaker.state(), State::Closed);
    let changes = changes.lock().unwrap();
    check_history(&changes);
    let path: Vec<_> = changes.iter().map(|c| (c.from, c.to)).collect();
    assert_eq!(
        path,
        [(State::Closed, State::Open), (State::Open, State::Closed)]
    );
}

/// resilience4j #1335: sliding-window counters drifted and went negative under concurrent
/// eviction. After heavy concurrent recording (with resets racing it), a quiet window must
/// count exactly what it holds.
#[test]
fn window_counters_never_drift_under_concurrent_eviction() {
    const SIZE: u64 = 16;
    let (breaker, _clock) = breaker(BreakerConfig {
        window: Window::count(16),
        minimum_calls: 16,
        failure_rate_threshold: 1.0,
        ..BreakerConfig::default()
    });
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let breaker = &breaker;
            scope.spawn(move || {
                for i in 0..50_000_u32 {
                    if thread == 0 && i % 5_000 == 0 {
                        breaker.reset();
                    }
                    let Ok(permit) = breaker.try_acquire() else {
                        continue;
                    };
                    if i % 4 == 0 {
                        permit.failure();
                    } else {
                        permit.success();
                    }
                    let snapshot = breaker.snapshot();
                    assert!(snapshot.calls <= SIZE && snapshot.failures <= snapshot.calls);
                }
            });
        }
    });
    // The window may have opened on an unlucky run of failures; a reset starts it clean.
    if breaker.state() != State::Closed {
        breaker.reset();
    }
    for _ in 0..SIZE {
        breaker.try_acquire().unwrap().success();
    }
    let snapshot = breaker.snapshot();
    assert_eq!(
        (snapshot.calls, snapshot.failures, snapshot.slow_calls),
        (16, 0, 0)
    );
    for _ in 0..7 {
        breaker
            .try_acquire()
            .unwrap()
            .record_error(&ErrorCategory::Timeout.into());
    }
    let snapshot = breaker.snapshot();
    assert_eq!((snapshot.calls, snapshot.failures), (16, 7));
}
