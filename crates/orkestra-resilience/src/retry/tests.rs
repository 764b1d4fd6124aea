use std::future::{Future, Ready, ready};
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use orkestra_core::{Classify, ErrorCategory, ErrorClass, ManualClock};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::*;

const MS: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);

/// A sleeper that records every delay and returns at once.
#[derive(Debug, Default)]
struct RecordingSleeper(Mutex<Vec<Duration>>);

impl RecordingSleeper {
    fn delays(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.0.lock().unwrap().push(duration);
        Box::pin(ready(()))
    }
}

/// A sleeper for calls that must never wait.
#[derive(Debug)]
struct ForbiddenSleeper;

impl Sleeper for ForbiddenSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        panic!("slept {duration:?} on a call that must not retry")
    }
}

/// Runs a future that never waits (operations are ready, the sleeper records) to completion.
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the call waited although nothing it awaits can be pending"),
    }
}

/// An operation failing with `errors` in turn, then answering with the attempt number.
fn script(errors: Vec<ErrorClass>) -> impl FnMut() -> Ready<Result<u32, ErrorClass>> {
    let mut calls = 0_u32;
    move || {
        calls += 1;
        ready(match errors.get(calls as usize - 1) {
            Some(error) => Err(*error),
            None => Ok(calls),
        })
    }
}

/// An operation that always fails with `class`.
fn always(class: ErrorClass) -> impl FnMut() -> Ready<Result<u32, ErrorClass>> {
    move || ready(Err(class))
}

fn config(max_attempts: u32, jitter: Jitter) -> RetryConfig {
    RetryConfig {
        max_attempts,
        backoff: BackoffConfig {
            jitter,
            ..BackoffConfig::default()
        },
        ..RetryConfig::default()
    }
}

/// A seeded retry with a recording sleeper.
fn recorded(config: RetryConfig) -> (Retry, Arc<RecordingSleeper>) {
    let sleeper = Arc::new(RecordingSleeper::default());
    let retry = Retry::new(config)
        .unwrap()
        .with_sleeper(sleeper.clone())
        .with_seed(7);
    (retry, sleeper)
}

fn class(category: ErrorCategory) -> ErrorClass {
    ErrorClass::new(category)
}

// ---------------------------------------------------------------------------------------------
// The retry loop.

#[test]
fn retries_then_succeeds() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let (retry, sleeper) = recorded(config(3, Jitter::None));
    let seen = events.clone();
    let retry = retry.on_retry(move |event| seen.lock().unwrap().push(*event));

    let outcome = run(retry.call(script(vec![
        class(ErrorCategory::Overloaded),
        class(ErrorCategory::Network),
    ])));

    assert_eq!(outcome, Ok(3));
    assert_eq!(sleeper.delays(), [100 * MS, 200 * MS]);
    let events = events.lock().unwrap();
    let summary: Vec<_> = events
        .iter()
        .map(|e| (e.attempt, e.class.category, e.delay))
        .collect();
    assert_eq!(
        summary,
        [
            (1, ErrorCategory::Overloaded, 100 * MS),
            (2, ErrorCategory::Network, 200 * MS)
        ]
    );
}

#[test]
fn non_retryable_fails_at_once() {
    let retry = Retry::new(RetryConfig::default())
        .unwrap()
        .with_sleeper(Arc::new(ForbiddenSleeper));
    let bad_request = class(ErrorCategory::InvalidRequest);

    let error = run(retry.call(always(bad_request))).unwrap_err();

    assert_eq!(error.attempts, 1);
    assert_eq!(error.stop, Stop::NonRetryable);
    assert_eq!(error.class, bad_request);
    assert_eq!(error.error, bad_request);
}

#[test]
fn exhaustion_reports_attempts_exhausted_with_the_retryable_class() {
    let (retry, sleeper) = recorded(config(4, Jitter::None));
    let internal = class(ErrorCategory::Internal);

    let error = run(retry.call(always(internal))).unwrap_err();

    assert_eq!(error.attempts, 4);
    assert_eq!(error.stop, Stop::AttemptsExhausted);
    assert_eq!(error.class, internal);
    assert!(error.class.retryable);
    assert_eq!(sleeper.delays(), [100 * MS, 200 * MS, 400 * MS]);
}

