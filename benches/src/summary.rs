//! Recorded latencies and counts, and the figures `loadgen` prints from them.

use std::fmt::Display;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::options::{Mode, Options};

#[cfg(test)]
mod tests;

/// The longest latency recorded exactly; longer ones are recorded as this long.
const LONGEST: Duration = Duration::from_mins(2);

/// What the requests of one measurement did.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// Latencies in nanoseconds, three significant digits.
    histogram: Histogram<u64>,
    /// Answers with a status outside 200-299 (their latency is recorded too).
    pub non_2xx: u64,
    /// Requests that got no complete answer: connection or protocol errors, timeouts.
    pub errors: u64,
    /// Connections reopened because the server closed the previous one between requests.
    pub reconnects: u64,
    /// The first error, to say what went wrong.
    pub first_error: Option<String>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// Nothing recorded yet.
    ///
    /// # Panics
    ///
    /// Never: the histogram's bounds are constants that hdrhistogram accepts.
    pub fn new() -> Self {
        #[allow(
            clippy::expect_used,
            reason = "three significant digits between 1 ns and LONGEST are valid constant bounds"
        )]
        let histogram =
            Histogram::new_with_bounds(1, nanos(LONGEST), 3).expect("valid histogram bounds");
        Self {
            histogram,
            non_2xx: 0,
            errors: 0,
            reconnects: 0,
            first_error: None,
        }
    }

    /// Records an answer that took `latency`, with its status code.
    pub fn answer(&mut self, latency: Duration, status: u16) {
        self.histogram
            .saturating_record(nanos(latency.min(LONGEST)).max(1));
        if !(200..300).contains(&status) {
            self.non_2xx += 1;
        }
    }

    /// Records a request that got no complete answer.
    pub fn error(&mut self, error: impl Display) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(error.to_string());
        }
    }

    /// Answers recorded, whatever their status.
    pub fn answers(&self) -> u64 {
        self.histogram.len()
    }

    /// The latency distribution, in microseconds.
    pub fn percentiles(&self) -> Percentiles {
        let micros = |nanos: u64| nanos as f64 / 1_000.0;
        if self.histogram.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            min: micros(self.histogram.min()),
            mean: self.histogram.mean() / 1_000.0,
            p50: micros(self.histogram.value_at_quantile(0.5)),
            p90: micros(self.histogram.value_at_quantile(0.9)),
            p99: micros(self.histogram.value_at_quantile(0.99)),
            p999: micros(self.histogram.value_at_quantile(0.999)),
            max: micros(self.histogram.max()),
        }
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// A latency distribution in microseconds; all zero when nothing was recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Percentiles {
    /// Fastest.
    pub min: f64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest.
    pub max: f64,
}

/// Everything one `loadgen` run measured.
#[derive(Debug, Clone)]
pub struct Summary {
    /// What was run.
    pub options: Options,
    /// What happened.
    pub recorder: Recorder,
    /// From the end of the warmup to the last recorded answer.
    pub elapsed: Duration,
    /// Wall time of each measured burst, first to last request (burst mode only).
    pub bursts: Vec<Duration>,
}

impl Summary {
    /// Recorded answers per second of [`Self::elapsed`]; 0 when nothing was measured.
    pub fn rate(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.recorder.answers() as f64 / seconds
        } else {
            0.0
        }
    }

    /// The figures as one JSON object; durations in microseconds.
    pub fn to_json(&self) -> Value {
        let micros = |duration: Duration| duration.as_secs_f64() * 1e6;
        let options = &self.options;
        let latency = self.recorder.percentiles();
        let target_rate = match options.mode {
            Mode::Open { rate } => Some(rate),
            Mode::Closed | Mode::Burst { .. } => None,
        };
        json!({
            "mode": options.mode.to_string(),
            "url": options.url,
            "connections": options.connections,
            "seconds": options.seconds.as_secs_f64(),
            "warmup_seconds": options.warmup.as_secs_f64(),
            "target_rate": target_rate,
            "requests": self.recorder.answers(),
            "errors": self.recorder.errors,
            "non_2xx": self.recorder.non_2xx,
            "reconnects": self.recorder.reconnects,
            "elapsed_us": micros(self.elapsed),
            "rate": self.rate(),
            "latency_us": {
                "min": latency.min,
                "mean": latency.mean,
                "p50": latency.p50,
                "p90": latency.p90,
                "p99": latency.p99,
                "p99.9": latency.p999,
                "max": latency.max,
            },
            "burst_wall_us": self.bursts.iter().copied().map(micros).collect::<Vec<_>>(),
            "first_error": self.recorder.first_error,
        })
    }
}
