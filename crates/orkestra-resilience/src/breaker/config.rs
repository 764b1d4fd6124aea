//! [`BreakerConfig`] and its [`Window`], with serde and validation.

use std::fmt;
use std::time::Duration;

use orkestra_core::{ErrorCategory, Resource};
use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use super::word::MAX_PROBES;
use crate::{CategorySet, ConfigError};

/// The largest count window: past ten thousand calls a breaker reacts too slowly to matter, and
/// the lock-free window packs its counters in 16 bits each (the headroom above the window size
/// absorbs calls being recorded concurrently). Use a time window for more.
pub const MAX_COUNT_WINDOW: u32 = 10_000;

/// The most buckets a time window may have.
pub const MAX_TIME_BUCKETS: u32 = 3_600;

/// The shortest open duration: it bounds how fast a flapping breaker can cycle.
pub const MIN_OPEN_DURATION: Duration = Duration::from_millis(1);

/// Which recent calls the breaker judges when closed.
///
/// In TOML: `window = { count = 100 }` (the last 100 calls) or
/// `window = { time = "60s", buckets = 60 }` (the calls of the last minute, kept in 60
/// one-second buckets; `buckets` defaults to 60).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last `size` calls, whenever they happened.
    Count {
        /// How many calls the window holds, 1 to [`MAX_COUNT_WINDOW`].
        size: u32,
    },
    /// The calls of the last `duration`, counted in `buckets` slices; the oldest slice
    /// expires as a whole, so the window spans between `duration - duration / buckets` and
    /// `duration`.
    Time {
        /// How far back the window reaches.
        duration: Duration,
        /// How many slices the duration is cut into, 1 to [`MAX_TIME_BUCKETS`].
        buckets: u32,
    },
}

impl Window {
    /// The default count window size.
    pub const DEFAULT_SIZE: u32 = 100;
    /// The default time window duration.
    pub const DEFAULT_DURATION: Duration = Duration::from_mins(1);
    /// The default number of buckets of a time window.
    pub const DEFAULT_BUCKETS: u32 = 60;

    /// A window of the last `size` calls.
    pub const fn count(size: u32) -> Self {
        Self::Count { size }
    }

    /// A window of the calls of the last `duration`, in [`Window::DEFAULT_BUCKETS`] buckets.
    pub const fn time(duration: Duration) -> Self {
        Self::Time {
            duration,
            buckets: Self::DEFAULT_BUCKETS,
        }
    }
}

impl Default for Window {
    /// A count window of the last 100 calls.
    fn default() -> Self {
        Self::count(Self::DEFAULT_SIZE)
    }
}

impl Serialize for Window {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Self::Count { size } => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("count", &size)?;
                map.end()
            }
            Self::Time { duration, buckets } => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("time", &humantime_serde::Serde::from(duration))?;
                map.serialize_entry("buckets", &buckets)?;
                map.end()
            }
        }
    }
}

/// The written form of a [`Window`]: exactly one of `count` or `time`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowRepr {
    #[serde(default)]
    count: Option<u32>,
    #[serde(default, with = "humantime_serde::option")]
    time: Option<Duration>,
    #[serde(default)]
    buckets: Option<u32>,
}

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let repr = WindowRepr::deserialize(deserializer)?;
        match (repr.count, repr.time, repr.buckets) {
            (Some(size), None, None) => Ok(Self::Count { size }),
            (None, Some(duration), buckets) => Ok(Self::Time {
                duration,
                buckets: buckets.unwrap_or(Self::DEFAULT_BUCKETS),
            }),
            (Some(_), None, Some(_)) => Err(de::Error::custom(
                "`buckets` applies only to a time window: write `{ time = \"60s\", buckets = 60 }`",
            )),
            (Some(_), Some(_), _) => Err(de::Error::custom(
                "a window is either `{ count = 100 }` or `{ time = \"60s\" }`, not both",
            )),
            (None, None, _) => Err(de::Error::custom(
                "a window needs `count` (a number of calls) or `time` (a duration such as \"60s\")",
            )),
        }
    }
}

/// How a [`CircuitBreaker`](super::CircuitBreaker) judges calls and when it opens and closes.
///
/// In TOML every key is optional and unknown keys are rejected:
///
/// ```toml
/// window = { count = 100 }            # or { time = "60s", buckets = 60 }
/// minimum_calls = 10
/// failure_rate_threshold = 0.5
/// slow_call_duration = "20s"          # leave out to turn slow-call detection off
/// slow_call_rate_threshold = 1.0
/// open_duration = "10s"
/// open_duration_multiplier = 2.0
/// max_open_duration = "5m"
/// half_open_probes = 2
/// record = ["network", "timeout", "rate_limited", "overloaded", "internal", "auth", "resource_exhausted"]
/// ignore = ["cancelled"]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Which recent calls are judged while closed.
    pub window: Window,
    /// No rate is judged while the window holds fewer calls than this.
    pub minimum_calls: u32,
    /// The breaker opens when this share of the judged calls failed, in `(0, 1]`.
    pub failure_rate_threshold: f64,
    /// A call lasting at least this long is slow; `None` turns slow-call detection off (and
    /// then recording a success reads no clock).
    #[serde(with = "humantime_serde::option")]
    pub slow_call_duration: Option<Duration>,
    /// The breaker opens when this share of the judged calls was slow, in `(0, 1]`.
    pub slow_call_rate_threshold: f64,
    /// How long the breaker stays open the first time.
    #[serde(with = "humantime_serde")]
    pub open_duration: Duration,
    /// Each consecutive re-opening (half-open back to open) multiplies the open duration by
    /// this, at least 1.
    pub open_duration_multiplier: f64,
    /// The cap on the grown open duration.
    #[serde(with = "humantime_serde")]
    pub max_open_duration: Duration,
    /// How many probe calls one half-open period admits, 1 to 255.
    pub half_open_probes: u32,
    /// Error categories that count as failures.
    pub record: CategorySet,
    /// Error categories that count as nothing: the call is forgotten, as if never made.
    /// Checked before `record`; a category in neither counts as a success.
    pub ignore: CategorySet,
}

