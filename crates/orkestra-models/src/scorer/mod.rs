//! The scorer: ranks the registry's models for a [`TaskProfile`] and explains the ranking.
//!
//! # How a model is scored
//!
//! 1. **Hard constraints** exclude a model, with the first reason found, in this order: an open
//!    circuit breaker; deny and allow lists; local-only; a required minimum context window;
//!    prompt plus expected output not fitting the context window; expected output above the
//!    model's output limit; a missing capability (what the request states it needs, plus the
//!    caller's); the per-request budget; the latency target.
//! 2. **Terms**, each from 0 to 1: quality for the task kind; cost as
//!    `1 / (1 + cost / cost_reference)`; speed as the fastest candidate's latency over the
//!    model's own (1 for the fastest, 0.5 for a model twice as slow); reliability as the live
//!    success rate smoothed towards a prior (so three lucky calls do not beat a long record),
//!    halved while the breaker is half-open.
//!    Latency is time to first token plus output tokens over tokens per second, from live
//!    statistics once a model has [`ScorerConfig::min_samples`] calls in the window, from its
//!    spec before; with live data the speed term also weighs the p95 tail.
//!    Speed is relative to the candidates rather than to a fixed reference, so it ranks
//!    simulated models answering in milliseconds as surely as hosted ones taking seconds: a
//!    fixed reference of a few seconds made every sub-second model score nearly 1, and the
//!    quality term then put the slowest of them first under `speed`.
//! 3. **Score** = the weighted sum of the terms (weights normalised, see [`Strategy`]) + the local
//!    bonus for local models − the adequacy penalty when quality falls short of the floor for the
//!    task's complexity − [`ScorerConfig::preference_penalty`] per capability the prompt's words
//!    suggest ([`Needs::preferred`](crate::Needs::preferred)) that the model lacks.
//! 4. **Order**: score, then lower estimated cost, then id, so equal inputs always give the same
//!    ranking. The fallback chain then keeps endpoints diverse: after the best candidate, each
//!    next place goes to the best remaining candidate on an endpoint not yet in the chain,
//!    provided its score is within [`ScorerConfig::diversity_margin`] of the best remaining one;
//!    otherwise to the best remaining one. One endpoint's outage therefore cannot take out the
//!    head of the chain while a near-equal alternative exists elsewhere.

mod constraints;
mod selection;
mod strategy;
mod unserved;

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use constraints::Constraints;
pub use selection::{Breakdown, Candidate, Exclusion, Ranked, Selection, Term, TermValues};
pub use strategy::{Strategy, Weights};
pub use unserved::NoCandidate;

use crate::money::Nanodollars;
use crate::registry::{Snapshot, SpecSpeed};
use crate::spec::{Capabilities, ModelSpec};
use crate::stats::{BreakerStatus, LiveSignals, ScoringSignals};
use crate::task::{Complexity, TaskKind, TaskProfile};

/// Models whose live signals the scorer reads at once, into a buffer on the stack.
const SIGNAL_CHUNK: usize = 32;

/// Settings of the [`Scorer`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScorerConfig {
    /// The request cost that scores 0.5 on the cost term.
    pub cost_reference: Nanodollars,
    /// Least quality a model should have for low, medium and high complexity tasks; each
    /// point of shortfall costs `adequacy_penalty` points of score.
    pub adequacy: [f64; 3],
    /// Score points subtracted per point of quality below the floor.
    pub adequacy_penalty: f64,
    /// Score points subtracted per preferred capability the model lacks.
    pub preference_penalty: f64,
    /// Calls in the window before live statistics replace the spec's latency.
    pub min_samples: u64,
    /// Success rate assumed before any call, and its weight in calls.
    pub prior_success_rate: f64,
    /// How many calls the prior counts for.
    pub prior_weight: f64,
    /// How far below the best remaining score a candidate on a new endpoint may be and still
    /// take the next place in the fallback chain.
    pub diversity_margin: f64,
}

impl Default for ScorerConfig {
    /// Cost reference $0.001 per request, quality floors 0.5 / 0.6 / 0.75 with a penalty of 2
    /// points per point short, 0.1 points per missing preferred capability, live latency after
    /// 20 calls, a prior of 99% success worth 10 calls, diversity margin 0.1.
    fn default() -> Self {
        Self {
            cost_reference: Nanodollars(1_000_000),
            adequacy: [0.5, 0.6, 0.75],
            adequacy_penalty: 2.0,
            preference_penalty: 0.1,
            min_samples: 20,
            prior_success_rate: 0.99,
            prior_weight: 10.0,
            diversity_margin: 0.1,
        }
    }
}

