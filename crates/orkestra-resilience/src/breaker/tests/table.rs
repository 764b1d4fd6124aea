//! Transition tables driven by a manual clock: each step, then the state it must leave.

use std::time::Duration;

use orkestra_core::{ErrorCategory, ErrorClass};

use super::super::{
    BreakerConfig, Outcome, PROBES_BUSY_RETRY_AFTER, Permit, Reason, State, Window,
};
use super::{breaker, record_changes, small};

#[derive(Debug, Clone, Copy)]
enum Step {
    /// A call that succeeds.
    Pass,
    /// A call that fails.
    Fail,
    /// A call whose outcome is ignored.
    Ignore,
    /// A call that succeeds after taking this long.
    SlowOk(Duration),
    /// Time passes.
    Wait(Duration),
    /// A call is refused with this `retry_after`.
    Rejected(Duration),
    /// A call starts and is kept running.
    Hold,
    /// The most recently held call finishes so.
    Finish(Outcome),
    /// The most recently held call is dropped unrecorded.
    DropHeld,
    ForceOpen,
    Reset,
}

use Step::{DropHeld, Fail, Finish, ForceOpen, Hold, Ignore, Pass, Rejected, Reset, SlowOk, Wait};

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[track_caller]
fn check(config: BreakerConfig, steps: &[(Step, State)]) {
    let (breaker, clock) = breaker(config);
    let mut held: Vec<Permit<'_>> = Vec::new();
    for (index, &(step, expected)) in steps.iter().enumerate() {
        let acquire = || {
            breaker
                .try_acquire()
                .unwrap_or_else(|rejected| panic!("step {index} {step:?}: rejected {rejected:?}"))
        };
        match step {
            Pass => acquire().success(),
            Fail => acquire().failure(),
            Ignore => acquire().record(Outcome::Ignored),
            SlowOk(duration) => {
                let permit = acquire();
                clock.advance(duration);
                permit.success();
            }
            Wait(duration) => clock.advance(duration),
            Rejected(retry_after) => {
                let rejected = breaker.try_acquire().err();
                assert_eq!(
                    rejected.map(|r| r.retry_after),
                    Some(retry_after),
                    "step {index} {step:?}"
                );
            }
            Hold => held.push(acquire()),
            Finish(outcome) => held.pop().expect("a held call").record(outcome),
            DropHeld => drop(held.pop().expect("a held call")),
            ForceOpen => breaker.force_open(),
            Reset => breaker.reset(),
        }
        assert_eq!(breaker.state(), expected, "after step {index} {step:?}");
    }
}

use State::{Closed, HalfOpen, Open};

#[test]
fn count_window_opens_at_the_failure_rate_once_minimum_calls_are_in() {
    check(
        small(),
        &[
            (Fail, Closed),
            (Fail, Closed),
            (Fail, Closed),
            // Three failures are 100%, but no rate is judged below four calls.
            (Pass, Open),
        ],
    );
    check(
        small(),
        &[(Pass, Closed), (Fail, Closed), (Pass, Closed), (Fail, Open)],
    );
}

#[test]
fn the_count_window_slides_over_the_last_calls() {
    let config = BreakerConfig {
        failure_rate_threshold: 0.75,
        ..small()
    };
    check(
        config,
        &[
            (Fail, Closed),
            (Fail, Closed),
            (Pass, Closed),
            (Pass, Closed), // F F S S: 50%
            (Pass, Closed), // F S S S: 25%
            (Fail, Closed), // S S S F
            (Fail, Closed), // S S F F: 50%
            (Fail, Open),   // S F F F: 75%
        ],
    );
}

#[test]
fn open_rejects_with_the_time_left_then_probes_close_it() {
    check(
        small(),
        &[
            (Fail, Closed),
            (Fail, Closed),
            (Fail, Closed),
            (Fail, Open),
            (Rejected(secs(10)), Open),
            (Wait(secs(4)), Open),
            (Rejected(secs(6)), Open),
            (Wait(secs(6)), Open),
            // The first call after the open duration is the first probe.
            (Pass, HalfOpen),
            (Pass, Closed),
            // Closed again with an empty window: one failure does not reopen it.
            (Fail, Closed),
        ],
    );
}

#[test]
fn the_open_duration_grows_on_each_reopening_up_to_its_cap_and_resets_on_close() {
    let config = BreakerConfig {
        open_duration_multiplier: 2.0,
        max_open_duration: secs(35),
        ..small()
    };
    check(
        config,
        &[
            (Fail, Closed),
            (Fail, Closed),
            (Fail, Closed),
            (Fail, Open),
            (Rejected(secs(10)), Open),
            (Wait(secs(10)), Open),
            // One failed probe of two is 50%: the breaker reopens without waiting for the other.
            (Fail, Open),
            (Rejected(secs(20)), Open),
            (Wait(secs(20)), Open),
            (Fail, Open),
            (Rejected(secs(35)), Open), // 40 s, capped
            (Wait(secs(35)), Open),
            (Fail, Open),
            (Rejected(secs(35)), Open),
            (Wait(secs(35)), Open),
            (Pass, HalfOpen),
            (Pass, Closed),
            (Fail, Closed),
            (Fail, Closed),
            (Fail, Closed),
            (Fail, Open),
            (Rejected(secs(10)), Open), // back to the base
        ],
    );
}

