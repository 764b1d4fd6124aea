//! Hot-path costs of the resilience policies, against a plain call and well-known peers.
//!
//! Run with `cargo xtask bench orkestra-resilience`; figures go to `docs/performance.md`.
//! Every operation here is immediately ready, so a future is polled exactly once with a no-op
//! waker: what is measured is the policy, not an executor.
//!
//! Groups:
//! - `success`: the floor (a plain call), our retry + breaker pipeline, our breaker alone, and
//!   the peers `failsafe` (breaker) and `backon` (retry) doing the same job;
//! - `rejection`: an open breaker refusing, ours and `failsafe`'s;
//! - `rate_limit`: raw `governor` as the floor, then our direct and keyed limiters.
//!
//! It also prints the size of each policy's future: futures are moved, so bytes cost time.
//!
//! Before the timed groups, the bench counts heap allocations of the success path with a
//! counting global allocator and fails if there is any.

// criterion's macros generate undocumented public functions, and a bench that cannot set
// itself up should stop loudly.
#![allow(missing_docs, clippy::expect_used)]

use std::future::{Future, ready};
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use orkestra_core::{ErrorCategory, ErrorClass};
use orkestra_resilience::breaker::BreakerConfig;
use orkestra_resilience::rate_limit::{KeyedRateLimiter, RateLimitConfig, RateLimiter};
use orkestra_resilience::{CircuitBreaker, Pipeline, Retry, RetryConfig};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// Polls a future that must be ready at once.
fn now<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the benchmarked operation must be immediately ready"),
    }
}

fn ok_op() -> impl Future<Output = Result<u64, ErrorClass>> {
    ready(Ok(black_box(7)))
}

fn pipeline() -> Pipeline {
    Pipeline::builder()
        .retry(Retry::new(RetryConfig::default()).expect("default retry config is valid"))
        .circuit_breaker(
            CircuitBreaker::new("bench", BreakerConfig::default())
                .expect("default breaker config is valid"),
        )
        .build()
}

fn open_breaker() -> CircuitBreaker {
    let breaker = CircuitBreaker::new("open", BreakerConfig::default()).expect("valid config");
    breaker.force_open();
    breaker
}

fn failsafe_breaker() -> impl failsafe::futures::CircuitBreaker {
    failsafe::Config::new().build()
}

fn assert_no_allocations() {
    const CALLS: u64 = 10_000;
    let pipeline = pipeline();
    let breaker = CircuitBreaker::new("alloc", BreakerConfig::default()).expect("valid config");
    // Warm up once so lazily initialised statics are not counted.
    let _ = now(pipeline.call(ok_op));
    let region = Region::new(GLOBAL);
    for _ in 0..CALLS {
        black_box(now(pipeline.call(ok_op)).is_ok());
        black_box(now(breaker.call(ok_op())).is_ok());
    }
    let change = region.change();
    let retry = Retry::new(RetryConfig::default()).expect("valid config");
    eprintln!(
        "future sizes: pipeline call {} bytes, breaker call {} bytes, retry call {} bytes",
        std::mem::size_of_val(&pipeline.call(ok_op)),
        std::mem::size_of_val(&breaker.call(ok_op())),
        std::mem::size_of_val(&retry.call(ok_op)),
    );

    eprintln!(
        "allocations on the success path: {} in {CALLS} pipeline calls and {CALLS} breaker calls ({} bytes)",
        change.allocations, change.bytes_allocated
    );
    assert_eq!(
        change.allocations, 0,
        "the retry + breaker success path must not allocate"
    );
}

fn success(c: &mut Criterion) {
    assert_no_allocations();
    let mut group = c.benchmark_group("success");
    group.bench_function("floor: plain call", |b| b.iter(|| now(ok_op())));
    let ours = pipeline();
    group.bench_function("orkestra: retry + breaker pipeline", |b| {
        b.iter(|| now(ours.call(ok_op)));
    });
    let breaker = CircuitBreaker::new("bench", BreakerConfig::default()).expect("valid config");
    group.bench_function("orkestra: breaker", |b| {
        b.iter(|| now(breaker.call(ok_op())));
    });
    let retry = Retry::new(RetryConfig::default()).expect("valid config");
    group.bench_function("orkestra: retry", |b| b.iter(|| now(retry.call(ok_op))));
    let peer = failsafe_breaker();
    group.bench_function("failsafe: breaker", |b| {
        b.iter(|| now(failsafe::futures::CircuitBreaker::call(&peer, ok_op())));
    });
    let backoff = backon::ExponentialBuilder::default()
        .with_jitter()
        .with_max_times(2);
    group.bench_function("backon: retry", |b| {
        b.iter(|| {
            use backon::Retryable;
            now(ok_op.retry(backoff).sleep(|_| ready(())))
        });
    });
    group.bench_function("failsafe + backon: retry + breaker", |b| {
        b.iter(|| {
            use backon::Retryable;
            now((|| failsafe::futures::CircuitBreaker::call(&peer, ok_op()))
                .retry(backoff)
                .sleep(|_| ready(())))
        });
    });
    group.finish();
}

fn rejection(c: &mut Criterion) {
    let mut group = c.benchmark_group("rejection");
    let ours = open_breaker();
    group.bench_function("orkestra: open breaker", |b| {
        b.iter(|| now(ours.call(ok_op())).is_err());
    });
    let peer = failsafe_breaker();
    // failsafe has no "force open": trip it with consecutive failures (its default policy).
    for _ in 0..64 {
        let _ = now(failsafe::futures::CircuitBreaker::call(
            &peer,
            ready(Err::<u64, _>(ErrorClass::new(ErrorCategory::Internal))),
        ));
    }
    group.bench_function("failsafe: open breaker", |b| {
        b.iter(|| now(failsafe::futures::CircuitBreaker::call(&peer, ok_op())).is_err());
    });
    group.finish();
}

fn rate_limit(c: &mut Criterion) {
    let mut group = c.benchmark_group("rate_limit");
    // A limit far above what the bench can reach, so every check is admitted and measures the
    // same path.
    let config = RateLimitConfig {
        requests: 1_000_000_000,
        per: Duration::from_secs(1),
        burst: Some(1_000_000_000),
    };
    // The floor: governor itself, which our limiter wraps (the one place outside
    // `rate_limit` allowed to name it, to measure the wrapper's cost).
    #[expect(
        clippy::disallowed_types,
        reason = "the floor: governor alone, to measure the wrapper's cost"
    )]
    let raw = governor::RateLimiter::direct(governor::Quota::per_second(
        std::num::NonZeroU32::new(1_000_000_000).expect("non-zero"),
    ));
    group.bench_function("governor: direct check", |b| b.iter(|| raw.check().is_ok()));
    let direct = RateLimiter::new(&config).expect("valid config");
    group.bench_function("orkestra: direct check", |b| {
        b.iter(|| direct.check().is_ok());
    });
    let keyed = KeyedRateLimiter::<u64>::new(&config).expect("valid config");
    let keys: Arc<[u64]> = (0..1_000).collect();
    let mut i = 0usize;
    group.bench_function("orkestra: keyed check (1,000 keys)", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            keyed.check(&keys[i]).is_ok()
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = success, rejection, rate_limit
}
criterion_main!(benches);