/// A strategy and constraints: everything a caller decides about a selection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// What to optimise for.
    pub strategy: Strategy,
    /// Hard limits.
    pub constraints: Constraints,
}

impl Policy {
    /// A policy with this strategy and no extra constraints.
    pub fn new(strategy: Strategy) -> Self {
        Self {
            strategy,
            constraints: Constraints::default(),
        }
    }
}

/// Ranks models for a task profile.
///
/// ```
/// use orkestra_models::{ModelId, ModelRegistry, ModelSpec, TaskKind, TaskProfile};
/// use orkestra_models::scorer::{Policy, Scorer, Strategy};
///
/// let registry = ModelRegistry::new();
/// registry.add(ModelSpec::new(ModelId::new("ollama/llama3.1:8b")?, 8_192))?;
/// registry.add(ModelSpec::new(ModelId::new("openai/gpt-4o-mini")?, 128_000))?;
/// let profile = TaskProfile::new(TaskKind::Summarization, 20_000, 500);
/// let selection = Scorer::default().rank(&registry.snapshot(), &profile, &Policy::new(Strategy::Cost), &());
/// assert_eq!(selection.ids(), ["openai/gpt-4o-mini"]);
/// assert!(selection.explain().contains("context window is 8192"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Scorer {
    config: ScorerConfig,
}

/// Per-request values computed once, not per model.
struct Request<'a> {
    constraints: &'a Constraints,
    kind: TaskKind,
    weights: Weights,
    needed_tokens: u64,
    input_tokens: u64,
    output_tokens: u32,
    capabilities: Capabilities,
    preferred: Capabilities,
    floor: f64,
    inverse_cost_reference: f64,
    /// The largest inverse latency scored so far: the fastest candidate, which the speed term
    /// divides by once every model is scored. A `Cell`, so scoring keeps a shared `Request`.
    fastest: Cell<f64>,
}

/// The least latency the speed term tells apart from zero, in seconds: a model measured or
/// specified at zero latency still has a finite speed ratio.
const LEAST_LATENCY: f64 = 1e-6;

impl Scorer {
    /// A scorer with these settings.
    pub fn new(config: ScorerConfig) -> Self {
        Self { config }
    }

    /// The settings in force.
    pub fn config(&self) -> &ScorerConfig {
        &self.config
    }

    /// Ranks every model of `snapshot` for `profile` under `policy`, reading live signals
    /// (success rate, latency, breaker state) from `live`.
    pub fn rank(
        &self,
        snapshot: &Arc<Snapshot>,
        profile: &TaskProfile,
        policy: &Policy,
        live: &dyn LiveSignals,
    ) -> Selection {
        self.rank_with(
            snapshot,
            profile,
            policy.strategy,
            &policy.constraints,
            live,
        )
    }

    /// [`Self::rank`] with the strategy and the constraints apart, so a caller holding
    /// constraints for many requests lends them instead of cloning them into a [`Policy`].
    pub fn rank_with(
        &self,
        snapshot: &Arc<Snapshot>,
        profile: &TaskProfile,
        strategy: Strategy,
        constraints: &Constraints,
        live: &dyn LiveSignals,
    ) -> Selection {
        let request = self.request(profile, strategy, constraints);
        let models = snapshot.models();
        let mut scored = Vec::with_capacity(models.len());
        let mut excluded = Vec::new();
        // Signals arrive a chunk at a time into a buffer on the stack, so the scoring loop
        // below is one inlined loop rather than a dynamic call per model.
        let mut signals = [None; SIGNAL_CHUNK];
        for first in (0..models.len()).step_by(SIGNAL_CHUNK) {
            let chunk = &models[first..models.len().min(first + SIGNAL_CHUNK)];
            let signals = &mut signals[..chunk.len()];
            live.fill(models, first, signals);
            for ((spec, live), position) in chunk.iter().zip(&*signals).zip(first..) {
                // Registries hold far fewer than 2^32 models.
                let position = u32::try_from(position).unwrap_or(u32::MAX);
                let speed = snapshot.speed(position as usize);
                // The candidate is written straight into `scored`: returning it through a
                // `Result` copied its 96 bytes twice per model.
                if let Err(reason) =
                    self.score(spec, speed, live.as_ref(), &request, position, &mut scored)
                {
                    excluded.push((position, reason));
                }
            }
        }
        score_speed(&mut scored, request.fastest.get(), request.weights.speed);
        let mut order = sorted(&scored);
        self.diversify(&mut order, &scored, snapshot);
        Selection {
            snapshot: Arc::clone(snapshot),
            strategy,
            kind: profile.kind,
            complexity: profile.complexity,
            weights: request.weights,
            preferred: request.preferred,
            candidates: scored,
            order,
            excluded,
        }
    }

