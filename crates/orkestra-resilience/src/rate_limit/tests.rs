use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread;
use std::time::Duration;

use orkestra_core::ManualClock;

use super::*;

/// The operation's error type in these tests.
type Failure = &'static str;

fn config(requests: u32, per: Duration, burst: Option<u32>) -> RateLimitConfig {
    RateLimitConfig {
        requests,
        per,
        burst,
    }
}

const fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// One step of a script: move the clock forward, then charge `units`, expecting `outcome`
/// (`None` = admitted, `Some(wait)` = refused with exactly that `retry_after`).
type Step = (Duration, u32, Option<Duration>);

/// Plays `script` against a direct limiter and a keyed one (on a single key) built from
/// `config` on a manual clock; both must answer every step the same way.
#[track_caller]
fn check(config: &RateLimitConfig, script: &[Step]) {
    let clock = ManualClock::new();
    let direct = RateLimiter::with_clock(config, clock.clone()).unwrap();
    let keyed = KeyedRateLimiter::with_clock(config, clock.clone()).unwrap();
    for (index, &(advance, units, expected)) in script.iter().enumerate() {
        clock.advance(advance);
        let expected =
            expected.map(|retry_after| CheckNError::Limited(RateLimited { retry_after }));
        let direct_outcome = if units == 1 {
            direct.check().map_err(CheckNError::from)
        } else {
            direct.check_n(units)
        };
        let keyed_outcome = if units == 1 {
            keyed.check(&"key").map_err(CheckNError::from)
        } else {
            keyed.check_n(&"key", units)
        };
        assert_eq!(direct_outcome.err(), expected, "direct, step {index}");
        assert_eq!(keyed_outcome.err(), expected, "keyed, step {index}");
    }
}

#[test]
fn a_burst_is_admitted_at_once_then_one_per_interval_with_exact_waits() {
    // 2 per second: the interval is 500 ms and a fresh limiter admits 2 at once.
    check(
        &config(2, Duration::from_secs(1), None),
        &[
            (ms(0), 1, None),
            (ms(0), 1, None),
            (ms(0), 1, Some(ms(500))),
            (ms(200), 1, Some(ms(300))),
            (ms(299), 1, Some(ms(1))),
            (ms(1), 1, None),
            (ms(0), 1, Some(ms(500))),
            (ms(500), 1, None),
            (ms(0), 1, Some(ms(500))),
        ],
    );
}

#[test]
fn a_quiet_period_refills_the_burst_but_no_further() {
    check(
        &config(4, Duration::from_secs(1), None),
        &[
            (ms(0), 4, None),
            (ms(0), 1, Some(ms(250))),
            // A long pause refills the whole burst, and only the burst.
            (Duration::from_mins(1), 4, None),
            (ms(0), 1, Some(ms(250))),
        ],
    );
}

#[test]
fn a_burst_larger_than_the_rate_allows_a_bigger_first_wave_at_the_same_rate() {
    check(
        &config(1, Duration::from_secs(1), Some(3)),
        &[
            (ms(0), 1, None),
            (ms(0), 1, None),
            (ms(0), 1, None),
            (ms(0), 1, Some(Duration::from_secs(1))),
            (Duration::from_secs(1), 1, None),
            (ms(0), 1, Some(Duration::from_secs(1))),
        ],
    );
}

#[test]
fn token_charges_wait_for_exactly_the_missing_tokens() {
    // 100 tokens a minute refill one every 600 ms.
    check(
        &config(100, Duration::from_mins(1), None),
        &[
            (ms(0), 60, None),
            // 40 tokens are left; 60 need 20 more, which take 12 s.
            (ms(0), 60, Some(Duration::from_secs(12))),
            (ms(0), 40, None),
            (ms(0), 1, Some(ms(600))),
            (Duration::from_secs(12), 20, None),
        ],
    );
}

