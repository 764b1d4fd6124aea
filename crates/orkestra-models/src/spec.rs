//! What the registry knows about one model: [`ModelSpec`] and its parts.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::money::{Nanodollars, TokenPrice, millinanos_to_nanos};
use crate::task::TaskKind;

/// A model id in `provider/model` form: `ollama/llama3.1:8b`, `openai/gpt-4o-mini`.
///
/// The provider is everything before the first `/`; the model part may itself hold slashes
/// (`openrouter/meta-llama/llama-3.1-8b-instruct`) and is the name sent on the wire.
/// Cloning is a reference-count increment.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ModelId(Arc<str>);

impl ModelId {
    /// Parses and validates an id.
    pub fn new(id: &str) -> Result<Self, Error> {
        let invalid = |problem| Error::InvalidModelId {
            id: id.to_owned(),
            problem,
        };
        let Some((provider, model)) = id.split_once('/') else {
            return Err(invalid(
                "expected `provider/model`, e.g. `openai/gpt-4o-mini`",
            ));
        };
        if provider.is_empty() || model.is_empty() {
            return Err(invalid(
                "the provider and the model name must both be non-empty",
            ));
        }
        if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("whitespace and control characters are not allowed"));
        }
        Ok(Self(Arc::from(id)))
    }

    /// The whole id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The provider part: `openai` in `openai/gpt-4o-mini`.
    pub fn provider(&self) -> &str {
        self.0
            .split_once('/')
            .map_or(&*self.0, |(provider, _)| provider)
    }

    /// The model part, as the provider names it: `gpt-4o-mini`.
    pub fn model(&self) -> &str {
        self.0.split_once('/').map_or(&*self.0, |(_, model)| model)
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl Borrow<str> for ModelId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ModelId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ModelId {
    type Error = Error;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::new(&id)
    }
}

impl TryFrom<&str> for ModelId {
    type Error = Error;

    fn try_from(id: &str) -> Result<Self, Self::Error> {
        Self::new(id)
    }
}

impl From<ModelId> for String {
    fn from(id: ModelId) -> Self {
        id.0.to_string()
    }
}

/// Where a model runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Deployment {
    /// On the user's own hardware (Ollama, llama.cpp, vLLM): no per-token price, data stays home.
    Local,
    /// A hosted API.
    #[default]
    Cloud,
}

/// One optional feature a request may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Function / tool calling.
    Tools,
    /// Image input.
    Vision,
    /// A JSON-only response mode (`response_format`).
    JsonMode,
    /// Server-sent streaming.
    Streaming,
}

impl Capability {
    /// Every capability, in bit order.
    pub const ALL: [Self; 4] = [Self::Tools, Self::Vision, Self::JsonMode, Self::Streaming];

    const fn bit(self) -> u8 {
        1 << self as u8
    }

    /// The name used in files and explanations.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Tools => "tools",
            Self::Vision => "vision",
            Self::JsonMode => "json_mode",
            Self::Streaming => "streaming",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of [`Capability`] values; files spell it as a list: `["tools", "streaming"]`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "Vec<Capability>", into = "Vec<Capability>")]
pub struct Capabilities(u8);

impl Capabilities {
    /// No capability.
    pub const NONE: Self = Self(0);

    /// The set holding exactly `capabilities`.
    pub fn of(capabilities: &[Capability]) -> Self {
        capabilities.iter().fold(Self::NONE, |set, &c| set.with(c))
    }

    /// This set plus `capability`.
    #[must_use]
    pub const fn with(self, capability: Capability) -> Self {
        Self(self.0 | capability.bit())
    }

    /// Whether `capability` is in the set.
    pub const fn has(self, capability: Capability) -> bool {
        self.0 & capability.bit() != 0
    }

    /// Whether every capability of `other` is in this set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// This set and `other` together.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// This set less the capabilities of `other`.
    #[must_use]
    pub const fn without(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    /// How many capabilities the set holds.
    pub const fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The first capability of `required` this set lacks.
    #[inline]
    pub fn first_missing(self, required: Self) -> Option<Capability> {
        let missing = required.0 & !self.0;
        if missing == 0 {
            return None;
        }
        // The lowest set bit is the first capability in `Capability::ALL` order.
        Capability::ALL
            .get(missing.trailing_zeros() as usize)
            .copied()
    }

    /// The capabilities in the set, in bit order.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL.into_iter().filter(move |&c| self.has(c))
    }
}

