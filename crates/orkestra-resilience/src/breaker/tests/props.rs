//! Property tests: half-open admission bounds and permit release under random sequences.

use std::collections::HashMap;
use std::time::Duration;

use proptest::prelude::*;

use super::super::{BreakerConfig, Outcome, Permit, State, Window};
use super::{breaker, check_history, record_changes};

#[derive(Debug, Clone)]
enum Op {
    Acquire,
    /// Record the outcome of the held permit at this index (modulo the number held).
    Record(usize, Outcome),
    /// Drop the held permit at this index unrecorded.
    Drop(usize),
    Advance(Duration),
    ForceOpen,
    Reset,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Acquire),
        3 => (any::<usize>(), prop_oneof![
            3 => Just(Outcome::Failure),
            2 => Just(Outcome::Success),
            1 => Just(Outcome::Ignored),
        ])
            .prop_map(|(index, outcome)| Op::Record(index, outcome)),
        1 => any::<usize>().prop_map(Op::Drop),
        2 => (0u64..3_000).prop_map(|ms| Op::Advance(Duration::from_millis(ms))),
        1 => Just(Op::ForceOpen),
        1 => Just(Op::Reset),
    ]
}

fn config(probes: u32, slow: bool) -> BreakerConfig {
    BreakerConfig {
        window: Window::count(4),
        minimum_calls: 2,
        failure_rate_threshold: 0.5,
        slow_call_duration: slow.then_some(Duration::from_millis(1_500)),
        slow_call_rate_threshold: 0.5,
        open_duration: Duration::from_secs(1),
        open_duration_multiplier: 2.0,
        max_open_duration: Duration::from_secs(4),
        half_open_probes: probes,
        ..BreakerConfig::default()
    }
}

/// A held permit and, for a probe, the half-open generation that admitted it.
struct Held<'a> {
    permit: Permit<'a>,
    period: Option<u64>,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn half_open_never_admits_more_than_its_probes_and_permits_never_leak(
        probes in 1u32..=4,
        slow in any::<bool>(),
        ops in prop::collection::vec(op(), 1..120),
    ) {
        let (breaker, clock) = breaker(config(probes, slow));
        let changes = record_changes(&breaker);
        let half_open_period = || {
            let changes = changes.lock().unwrap();
            changes
                .last()
                .filter(|change| change.to == State::HalfOpen)
                .map(|change| change.generation)
        };
        let mut held: Vec<Held<'_>> = Vec::new();
        // Probes recorded as a success or failure, per half-open generation.
        let mut recorded: HashMap<u64, u32> = HashMap::new();
        for op in ops {
            match op {
                Op::Acquire => {
                    if let Ok(permit) = breaker.try_acquire() {
                        let period = if permit.is_probe() { half_open_period() } else { None };
                        prop_assert_eq!(permit.is_probe(), period.is_some());
                        held.push(Held { permit, period });
                    }
                }
                Op::Record(index, outcome) if !held.is_empty() => {
                    let Held { permit, period } = held.remove(index % held.len());
                    if let (Some(period), true) = (period, outcome != Outcome::Ignored) {
                        *recorded.entry(period).or_default() += 1;
                    }
                    permit.record(outcome);
                }
                Op::Drop(index) if !held.is_empty() => {
                    drop(held.remove(index % held.len()));
                }
                Op::Record(..) | Op::Drop(_) => {}
                Op::Advance(by) => clock.advance(by),
                Op::ForceOpen => breaker.force_open(),
                Op::Reset => breaker.reset(),
            }
            let snapshot = breaker.snapshot();
            if let (State::HalfOpen, Some(period)) = (snapshot.state, half_open_period()) {
                let in_flight = held.iter().filter(|h| h.period == Some(period)).count();
                let in_flight = u32::try_from(in_flight).unwrap();
                prop_assert_eq!(snapshot.half_open_in_flight, in_flight);
                let admitted = in_flight + recorded.get(&period).copied().unwrap_or(0);
                prop_assert!(admitted <= probes, "{} probes admitted, {} allowed", admitted, probes);
            } else {
                prop_assert_eq!(snapshot.half_open_in_flight, 0);
            }
        }
        check_history(&changes.lock().unwrap());
        drop(held);
        prop_assert_eq!(breaker.snapshot().half_open_in_flight, 0);
        clock.advance(Duration::from_secs(4));
        let permit = breaker.try_acquire();
        prop_assert!(permit.is_ok(), "stuck after every permit was released: {:?}", breaker.snapshot());
    }
}

proptest! {
    /// The count window's ring index is exactly `position % size` for every 32-bit position.
    #[test]
    fn fast_mod_is_the_remainder(position in any::<u32>(), size in 1_u64..=u64::from(u32::MAX)) {
        let magic = super::super::window::fast_mod_magic(size);
        let position = u64::from(position);
        prop_assert_eq!(super::super::window::fast_mod(position, size, magic), position % size);
    }
}
