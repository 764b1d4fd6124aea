//! Money: amounts in integer nano-dollars, per-token prices at a finer resolution.

use std::fmt;
use std::ops::{Add, AddAssign};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An amount of money in nano-dollars (10⁻⁹ USD).
///
/// Integer money never drifts when summed over millions of requests; `u64` holds about
/// 18 billion dollars, and every operation saturates rather than wrapping.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Nanodollars(pub u64);

impl Nanodollars {
    /// Nothing.
    pub const ZERO: Self = Self(0);
    /// The largest amount, used as "no limit".
    pub const MAX: Self = Self(u64::MAX);

    /// `usd` dollars, rounded to the nearest nano-dollar; `None` if negative or not finite.
    pub fn from_usd(usd: f64) -> Option<Self> {
        if !usd.is_finite() || usd < 0.0 {
            return None;
        }
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "the amount is finite and non-negative, and the cast saturates at u64::MAX \
                      beyond 18 billion dollars"
        )]
        Some(Self((usd * 1e9).round() as u64))
    }

    /// The amount in dollars (for display and reports only; never sum these).
    pub fn as_usd(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// `self + other`, saturating.
    #[must_use]
    pub const fn saturating_add(self, other: Self) -> Self {
        Self(self.0.saturating_add(other.0))
    }

    /// `self - other`, or zero when `other` is larger.
    #[must_use]
    pub const fn saturating_sub(self, other: Self) -> Self {
        Self(self.0.saturating_sub(other.0))
    }
}

impl Add for Nanodollars {
    type Output = Self;

    /// Saturating.
    fn add(self, other: Self) -> Self {
        self.saturating_add(other)
    }
}

impl AddAssign for Nanodollars {
    fn add_assign(&mut self, other: Self) {
        *self = self.saturating_add(other);
    }
}

impl std::iter::Sum for Nanodollars {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::ZERO, Add::add)
    }
}

impl fmt::Display for Nanodollars {
    /// Dollars with six decimals (`$0.000450`); exact to the micro-dollar.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.0 / 1_000;
        write!(f, "${}.{:06}", micros / 1_000_000, micros % 1_000_000)
    }
}

/// A price per token, held in thousandths of a nano-dollar.
///
/// Providers quote per million tokens, and some prices are fractions of a nano-dollar per
/// token ($0.0375 per million is 37.5 nano-dollars per token), so the price keeps three more
/// digits than [`Nanodollars`]; a request's cost is rounded up to a whole nano-dollar once.
/// Files spell it in dollars per million tokens, the unit price lists use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenPrice {
    millinanos_per_token: u64,
}

impl TokenPrice {
    /// Zero: local models and free tiers.
    pub const FREE: Self = Self {
        millinanos_per_token: 0,
    };

    /// A price from dollars per million tokens; `None` if negative or not finite.
    pub fn from_usd_per_million(usd: f64) -> Option<Self> {
        if !usd.is_finite() || usd < 0.0 {
            return None;
        }
        // $1 per million tokens is 1,000 nano-dollars per token, 1,000,000 thousandths.
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "the price is finite and non-negative, and the cast saturates at u64::MAX"
        )]
        Some(Self {
            millinanos_per_token: (usd * 1e6).round() as u64,
        })
    }

    /// A price from dollars per token (LiteLLM's `input_cost_per_token`).
    pub fn from_usd_per_token(usd: f64) -> Option<Self> {
        Self::from_usd_per_million(usd * 1e6)
    }

    /// A price from thousandths of a nano-dollar per token (the stored unit).
    pub const fn from_millinanos_per_token(millinanos: u64) -> Self {
        Self {
            millinanos_per_token: millinanos,
        }
    }

    /// Thousandths of a nano-dollar per token.
    pub const fn millinanos_per_token(self) -> u64 {
        self.millinanos_per_token
    }

    /// Dollars per million tokens.
    pub fn usd_per_million(self) -> f64 {
        self.millinanos_per_token as f64 / 1e6
    }

    /// Whether the price is zero.
    pub const fn is_free(self) -> bool {
        self.millinanos_per_token == 0
    }

    /// The exact cost of `tokens` tokens in thousandths of a nano-dollar (saturating).
    pub const fn millinanos(self, tokens: u64) -> u64 {
        self.millinanos_per_token.saturating_mul(tokens)
    }
}

impl Serialize for TokenPrice {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.usd_per_million())
    }
}

impl<'de> Deserialize<'de> for TokenPrice {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let usd = f64::deserialize(deserializer)?;
        Self::from_usd_per_million(usd).ok_or_else(|| {
            serde::de::Error::custom(format_args!(
                "price {usd} is not a non-negative number of dollars per million tokens"
            ))
        })
    }
}

impl fmt::Display for TokenPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}/M tokens", self.usd_per_million())
    }
}

/// Rounds thousandths of a nano-dollar up to whole nano-dollars, so a request is never
/// billed less than it cost.
pub(crate) const fn millinanos_to_nanos(millinanos: u64) -> Nanodollars {
    Nanodollars(millinanos.div_ceil(1_000))
}

#[cfg(test)]
mod tests;
