//! Tests of the circuit breaker, one module per concern.

mod config;
mod props;
mod regressions;
mod stress;
mod table;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use orkestra_core::ManualClock;

use super::{BreakerConfig, CircuitBreaker, StateChange, Window};

/// A small configuration that trips quickly: the last 4 calls, judged from 4, half failing.
fn small() -> BreakerConfig {
    BreakerConfig {
        window: Window::count(4),
        minimum_calls: 4,
        failure_rate_threshold: 0.5,
        open_duration: Duration::from_secs(10),
        max_open_duration: Duration::from_mins(5),
        half_open_probes: 2,
        ..BreakerConfig::default()
    }
}

/// A breaker on a manual clock, and the clock.
fn breaker(config: BreakerConfig) -> (CircuitBreaker, ManualClock) {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::with_clock("test", config, Arc::new(clock.clone())).unwrap();
    (breaker, clock)
}

/// Records every state change the breaker makes.
fn record_changes(breaker: &CircuitBreaker) -> Arc<Mutex<Vec<StateChange>>> {
    let changes = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&changes);
    breaker.on_state_change(Arc::new(move |change: &StateChange| {
        sink.lock().unwrap().push(change.clone());
    }));
    changes
}

/// Checks that `changes`, ordered by generation, form one legal history starting closed.
#[track_caller]
fn check_history(changes: &[StateChange]) {
    let mut sorted = changes.to_vec();
    sorted.sort_by_key(|change| change.generation);
    let mut previous = super::State::Closed;
    let mut last_generation = 0;
    for change in &sorted {
        assert!(
            change.generation > last_generation,
            "generations must be unique and growing: {change:?}"
        );
        assert!(
            change.from.can_become(change.to, change.reason),
            "illegal transition {change:?}"
        );
        assert_eq!(change.from, previous, "broken history at {change:?}");
        previous = change.to;
        last_generation = change.generation;
    }
}

#[test]
fn breakers_and_permits_cross_threads() {
    fn shareable<T: Send + Sync>() {}
    fn sendable<T: Send>() {}
    shareable::<CircuitBreaker>();
    sendable::<super::Permit<'static>>();
}