#[test]
fn one_attempt_means_no_retry() {
    let retry = Retry::new(config(1, Jitter::Full))
        .unwrap()
        .with_sleeper(Arc::new(ForbiddenSleeper));

    let error = run(retry.call(always(class(ErrorCategory::Timeout)))).unwrap_err();

    assert_eq!((error.attempts, error.stop), (1, Stop::AttemptsExhausted));
}

#[test]
fn success_at_once_never_sleeps_nor_notifies() {
    let retry = Retry::new(RetryConfig::default())
        .unwrap()
        .with_sleeper(Arc::new(ForbiddenSleeper))
        .on_retry(|event| panic!("no retry expected, got {event:?}"));

    assert_eq!(run(retry.call(script(Vec::new()))), Ok(1));
}

/// Retries `class` up to three attempts; checks the attempts made and why it stopped.
#[track_caller]
fn check_decision(class: ErrorClass, attempts: u32, stop: Stop) {
    let (retry, _) = recorded(config(3, Jitter::Full));
    let error = run(retry.call(always(class))).unwrap_err();
    assert_eq!(
        (error.attempts, error.stop, error.class),
        (attempts, stop, class),
        "class {class}"
    );
}

#[test]
fn every_category_is_retried_exactly_when_its_class_says_so() {
    for category in ErrorCategory::ALL {
        let default = ErrorClass::new(category);
        let (attempts, stop) = if default.retryable {
            (3, Stop::AttemptsExhausted)
        } else {
            (1, Stop::NonRetryable)
        };
        check_decision(default, attempts, stop);

        // The explicit class decides, not the category: flipping `retryable` flips the outcome.
        let flipped = default.with_retryable(!default.retryable);
        let (attempts, stop) = if flipped.retryable {
            (3, Stop::AttemptsExhausted)
        } else {
            (1, Stop::NonRetryable)
        };
        check_decision(flipped, attempts, stop);
    }
}

#[test]
fn the_categories_retried_by_default_are_the_transient_ones() {
    let retried: Vec<_> = ErrorCategory::ALL
        .into_iter()
        .filter(|c| ErrorClass::new(*c).retryable)
        .map(ErrorCategory::as_str)
        .collect();
    assert_eq!(
        retried,
        [
            "network",
            "timeout",
            "rate_limited",
            "overloaded",
            "internal"
        ]
    );
}

fn any_class() -> impl Strategy<Value = ErrorClass> {
    (
        0..ErrorCategory::ALL.len(),
        any::<bool>(),
        proptest::option::of(0_u64..200_000),
    )
        .prop_map(|(index, retryable, retry_after_ms)| {
            let mut class = ErrorClass::new(ErrorCategory::ALL[index]).with_retryable(retryable);
            class.retry_after = retry_after_ms.map(Duration::from_millis);
            class
        })
}

