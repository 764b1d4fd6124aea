//! A flaky upstream behind orkestra's resilience pipeline, offline and in about two seconds.
//!
//! The upstream is healthy, then blips (each call fails once before it answers), then goes
//! down, then recovers. Around it: retry with jittered backoff, a circuit breaker and a timeout;
//! when the pipeline gives up, a local model answers instead. Every line printed is something a
//! policy decided.
//!
//! Run: `cargo run -p orkestra-resilience --example flaky_upstream`

// An example talks to its reader on standard output.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use orkestra_core::{ErrorCategory, ErrorClass};
use orkestra_resilience::breaker::{BreakerConfig, Window};
use orkestra_resilience::retry::{BackoffConfig, Jitter};
use orkestra_resilience::timeout::Timeout;
use orkestra_resilience::{CircuitBreaker, Pipeline, Retry, RetryConfig};

const HEALTHY: u8 = 0;
const BLIPPING: u8 = 1;
const DOWN: u8 = 2;

/// The upstream model server, scripted.
struct Upstream {
    mode: AtomicU8,
    calls: AtomicU32,
}

impl Upstream {
    async fn complete(&self, prompt: &str) -> Result<String, ErrorClass> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(2)).await;
        match self.mode.load(Ordering::SeqCst) {
            // Every other call fails, so a blip costs exactly one retry.
            BLIPPING if call.is_multiple_of(2) => Err(ErrorClass::new(ErrorCategory::Overloaded)),
            DOWN => Err(ErrorClass::new(ErrorCategory::Internal)),
            _ => Ok(format!("primary answers {prompt:?}")),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let stamp = move || format!("{:>6.0?}", start.elapsed().as_millis());

    let breaker = Arc::new(CircuitBreaker::new(
        "upstream",
        BreakerConfig {
            window: Window::Count { size: 10 },
            minimum_calls: 4,
            failure_rate_threshold: 0.5,
            open_duration: Duration::from_millis(300),
            half_open_probes: 1,
            ..BreakerConfig::default()
        },
    )?);
    breaker.on_state_change(Arc::new(move |change| {
        println!(
            "{} ms  breaker {}: {} -> {} ({:?})",
            stamp(),
            change.breaker,
            change.from,
            change.to,
            change.reason
        );
    }));

    let retry = Retry::new(RetryConfig {
        max_attempts: 3,
        backoff: BackoffConfig {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
            multiplier: 2.0,
            jitter: Jitter::Full,
        },
        // An open breaker asks callers to wait 300 ms; anything above 50 ms is better served
        // by the local model, so the retry stops and says why.
        max_retry_after: Duration::from_millis(50),
        budget: None,
    })?
    .on_retry(move |event| {
        println!(
            "{} ms    retry #{} in {:?} after {}",
            stamp(),
            event.attempt,
            event.delay,
            event.class.category
        );
    });

    let pipeline = Pipeline::builder()
        .retry(retry)
        .circuit_breaker(Arc::clone(&breaker))
        .timeout(Timeout::new(Duration::from_millis(200)))
        .build();
    let upstream = Upstream {
        mode: AtomicU8::new(HEALTHY),
        calls: AtomicU32::new(0),
    };

    let phases = [
        ("healthy", HEALTHY, 3, 0),
        ("blipping", BLIPPING, 3, 0),
        ("down", DOWN, 8, 0),
        ("recovered", HEALTHY, 4, 320),
    ];
    for (name, mode, calls, pause_ms) in phases {
        println!("{} ms  -- upstream is {name} --", stamp());
        upstream.mode.store(mode, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        for i in 0..calls {
            let prompt = format!("{name} #{i}");
            match pipeline.call(|| upstream.complete(&prompt)).await {
                Ok(answer) => println!("{} ms  {prompt}: {answer}", stamp()),
                // The caller decides what a failure means; here a local model stands in.
                Err(failure) => println!(
                    "{} ms  {prompt}: the local model answers instead (primary: {} after {} attempt(s); {})",
                    stamp(),
                    failure.class.category,
                    failure.attempts,
                    failure.stop
                ),
            }
        }
    }
    let snapshot = breaker.snapshot();
    println!(
        "{} ms  done: upstream saw {} calls; breaker {} with {} calls in its window, {} rejected",
        stamp(),
        upstream.calls.load(Ordering::SeqCst),
        snapshot.state,
        snapshot.calls,
        snapshot.rejected_total
    );
    Ok(())
}
