use std::sync::Arc;

use super::*;
use crate::spec::ModelSpec;

const T0: UnixMillis = UnixMillis(1_795_262_400_000); // 2026-11-21T12:00:00Z, a slot boundary

fn model(id: &str) -> ModelId {
    ModelId::new(id).unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn at(offset: Duration) -> UnixMillis {
    T0.saturating_add(offset)
}

#[track_caller]
fn check_close(actual: Duration, expected: Duration) {
    let error = (actual.as_secs_f64() - expected.as_secs_f64()).abs() / expected.as_secs_f64();
    assert!(error < 0.01, "{actual:?} is not within 1% of {expected:?}");
}

#[test]
fn percentiles_and_success_rate_cover_the_window() {
    let stats = PerfStats::default();
    let m = model("openai/gpt-4o-mini");
    for i in 1..=100 {
        stats.record(&m, &Outcome::success(ms(i), 10, 5), at(ms(i)));
    }
    for _ in 0..25 {
        stats.record(&m, &Outcome::failure(ms(1)), at(ms(200)));
    }
    let report = stats.report(&m, at(ms(300))).unwrap();
    assert_eq!((report.successes, report.failures), (100, 25));
    assert_eq!((report.input_tokens, report.output_tokens), (1_000, 500));
    // 125 samples: 25 at 1 ms and 100 from 1 to 100 ms.
    check_close(report.latency.p99, ms(99));
    check_close(report.latency.max, ms(100));
    let signals = stats.signals(&m).unwrap();
    assert_eq!(signals.samples, 125);
    assert!((signals.success_rate - 0.8).abs() < 1e-9);
}

#[test]
fn the_ewma_leans_to_recent_calls() {
    let stats = PerfStats::default();
    let m = model("ollama/llama3.1:8b");
    for _ in 0..50 {
        stats.record(&m, &Outcome::success(ms(100), 1, 1), T0);
    }
    for _ in 0..30 {
        stats.record(&m, &Outcome::success(ms(500), 1, 1), T0);
    }
    let ewma = stats.signals(&m).unwrap().latency_ewma;
    // After 30 samples at weight 0.1 the old level keeps 0.9^30 = 4% of its pull.
    assert!(ewma > ms(480) && ewma < ms(500), "{ewma:?}");
}

#[test]
fn tokens_per_second_exclude_the_wait_for_the_first_token() {
    let stats = PerfStats::default();
    let m = model("groq/llama-3.1-8b-instant");
    stats.record(
        &m,
        &Outcome::success(ms(1_100), 10, 100).with_ttft(ms(100)),
        T0,
    );
    let signals = stats.signals(&m).unwrap();
    assert!((signals.tokens_per_second - 100.0).abs() < 1e-6);
    assert_eq!(signals.ttft_ewma, ms(100));
    check_close(stats.report(&m, T0).unwrap().ttft.p50, ms(100));
}

#[test]
fn old_slots_leave_the_window_and_history_stays_bounded() {
    let config = StatsConfig::default();
    let window = config.slot * u32::try_from(config.slots).unwrap();
    let stats = PerfStats::new(config);
    let m = model("anthropic/claude-3-5-haiku");
    for minute in 0..600 {
        stats.record(
            &m,
            &Outcome::success(ms(10), 1, 1),
            at(Duration::from_secs(minute * 60)),
        );
    }
    let history = stats.history();
    assert_eq!(history[0].slots.len(), config.slots);
    stats.record(
        &m,
        &Outcome::failure(ms(10)),
        at(Duration::from_hours(10) + window),
    );
    let signals = stats.signals(&m).unwrap();
    assert_eq!(
        signals.samples, 1,
        "everything older than the window is gone"
    );
    assert!(signals.success_rate.abs() < f64::EPSILON);
}

#[test]
fn late_outcomes_land_in_their_slot_and_too_late_ones_are_dropped() {
    let stats = PerfStats::default();
    let m = model("openai/gpt-4o");
    stats.record(
        &m,
        &Outcome::success(ms(10), 1, 1),
        at(Duration::from_mins(30)),
    );
    stats.record(
        &m,
        &Outcome::success(ms(10), 1, 1),
        at(Duration::from_secs(10)),
    );
    stats.record(
        &m,
        &Outcome::success(ms(10), 1, 1),
        at(Duration::from_secs(1_900)),
    );
    let slot_starts: Vec<u64> = stats.history()[0]
        .slots
        .iter()
        .map(|s| s.start.0 - T0.0)
        .collect();
    assert_eq!(slot_starts, [0, 1_800_000]);
    // Two hours after the newest slot began, a call from the first minute is outside the window.
    stats.record(
        &m,
        &Outcome::success(ms(10), 1, 1),
        at(Duration::from_mins(150)),
    );
    stats.record(
        &m,
        &Outcome::success(ms(10), 1, 1),
        at(Duration::from_secs(20)),
    );
    assert_eq!(stats.signals(&m).unwrap().samples, 1);
}

#[test]
fn percentiles_for_the_scorer_refresh_at_most_once_per_interval() {
    let stats = PerfStats::default();
    let m = model("openai/gpt-4o");
    stats.record(&m, &Outcome::success(ms(10), 1, 1), T0);
    for _ in 0..99 {
        stats.record(&m, &Outcome::success(ms(1_000), 1, 1), at(ms(500)));
    }
    check_close(stats.signals(&m).unwrap().latency_p95, ms(10));
    stats.record(&m, &Outcome::success(ms(1_000), 1, 1), at(ms(1_000)));
    check_close(stats.signals(&m).unwrap().latency_p95, ms(1_000));
}

#[test]
fn history_restores_exactly() {
    let stats = PerfStats::default();
    for (i, id) in ["a/x", "b/y", "c/z"].into_iter().enumerate() {
        let m = model(id);
        for j in 0..200_u64 {
            let outcome = if j % 7 == 0 {
                Outcome::failure(ms(j))
            } else {
                Outcome::success(ms(j * (i as u64 + 1)), 30, 20).with_ttft(ms(j / 2 + 1))
            };
            stats.record(&m, &outcome, at(Duration::from_secs(j * 17)));
        }
    }
    let saved = stats.history();
    let json = serde_json::to_string(&saved).unwrap();
    let restored = PerfStats::default();
    restored.restore(serde_json::from_str::<Vec<ModelHistory>>(&json).unwrap());
    assert_eq!(restored.history(), saved);
    let m = model("b/y");
    let now = at(Duration::from_secs(3_400));
    assert_eq!(restored.report(&m, now), stats.report(&m, now));
}

#[test]
fn unknown_models_have_no_signals() {
    let stats = PerfStats::default();
    assert_eq!(stats.signals(&model("a/b")), None);
    assert_eq!(stats.report(&model("a/b"), T0), None);
    assert_eq!(().signals(&model("a/b")), None);
}

#[test]
fn batched_reads_follow_new_models_and_changed_snapshots() {
    let stats = PerfStats::default();
    let specs: Vec<Arc<ModelSpec>> = ["a/x", "b/y"]
        .into_iter()
        .map(|id| Arc::new(ModelSpec::new(model(id), 1_000)))
        .collect();
    let read = |specs: &[Arc<ModelSpec>]| {
        let mut out = vec![None; specs.len()];
        stats.fill(specs, 0, &mut out);
        out.iter()
            .enumerate()
            .map(|(position, signals)| (position, signals.map(|s| s.samples)))
            .collect::<Vec<_>>()
    };
    stats.record(&model("a/x"), &Outcome::success(ms(5), 1, 1), T0);
    assert_eq!(read(&specs), [(0, Some(1)), (1, None)]);
    assert_eq!(read(&specs), [(0, Some(1)), (1, None)], "cached positions");
    // A model seen for the first time after the cache was built is not missed.
    stats.record(&model("b/y"), &Outcome::success(ms(5), 1, 1), T0);
    assert_eq!(read(&specs), [(0, Some(1)), (1, Some(1))]);
    // A different snapshot (other specs at the same positions) is looked up afresh.
    let swapped = vec![Arc::clone(&specs[1]), Arc::clone(&specs[0])];
    stats.record(&model("b/y"), &Outcome::success(ms(5), 1, 1), T0);
    assert_eq!(read(&swapped), [(0, Some(2)), (1, Some(1))]);
    // A chunk from the middle of the list reads the positions it names.
    let mut tail = [None];
    stats.fill(&swapped, 1, &mut tail);
    assert_eq!(tail.map(|s| s.map(|s| s.samples)), [Some(1)]);
}