    fn request<'a>(
        &self,
        profile: &TaskProfile,
        strategy: Strategy,
        constraints: &'a Constraints,
    ) -> Request<'a> {
        let capabilities = constraints.capabilities.union(profile.needs.required());
        let preferred = profile.needs.preferred.without(capabilities);
        let floor = match profile.complexity {
            Complexity::Low => self.config.adequacy[0],
            Complexity::Medium => self.config.adequacy[1],
            Complexity::High => self.config.adequacy[2],
        };
        Request {
            constraints,
            kind: profile.kind,
            weights: strategy.weights().normalised(),
            needed_tokens: profile.total_tokens(),
            input_tokens: u64::from(profile.input_tokens),
            output_tokens: profile.expected_output_tokens,
            capabilities,
            preferred,
            floor,
            inverse_cost_reference: 1.0 / self.config.cost_reference.0.max(1) as f64,
            fastest: Cell::new(0.0),
        }
    }

    /// Checks the hard constraints, then scores into `scored`.
    #[expect(
        clippy::inline_always,
        reason = "runs once per model per selection; inlining it into the ranking loop measured faster"
    )]
    #[inline(always)]
    fn score(
        &self,
        spec: &Arc<ModelSpec>,
        speed: SpecSpeed,
        signals: Option<&ScoringSignals>,
        request: &Request<'_>,
        position: u32,
        scored: &mut Vec<Candidate>,
    ) -> Result<(), Exclusion> {
        let constraints = request.constraints;
        let breaker = signals.map_or(BreakerStatus::Closed, |s| s.breaker);
        if breaker == BreakerStatus::Open {
            return Err(Exclusion::BreakerOpen);
        }
        if constraints
            .deny
            .iter()
            .any(|p| constraints::matches(p, spec))
        {
            return Err(Exclusion::Denied);
        }
        if !constraints.allow.is_empty()
            && !constraints
                .allow
                .iter()
                .any(|p| constraints::matches(p, spec))
        {
            return Err(Exclusion::NotAllowed);
        }
        if constraints.local_only && !spec.is_local() {
            return Err(Exclusion::NotLocal);
        }
        if let Some(required) = constraints.min_context_window
            && spec.context_window < required
        {
            return Err(Exclusion::SmallerThanRequired {
                required,
                window: spec.context_window,
            });
        }
        if request.needed_tokens > u64::from(spec.context_window) {
            return Err(Exclusion::ContextWindow {
                needed: request.needed_tokens,
                window: spec.context_window,
            });
        }
        if request.output_tokens > spec.max_output_tokens {
            return Err(Exclusion::OutputLimit {
                needed: request.output_tokens,
                max: spec.max_output_tokens,
            });
        }
        if let Some(capability) = spec.capabilities.first_missing(request.capabilities) {
            return Err(Exclusion::MissingCapability { capability });
        }
        let cost = spec.cost(request.input_tokens, u64::from(request.output_tokens));
        if let Some(budget) = constraints.max_cost
            && cost > budget
        {
            return Err(Exclusion::OverBudget {
                estimated: cost,
                budget,
            });
        }
        let measured = signals.filter(|s| s.samples >= self.config.min_samples);
        let latency = Self::latency(speed, measured, request.output_tokens);
        if let Some(target) = constraints.max_latency
            && latency > target.as_secs_f64()
        {
            return Err(Exclusion::TooSlow {
                estimated_ms: seconds_to_duration(latency)
                    .as_millis()
                    .try_into()
                    .unwrap_or(u64::MAX),
                target_ms: target.as_millis().try_into().unwrap_or(u64::MAX),
            });
        }
        scored.push(self.terms(spec, signals, measured, request, (cost, latency), position));
        Ok(())
    }

    /// Expected latency in seconds: time to first token plus generation, live values
    /// preferred. Plain floating point: this runs for every model of every selection.
    #[expect(
        clippy::inline_always,
        reason = "runs once per model per selection; inlining it into the ranking loop measured faster"
    )]
    #[inline(always)]
    fn latency(speed: SpecSpeed, measured: Option<&ScoringSignals>, output_tokens: u32) -> f64 {
        let output = f64::from(output_tokens);
        let Some(live) = measured else {
            return speed.ttft_seconds + output * speed.seconds_per_token;
        };
        if live.ttft_ewma <= 0.0 || live.tokens_per_second <= 0.0 {
            // Only whole-call latencies are known (no streaming yet): use them as they are.
            return live.latency_ewma;
        }
        live.ttft_ewma + output / live.tokens_per_second
    }

    #[expect(
        clippy::inline_always,
        reason = "runs once per model per selection; inlining it into the ranking loop measured faster"
    )]
    #[inline(always)]
    fn terms(
        &self,
        spec: &ModelSpec,
        signals: Option<&ScoringSignals>,
        measured: Option<&ScoringSignals>,
        request: &Request<'_>,
        (cost, latency): (Nanodollars, f64),
        position: u32,
    ) -> Candidate {
        let config = &self.config;
        let w = &request.weights;
        let quality = spec.quality.get(request.kind);
        // With live data, a heavy tail counts: a third of the speed term looks at p95.
        let effective = match measured {
            Some(live) if live.latency_p95 > latency => {
                latency * (2.0 / 3.0) + live.latency_p95 * (1.0 / 3.0)
            }
            _ => latency,
        };
        // cost = 1 / a and the speed's 1 / latency, from the one division 1 / (a * latency):
        // this loop runs for every model of every request, and a division costs as much as the
        // rest of it. The speed term itself needs the fastest candidate: `score_speed` finishes
        // it once every model is scored, from the inverse latency kept in `values.speed`.
        let a = 1.0 + cost.0 as f64 * request.inverse_cost_reference;
        // A plain comparison: `f64::max` also orders NaN, which no latency is.
        let b = if effective > LEAST_LATENCY {
            effective
        } else {
            LEAST_LATENCY
        };
        let both = 1.0 / (a * b);
        let (cost_value, inverse_latency) = (b * both, a * both);
        if inverse_latency > request.fastest.get() {
            request.fastest.set(inverse_latency);
        }
        let prior = config.prior_success_rate * config.prior_weight;
        let mut reliability = signals.map_or(config.prior_success_rate, |s| {
            let calls = s.samples as f64;
            (s.success_rate * calls + prior) / (calls + config.prior_weight)
        });
        if signals.is_some_and(|s| s.breaker == BreakerStatus::HalfOpen) {
            reliability *= 0.5;
        }
        let values = TermValues {
            quality,
            cost: cost_value,
            speed: inverse_latency,
            reliability,
        };
        let local_bonus = if spec.is_local() { w.local } else { 0.0 };
        let shortfall = request.floor - quality;
        let adequacy_penalty = if shortfall > 0.0 {
            shortfall * config.adequacy_penalty
        } else {
            0.0
        };
        // Most requests prefer nothing: the count of missing capabilities is skipped for them.
        let preference_penalty = if request.preferred.is_empty() {
            0.0
        } else {
            f64::from(request.preferred.without(spec.capabilities).len())
                * config.preference_penalty
        };
        let score = w.quality * values.quality
            + w.cost * values.cost
            + w.reliability * values.reliability
            + local_bonus
            - adequacy_penalty
            - preference_penalty;
        Candidate {
            position,
            score,
            values,
            local_bonus,
            adequacy_penalty,
            preference_penalty,
            estimated_cost: cost,
            latency_seconds: latency,
            measured: measured.is_some(),
        }
    }

    /// Reorders `order`, indices of `scored` sorted by score, into the fallback chain (see the
    /// module docs). Moving indices, not candidates, keeps each step to a few bytes.
    fn diversify(&self, order: &mut [u64], scored: &[Candidate], snapshot: &Snapshot) {
        // How far ahead to look for a new endpoint, so a long list of near-equal models on a
        // few endpoints cannot make this quadratic.
        const SCAN_LIMIT: usize = 64;
        let endpoint =
            |key: u64| snapshot.endpoint_key(scored[key_index(key)].position as usize) as usize;
        let score = |key: u64| scored[key_index(key)].score;
        let mut present = EndpointSet::new(snapshot.endpoint_count());
        for &at in order.iter() {
            present.insert(endpoint(at));
        }
        let mut remaining = present.len();
        let mut seen = EndpointSet::new(snapshot.endpoint_count());
        let margin = self.config.diversity_margin;
        for position in 0..order.len() {
            if remaining == 0 {
                break;
            }
            let best = score(order[position]);
            let pick = order[position..]
                .iter()
                .take(SCAN_LIMIT)
                .take_while(|&&at| best - score(at) <= margin)
                .position(|&at| !seen.contains(endpoint(at)));
            if let Some(offset) = pick {
                // The pick moves up; the candidates it passes keep their order behind it.
                order[position..=position + offset].rotate_right(1);
            }
            if seen.insert(endpoint(order[position])) {
                remaining -= 1;
            }
        }
    }
}

