//! Sans-IO backoff: how long to wait before retry number `n`, with jitter.

use std::time::Duration;

use orkestra_core::clock::duration_nanos;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// How a backoff delay is randomised so that clients failing together do not retry together.
///
/// `d` below is the exponential delay already limited to [`BackoffConfig::max`], so every draw
/// spreads over a range that ends at or below the cap instead of being clamped onto it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// Exactly `d`: predictable, and prone to synchronised retry storms.
    None,
    /// Uniform in `0..=d` (AWS "full jitter"): the least contention, sometimes no wait at all.
    #[default]
    Full,
    /// `d/2` plus uniform in `0..=d/2` (AWS "equal jitter"): always waits at least half.
    Equal,
    /// Uniform between `initial` and three times the previous delay, capped (AWS
    /// "decorrelated jitter"): ignores the retry number and [`BackoffConfig::multiplier`].
    Decorrelated,
}

impl Jitter {
    /// The stable `snake_case` name, the same as the serde form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Full => "full",
            Self::Equal => "equal",
            Self::Decorrelated => "decorrelated",
        }
    }
}

/// The backoff section of a retry configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackoffConfig {
    /// The delay before the first retry, before jitter.
    #[serde(with = "humantime_serde")]
    pub initial: Duration,
    /// The cap: no backoff delay exceeds it, whatever the retry number or the jitter.
    #[serde(with = "humantime_serde")]
    pub max: Duration,
    /// The growth factor per retry; at least 1.
    pub multiplier: f64,
    /// How the delay is randomised.
    pub jitter: Jitter,
}

impl Default for BackoffConfig {
    /// `initial = "100ms"`, `max = "10s"`, `multiplier = 2.0`, `jitter = "full"`.
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
            multiplier: 2.0,
            jitter: Jitter::Full,
        }
    }
}

impl BackoffConfig {
    /// Checks that the delays are ordered and the multiplier is a finite number of at least 1.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.initial > self.max {
            return Err(ConfigError::new(
                "retry.backoff.initial",
                format!(
                    "a delay no longer than `retry.backoff.max` ({:?}), got {:?}",
                    self.max, self.initial
                ),
            ));
        }
        // `!(x >= 1.0)` also rejects NaN.
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0) {
            return Err(ConfigError::new(
                "retry.backoff.multiplier",
                format!("a finite number of at least 1.0, got {}", self.multiplier),
            ));
        }
        Ok(())
    }
}

/// The delay sequence of one call: a value in, a value out, no clock and no sleeping.
///
/// Create one per call; it keeps the previous delay for [`Jitter::Decorrelated`].
///
/// ```
/// use std::time::Duration;
/// use orkestra_resilience::retry::{Backoff, BackoffConfig, Jitter};
/// use rand::SeedableRng;
///
/// let config = BackoffConfig { jitter: Jitter::None, ..BackoffConfig::default() };
/// let mut backoff = Backoff::new(&config)?;
/// let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
/// assert_eq!(backoff.delay(1, &mut rng), Duration::from_millis(100));
/// assert_eq!(backoff.delay(3, &mut rng), Duration::from_millis(400));
/// // Saturates at the cap instead of overflowing.
/// assert_eq!(backoff.delay(10_000, &mut rng), Duration::from_secs(10));
/// # Ok::<(), orkestra_resilience::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: u64,
    max: u64,
    multiplier: f64,
    jitter: Jitter,
    /// The previous delay, for decorrelated jitter; starts at `initial`.
    previous: u64,
}

impl Backoff {
    /// A backoff following `config`, after validating it.
    pub fn new(config: &BackoffConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::from_validated(config))
    }

    /// A backoff following `config`, which the caller has validated.
    pub(super) fn from_validated(config: &BackoffConfig) -> Self {
        let initial = duration_nanos(config.initial);
        Self {
            initial,
            max: duration_nanos(config.max),
            multiplier: config.multiplier,
            jitter: config.jitter,
            previous: initial,
        }
    }

    /// The delay before retry number `retry` (1 for the first retry), jittered and capped.
    pub fn delay(&mut self, retry: u32, rng: &mut impl Rng) -> Duration {
        let nanos = match self.jitter {
            Jitter::None => self.exponential(retry),
            Jitter::Full => rng.random_range(0..=self.exponential(retry)),
            Jitter::Equal => {
                let d = self.exponential(retry);
                let half = d / 2;
                half + rng.random_range(0..=d - half)
            }
            Jitter::Decorrelated => {
                // Draw inside [initial, min(3 * previous, cap)] rather than clamping a larger
                // draw to the cap: clamping piles most delays onto the cap once the sequence
                // gets there, which is the "jitter too small at the cap" bug of backon PR #184.
                let low = self.initial.min(self.max);
                let high = self.previous.saturating_mul(3).clamp(low, self.max);
                let drawn = rng.random_range(low..=high);
                self.previous = drawn;
                drawn
            }
        };
        // The cap again, after jitter: every branch already draws at or below it, so this only
        // guards the invariant should a branch change.
        Duration::from_nanos(nanos.min(self.max))
    }

    /// The delay before `retry`, raised to the server's `retry_after` when it asked for one.
    ///
    /// The backoff still advances, so a later retry without `Retry-After` continues the sequence.
    pub fn delay_honouring(
        &mut self,
        retry: u32,
        retry_after: Option<Duration>,
        rng: &mut impl Rng,
    ) -> Duration {
        let delay = self.delay(retry, rng);
        retry_after.map_or(delay, |after| delay.max(after))
    }

    /// `initial * multiplier^(retry - 1)` in nanoseconds, limited to the cap.
    ///
    /// Computed in floating point and compared with the cap before converting back, so a huge
    /// multiplier or retry number gives the cap, never an overflow, a negative value or NaN
    /// (Polly #2163 overflowed to a negative delay).
    fn exponential(&self, retry: u32) -> u64 {
        if self.initial == 0 {
            // Zero times infinity would be NaN; zero times anything finite is zero.
            return 0;
        }
        let factor = self.multiplier.powf(f64::from(retry.saturating_sub(1)));
        let nanos = self.initial as f64 * factor;
        // Infinity (a huge multiplier or retry number) and NaN both land on the cap.
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "NaN, infinity and negatives are handled first; what is left fits in u64"
        )]
        if nanos.is_nan() || nanos >= self.max as f64 {
            self.max
        } else if nanos <= 0.0 {
            0
        } else {
            // In range (0, max): the cast is exact up to f64 rounding and cannot wrap.
            (nanos as u64).min(self.max)
        }
    }
}
