//! What to optimise for: [`Strategy`] and the [`Weights`] behind each one.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// How much each term of a score counts.
///
/// `quality`, `cost`, `speed` and `reliability` are normalised by their sum, so the weighted
/// part of a score lies in 0..=1 and only their ratios matter. `local` is added as is for
/// local models: a value of 1 or more ranks every qualifying local model above every cloud one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Weights {
    /// Quality of the model for the task kind.
    pub quality: f64,
    /// Cheapness of the request.
    pub cost: f64,
    /// Speed of the expected answer.
    pub speed: f64,
    /// Live success rate.
    pub reliability: f64,
    /// Bonus for local models.
    pub local: f64,
}

impl Default for Weights {
    /// The balanced weights.
    fn default() -> Self {
        Strategy::Balanced.weights()
    }
}

impl Weights {
    const fn new(quality: f64, cost: f64, speed: f64, reliability: f64, local: f64) -> Self {
        Self {
            quality,
            cost,
            speed,
            reliability,
            local,
        }
    }

    /// Checks that weights are finite, non-negative and not all zero.
    pub fn validate(&self) -> Result<(), Error> {
        let all = [
            self.quality,
            self.cost,
            self.speed,
            self.reliability,
            self.local,
        ];
        if all.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return Err(Error::InvalidWeights {
                problem: format!("must be finite and non-negative, got {self:?}"),
            });
        }
        if self.quality + self.cost + self.speed + self.reliability <= 0.0 {
            return Err(Error::InvalidWeights {
                problem: "at least one of quality, cost, speed, reliability must be positive"
                    .into(),
            });
        }
        Ok(())
    }

    /// The weights of the four normalised terms, summing to 1 (and `local` unchanged).
    pub(crate) fn normalised(&self) -> Self {
        let sum = self.quality + self.cost + self.speed + self.reliability;
        if sum <= 0.0 || !sum.is_finite() {
            return Strategy::Balanced.weights();
        }
        Self::new(
            self.quality / sum,
            self.cost / sum,
            self.speed / sum,
            self.reliability / sum,
            self.local,
        )
    }
}

/// What a selection optimises for.
///
/// | strategy | quality | cost | speed | reliability | local bonus |
/// |---|---|---|---|---|---|
/// | `quality` | 0.80 | 0 | 0.05 | 0.15 | 0 |
/// | `cost` | 0.20 | 0.70 | 0 | 0.10 | 0 |
/// | `speed` | 0.20 | 0 | 0.70 | 0.10 | 0 |
/// | `balanced` | 0.40 | 0.30 | 0.20 | 0.10 | 0 |
/// | `local_first` | 0.40 | 0.30 | 0.20 | 0.10 | 1 |
///
/// Every strategy also applies the adequacy floor (see [`super::ScorerConfig::adequacy`]), so
/// `cost` picks the cheapest *adequate* model rather than the cheapest one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The best model for the task, cost aside.
    Quality,
    /// The cheapest adequate model.
    Cost,
    /// The fastest adequate model.
    Speed,
    /// A balance of quality, cost and speed (the default).
    #[default]
    Balanced,
    /// Local models while one qualifies, then the balanced choice.
    LocalFirst,
    /// Caller-chosen weights.
    Custom(Weights),
}

impl Strategy {
    /// The weights of this strategy.
    pub const fn weights(&self) -> Weights {
        match self {
            Self::Quality => Weights::new(0.80, 0.0, 0.05, 0.15, 0.0),
            Self::Cost => Weights::new(0.20, 0.70, 0.0, 0.10, 0.0),
            Self::Speed => Weights::new(0.20, 0.0, 0.70, 0.10, 0.0),
            Self::Balanced => Weights::new(0.40, 0.30, 0.20, 0.10, 0.0),
            Self::LocalFirst => Weights::new(0.40, 0.30, 0.20, 0.10, 1.0),
            Self::Custom(weights) => *weights,
        }
    }

    /// The name used on the command line and in `auto:<strategy>`.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Quality => "quality",
            Self::Cost => "cost",
            Self::Speed => "speed",
            Self::Balanced => "balanced",
            Self::LocalFirst => "local",
            Self::Custom(_) => "custom",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Strategy {
    type Err = Error;

    /// `quality`, `cost`, `speed`, `balanced`, `local` (also `local_first`, `local-first`).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "quality" => Ok(Self::Quality),
            "cost" => Ok(Self::Cost),
            "speed" => Ok(Self::Speed),
            "balanced" => Ok(Self::Balanced),
            "local" | "local_first" | "local-first" => Ok(Self::LocalFirst),
            _ => Err(Error::UnknownStrategy {
                name: name.to_owned(),
            }),
        }
    }
}