impl From<Vec<Capability>> for Capabilities {
    fn from(list: Vec<Capability>) -> Self {
        Self::of(&list)
    }
}

impl From<Capabilities> for Vec<Capability> {
    fn from(set: Capabilities) -> Self {
        set.iter().collect()
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Expected speed before live measurements exist.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LatencyProfile {
    /// Time to the first token.
    #[serde(with = "humantime_serde")]
    pub ttft: Duration,
    /// Output tokens per second once streaming.
    pub tokens_per_second: f64,
}

impl Default for LatencyProfile {
    /// 500 ms to the first token, then 50 tokens per second: a mid-sized cloud model.
    fn default() -> Self {
        Self {
            ttft: Duration::from_millis(500),
            tokens_per_second: 50.0,
        }
    }
}

impl LatencyProfile {
    /// Expected time to produce `output_tokens` tokens.
    pub fn estimate(&self, output_tokens: u32) -> Duration {
        let generation = f64::from(output_tokens) / self.tokens_per_second;
        self.ttft + Duration::from_secs_f64(generation.clamp(0.0, 86_400.0))
    }
}

/// Quality per task kind, each from 0 (useless) to 1 (best available).
///
/// Files give a `default` and any per-kind overrides:
/// `quality = { default = 0.7, code_generation = 0.9 }`; the overrides are kept as written,
/// so a catalog round-trips unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "QualityRepr", into = "QualityRepr")]
pub struct QualityScores {
    default: f64,
    by_kind: [Option<f64>; TaskKind::COUNT],
}

impl Default for QualityScores {
    /// 0.5 for every kind: an unknown model is assumed average.
    fn default() -> Self {
        Self::uniform(0.5)
    }
}

impl QualityScores {
    /// The same score for every kind.
    pub const fn uniform(score: f64) -> Self {
        Self {
            default: score,
            by_kind: [None; TaskKind::COUNT],
        }
    }

    /// These scores with `kind` set to `score`.
    #[must_use]
    pub const fn with(mut self, kind: TaskKind, score: f64) -> Self {
        self.by_kind[kind as usize] = Some(score);
        self
    }

    /// The score for `kind`.
    #[inline]
    pub fn get(&self, kind: TaskKind) -> f64 {
        self.by_kind[kind as usize].unwrap_or(self.default)
    }

    /// The score for kinds without an override.
    pub const fn default_score(&self) -> f64 {
        self.default
    }

    fn all(&self) -> impl Iterator<Item = (&'static str, f64)> + '_ {
        std::iter::once(("default", self.default)).chain(
            TaskKind::ALL
                .into_iter()
                .filter_map(|kind| Some((kind.as_str(), self.by_kind[kind as usize]?))),
        )
    }
}

/// The file form of [`QualityScores`]: one optional field per kind, unknown keys refused.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct QualityRepr {
    #[serde(default = "half")]
    default: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code_generation: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    debugging: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code_review: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reasoning: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    summarization: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    translation: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    creative_writing: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    extraction: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    classification: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    chat: Option<f64>,
}

fn half() -> f64 {
    0.5
}

impl From<QualityRepr> for QualityScores {
    fn from(r: QualityRepr) -> Self {
        // The array order is `TaskKind`'s declaration order.
        Self {
            default: r.default,
            by_kind: [
                r.code_generation,
                r.debugging,
                r.code_review,
                r.reasoning,
                r.summarization,
                r.translation,
                r.creative_writing,
                r.extraction,
                r.classification,
                r.chat,
            ],
        }
    }
}

impl From<QualityScores> for QualityRepr {
    fn from(q: QualityScores) -> Self {
        let [
            code_generation,
            debugging,
            code_review,
            reasoning,
            summarization,
            translation,
            creative_writing,
            extraction,
            classification,
            chat,
        ] = q.by_kind;
        Self {
            default: q.default,
            code_generation,
            debugging,
            code_review,
            reasoning,
            summarization,
            translation,
            creative_writing,
            extraction,
            classification,
            chat,
        }
    }
}

/// Everything the router knows about one model before any call is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// `provider/model`.
    pub id: ModelId,
    /// The configured provider endpoint that serves this model (`ollama-gpu-box`); when absent,
    /// the provider part of the id names it. Models sharing an endpoint share a failure domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Other names that resolve to this model (`gpt-4o-mini`, `fast`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Input plus output tokens the model accepts.
    pub context_window: u32,
    /// The most tokens one response may hold.
    pub max_output_tokens: u32,
    /// Price per input (prompt) token, in dollars per million tokens in files.
    #[serde(default, rename = "input_usd_per_mtok")]
    pub input_price: TokenPrice,
    /// Price per output (completion) token, in dollars per million tokens in files.
    #[serde(default, rename = "output_usd_per_mtok")]
    pub output_price: TokenPrice,
    /// Expected speed before live measurements exist.
    #[serde(default)]
    pub latency: LatencyProfile,
    /// Quality per task kind.
    #[serde(default)]
    pub quality: QualityScores,
    /// Optional features the model supports.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// Local or cloud.
    #[serde(default)]
    pub deployment: Deployment,
    /// Memory the model needs to run, in gigabytes (local models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_gb: Option<f64>,
    /// Free-form labels (`code`, `small`, `reasoning`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl ModelSpec {
    /// A spec with the given id and context window, and defaults for the rest: output up to a
    /// quarter of the window, free, average quality, cloud, no optional capability.
    pub fn new(id: ModelId, context_window: u32) -> Self {
        Self {
            id,
            endpoint: None,
            aliases: Vec::new(),
            context_window,
            max_output_tokens: (context_window / 4).max(1),
            input_price: TokenPrice::FREE,
            output_price: TokenPrice::FREE,
            latency: LatencyProfile::default(),
            quality: QualityScores::default(),
            capabilities: Capabilities::NONE,
            deployment: Deployment::Cloud,
            memory_gb: None,
            tags: Vec::new(),
        }
    }

    /// The endpoint that serves the model: [`Self::endpoint`], or the id's provider.
    pub fn endpoint(&self) -> &str {
        self.endpoint
            .as_deref()
            .unwrap_or_else(|| self.id.provider())
    }

    /// Whether the model runs locally.
    pub fn is_local(&self) -> bool {
        self.deployment == Deployment::Local
    }

    /// The cost of a call with these token counts, rounded up to a whole nano-dollar.
    pub fn cost(&self, input_tokens: u64, output_tokens: u64) -> Nanodollars {
        millinanos_to_nanos(
            self.input_price
                .millinanos(input_tokens)
                .saturating_add(self.output_price.millinanos(output_tokens)),
        )
    }

    /// Checks the values a file or an API could get wrong.
    pub fn validate(&self) -> Result<(), Error> {
        let fail = |field: &'static str, problem: String| {
            Err(Error::InvalidSpec {
                id: self.id.to_string(),
                field,
                problem,
            })
        };
        if self.context_window == 0 {
            return fail("context_window", "must be at least 1 token".into());
        }
        if self.max_output_tokens == 0 {
            return fail("max_output_tokens", "must be at least 1 token".into());
        }
        if self.max_output_tokens > self.context_window {
            return fail(
                "max_output_tokens",
                format!(
                    "{} exceeds the context window of {}",
                    self.max_output_tokens, self.context_window
                ),
            );
        }
        let tps = self.latency.tokens_per_second;
        if !(tps.is_finite() && tps > 0.0) {
            return fail(
                "latency.tokens_per_second",
                format!("{tps} is not a positive number"),
            );
        }
        for (kind, score) in self.quality.all() {
            if !(0.0..=1.0).contains(&score) {
                return fail("quality", format!("{kind} = {score} is outside 0..=1"));
            }
        }
        if let Some(gb) = self.memory_gb
            && !(gb.is_finite() && gb >= 0.0)
        {
            return fail("memory_gb", format!("{gb} is not a non-negative number"));
        }
        if self.endpoint.as_deref().is_some_and(str::is_empty) {
            return fail("endpoint", "must not be empty when given".into());
        }
        for alias in &self.aliases {
            if alias.is_empty() || alias.chars().any(char::is_whitespace) {
                return fail(
                    "aliases",
                    format!("{alias:?} must be non-empty without whitespace"),
                );
            }
            if alias == self.id.as_str() {
                return fail("aliases", format!("{alias:?} repeats the model's own id"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