/// Finishes the speed term of every candidate: until now `values.speed` held the inverse of
/// its latency, and `fastest`, the largest of them, is now known.
fn score_speed(scored: &mut [Candidate], fastest: f64, weight: f64) {
    if fastest <= 0.0 {
        return;
    }
    let scale = 1.0 / fastest;
    for candidate in scored {
        candidate.values.speed *= scale;
        candidate.score += weight * candidate.values.speed;
    }
}

/// A set of endpoint keys: a bit set without allocating for up to 64 endpoints.
enum EndpointSet {
    Small(u64),
    Large(Vec<bool>),
}

impl EndpointSet {
    fn new(endpoints: usize) -> Self {
        if endpoints <= 64 {
            Self::Small(0)
        } else {
            Self::Large(vec![false; endpoints])
        }
    }

    fn contains(&self, key: usize) -> bool {
        match self {
            Self::Small(bits) => bits & (1 << key) != 0,
            Self::Large(flags) => flags[key],
        }
    }

    /// Adds `key`; whether it was new.
    fn insert(&mut self, key: usize) -> bool {
        let new = !self.contains(key);
        match self {
            Self::Small(bits) => *bits |= 1 << key,
            Self::Large(flags) => flags[key] = true,
        }
        new
    }

    fn len(&self) -> usize {
        match self {
            Self::Small(bits) => bits.count_ones() as usize,
            Self::Large(flags) => flags.iter().filter(|&&f| f).count(),
        }
    }
}