proptest! {
    #[test]
    fn decide_follows_the_class_and_the_limits(
        class in any_class(),
        attempts in 1_u32..20,
        max_attempts in 1_u32..10,
        budget_allows in any::<bool>(),
    ) {
        let config = RetryConfig { max_attempts, ..RetryConfig::default() };
        let mut budget_asked = false;
        let decision = config.decide(&class, attempts, || {
            budget_asked = true;
            budget_allows
        });

        let too_long = class.retry_after.is_some_and(|after| after > config.max_retry_after);
        let otherwise_allowed = class.retryable && attempts < max_attempts && !too_long;
        // The budget is asked only when everything else allows the retry, so a stop for
        // another reason never spends it.
        prop_assert_eq!(budget_asked, otherwise_allowed);
        prop_assert_eq!(decision == Decision::Retry, otherwise_allowed && budget_allows);
        // Retryable is never reported as non-retryable, and the reverse.
        prop_assert_eq!(
            decision == Decision::Stop(Stop::NonRetryable),
            !class.retryable
        );
    }

    #[test]
    fn a_call_reports_the_class_it_stopped_on(
        classes in proptest::collection::vec(any_class(), 1..8),
        max_attempts in 1_u32..6,
    ) {
        let (retry, sleeper) = recorded(config(max_attempts, Jitter::Full));
        match run(retry.call(script(classes.clone()))) {
            Ok(attempt) => {
                // Every error before the answer was retried: retryable and Retry-After honoured.
                prop_assert!(attempt <= max_attempts);
                let retried = &classes[..attempt as usize - 1];
                prop_assert!(retried.iter().all(|c| c.retryable));
            }
            Err(error) => {
                let last = classes[error.attempts as usize - 1];
                prop_assert_eq!(error.class, last);
                prop_assert_eq!(error.error, last);
                prop_assert!(error.attempts <= max_attempts);
                prop_assert_eq!(error.stop == Stop::NonRetryable, !last.retryable);
                let retried = &classes[..error.attempts as usize - 1];
                prop_assert!(retried.iter().all(|c| c.retryable));
            }
        }
        // One wait per retry, each at least the server's Retry-After.
        let delays = sleeper.delays();
        for (delay, class) in delays.iter().zip(&classes) {
            prop_assert!(class.retry_after.is_none_or(|after| *delay >= after));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Retry-After.

fn rate_limited(retry_after: Duration) -> ErrorClass {
    class(ErrorCategory::RateLimited).with_retry_after(retry_after)
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_on_the_tokio_timer() {
    let retry = Retry::new(config(2, Jitter::None)).unwrap();
    let start = tokio::time::Instant::now();

    let outcome = retry
        .call(script(vec![rate_limited(Duration::from_secs(2))]))
        .await;

    assert_eq!(outcome, Ok(2));
    // The backoff alone would wait 100 ms; the server asked for 2 s.
    assert_eq!(start.elapsed(), Duration::from_secs(2));
}

#[test]
fn retry_after_raises_the_delay_but_never_lowers_it() {
    let (retry, sleeper) = recorded(config(4, Jitter::None));

    let outcome = run(retry.call(script(vec![
        rate_limited(30 * SECOND),
        rate_limited(MS),
        class(ErrorCategory::Overloaded),
    ])));

    assert_eq!(outcome, Ok(4));
    // 30 s is above the 10 s backoff cap yet honoured; 1 ms is below the backoff of 200 ms.
    assert_eq!(sleeper.delays(), [30 * SECOND, 200 * MS, 400 * MS]);
}

#[test]
fn retry_after_longer_than_allowed_stops_without_waiting() {
    let retry = Retry::new(RetryConfig::default())
        .unwrap()
        .with_sleeper(Arc::new(ForbiddenSleeper));
    let asked = Duration::from_mins(2);

    let error = run(retry.call(always(rate_limited(asked)))).unwrap_err();

    assert_eq!(error.attempts, 1);
    assert_eq!(error.stop, Stop::RetryAfterTooLong { retry_after: asked });
    assert!(error.class.retryable);
}

#[test]
fn retry_after_equal_to_the_limit_is_honoured() {
    let (retry, sleeper) = recorded(config(2, Jitter::Full));

    let outcome = run(retry.call(script(vec![rate_limited(Duration::from_mins(1))])));

    assert_eq!(outcome, Ok(2));
    assert_eq!(sleeper.delays(), [Duration::from_mins(1)]);
}

/// A caller that declines the wait stops with `Declined`, spends nothing from the budget and
/// tells no listener; one that accepts it retries after exactly that delay.
#[test]
fn a_declined_retry_stops_without_spending_the_budget() {
    let clock = ManualClock::new();
    let shared = Arc::new(budget(&clock, 1, 0.0));
    let told = Arc::new(AtomicU32::new(0));
    let heard = Arc::clone(&told);
    let retry = Retry::new(RetryConfig::default())
        .unwrap()
        .with_budget(Arc::clone(&shared))
        .with_seed(7)
        .on_retry(move |_| {
            heard.fetch_add(1, Ordering::Relaxed);
        });
    let before = shared.available();
    let overloaded = class(ErrorCategory::Overloaded).with_retry_after(SECOND);

    let mut attempts = retry.start();
    let mut shown = None;
    let stopped = attempts
        .failed_if(overloaded, |seen, delay| {
            shown = Some((seen.category, delay));
            false
        })
        .unwrap_err();
    let delay = shown.expect("the caller is shown the wait").1;
    assert!(
        delay >= SECOND,
        "Retry-After is honoured in the wait shown: {delay:?}"
    );
    assert_eq!(stopped.stop, Stop::Declined { delay });
    assert_eq!(stopped.attempts, 1);
    assert_eq!(
        shared.available(),
        before,
        "a declined retry spends nothing"
    );
    assert_eq!(told.load(Ordering::Relaxed), 0);

    let mut attempts = retry.start();
    let accepted = attempts.failed_if(overloaded, |_, _| true).unwrap();
    assert!(accepted >= SECOND);
    assert_eq!(shared.available(), before - 1);
    assert_eq!(told.load(Ordering::Relaxed), 1);
}

/// Rules that stop the retry on their own are applied first: the caller is not asked.
#[test]
fn the_caller_is_asked_only_when_the_rules_allow_a_retry() {
    let retry = Retry::new(RetryConfig {
        max_attempts: 1,
        ..RetryConfig::default()
    })
    .unwrap();
    let mut attempts = retry.start();
    let stopped = attempts
        .failed_if(class(ErrorCategory::Network), |_, _| {
            panic!("asked although no retry was allowed")
        })
        .unwrap_err();
    assert_eq!(stopped.stop, Stop::AttemptsExhausted);
}

// ---------------------------------------------------------------------------------------------
// Budget.

fn budget(clock: &ManualClock, min_retries_per_second: u32, retry_ratio: f64) -> RetryBudget {
    let config = BudgetConfig {
        min_retries_per_second,
        retry_ratio,
        ..BudgetConfig::default()
    };
    RetryBudget::new(&config, Arc::new(clock.clone())).unwrap()
}

/// Withdraws until refused; returns how many retries were granted (at most 10,000).
fn drain(budget: &RetryBudget) -> u64 {
    let mut granted = 0;
    while granted < 10_000 && budget.try_withdraw() {
        granted += 1;
    }
    granted
}

#[test]
fn budget_reserve_allows_min_retries_per_second_times_ttl() {
    let clock = ManualClock::new();
    let budget = budget(&clock, 10, 0.2);

    assert_eq!(budget.available(), 100);
    assert_eq!(drain(&budget), 100);
    assert_eq!(budget.available(), 0);
}

#[test]
fn budget_ratio_earns_retries_per_call() {
    let clock = ManualClock::new();
    let budget = budget(&clock, 0, 0.2);
    assert_eq!(budget.available(), 0);

    // 0.2 * 5 is one whole retry despite floating-point rounding.
    for _ in 0..5 {
        budget.deposit();
    }
    assert_eq!(budget.available(), 1);
    for _ in 0..5 {
        budget.deposit();
    }
    assert_eq!(drain(&budget), 2);
    budget.deposit();
    assert!(!budget.try_withdraw());
}

#[test]
fn budget_window_slides() {
    let clock = ManualClock::new();
    let budget = budget(&clock, 0, 1.0);

    for _ in 0..3 {
        budget.deposit();
    }
    clock.advance(5 * SECOND);
    budget.deposit();
    assert!(budget.try_withdraw());
    assert_eq!(budget.available(), 3);

    // Just before the first deposits are `ttl` old, they still count.
    clock.advance(4 * SECOND + 900 * MS);
    assert_eq!(budget.available(), 3);

    // At ten seconds the first three deposits have left the window; the later deposit and
    // the withdrawal remain and cancel out.
    clock.advance(100 * MS);
    assert_eq!(budget.available(), 0);

    // Five seconds on, the withdrawal expires with the deposit it spent.
    clock.advance(5 * SECOND);
    assert_eq!(budget.available(), 0);
    budget.deposit();
    assert_eq!(budget.available(), 1);
}

#[test]
fn budget_reserve_refills_after_ttl() {
    let clock = ManualClock::new();
    let budget = budget(&clock, 1, 0.0);
    assert_eq!(drain(&budget), 10);

    clock.advance(9 * SECOND);
    assert!(!budget.try_withdraw());
    clock.advance(SECOND);
    assert_eq!(drain(&budget), 10);
}

#[test]
fn budget_survives_a_long_pause_and_concurrent_use() {
    let clock = ManualClock::new();
    let budget = Arc::new(budget(&clock, 0, 0.5));
    clock.advance(Duration::from_hours(24 * 365));

    let granted = AtomicU32::new(0);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..1000 {
                    budget.deposit();
                    if budget.try_withdraw() {
                        granted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });

    // 4000 deposits at ratio 0.5 earn exactly 2000 retries, however the threads interleave.
    assert_eq!(granted.load(Ordering::Relaxed), 2000);
    assert_eq!(budget.available(), 0);
}

#[test]
fn exhausted_budget_stops_retries() {
    let clock = ManualClock::new();
    let config = RetryConfig {
        max_attempts: 5,
        budget: Some(BudgetConfig {
            ttl: Duration::from_secs(2),
            min_retries_per_second: 1,
            retry_ratio: 0.0,
        }),
        ..RetryConfig::default()
    };
    let sleeper = Arc::new(RecordingSleeper::default());
    let retry = Retry::with_clock(config, Arc::new(clock.clone()))
        .unwrap()
        .with_sleeper(sleeper.clone());
    let overloaded = class(ErrorCategory::Overloaded);

    // The reserve is two retries: the first call spends both, then stops on the budget.
    let error = run(retry.call(always(overloaded))).unwrap_err();
    assert_eq!((error.attempts, error.stop), (3, Stop::BudgetExhausted));
    assert_eq!(error.class, overloaded);
    let error = run(retry.call(always(overloaded))).unwrap_err();
    assert_eq!((error.attempts, error.stop), (1, Stop::BudgetExhausted));
    assert_eq!(sleeper.delays().len(), 2);

    // A non-retryable error says so, not that the budget is empty.
    let error = run(retry.call(always(class(ErrorCategory::Auth)))).unwrap_err();
    assert_eq!(error.stop, Stop::NonRetryable);

    // Once the window has passed, the reserve is back.
    clock.advance(Duration::from_secs(2));
    let error = run(retry.call(always(overloaded))).unwrap_err();
    assert_eq!((error.attempts, error.stop), (3, Stop::BudgetExhausted));
}

#[test]
fn policies_can_share_one_budget() {
    let clock = ManualClock::new();
    // A reserve of ten retries and nothing earned by traffic.
    let shared = Arc::new(budget(&clock, 1, 0.0));
    let make = || {
        Retry::new(config(3, Jitter::None))
            .unwrap()
            .with_sleeper(Arc::new(RecordingSleeper::default()))
            .with_budget(shared.clone())
    };
    let (first, second) = (make(), make());
    let timeout = class(ErrorCategory::Timeout);

    // Five failing calls through the first policy spend two retries each ...
    for _ in 0..5 {
        let error = run(first.call(always(timeout))).unwrap_err();
        assert_eq!((error.attempts, error.stop), (3, Stop::AttemptsExhausted));
    }
    // ... which leaves nothing for the second.
    let error = run(second.call(always(timeout))).unwrap_err();
    assert_eq!((error.attempts, error.stop), (1, Stop::BudgetExhausted));
    assert_eq!(shared.available(), 0);
}

// ---------------------------------------------------------------------------------------------
// Backoff.

fn backoff(initial: Duration, max: Duration, multiplier: f64, jitter: Jitter) -> Backoff {
    Backoff::new(&BackoffConfig {
        initial,
        max,
        multiplier,
        jitter,
    })
    .unwrap()
}

/// Without jitter, checks the delays before retries 1, 2, ... .
#[track_caller]
fn check_sequence(config: &BackoffConfig, expected: &[Duration]) {
    let mut backoff = Backoff::new(config).unwrap();
    let mut rng = SmallRng::seed_from_u64(1);
    let delays: Vec<_> = (1..=expected.len())
        .map(|retry| backoff.delay(u32::try_from(retry).unwrap(), &mut rng))
        .collect();
    assert_eq!(delays, expected);
}

#[test]
fn exponential_backoff_doubles_up_to_the_cap() {
    let config = BackoffConfig {
        jitter: Jitter::None,
        max: SECOND,
        ..BackoffConfig::default()
    };
    check_sequence(
        &config,
        &[100 * MS, 200 * MS, 400 * MS, 800 * MS, SECOND, SECOND],
    );
    let tripling = BackoffConfig {
        initial: 250 * MS,
        multiplier: 3.0,
        ..config
    };
    check_sequence(&tripling, &[250 * MS, 750 * MS, SECOND]);
    let constant = BackoffConfig {
        multiplier: 1.0,
        ..tripling
    };
    check_sequence(&constant, &[250 * MS, 250 * MS, 250 * MS]);
}

/// Regression for Polly #2163: a huge multiplier or retry number overflowed to a negative delay.
#[test]
fn huge_multiplier_or_retry_saturates_at_the_cap() {
    let cap = 10 * SECOND;
    for multiplier in [2.0, 1e300, f64::MAX] {
        for retry in [64, 1024, 10_000, u32::MAX] {
            let mut exact = backoff(100 * MS, cap, multiplier, Jitter::None);
            let mut rng = SmallRng::seed_from_u64(retry.into());
            assert_eq!(
                exact.delay(retry, &mut rng),
                cap,
                "x{multiplier} retry {retry}"
            );
            for jitter in [Jitter::Full, Jitter::Equal, Jitter::Decorrelated] {
                let mut jittered = backoff(100 * MS, cap, multiplier, jitter);
                assert!(jittered.delay(retry, &mut rng) <= cap);
            }
        }
    }
    // A cap beyond what nanoseconds in a u64 can hold saturates too.
    let mut forever = backoff(SECOND, Duration::MAX, 1e300, Jitter::None);
    let delay = forever.delay(10_000, &mut SmallRng::seed_from_u64(0));
    assert_eq!(delay, Duration::from_nanos(u64::MAX));
}

/// Regression for backon PR #184: clamping a large jittered draw to the cap made nearly every
/// delay at the cap equal to it, so clients at the cap retried in step again.
#[test]
fn jitter_still_spreads_delays_at_the_cap() {
    let cap = 10 * SECOND;
    // (jitter, the smallest delay at the cap must fall below this)
    for (jitter, low) in [
        (Jitter::Full, SECOND),
        (Jitter::Equal, 5500 * MS),
        (Jitter::Decorrelated, SECOND),
    ] {
        let mut backoff = backoff(100 * MS, cap, 2.0, jitter);
        let mut rng = SmallRng::seed_from_u64(184);
        let samples: Vec<_> = (0..1000).map(|_| backoff.delay(60, &mut rng)).collect();
        let min = samples.iter().min().unwrap();
        let max = samples.iter().max().unwrap();
        let at_cap = samples.iter().filter(|d| **d == cap).count();
        assert!(*min < low, "{jitter:?}: min {min:?}");
        assert!(*max > 9 * SECOND, "{jitter:?}: max {max:?}");
        assert!(
            at_cap < 10,
            "{jitter:?}: {at_cap} of 1000 delays exactly at the cap"
        );
    }
}

#[test]
fn decorrelated_jitter_grows_from_initial() {
    let mut backoff = backoff(100 * MS, 10 * SECOND, 2.0, Jitter::Decorrelated);
    let mut rng = SmallRng::seed_from_u64(3);
    let mut previous = 100 * MS;
    for retry in 1..50 {
        let delay = backoff.delay(retry, &mut rng);
        assert!(delay >= 100 * MS && delay <= (previous * 3).min(10 * SECOND));
        previous = delay;
    }
}

#[test]
fn seeded_calls_repeat_their_jitter() {
    let delays = || {
        let (retry, sleeper) = recorded(config(6, Jitter::Full));
        let _ = run(retry.call(always(class(ErrorCategory::Internal))));
        sleeper.delays()
    };
    let first = delays();
    assert_eq!(first.len(), 5);
    assert_eq!(first, delays());
}

fn any_jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated),
    ]
}

fn any_backoff_config() -> impl Strategy<Value = BackoffConfig> {
    (
        0_u64..=60_000,
        0_u64..=3_600_000,
        prop_oneof![1.0..=10.0, 1.0..=1e300, Just(f64::MAX)],
        any_jitter(),
    )
        .prop_map(|(initial_ms, extra_ms, multiplier, jitter)| BackoffConfig {
            initial: Duration::from_millis(initial_ms),
            max: Duration::from_millis(initial_ms + extra_ms),
            multiplier,
            jitter,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn backoff_delays_stay_within_bounds(
        config in any_backoff_config(),
        retries in proptest::collection::vec(prop_oneof![1_u32..70, any::<u32>()], 1..20),
        retry_after in proptest::option::of(0_u64..200_000),
        seed in any::<u64>(),
    ) {
        let mut backoff = Backoff::new(&config).unwrap();
        let mut rng = SmallRng::seed_from_u64(seed);
        let retry_after = retry_after.map(Duration::from_millis);
        for retry in retries {
            let plain = backoff.delay(retry, &mut rng);
            prop_assert!(plain <= config.max, "{plain:?} above the cap");
            if config.jitter == Jitter::Decorrelated {
                prop_assert!(plain >= config.initial, "{plain:?} below initial");
            }
            let honouring = backoff.delay_honouring(retry, retry_after, &mut rng);
            prop_assert!(honouring <= config.max.max(retry_after.unwrap_or_default()));
            if let Some(after) = retry_after {
                prop_assert!(honouring >= after, "{honouring:?} below Retry-After {after:?}");
            }
        }
    }

    #[test]
    fn unjittered_backoff_never_shrinks(config in any_backoff_config(), retry in 1_u32..200) {
        let config = BackoffConfig { jitter: Jitter::None, ..config };
        let mut backoff = Backoff::new(&config).unwrap();
        let mut rng = SmallRng::seed_from_u64(0);
        prop_assert!(backoff.delay(retry, &mut rng) <= backoff.delay(retry + 1, &mut rng));
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration.

#[test]
fn config_reads_from_toml_with_human_durations() {
    let config: RetryConfig = toml::from_str(
        r#"
        max_attempts = 5
        max_retry_after = "30s"

        [backoff]
        initial = "250ms"
        max = "5s"
        jitter = "decorrelated"

        [budget]
        retry_ratio = 0.1
        "#,
    )
    .unwrap();

    assert_eq!(
        config,
        RetryConfig {
            max_attempts: 5,
            backoff: BackoffConfig {
                initial: 250 * MS,
                max: 5 * SECOND,
                multiplier: 2.0,
                jitter: Jitter::Decorrelated,
            },
            max_retry_after: 30 * SECOND,
            budget: Some(BudgetConfig {
                retry_ratio: 0.1,
                ..BudgetConfig::default()
            }),
        }
    );
    assert!(Retry::new(config).is_ok());
    assert_eq!(
        toml::from_str::<RetryConfig>("").unwrap(),
        RetryConfig::default()
    );
}

#[test]
fn config_round_trips_through_toml() {
    let config = RetryConfig {
        budget: Some(BudgetConfig::default()),
        ..RetryConfig::default()
    };
    let text = toml::to_string(&config).unwrap();
    assert_eq!(toml::from_str::<RetryConfig>(&text).unwrap(), config);
}

#[test]
fn unknown_config_keys_are_rejected() {
    for text in [
        "max_retries = 3",
        "[backoff]\nbase = \"1s\"",
        "[budget]\npercent = 20",
    ] {
        let error = toml::from_str::<RetryConfig>(text).unwrap_err();
        assert!(
            error.to_string().contains("unknown field"),
            "{text:?}: {error}"
        );
    }
}

/// Checks that `config` is rejected, naming `field`.
#[track_caller]
fn check_invalid(config: RetryConfig, field: &str) {
    let error = config.validate().unwrap_err();
    assert_eq!(error.field, field, "{error}");
    assert!(error.to_string().contains(field));
    assert_eq!(Retry::new(config).unwrap_err().field, field);
}

#[test]
fn validation_names_the_field() {
    let base = RetryConfig::default;
    check_invalid(
        RetryConfig {
            max_attempts: 0,
            ..base()
        },
        "retry.max_attempts",
    );
    for multiplier in [0.5, -2.0, f64::NAN, f64::INFINITY] {
        let mut config = base();
        config.backoff.multiplier = multiplier;
        check_invalid(config, "retry.backoff.multiplier");
    }
    let mut config = base();
    config.backoff.initial = 20 * SECOND;
    check_invalid(config, "retry.backoff.initial");
    for ttl in [Duration::ZERO, 999 * MS, Duration::from_secs(61)] {
        check_invalid(
            RetryConfig {
                budget: Some(BudgetConfig {
                    ttl,
                    ..BudgetConfig::default()
                }),
                ..base()
            },
            "retry.budget.ttl",
        );
    }
    for retry_ratio in [-0.1, 1000.5, f64::NAN] {
        check_invalid(
            RetryConfig {
                budget: Some(BudgetConfig {
                    retry_ratio,
                    ..BudgetConfig::default()
                }),
                ..base()
            },
            "retry.budget.retry_ratio",
        );
    }
}

#[test]
fn defaults_are_the_documented_ones() {
    let config = RetryConfig::default();
    assert_eq!(config.max_attempts, 3);
    assert_eq!(config.backoff.initial, 100 * MS);
    assert_eq!(config.backoff.max, 10 * SECOND);
    assert!((config.backoff.multiplier - 2.0).abs() < f64::EPSILON);
    assert_eq!(config.backoff.jitter, Jitter::Full);
    assert_eq!(config.max_retry_after, Duration::from_mins(1));
    assert_eq!(config.budget, None);
    let budget = BudgetConfig::default();
    assert_eq!(budget.ttl, 10 * SECOND);
    assert_eq!(budget.min_retries_per_second, 10);
    assert!((budget.retry_ratio - 0.2).abs() < f64::EPSILON);
}

// ---------------------------------------------------------------------------------------------
// The error.

#[derive(Debug)]
struct Upstream {
    cause: std::io::Error,
}

impl std::fmt::Display for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("upstream failed")
    }
}

impl std::error::Error for Upstream {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

impl Classify for Upstream {
    fn class(&self) -> ErrorClass {
        self.cause.class()
    }
}

#[test]
fn retry_error_shows_the_error_and_why_it_stopped() {
    let retry = Retry::new(config(2, Jitter::None))
        .unwrap()
        .with_sleeper(Arc::new(RecordingSleeper::default()));
    let error = run(retry.call(|| {
        ready(Err::<(), _>(Upstream {
            cause: std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        }))
    }))
    .unwrap_err();

    assert_eq!(
        error.to_string(),
        "upstream failed (attempts exhausted, after 2 attempts)"
    );
    // `source` skips the error itself, which `Display` already shows.
    let source = std::error::Error::source(&error).unwrap();
    assert_eq!(source.to_string(), "connection reset");
    assert_eq!(error.class().category, ErrorCategory::Network);
    assert_eq!(
        error.into_inner().cause.kind(),
        std::io::ErrorKind::ConnectionReset
    );

    let stop = Stop::RetryAfterTooLong {
        retry_after: Duration::from_secs(90),
    };
    assert_eq!(stop.as_str(), "retry_after_too_long");
    assert_eq!(
        stop.to_string(),
        "server asked to wait 90s, more than allowed"
    );
}

#[test]
fn calls_are_send_when_their_operation_is() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync>() {}

    let retry = Retry::new(RetryConfig::default()).unwrap();
    let call = retry.call(|| async { Err::<(), _>(class(ErrorCategory::Timeout)) });
    assert_send(&call);
    // `Retry` itself is shared between tasks.
    assert_send_sync::<Retry>();
}
