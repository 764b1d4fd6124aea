use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use orkestra_core::ManualClock;

use super::*;

fn at(secs: u64) -> Timestamp {
    Timestamp::from_nanos(secs * 1_000_000_000)
}

/// A degradation on a manual clock that records every level change.
fn degradation() -> (Degradation, ManualClock, Arc<Mutex<Vec<LevelChange>>>) {
    let clock = ManualClock::new();
    let degradation = Degradation::with_clock(clock.clone());
    let changes = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&changes);
    degradation.on_change(move |change| log.lock().unwrap().push(change.clone()));
    (degradation, clock, changes)
}

/// Checks the level and the active causes as `(source, level, since in seconds)`, worst first.
#[track_caller]
fn check(degradation: &Degradation, level: Level, causes: &[(&str, Level, u64)]) {
    assert_eq!(degradation.level(), level);
    let status = degradation.status();
    assert_eq!(status.level, level);
    let actual: Vec<_> = status
        .causes
        .iter()
        .map(|cause| (cause.source.as_str(), cause.level, cause.since))
        .collect();
    let expected: Vec<_> = causes
        .iter()
        .map(|&(source, level, since)| (source, level, at(since)))
        .collect();
    assert_eq!(actual, expected);
}

#[test]
fn a_new_degradation_is_normal() {
    let degradation = Degradation::new();
    check(&degradation, Level::Normal, &[]);
}

#[test]
fn entering_and_leaving_moves_the_level_and_notifies_listeners() {
    let (degradation, clock, changes) = degradation();
    clock.advance(Duration::from_secs(1));
    degradation.enter("cache", Level::Minimal, "cache cluster unreachable");
    check(
        &degradation,
        Level::Minimal,
        &[("cache", Level::Minimal, 1)],
    );
    assert_eq!(
        degradation.status().causes[0].reason,
        "cache cluster unreachable"
    );
    clock.advance(Duration::from_secs(1));
    degradation.leave("cache");
    check(&degradation, Level::Normal, &[]);
    assert_eq!(
        *changes.lock().unwrap(),
        [
            LevelChange {
                from: Level::Normal,
                to: Level::Minimal,
                source: "cache".into(),
                at: at(1),
            },
            LevelChange {
                from: Level::Minimal,
                to: Level::Normal,
                source: "cache".into(),
                at: at(2),
            },
        ]
    );
}

#[test]
fn the_level_is_the_worst_of_several_sources() {
    let (degradation, clock, changes) = degradation();
    degradation.enter("openai", Level::Reduced, "breaker open");
    clock.advance(Duration::from_secs(1));
    degradation.enter("database", Level::Unavailable, "no connection");
    clock.advance(Duration::from_secs(1));
    degradation.enter("anthropic", Level::Reduced, "breaker open");
    check(
        &degradation,
        Level::Unavailable,
        &[
            ("database", Level::Unavailable, 1),
            ("openai", Level::Reduced, 0),
            ("anthropic", Level::Reduced, 2),
        ],
    );
    // One source recovering leaves the others in force.
    degradation.leave("database");
    check(
        &degradation,
        Level::Reduced,
        &[
            ("openai", Level::Reduced, 0),
            ("anthropic", Level::Reduced, 2),
        ],
    );
    degradation.leave("openai");
    check(
        &degradation,
        Level::Reduced,
        &[("anthropic", Level::Reduced, 2)],
    );
    degradation.leave("anthropic");
    check(&degradation, Level::Normal, &[]);
    let levels: Vec<_> = changes.lock().unwrap().iter().map(|c| c.to).collect();
    assert_eq!(
        levels,
        [
            Level::Reduced,
            Level::Unavailable,
            Level::Reduced,
            Level::Normal
        ]
    );
}

#[test]
fn re_entering_replaces_a_source_and_keeps_since_at_the_same_level() {
    let (degradation, clock, changes) = degradation();
    degradation.enter("gpu", Level::Reduced, "one node down");
    clock.advance(Duration::from_secs(5));
    degradation.enter("gpu", Level::Reduced, "still one node down");
    check(&degradation, Level::Reduced, &[("gpu", Level::Reduced, 0)]);
    assert_eq!(degradation.status().causes[0].reason, "still one node down");
    degradation.enter("gpu", Level::Minimal, "two nodes down");
    check(&degradation, Level::Minimal, &[("gpu", Level::Minimal, 5)]);
    // Entering `normal` leaves; leaving an unknown source changes nothing.
    degradation.enter("gpu", Level::Normal, "recovered");
    check(&degradation, Level::Normal, &[]);
    degradation.leave("never-entered");
    assert_eq!(changes.lock().unwrap().len(), 3);
}

#[test]
fn clones_share_state_and_listeners_may_read_the_status() {
    let degradation = Degradation::with_clock(ManualClock::new());
    let clone = degradation.clone();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let reader = degradation.clone();
    degradation.on_change(move |_| log.lock().unwrap().push(reader.status()));
    clone.enter("x", Level::Reduced, "because");
    assert_eq!(degradation.level(), Level::Reduced);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].level, Level::Reduced);
}

fn breaker_change(breaker: &str, from: State, to: State, reason: Reason) -> StateChange {
    StateChange {
        breaker: Arc::from(breaker),
        from,
        to,
        reason,
        at: Timestamp::ZERO,
        failure_rate: (to == State::Open && reason == Reason::FailureRate).then_some(0.625),
        slow_call_rate: None,
        generation: 0,
    }
}

