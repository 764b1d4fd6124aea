use std::time::Duration;

use super::*;

#[test]
fn manual_clock_moves_only_when_told_and_clones_share_time() {
    let clock = ManualClock::new();
    let clone = clock.clone();
    assert_eq!(clock.now(), Timestamp::ZERO);
    clone.advance(Duration::from_millis(250));
    assert_eq!(clock.now(), Timestamp::from_nanos(250_000_000));
}

#[test]
fn manual_clock_never_runs_backwards() {
    let clock = ManualClock::new();
    clock.set(Timestamp::from_nanos(10));
    clock.set(Timestamp::from_nanos(5));
    assert_eq!(clock.now(), Timestamp::from_nanos(10));
}

#[test]
fn timestamp_arithmetic_saturates() {
    let far = Timestamp::from_nanos(u64::MAX - 1);
    assert_eq!(
        far + Duration::from_secs(10),
        Timestamp::from_nanos(u64::MAX)
    );
    assert_eq!(Timestamp::ZERO - far, Duration::ZERO);
    let clock = ManualClock::new();
    clock.advance(Duration::MAX);
    clock.advance(Duration::MAX);
    assert_eq!(clock.now(), Timestamp::from_nanos(u64::MAX));
}

#[test]
fn system_clock_is_monotonic() {
    let clock = SystemClock::new();
    let a = clock.now();
    let b = clock.now();
    assert!(b >= a);
}
