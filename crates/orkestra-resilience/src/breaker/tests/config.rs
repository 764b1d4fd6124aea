//! Configuration: TOML with human durations, unknown keys rejected, validation naming fields.

use std::time::Duration;

use orkestra_core::{ErrorCategory, ManualClock};

use super::super::{BreakerConfig, CircuitBreaker, Window};
use crate::CategorySet;

fn parse(toml: &str) -> Result<BreakerConfig, String> {
    toml::from_str(toml).map_err(|error| error.to_string())
}

#[test]
fn defaults_are_the_documented_values_and_an_empty_file_gives_them() {
    let defaults = BreakerConfig::default();
    assert_eq!(defaults.window, Window::Count { size: 100 });
    assert_eq!(defaults.minimum_calls, 10);
    assert!((defaults.failure_rate_threshold - 0.5).abs() < f64::EPSILON);
    assert_eq!(defaults.slow_call_duration, None);
    assert!((defaults.slow_call_rate_threshold - 1.0).abs() < f64::EPSILON);
    assert_eq!(defaults.open_duration, Duration::from_secs(10));
    assert!((defaults.open_duration_multiplier - 2.0).abs() < f64::EPSILON);
    assert_eq!(defaults.max_open_duration, Duration::from_mins(5));
    assert_eq!(defaults.half_open_probes, 2);
    assert_eq!(
        defaults
            .record
            .iter()
            .map(ErrorCategory::as_str)
            .collect::<Vec<_>>(),
        [
            "network",
            "timeout",
            "rate_limited",
            "overloaded",
            "auth",
            "resource_exhausted",
            "internal"
        ]
    );
    assert_eq!(
        defaults.ignore,
        CategorySet::of(&[ErrorCategory::Cancelled])
    );
    assert_eq!(defaults.validate(), Ok(()));
    assert_eq!(parse(""), Ok(defaults));
}

#[test]
fn toml_reads_human_durations_and_both_window_forms() {
    let config = parse(
        r#"
        window = { time = "30s", buckets = 15 }
        minimum_calls = 20
        failure_rate_threshold = 0.25
        slow_call_duration = "2s 500ms"
        slow_call_rate_threshold = 0.8
        open_duration = "30s"
        open_duration_multiplier = 1.5
        max_open_duration = "10m"
        half_open_probes = 3
        record = ["timeout", "overloaded"]
        ignore = ["cancelled", "rate_limited"]
        "#,
    )
    .unwrap();
    assert_eq!(
        config,
        BreakerConfig {
            window: Window::Time {
                duration: Duration::from_secs(30),
                buckets: 15
            },
            minimum_calls: 20,
            failure_rate_threshold: 0.25,
            slow_call_duration: Some(Duration::from_millis(2_500)),
            slow_call_rate_threshold: 0.8,
            open_duration: Duration::from_secs(30),
            open_duration_multiplier: 1.5,
            max_open_duration: Duration::from_mins(10),
            half_open_probes: 3,
            record: CategorySet::of(&[ErrorCategory::Timeout, ErrorCategory::Overloaded]),
            ignore: CategorySet::of(&[ErrorCategory::Cancelled, ErrorCategory::RateLimited]),
        }
    );
    assert_eq!(
        parse(r#"window = { time = "1m" }"#).unwrap().window,
        Window::time(Duration::from_mins(1))
    );
    assert_eq!(
        parse("window = { count = 50 }").unwrap().window,
        Window::count(50)
    );
}

#[test]
fn config_round_trips_through_toml() {
    for window in [Window::count(42), Window::time(Duration::from_secs(90))] {
        let config = BreakerConfig {
            window,
            slow_call_duration: Some(Duration::from_secs(3)),
            ..BreakerConfig::default()
        };
        let written = toml::to_string(&config).unwrap();
        assert_eq!(parse(&written), Ok(config), "{written}");
    }
}

#[track_caller]
fn check_rejected(toml: &str, mentions: &[&str]) {
    let message = parse(toml).expect_err(toml);
    for word in mentions {
        assert!(
            message.contains(word),
            "{toml:?}: {message:?} should mention {word:?}"
        );
    }
}

#[test]
fn unknown_keys_and_malformed_windows_are_rejected() {
    check_rejected(r#"open_duraton = "1s""#, &["open_duraton", "open_duration"]);
    check_rejected("window = { count = 10, size = 3 }", &["size"]);
    check_rejected(r#"window = { count = 10, time = "1s" }"#, &["not both"]);
    check_rejected("window = { count = 10, buckets = 3 }", &["time window"]);
    check_rejected("window = { buckets = 3 }", &["count", "time"]);
    check_rejected(r#"open_duration = "ten seconds""#, &["open_duration"]);
    check_rejected(r#"record = ["netwrok"]"#, &["netwrok"]);
}

#[track_caller]
fn check_invalid(change: impl FnOnce(&mut BreakerConfig), field: &str) {
    let mut config = BreakerConfig::default();
    change(&mut config);
    let error = config.validate().expect_err(field);
    assert_eq!(error.field, field, "{error}");
    assert!(error.to_string().contains(field), "{error}");
    let built = CircuitBreaker::with_clock("x", config, std::sync::Arc::new(ManualClock::new()));
    assert_eq!(built.err(), Some(error));
}

#[test]
fn validation_names_the_field_at_fault() {
    check_invalid(|c| c.window = Window::count(0), "breaker.window.count");
    check_invalid(|c| c.window = Window::count(10_001), "breaker.window.count");
    check_invalid(
        |c| {
            c.window = Window::Time {
                duration: Duration::from_secs(1),
                buckets: 0,
            }
        },
        "breaker.window.buckets",
    );
    check_invalid(
        |c| {
            c.window = Window::Time {
                duration: Duration::from_nanos(5),
                buckets: 10,
            }
        },
        "breaker.window.time",
    );
    check_invalid(|c| c.minimum_calls = 0, "breaker.minimum_calls");
    check_invalid(|c| c.minimum_calls = 101, "breaker.minimum_calls");
    check_invalid(
        |c| c.failure_rate_threshold = 0.0,
        "breaker.failure_rate_threshold",
    );
    check_invalid(
        |c| c.failure_rate_threshold = 1.5,
        "breaker.failure_rate_threshold",
    );
    check_invalid(
        |c| c.failure_rate_threshold = f64::NAN,
        "breaker.failure_rate_threshold",
    );
    check_invalid(
        |c| c.slow_call_rate_threshold = -0.1,
        "breaker.slow_call_rate_threshold",
    );
    check_invalid(
        |c| c.slow_call_duration = Some(Duration::ZERO),
        "breaker.slow_call_duration",
    );
    check_invalid(
        |c| c.open_duration = Duration::ZERO,
        "breaker.open_duration",
    );
    check_invalid(
        |c| c.open_duration_multiplier = 0.5,
        "breaker.open_duration_multiplier",
    );
    check_invalid(
        |c| c.open_duration_multiplier = f64::INFINITY,
        "breaker.open_duration_multiplier",
    );
    check_invalid(
        |c| c.max_open_duration = Duration::from_secs(1),
        "breaker.max_open_duration",
    );
    check_invalid(|c| c.half_open_probes = 0, "breaker.half_open_probes");
    check_invalid(|c| c.half_open_probes = 256, "breaker.half_open_probes");
}