/// The low bits of a sort key: the candidate's index in the scored list.
const INDEX_BITS: u32 = 20;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;

/// The index in the scored list that a sort key carries.
pub(crate) fn key_index(key: u64) -> usize {
    // The mask keeps 20 bits, so the cast cannot truncate.
    (key & INDEX_MASK) as usize
}

/// Sort keys of `scored` (each carrying its index, see [`key_index`]) by score (descending),
/// then estimated cost, then snapshot position (id order).
///
/// Sorting one `u64` per candidate (the top 44 bits of the score, then the index) is several
/// times faster than sorting candidates by a comparator. Scores that share those 44 bits (equal,
/// or within about 1e-9) are then put in exact order.
fn sorted(scored: &[Candidate]) -> Vec<u64> {
    let mut keys: Vec<u64> = scored
        .iter()
        .zip(0_u64..)
        .map(|(c, i)| (descending(c.score) & !INDEX_MASK) | (i & INDEX_MASK))
        .collect();
    keys.sort_unstable();
    let mut start = 0;
    while start < keys.len() {
        let prefix = keys[start] >> INDEX_BITS;
        let run = keys[start..]
            .iter()
            .take_while(|&&k| k >> INDEX_BITS == prefix)
            .count();
        if run > 1 {
            keys[start..start + run].sort_by(|&a, &b| {
                let (a, b) = (&scored[key_index(a)], &scored[key_index(b)]);
                b.score
                    .total_cmp(&a.score)
                    .then(a.estimated_cost.cmp(&b.estimated_cost))
                    .then(a.position.cmp(&b.position))
            });
        }
        start += run;
    }
    keys
}

/// Seconds as a `Duration`, saturating, without the checks of `Duration::from_secs_f64`.
pub(crate) fn seconds_to_duration(seconds: f64) -> Duration {
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "`as` saturates for floats: negative and NaN give 0, huge values u64::MAX"
    )]
    Duration::from_nanos((seconds * 1e9) as u64)
}

/// An integer that sorts ascending as `score` sorts descending (total order, NaN last).
fn descending(score: f64) -> u64 {
    let bits = score.to_bits();
    // Flip so that unsigned order matches float order: positives get the sign bit set,
    // negatives are inverted entirely.
    let ascending = if bits >> 63 == 0 {
        bits | (1 << 63)
    } else {
        !bits
    };
    !ascending
}

#[cfg(test)]
mod tests;
