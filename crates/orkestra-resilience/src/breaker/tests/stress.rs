//! Many threads, one breaker: every reported change is legal and the history is unbroken.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::super::{BreakerConfig, Outcome, Window};
use super::{breaker, check_history, record_changes};

const THREADS: usize = 4;
const OPS_PER_THREAD: usize = 75_000;

#[test]
fn concurrent_calls_produce_only_legal_changes_in_one_unbroken_history() {
    let config = BreakerConfig {
        window: Window::count(8),
        minimum_calls: 4,
        failure_rate_threshold: 0.5,
        slow_call_duration: Some(Duration::from_millis(3)),
        slow_call_rate_threshold: 0.75,
        open_duration: Duration::from_millis(2),
        open_duration_multiplier: 2.0,
        max_open_duration: Duration::from_millis(8),
        half_open_probes: 3,
        ..BreakerConfig::default()
    };
    let (breaker, clock) = breaker(config);
    let changes = record_changes(&breaker);
    let barrier = Barrier::new(THREADS);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for seed in 0..THREADS {
            let (breaker, clock, barrier) = (&breaker, &clock, &barrier);
            scope.spawn(move || {
                let mut rng = SmallRng::seed_from_u64(seed as u64);
                barrier.wait();
                for op in 0..OPS_PER_THREAD {
                    match rng.random_range(0..1_000) {
                        0 => breaker.force_open(),
                        1 => breaker.reset(),
                        2..=150 => clock.advance(Duration::from_millis(rng.random_range(0..3))),
                        _ => {
                            let Ok(permit) = breaker.try_acquire() else {
                                continue;
                            };
                            let outcome = match rng.random_range(0..10) {
                                0..=3 => Some(Outcome::Failure),
                                4..=7 => Some(Outcome::Success),
                                8 => Some(Outcome::Ignored),
                                _ => None,
                            };
                            if op % 97 == 0 {
                                clock.advance(Duration::from_millis(4));
                            }
                            match outcome {
                                Some(outcome) => permit.record(outcome),
                                None => drop(permit),
                            }
                        }
                    }
                }
            });
        }
    });
    let changes = changes.lock().unwrap();
    assert!(
        changes.len() > 100,
        "the breaker should have cycled many times, saw {}",
        changes.len()
    );
    check_history(&changes);
    let snapshot = breaker.snapshot();
    let last = changes.iter().max_by_key(|c| c.generation).unwrap();
    assert_eq!(snapshot.state, last.to);
    assert_eq!(snapshot.transitions_total, changes.len() as u64);
    assert_eq!(snapshot.half_open_in_flight, 0, "every permit was released");
    assert!(started.elapsed() < Duration::from_mins(1));
}