#[test]
fn time_window_forgets_calls_older_than_its_duration() {
    let config = BreakerConfig {
        window: Window::Time {
            duration: secs(10),
            buckets: 10,
        },
        minimum_calls: 3,
        failure_rate_threshold: 0.6,
        ..small()
    };
    check(
        config.clone(),
        &[
            (Fail, Closed),
            (Fail, Closed),
            (Wait(secs(10)), Closed),
            // The two failures have expired: had they not, this would be 2 of 3 failing.
            (Pass, Closed),
            (Fail, Closed),
            (Fail, Open), // 2 of 3 within the window
        ],
    );
    check(
        config,
        &[
            (Fail, Closed),
            (Wait(secs(9)), Closed),
            (Fail, Closed),
            (Pass, Open), // all three within the last 10 s: 2 of 3
        ],
    );
}

#[test]
fn slow_calls_open_the_breaker_at_their_own_rate() {
    let config = BreakerConfig {
        slow_call_duration: Some(secs(1)),
        slow_call_rate_threshold: 0.5,
        failure_rate_threshold: 1.0,
        ..small()
    };
    check(
        config.clone(),
        &[
            (SlowOk(secs(2)), Closed),
            (Pass, Closed),
            (SlowOk(Duration::from_millis(999)), Closed), // just under: not slow
            (SlowOk(secs(1)), Open),                      // exactly the limit is slow: 2 of 4
        ],
    );
    // Half-open, one slow probe of two reaches 50%.
    check(
        config,
        &[
            (ForceOpen, Open),
            (Wait(secs(10)), Open),
            (SlowOk(secs(3)), Open),
            (Rejected(secs(20)), Open),
        ],
    );
}

#[test]
fn slow_detection_off_never_calls_a_call_slow() {
    check(
        BreakerConfig {
            failure_rate_threshold: 1.0,
            ..small()
        },
        &[
            (SlowOk(secs(3600)), Closed),
            (SlowOk(secs(3600)), Closed),
            (SlowOk(secs(3600)), Closed),
            (SlowOk(secs(3600)), Closed),
        ],
    );
}

#[test]
fn ignored_calls_count_for_nothing_and_free_their_probe() {
    let config = BreakerConfig {
        half_open_probes: 1,
        ..small()
    };
    check(
        config,
        &[
            (Fail, Closed),
            (Ignore, Closed),
            (Ignore, Closed),
            (Fail, Closed),
            (Fail, Closed),
            // Ignored calls did not fill the window: this is the fourth call.
            (Pass, Open),
            (Wait(secs(10)), Open),
            (Hold, HalfOpen),
            (Rejected(PROBES_BUSY_RETRY_AFTER), HalfOpen),
            (Finish(Outcome::Ignored), HalfOpen),
            (Hold, HalfOpen),
            (DropHeld, HalfOpen),
            (Pass, Closed),
        ],
    );
}

#[test]
fn half_open_waits_for_every_probe_before_closing() {
    let config = BreakerConfig {
        half_open_probes: 3,
        failure_rate_threshold: 0.5,
        ..small()
    };
    check(
        config,
        &[
            (ForceOpen, Open),
            (Wait(secs(10)), Open),
            (Hold, HalfOpen),
            (Hold, HalfOpen),
            (Hold, HalfOpen),
            (Rejected(PROBES_BUSY_RETRY_AFTER), HalfOpen),
            (Finish(Outcome::Success), HalfOpen),
            (Finish(Outcome::Failure), HalfOpen), // 1 of 3 failed: not yet decided
            (Finish(Outcome::Success), Closed),   // 1 of 3 < 50%
        ],
    );
}

#[test]
fn force_open_and_reset() {
    check(
        small(),
        &[
            (Fail, Closed),
            (Fail, Closed),
            (Fail, Closed),
            (Reset, Closed),
            // The reset emptied the window: three more failures, still below four calls.
            (Fail, Closed),
            (Fail, Closed),
            (Fail, Closed),
            (ForceOpen, Open),
            (Rejected(secs(10)), Open),
            (Wait(secs(10)), Open),
            (Hold, HalfOpen),
            // Forced open from half-open counts as a re-opening: the duration grows.
            (ForceOpen, Open),
            (Rejected(secs(20)), Open),
            (DropHeld, Open),
            (Wait(secs(5)), Open),
            // Forced open while open restarts the current duration.
            (ForceOpen, Open),
            (Rejected(secs(20)), Open),
            (Reset, Closed),
            (Pass, Closed),
            (ForceOpen, Open),
            (Rejected(secs(10)), Open),
        ],
    );
}

