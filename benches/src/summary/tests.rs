use super::*;

/// Whether `actual` is within hdrhistogram's three significant digits of `expected`.
#[track_caller]
fn check_close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= expected * 1e-3 + 1e-3,
        "{actual} is not within 0.1% of {expected}"
    );
}

fn recorder_of_micros(latencies: impl IntoIterator<Item = u64>) -> Recorder {
    let mut recorder = Recorder::new();
    for micros in latencies {
        recorder.answer(Duration::from_micros(micros), 200);
    }
    recorder
}

#[test]
fn percentiles_of_1_to_1000_us() {
    let percentiles = recorder_of_micros(1..=1000).percentiles();
    check_close(percentiles.min, 1.0);
    check_close(percentiles.p50, 500.0);
    check_close(percentiles.p90, 900.0);
    check_close(percentiles.p99, 990.0);
    check_close(percentiles.p999, 999.0);
    check_close(percentiles.max, 1000.0);
    check_close(percentiles.mean, 500.5);
}

#[test]
fn one_slow_answer_in_a_hundred_is_the_p99_tail_not_the_median() {
    let percentiles = recorder_of_micros((0..99).map(|_| 50).chain([5_000])).percentiles();
    check_close(percentiles.p50, 50.0);
    check_close(percentiles.p90, 50.0);
    check_close(percentiles.p99, 50.0);
    check_close(percentiles.max, 5_000.0);
    let percentiles = recorder_of_micros((0..98).map(|_| 50).chain([5_000, 5_000])).percentiles();
    check_close(percentiles.p99, 5_000.0);
}

#[test]
fn nothing_recorded_is_all_zero() {
    assert_eq!(Recorder::new().percentiles(), Percentiles::default());
}

#[test]
fn latencies_beyond_the_longest_are_clamped_not_lost() {
    let mut recorder = Recorder::new();
    recorder.answer(Duration::from_secs(1_000), 200);
    assert_eq!(recorder.answers(), 1);
    check_close(recorder.percentiles().max, LONGEST.as_secs_f64() * 1e6);
}

#[test]
fn errors_and_non_2xx_are_counted_apart() {
    let mut recorder = Recorder::new();
    recorder.answer(Duration::from_micros(10), 200);
    recorder.answer(Duration::from_micros(10), 429);
    recorder.answer(Duration::from_micros(10), 500);
    recorder.error("connection reset");
    recorder.error("timed out");
    assert_eq!(recorder.answers(), 3);
    assert_eq!(recorder.non_2xx, 2);
    assert_eq!(recorder.errors, 2);
    assert_eq!(recorder.first_error.as_deref(), Some("connection reset"));
}

#[test]
fn the_json_summary_has_the_rate_and_percentiles_in_microseconds() {
    let options = Options {
        url: "http://127.0.0.1:1/".to_owned(),
        mode: Mode::Open { rate: 100.0 },
        ..Options::default()
    };
    let summary = Summary {
        options,
        recorder: recorder_of_micros((0..200).map(|_| 100)),
        elapsed: Duration::from_secs(2),
        bursts: vec![Duration::from_millis(201)],
    };
    let json = summary.to_json();
    assert_eq!(json["mode"], "open");
    assert_eq!(json["target_rate"], 100.0);
    assert_eq!(json["requests"], 200);
    assert_eq!(json["rate"], 100.0);
    assert_eq!(json["elapsed_us"], 2_000_000.0);
    assert_eq!(json["burst_wall_us"][0], 201_000.0);
    check_close(json["latency_us"]["p99"].as_f64().expect("a number"), 100.0);
    assert_eq!(json["first_error"], Value::Null);
}