#[test]
fn breaker_state_changes_move_the_level_and_back() {
    let (degradation, clock, _) = degradation();
    let config = DegradationConfig {
        on_breaker_open: Level::Minimal,
        on_breaker_half_open: Level::Reduced,
    };
    let listener = degradation.breaker_listener(&config);

    listener(&breaker_change(
        "openai",
        State::Closed,
        State::Open,
        Reason::FailureRate,
    ));
    check(
        &degradation,
        Level::Minimal,
        &[("openai", Level::Minimal, 0)],
    );
    assert_eq!(
        degradation.status().causes[0].reason,
        "circuit breaker `openai` is open: failure rate 62.5% reached its threshold"
    );

    clock.advance(Duration::from_secs(30));
    listener(&breaker_change(
        "openai",
        State::Open,
        State::HalfOpen,
        Reason::OpenDurationElapsed,
    ));
    check(
        &degradation,
        Level::Reduced,
        &[("openai", Level::Reduced, 30)],
    );
    assert!(degradation.status().causes[0].reason.contains("half-open"));

    listener(&breaker_change(
        "openai",
        State::HalfOpen,
        State::Closed,
        Reason::ProbesSucceeded,
    ));
    check(&degradation, Level::Normal, &[]);
}

#[test]
fn several_breakers_and_explicit_sources_combine() {
    let (degradation, _, _) = degradation();
    let listener = degradation.breaker_listener(&DegradationConfig::default());
    degradation.enter("operator", Level::Minimal, "maintenance window");
    listener(&breaker_change(
        "a",
        State::Closed,
        State::Open,
        Reason::FailureRate,
    ));
    listener(&breaker_change(
        "b",
        State::Closed,
        State::Open,
        Reason::Forced,
    ));
    check(
        &degradation,
        Level::Minimal,
        &[
            ("operator", Level::Minimal, 0),
            ("a", Level::Reduced, 0),
            ("b", Level::Reduced, 0),
        ],
    );
    assert_eq!(
        degradation.status().causes[2].reason,
        "circuit breaker `b` was forced open"
    );
    degradation.leave("operator");
    listener(&breaker_change(
        "a",
        State::HalfOpen,
        State::Closed,
        Reason::ProbesSucceeded,
    ));
    check(&degradation, Level::Reduced, &[("b", Level::Reduced, 0)]);
    listener(&breaker_change(
        "b",
        State::Open,
        State::Closed,
        Reason::Reset,
    ));
    check(&degradation, Level::Normal, &[]);
}

#[test]
fn breakers_mapped_to_normal_do_not_degrade() {
    let (degradation, _, changes) = degradation();
    let listener = degradation.breaker_listener(&DegradationConfig {
        on_breaker_open: Level::Normal,
        on_breaker_half_open: Level::Normal,
    });
    listener(&breaker_change(
        "a",
        State::Closed,
        State::Open,
        Reason::FailureRate,
    ));
    check(&degradation, Level::Normal, &[]);
    assert!(changes.lock().unwrap().is_empty());
}

#[test]
fn status_serializes_with_snake_case_levels() {
    let (degradation, clock, _) = degradation();
    clock.advance(Duration::from_millis(1500));
    degradation.enter("openai", Level::Unavailable, "key revoked");
    let json = serde_json::to_value(degradation.status()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "level": "unavailable",
            "causes": [{
                "source": "openai",
                "level": "unavailable",
                "reason": "key revoked",
                "since": 1_500_000_000_u64,
            }],
        })
    );
}

#[test]
fn levels_are_ordered_and_named() {
    assert!(Level::Normal < Level::Reduced);
    assert!(Level::Reduced < Level::Minimal);
    assert!(Level::Minimal < Level::Unavailable);
    for level in [
        Level::Normal,
        Level::Reduced,
        Level::Minimal,
        Level::Unavailable,
    ] {
        let json = serde_json::to_value(level).unwrap();
        assert_eq!(json, level.as_str());
        assert_eq!(serde_json::from_value::<Level>(json).unwrap(), level);
        assert_eq!(Level::from_u8(level as u8), level);
    }
}

#[test]
fn config_defaults_parse_and_validation() {
    let default = DegradationConfig::default();
    assert_eq!(default.on_breaker_open, Level::Reduced);
    assert_eq!(default.on_breaker_half_open, Level::Reduced);
    assert_eq!(toml::from_str::<DegradationConfig>("").unwrap(), default);
    assert!(default.validate().is_ok());
    let config: DegradationConfig =
        toml::from_str("on_breaker_open = \"unavailable\"\non_breaker_half_open = \"minimal\"")
            .unwrap();
    assert_eq!(config.on_breaker_open, Level::Unavailable);
    assert!(config.validate().is_ok());
    assert!(toml::from_str::<DegradationConfig>("on_open = \"minimal\"").is_err());
    assert!(toml::from_str::<DegradationConfig>("on_breaker_open = \"degraded\"").is_err());
    let inverted = DegradationConfig {
        on_breaker_open: Level::Reduced,
        on_breaker_half_open: Level::Minimal,
    };
    assert_eq!(
        inverted.validate().unwrap_err().field,
        "degradation.on_breaker_half_open"
    );
}