#[test]
fn a_charge_above_the_burst_says_it_can_never_pass_and_consumes_nothing() {
    let clock = ManualClock::new();
    let limit = config(100, Duration::from_mins(1), None);
    let direct = RateLimiter::with_clock(&limit, clock.clone()).unwrap();
    let keyed = KeyedRateLimiter::with_clock(&limit, clock).unwrap();
    let expected = CheckNError::ExceedsBurst {
        requested: 150,
        burst: 100,
    };
    assert_eq!(direct.check_n(150), Err(expected));
    assert_eq!(keyed.check_n(&1, 150), Err(expected));
    assert_eq!(
        expected.to_string(),
        "a charge of 150 exceeds the rate limit's burst of 100; it can never pass"
    );
    assert!(!expected.class().retryable);
    assert_eq!(direct.check_n(100), Ok(()));
    assert_eq!(keyed.check_n(&1, 100), Ok(()));
}

#[test]
fn a_charge_of_zero_always_passes() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::with_clock(&config(1, Duration::from_secs(1), None), clock).unwrap();
    assert_eq!(limiter.check(), Ok(()));
    assert_eq!(limiter.check_n(0), Ok(()));
}

/// Charges `units` from `threads` threads, `tries` times each, at a frozen clock, and returns
/// the total admitted.
fn admitted_under_contention(charge: impl Fn() -> bool + Sync, units: u32) -> u32 {
    let admitted = AtomicU32::new(0);
    thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..200 {
                    if charge() {
                        admitted.fetch_add(units, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    admitted.into_inner()
}

#[test]
fn concurrent_callers_never_get_more_than_the_burst_at_a_frozen_clock() {
    let limit = config(50, Duration::from_secs(1), None);
    let clock = ManualClock::new();
    let direct = RateLimiter::with_clock(&limit, clock.clone()).unwrap();
    let keyed = KeyedRateLimiter::with_clock(&limit, clock).unwrap();
    assert_eq!(admitted_under_contention(|| direct.check().is_ok(), 1), 50);
    assert_eq!(
        admitted_under_contention(|| keyed.check(&"shared").is_ok(), 1),
        50
    );
}

#[test]
fn concurrent_token_charges_never_exceed_the_token_limit() {
    // LiteLLM #18730: 663 tokens admitted against a 100 tokens-per-minute limit. Charges of 7
    // tokens fit 14 times into 100 (98 tokens); the 15th would overdraw.
    let limit = config(100, Duration::from_mins(1), None);
    let clock = ManualClock::new();
    let direct = RateLimiter::with_clock(&limit, clock.clone()).unwrap();
    let keyed = KeyedRateLimiter::with_clock(&limit, clock).unwrap();
    assert_eq!(
        admitted_under_contention(|| direct.check_n(7).is_ok(), 7),
        98
    );
    assert_eq!(
        admitted_under_contention(|| keyed.check_n(&"tenant", 7).is_ok(), 7),
        98
    );
}

#[test]
fn keys_have_independent_allowances() {
    let clock = ManualClock::new();
    let limiter =
        KeyedRateLimiter::with_clock(&config(1, Duration::from_secs(1), None), clock).unwrap();
    assert_eq!(limiter.check(&"alice"), Ok(()));
    assert!(limiter.check(&"alice").is_err());
    assert_eq!(limiter.check(&"bob"), Ok(()));
    assert_eq!(limiter.len(), 2);
}

#[test]
fn retain_recent_forgets_only_keys_whose_allowance_has_refilled() {
    let clock = ManualClock::new();
    let limiter =
        KeyedRateLimiter::with_clock(&config(2, Duration::from_secs(1), None), clock.clone())
            .unwrap();
    assert!(limiter.is_empty());
    limiter.check_n(&"old", 2).unwrap();
    // "old" is full again after 1 s; governor forgets a key one interval (500 ms) after that.
    clock.advance(ms(1_499));
    limiter.check_n(&"recent", 2).unwrap();
    limiter.retain_recent();
    assert_eq!(limiter.len(), 2);
    clock.advance(ms(1));
    limiter.retain_recent();
    assert_eq!(limiter.len(), 1);
    // Forgetting loosens nothing: the recent key is still limited, the old one is full again.
    assert_eq!(
        limiter.check(&"recent"),
        Err(RateLimited {
            retry_after: ms(499)
        })
    );
    assert_eq!(limiter.check_n(&"old", 2), Ok(()));
}

#[tokio::test(start_paused = true)]
async fn call_runs_an_admitted_operation_and_refuses_without_running_it() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::with_clock(&config(1, Duration::from_secs(2), None), clock).unwrap();
    assert_eq!(limiter.call(async { Ok::<_, Failure>(1) }).await, Ok(1));
    let ran = AtomicBool::new(false);
    let refused = limiter
        .call(async {
            ran.store(true, Ordering::SeqCst);
            Ok::<_, Failure>(2)
        })
        .await;
    assert_eq!(
        refused,
        Err(Error::RateLimited {
            retry_after: Duration::from_secs(2)
        })
    );
    assert!(!ran.load(Ordering::SeqCst));

    let keyed =
        KeyedRateLimiter::with_clock(&config(1, Duration::from_secs(2), None), ManualClock::new())
            .unwrap();
    assert_eq!(
        keyed.call(&7, async { Err::<(), _>("boom") }).await,
        Err(Error::Inner("boom"))
    );
    assert!(matches!(
        keyed.call(&7, async { Ok::<_, Failure>(()) }).await,
        Err(Error::RateLimited { .. })
    ));
}

#[test]
fn the_production_clock_admits_the_burst_then_refuses_within_one_interval() {
    let limit = config(3, Duration::from_hours(1), None);
    let limiter = RateLimiter::new(&limit).unwrap();
    for _ in 0..3 {
        assert_eq!(limiter.check(), Ok(()));
    }
    let refusal = limiter.check().unwrap_err();
    assert!(refusal.retry_after <= limiter.interval());
    assert!(refusal.retry_after > Duration::from_secs(1_199));
    let keyed = KeyedRateLimiter::new(&limit).unwrap();
    assert_eq!(keyed.check_n(&Arc::<str>::from("k"), 3), Ok(()));
    assert!(keyed.check(&Arc::from("k")).is_err());
}

#[test]
fn config_defaults_and_human_durations() {
    let default = RateLimitConfig::default();
    assert_eq!(default, config(8, Duration::from_secs(1), None));
    assert_eq!(default.effective_burst(), 8);
    assert_eq!(default.interval(), ms(125));
    assert_eq!(toml::from_str::<RateLimitConfig>("").unwrap(), default);
    let parsed: RateLimitConfig =
        toml::from_str("requests = 100_000\nper = \"1m\"\nburst = 20_000").unwrap();
    assert_eq!(
        parsed,
        config(100_000, Duration::from_mins(1), Some(20_000))
    );
    let limiter = RateLimiter::new(&parsed).unwrap();
    assert_eq!(limiter.burst(), 20_000);
    assert_eq!(limiter.interval(), Duration::from_micros(600));
}

#[track_caller]
fn check_invalid(config: &RateLimitConfig, field: &str) {
    let error = config.validate().unwrap_err();
    assert_eq!(error.field, field, "{error}");
    assert_eq!(RateLimiter::new(config).unwrap_err(), error);
    assert_eq!(KeyedRateLimiter::<u32>::new(config).unwrap_err(), error);
}

#[test]
fn config_rejects_unknown_fields_and_impossible_rates() {
    assert!(toml::from_str::<RateLimitConfig>("request = 5").is_err());
    check_invalid(
        &config(0, Duration::from_secs(1), None),
        "rate_limit.requests",
    );
    check_invalid(&config(5, Duration::ZERO, None), "rate_limit.per");
    check_invalid(
        &config(5, Duration::from_hours(1_000_000), None),
        "rate_limit.per",
    );
    check_invalid(
        &config(5, Duration::from_secs(1), Some(0)),
        "rate_limit.burst",
    );
    // Less than a nanosecond per request.
    check_invalid(
        &config(u32::MAX, Duration::from_secs(1), None),
        "rate_limit",
    );
    // A burst that would take millennia to refill.
    check_invalid(
        &config(1, Duration::from_hours(24 * 365), Some(1_000)),
        "rate_limit",
    );
}