impl BreakerConfig {
    /// The categories recorded as failures by default: the ones that say the backend, or our
    /// access to it, is failing.
    pub const DEFAULT_RECORD: CategorySet = CategorySet::of(&[
        ErrorCategory::Network,
        ErrorCategory::Timeout,
        ErrorCategory::RateLimited,
        ErrorCategory::Overloaded,
        ErrorCategory::Internal,
        ErrorCategory::Auth,
        ErrorCategory::ResourceExhausted(Resource::Other),
    ]);

    /// The categories ignored by default: a caller who cancels says nothing about the backend.
    pub const DEFAULT_IGNORE: CategorySet = CategorySet::of(&[ErrorCategory::Cancelled]);

    /// Checks every field, naming the first one that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.window {
            Window::Count { size } => {
                if !(1..=MAX_COUNT_WINDOW).contains(&size) {
                    return Err(ConfigError::new(
                        "breaker.window.count",
                        format!("a number of calls from 1 to {MAX_COUNT_WINDOW}, got {size}"),
                    ));
                }
                if self.minimum_calls > size {
                    return Err(ConfigError::new(
                        "breaker.minimum_calls",
                        format!(
                            "at most the window size ({size}), or the breaker could never open; got {}",
                            self.minimum_calls
                        ),
                    ));
                }
            }
            Window::Time { duration, buckets } => {
                if !(1..=MAX_TIME_BUCKETS).contains(&buckets) {
                    return Err(ConfigError::new(
                        "breaker.window.buckets",
                        format!("from 1 to {MAX_TIME_BUCKETS}, got {buckets}"),
                    ));
                }
                if duration < Duration::from_nanos(u64::from(buckets)) {
                    return Err(ConfigError::new(
                        "breaker.window.time",
                        format!(
                            "a duration of at least one nanosecond per bucket ({buckets}), got {duration:?}"
                        ),
                    ));
                }
            }
        }
        if self.minimum_calls == 0 {
            return Err(ConfigError::new(
                "breaker.minimum_calls",
                "at least 1, got 0",
            ));
        }
        check_rate(
            "breaker.failure_rate_threshold",
            self.failure_rate_threshold,
        )?;
        check_rate(
            "breaker.slow_call_rate_threshold",
            self.slow_call_rate_threshold,
        )?;
        if self.slow_call_duration == Some(Duration::ZERO) {
            return Err(ConfigError::new(
                "breaker.slow_call_duration",
                "a positive duration, or no value to turn slow-call detection off",
            ));
        }
        if self.open_duration < MIN_OPEN_DURATION {
            return Err(ConfigError::new(
                "breaker.open_duration",
                format!(
                    "at least {MIN_OPEN_DURATION:?}, got {:?}",
                    self.open_duration
                ),
            ));
        }
        if !(self.open_duration_multiplier.is_finite() && self.open_duration_multiplier >= 1.0) {
            return Err(ConfigError::new(
                "breaker.open_duration_multiplier",
                format!(
                    "a finite number of at least 1, got {}",
                    self.open_duration_multiplier
                ),
            ));
        }
        if self.max_open_duration < self.open_duration {
            return Err(ConfigError::new(
                "breaker.max_open_duration",
                format!(
                    "at least `open_duration` ({:?}), got {:?}",
                    self.open_duration, self.max_open_duration
                ),
            ));
        }
        if !(1..=MAX_PROBES).contains(&self.half_open_probes) {
            return Err(ConfigError::new(
                "breaker.half_open_probes",
                format!("from 1 to {MAX_PROBES}, got {}", self.half_open_probes),
            ));
        }
        Ok(())
    }
}

fn check_rate(field: &'static str, rate: f64) -> Result<(), ConfigError> {
    if rate > 0.0 && rate <= 1.0 {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("a share in (0, 1] such as 0.5, got {rate}"),
        ))
    }
}

impl Default for BreakerConfig {
    /// The defaults, and why (see the [module docs](super) for the comparison with
    /// resilience4j and Polly):
    ///
    /// - `window`: the last 100 calls.
    /// - `minimum_calls`: 10.
    /// - `failure_rate_threshold`: 0.5.
    /// - `slow_call_duration`: none (slow-call detection off).
    /// - `slow_call_rate_threshold`: 1.0.
    /// - `open_duration`: 10 s, `open_duration_multiplier`: 2.0, `max_open_duration`: 300 s.
    /// - `half_open_probes`: 2.
    /// - `record`: `network`, `timeout`, `rate_limited`, `overloaded`, `internal`, `auth`,
    ///   `resource_exhausted`.
    /// - `ignore`: `cancelled`.
    fn default() -> Self {
        Self {
            window: Window::default(),
            minimum_calls: 10,
            failure_rate_threshold: 0.5,
            slow_call_duration: None,
            slow_call_rate_threshold: 1.0,
            open_duration: Duration::from_secs(10),
            open_duration_multiplier: 2.0,
            max_open_duration: Duration::from_mins(5),
            half_open_probes: 2,
            record: Self::DEFAULT_RECORD,
            ignore: Self::DEFAULT_IGNORE,
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count { size } => write!(f, "the last {size} calls"),
            Self::Time { duration, buckets } => {
                write!(f, "the last {duration:?} in {buckets} buckets")
            }
        }
    }
}