#[test]
fn listeners_see_each_transition_with_its_reason_and_rates() {
    let (breaker, clock) = breaker(BreakerConfig {
        slow_call_duration: Some(secs(5)),
        ..small()
    });
    let changes = record_changes(&breaker);
    for _ in 0..3 {
        breaker.try_acquire().unwrap().failure();
    }
    breaker.try_acquire().unwrap().success();
    clock.advance(secs(10));
    breaker.try_acquire().unwrap().success();
    breaker.try_acquire().unwrap().success();
    breaker.force_open();
    breaker.reset();
    breaker.reset(); // already closed: no change to report
    let changes = changes.lock().unwrap().clone();
    let summary: Vec<_> = changes
        .iter()
        .map(|c| {
            (
                c.from,
                c.to,
                c.reason,
                c.failure_rate,
                c.slow_call_rate,
                c.generation,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (Closed, Open, Reason::FailureRate, Some(0.75), Some(0.0), 1),
            (Open, HalfOpen, Reason::OpenDurationElapsed, None, None, 2),
            (HalfOpen, Closed, Reason::ProbesSucceeded, None, None, 3),
            (Closed, Open, Reason::Forced, None, None, 4),
            (Open, Closed, Reason::Reset, None, None, 5),
        ]
    );
    assert_eq!(changes[0].at, orkestra_core::Timestamp::ZERO);
    assert_eq!(changes[1].at, orkestra_core::Timestamp::ZERO + secs(10));
    assert!(changes.iter().all(|c| &*c.breaker == "test"));
    assert_eq!(breaker.snapshot().transitions_total, 5);
}

#[test]
fn outcome_of_checks_ignore_then_record_and_calls_the_rest_a_success() {
    let (breaker, _) = breaker(BreakerConfig::default());
    let expected = |category: ErrorCategory| match category {
        ErrorCategory::Cancelled => Outcome::Ignored,
        ErrorCategory::Network
        | ErrorCategory::Timeout
        | ErrorCategory::RateLimited
        | ErrorCategory::Overloaded
        | ErrorCategory::Internal
        | ErrorCategory::Auth
        | ErrorCategory::ResourceExhausted(_) => Outcome::Failure,
        _ => Outcome::Success,
    };
    for category in ErrorCategory::ALL {
        assert_eq!(
            breaker.outcome_of(&ErrorClass::new(category)),
            expected(category),
            "{category}"
        );
    }
    // A category in both lists is ignored: ignore is checked first.
    let (both, _) = super::breaker(BreakerConfig {
        ignore: BreakerConfig::DEFAULT_IGNORE.with(ErrorCategory::Timeout),
        ..BreakerConfig::default()
    });
    assert_eq!(
        both.outcome_of(&ErrorCategory::Timeout.into()),
        Outcome::Ignored
    );
}

#[test]
fn snapshot_reports_the_window_and_serializes() {
    let (breaker, clock) = breaker(small());
    breaker.try_acquire().unwrap().failure();
    breaker.try_acquire().unwrap().success();
    let snapshot = breaker.snapshot();
    assert_eq!((snapshot.calls, snapshot.failures), (2, 1));
    assert_eq!(snapshot.failure_rate, None, "below minimum_calls");
    breaker.try_acquire().unwrap().failure();
    breaker.try_acquire().unwrap().failure();
    assert!(breaker.try_acquire().is_err());
    clock.advance(secs(3));
    let json = serde_json::to_value(breaker.snapshot()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "name": "test",
            "state": "open",
            "calls": 0,
            "failures": 0,
            "slow_calls": 0,
            "failure_rate": null,
            "slow_call_rate": null,
            "half_open_in_flight": 0,
            "rejected_total": 1,
            "transitions_total": 1,
            "consecutive_opens": 1,
            "retry_after": "7s",
        })
    );
    clock.advance(secs(7));
    let probe = breaker.try_acquire().unwrap();
    assert!(probe.is_probe());
    let snapshot = breaker.snapshot();
    assert_eq!(
        (
            snapshot.state,
            snapshot.half_open_in_flight,
            snapshot.retry_after
        ),
        (HalfOpen, 1, None)
    );
    probe.failure();
    let snapshot = breaker.snapshot();
    assert_eq!((snapshot.state, snapshot.consecutive_opens), (Open, 2));
}

#[tokio::test]
async fn call_records_the_classified_outcome_and_maps_rejection() {
    use crate::Error;
    let (breaker, _) = breaker(BreakerConfig {
        minimum_calls: 1,
        ..small()
    });
    let ok = breaker.call(async { Ok::<_, ErrorClass>(7) }).await;
    assert_eq!(ok, Ok(7));
    // The caller's own mistake is a success for the breaker.
    let invalid = ErrorClass::new(ErrorCategory::InvalidRequest);
    let result = breaker.call(async { Err::<(), _>(invalid) }).await;
    assert_eq!(result, Err(Error::Inner(invalid)));
    assert_eq!(breaker.state(), Closed);
    let overloaded = ErrorClass::new(ErrorCategory::Overloaded);
    let _ = breaker.call(async { Err::<(), _>(overloaded) }).await;
    let _ = breaker.call(async { Err::<(), _>(overloaded) }).await;
    assert_eq!(breaker.state(), Open, "2 of 4 failed");
    let refused = breaker.call(async { Ok::<_, ErrorClass>(()) }).await;
    assert_eq!(
        refused,
        Err(Error::CircuitOpen {
            retry_after: secs(10)
        })
    );
}
