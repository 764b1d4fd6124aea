//! Live performance per model: bounded history as histograms per time slot, EWMAs, and the
//! [`Signals`] the scorer reads.
//!
//! Memory is bounded by design: each model keeps at most [`StatsConfig::slots`] slots, each
//! holding two fixed-size histograms and a few counters, however many outcomes are recorded.
//! Percentiles come from merging the slots of the window, never from sorting raw samples.

use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use hdrhistogram::Histogram;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::spec::{ModelId, ModelSpec};
use crate::time::UnixMillis;

/// Settings of [`PerfStats`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatsConfig {
    /// Length of one history slot.
    #[serde(with = "humantime_serde")]
    pub slot: Duration,
    /// Slots kept per model; the window is `slot * slots`.
    pub slots: usize,
    /// Weight of the newest sample in the moving averages, 0 to 1.
    pub ewma_alpha: f64,
    /// Percentiles read by the scorer are recomputed at most this often per model.
    #[serde(with = "humantime_serde")]
    pub refresh: Duration,
}

impl Default for StatsConfig {
    /// Twelve 5-minute slots (a one-hour window), EWMA weight 0.1 (about the last 20 calls),
    /// percentiles refreshed at most once a second.
    fn default() -> Self {
        Self {
            slot: Duration::from_mins(5),
            slots: 12,
            ewma_alpha: 0.1,
            refresh: Duration::from_secs(1),
        }
    }
}

/// What one call did, as recorded after it ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// Whether the model answered. Caller errors should not be recorded at all: they say
    /// nothing about the model.
    pub success: bool,
    /// Time from sending the request to the last byte (or the failure).
    pub latency: Duration,
    /// Time to the first token, for streamed calls.
    pub ttft: Option<Duration>,
    /// Prompt tokens.
    pub input_tokens: u32,
    /// Completion tokens.
    pub output_tokens: u32,
}

impl Outcome {
    /// A successful call.
    pub fn success(latency: Duration, input_tokens: u32, output_tokens: u32) -> Self {
        Self {
            success: true,
            latency,
            ttft: None,
            input_tokens,
            output_tokens,
        }
    }

    /// A failed call.
    pub fn failure(latency: Duration) -> Self {
        Self {
            success: false,
            latency,
            ttft: None,
            input_tokens: 0,
            output_tokens: 0,
        }
    }

    /// This outcome with a time to first token.
    #[must_use]
    pub fn with_ttft(mut self, ttft: Duration) -> Self {
        self.ttft = Some(ttft);
        self
    }
}

/// State of the circuit breaker in front of a model, as far as the scorer needs it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerStatus {
    /// Calls flow (or no breaker is known).
    #[default]
    Closed,
    /// A few probe calls are admitted.
    HalfOpen,
    /// Calls are refused.
    Open,
}

/// The live view of one model that the scorer weighs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Signals {
    /// Calls in the window.
    pub samples: u64,
    /// Successful share of the calls in the window (1 when there are none).
    pub success_rate: f64,
    /// Moving average of call latency.
    pub latency_ewma: Duration,
    /// Moving average of time to first token (zero until a streamed call is recorded).
    pub ttft_ewma: Duration,
    /// Median latency over the window.
    pub latency_p50: Duration,
    /// 95th percentile latency over the window.
    pub latency_p95: Duration,
    /// 99th percentile latency over the window.
    pub latency_p99: Duration,
    /// Moving average of output tokens per second of generation.
    pub tokens_per_second: f64,
    /// The model's breaker.
    pub breaker: BreakerStatus,
}

/// The part of [`Signals`] the scorer reads, with durations as seconds: ranking reads it for every
/// model of every selection, so it is small and needs no conversion.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ScoringSignals {
    /// Calls in the window.
    pub samples: u64,
    /// Successful share of the calls in the window.
    pub success_rate: f64,
    /// Moving average of call latency, in seconds.
    pub latency_ewma: f64,
    /// Moving average of time to first token, in seconds (zero until a streamed call).
    pub ttft_ewma: f64,
    /// 95th percentile latency over the window, in seconds.
    pub latency_p95: f64,
    /// Moving average of output tokens per second of generation.
    pub tokens_per_second: f64,
    /// The model's breaker.
    pub breaker: BreakerStatus,
}

impl From<&Signals> for ScoringSignals {
    fn from(signals: &Signals) -> Self {
        Self {
            samples: signals.samples,
            success_rate: signals.success_rate,
            latency_ewma: signals.latency_ewma.as_secs_f64(),
            ttft_ewma: signals.ttft_ewma.as_secs_f64(),
            latency_p95: signals.latency_p95.as_secs_f64(),
            tokens_per_second: signals.tokens_per_second,
            breaker: signals.breaker,
        }
    }
}

/// A source of live signals per model, read by the scorer.
///
/// [`PerfStats`] implements it; the facade wraps it to add each model's breaker state.
pub trait LiveSignals: Send + Sync {
    /// Signals for `model`, or `None` when nothing is known.
    fn signals(&self, model: &ModelId) -> Option<Signals>;

    /// Writes the scoring signals of `models[first..first + out.len()]` into `out`, in order.
    ///
    /// The scorer reads every model of a snapshot, a chunk at a time; implementations override
    /// this to pay their per-lookup setup (a lock, a map load) once per chunk instead of once
    /// per model. `models` is the snapshot's whole list, so positions can be cached.
    fn fill(&self, models: &[Arc<ModelSpec>], first: usize, out: &mut [Option<ScoringSignals>]) {
        let chunk = models.get(first..).unwrap_or_default();
        for (slot, model) in out.iter_mut().zip(chunk) {
            *slot = self.signals(&model.id).as_ref().map(ScoringSignals::from);
        }
    }
}

/// No live data: the scorer uses the specs alone.
impl LiveSignals for () {
    fn signals(&self, _: &ModelId) -> Option<Signals> {
        None
    }

    fn fill(&self, _: &[Arc<ModelSpec>], _: usize, out: &mut [Option<ScoringSignals>]) {
        out.fill(None);
    }
}

impl<T: LiveSignals + ?Sized> LiveSignals for Arc<T> {
    fn signals(&self, model: &ModelId) -> Option<Signals> {
        (**self).signals(model)
    }

    fn fill(&self, models: &[Arc<ModelSpec>], first: usize, out: &mut [Option<ScoringSignals>]) {
        (**self).fill(models, first, out);
    }
}

/// A full report on one model: percentiles of latency and time to first token, counts, rates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelReport {
    /// The model.
    pub model: ModelId,
    /// Successful calls in the window.
    pub successes: u64,
    /// Failed calls in the window.
    pub failures: u64,
    /// Prompt tokens in the window.
    pub input_tokens: u64,
    /// Completion tokens in the window.
    pub output_tokens: u64,
    /// Latency percentiles over the window: p50, p90, p95, p99, max.
    pub latency: Percentiles,
    /// Time-to-first-token percentiles over the window (zero when none were recorded).
    pub ttft: Percentiles,
    /// The moving averages and rates the scorer reads.
    pub signals: Signals,
}

/// Percentiles of a duration distribution.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 95th percentile.
    pub p95: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Largest recorded value (to histogram precision).
    pub max: Duration,
}

// Histograms record microseconds from 1 µs to 10 minutes with two significant digits
// (under 1% error); longer calls are clamped to the top.
const MAX_MICROS: u64 = 600_000_000;
const SIGNIFICANT_DIGITS: u8 = 2;

fn new_histogram() -> Histogram<u32> {
    // The bounds are constants that hdrhistogram accepts, so this cannot fail.
    Histogram::new_with_bounds(1, MAX_MICROS, SIGNIFICANT_DIGITS)
        .unwrap_or_else(|_| unreachable!("constant histogram bounds are valid"))
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_MICROS)
}

fn percentiles(histogram: &Histogram<u32>) -> Percentiles {
    if histogram.is_empty() {
        return Percentiles::default();
    }
    let at = |q: f64| Duration::from_micros(histogram.value_at_quantile(q));
    Percentiles {
        p50: at(0.50),
        p90: at(0.90),
        p95: at(0.95),
        p99: at(0.99),
        max: Duration::from_micros(histogram.max()),
    }
}

/// One time slot of history.
#[derive(Debug, Clone)]
struct Slot {
    start: UnixMillis,
    successes: u64,
    failures: u64,
    input_tokens: u64,
    output_tokens: u64,
    latency: Histogram<u32>,
    ttft: Option<Histogram<u32>>,
}

impl Slot {
    fn new(start: UnixMillis) -> Self {
        Self {
            start,
            successes: 0,
            failures: 0,
            input_tokens: 0,
            output_tokens: 0,
            latency: new_histogram(),
            ttft: None,
        }
    }

    fn record(&mut self, outcome: &Outcome) {
        if outcome.success {
            self.successes += 1;
        } else {
            self.failures += 1;
        }
        self.input_tokens += u64::from(outcome.input_tokens);
        self.output_tokens += u64::from(outcome.output_tokens);
        self.latency.saturating_record(micros(outcome.latency));
        if let Some(ttft) = outcome.ttft {
            self.ttft
                .get_or_insert_with(new_histogram)
                .saturating_record(micros(ttft));
        }
    }
}

/// The moving averages of one model; persisted with its history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Ewma {
    /// Latency in microseconds.
    pub latency_us: f64,
    /// Time to first token in microseconds.
    pub ttft_us: f64,
    /// Output tokens per second.
    pub tokens_per_second: f64,
    /// Outcomes folded in so far (the first sample seeds each average).
    pub samples: u64,
    /// Streamed outcomes folded into `ttft_us`.
    pub ttft_samples: u64,
    /// Outcomes with output folded into `tokens_per_second`.
    pub rate_samples: u64,
}

impl Ewma {
    fn fold(average: &mut f64, count: &mut u64, sample: f64, alpha: f64) {
        *average = if *count == 0 {
            sample
        } else {
            *average + alpha * (sample - *average)
        };
        *count += 1;
    }

    fn record(&mut self, outcome: &Outcome, alpha: f64) {
        Self::fold(
            &mut self.latency_us,
            &mut self.samples,
            outcome.latency.as_secs_f64() * 1e6,
            alpha,
        );
        if let Some(ttft) = outcome.ttft {
            Self::fold(
                &mut self.ttft_us,
                &mut self.ttft_samples,
                ttft.as_secs_f64() * 1e6,
                alpha,
            );
        }
        // Generation speed excludes the wait for the first token when it is known.
        let generating = outcome
            .latency
            .saturating_sub(outcome.ttft.unwrap_or_default());
        if outcome.success && outcome.output_tokens > 0 && !generating.is_zero() {
            let rate = f64::from(outcome.output_tokens) / generating.as_secs_f64();
            Self::fold(
                &mut self.tokens_per_second,
                &mut self.rate_samples,
                rate,
                alpha,
            );
        }
    }
}

#[derive(Debug)]
struct History {
    slots: VecDeque<Slot>,
    ewma: Ewma,
    last_refresh: Option<UnixMillis>,
    percentiles: Percentiles,
}

#[derive(Debug)]
struct ModelStats {
    history: Mutex<History>,
    // The scorer's view, republished after every record so reads never take the lock.
    signals: AtomicSignals,
}

/// [`Signals`] as relaxed atomics: a read costs a few loads and never waits for a writer.
/// A reader racing a writer may mix fields of two consecutive updates, which is harmless for
/// a ranking that is an estimate anyway.
#[derive(Debug, Default)]
struct AtomicSignals {
    samples: AtomicU64,
    success_rate: AtomicU64,
    latency_ewma: AtomicU64,
    ttft_ewma: AtomicU64,
    latency_p50: AtomicU64,
    latency_p95: AtomicU64,
    latency_p99: AtomicU64,
    tokens_per_second: AtomicU64,
}

impl AtomicSignals {
    fn new(signals: &Signals) -> Self {
        let atomic = Self::default();
        atomic.store(signals);
        atomic
    }

    fn store(&self, s: &Signals) {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.samples.store(s.samples, Relaxed);
        self.success_rate.store(s.success_rate.to_bits(), Relaxed);
        self.latency_ewma.store(nanos(s.latency_ewma), Relaxed);
        self.ttft_ewma.store(nanos(s.ttft_ewma), Relaxed);
        self.latency_p50.store(nanos(s.latency_p50), Relaxed);
        self.latency_p95.store(nanos(s.latency_p95), Relaxed);
        self.latency_p99.store(nanos(s.latency_p99), Relaxed);
        self.tokens_per_second
            .store(s.tokens_per_second.to_bits(), Relaxed);
    }

    fn load(&self) -> Signals {
        Signals {
            samples: self.samples.load(Relaxed),
            success_rate: f64::from_bits(self.success_rate.load(Relaxed)),
            latency_ewma: Duration::from_nanos(self.latency_ewma.load(Relaxed)),
            ttft_ewma: Duration::from_nanos(self.ttft_ewma.load(Relaxed)),
            latency_p50: Duration::from_nanos(self.latency_p50.load(Relaxed)),
            latency_p95: Duration::from_nanos(self.latency_p95.load(Relaxed)),
            latency_p99: Duration::from_nanos(self.latency_p99.load(Relaxed)),
            tokens_per_second: f64::from_bits(self.tokens_per_second.load(Relaxed)),
            breaker: BreakerStatus::Closed,
        }
    }

    /// What the scorer reads, without building [`Duration`]s.
    #[inline]
    fn load_scoring(&self) -> ScoringSignals {
        // Through i64, which converts to a float in one instruction.
        #[expect(clippy::cast_possible_wrap, reason = "nanoseconds stay far below 2^63")]
        let seconds = |nanos: &AtomicU64| nanos.load(Relaxed) as i64 as f64 * 1e-9;
        ScoringSignals {
            samples: self.samples.load(Relaxed),
            success_rate: f64::from_bits(self.success_rate.load(Relaxed)),
            latency_ewma: seconds(&self.latency_ewma),
            ttft_ewma: seconds(&self.ttft_ewma),
            latency_p95: seconds(&self.latency_p95),
            tokens_per_second: f64::from_bits(self.tokens_per_second.load(Relaxed)),
            breaker: BreakerStatus::Closed,
        }
    }
}

/// Live performance statistics for every model.
///
/// ```
/// use std::time::Duration;
/// use orkestra_models::{ModelId, UnixMillis};
/// use orkestra_models::stats::{LiveSignals, Outcome, PerfStats};
///
/// let stats = PerfStats::default();
/// let model = ModelId::new("ollama/llama3.1:8b")?;
/// let now = UnixMillis(1_795_262_400_000);
/// stats.record(&model, &Outcome::success(Duration::from_millis(120), 50, 20), now);
/// stats.record(&model, &Outcome::failure(Duration::from_millis(30)), now);
/// let signals = stats.signals(&model).unwrap();
/// assert_eq!(signals.samples, 2);
/// assert_eq!(signals.success_rate, 0.5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PerfStats {
    config: StatsConfig,
    slot_millis: u64,
    refresh_millis: u64,
    // Models are added rarely and read on every selection: copy-on-write map, lock-free reads.
    models: ArcSwap<FxHashMap<ModelId, Arc<ModelStats>>>,
    insert: Mutex<()>,
    // The stats of each model of the last snapshot ranked, by position, so that ranking the
    // same snapshot again skips hashing every id. Cleared whenever a model is added.
    positions: ArcSwapOption<PositionCache>,
}

/// Per position of a snapshot's model list: the spec (kept alive, so its address identifies
/// it) and its statistics.
#[derive(Debug)]
struct PositionCache {
    entries: Vec<(Arc<ModelSpec>, Option<Arc<ModelStats>>)>,
}

impl Default for PerfStats {
    fn default() -> Self {
        Self::new(StatsConfig::default())
    }
}

impl PerfStats {
    /// Empty statistics; a zero slot length or slot count is raised to one.
    pub fn new(config: StatsConfig) -> Self {
        let slot_millis = u64::try_from(config.slot.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let refresh_millis = u64::try_from(config.refresh.as_millis()).unwrap_or(u64::MAX);
        Self {
            config: StatsConfig {
                slots: config.slots.max(1),
                ewma_alpha: config.ewma_alpha.clamp(0.0, 1.0),
                ..config
            },
            slot_millis,
            refresh_millis,
            models: ArcSwap::default(),
            insert: Mutex::new(()),
            positions: ArcSwapOption::empty(),
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &StatsConfig {
        &self.config
    }

    fn model(&self, model: &ModelId) -> Arc<ModelStats> {
        if let Some(stats) = self.models.load().get(model) {
            return Arc::clone(stats);
        }
        let _insert = self.insert.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.models.load();
        if let Some(stats) = current.get(model) {
            return Arc::clone(stats);
        }
        let stats = Arc::new(ModelStats {
            history: Mutex::new(History {
                slots: VecDeque::with_capacity(self.config.slots),
                ewma: Ewma::default(),
                last_refresh: None,
                percentiles: Percentiles::default(),
            }),
            signals: AtomicSignals::new(&Self::empty_signals()),
        });
        let mut next = FxHashMap::clone(&current);
        next.insert(model.clone(), Arc::clone(&stats));
        self.models.store(Arc::new(next));
        self.positions.store(None);
        stats
    }

    fn empty_signals() -> Signals {
        Signals {
            samples: 0,
            success_rate: 1.0,
            latency_ewma: Duration::ZERO,
            ttft_ewma: Duration::ZERO,
            latency_p50: Duration::ZERO,
            latency_p95: Duration::ZERO,
            latency_p99: Duration::ZERO,
            tokens_per_second: 0.0,
            breaker: BreakerStatus::Closed,
        }
    }

    /// Records one outcome at wall-clock time `at`.
    ///
    /// Outcomes older than the window are dropped; slightly late ones land in their own slot.
    pub fn record(&self, model: &ModelId, outcome: &Outcome, at: UnixMillis) {
        let stats = self.model(model);
        let mut history = stats.history.lock().unwrap_or_else(PoisonError::into_inner);
        let start = UnixMillis(at.0 - at.0 % self.slot_millis);
        let newest = history.slots.back().map_or(start, |s| s.start.max(start));
        // Slots starting at or before this are outside the window (none while it is young).
        let expired = newest.0.checked_sub(self.window_millis());
        let too_old = |slot_start: UnixMillis| expired.is_some_and(|e| slot_start.0 <= e);
        if too_old(start) {
            // Older than the window: it says nothing about the model now.
            return;
        }
        let position = history.slots.partition_point(|s| s.start < start);
        if history.slots.get(position).is_none_or(|s| s.start != start) {
            history.slots.insert(position, Slot::new(start));
        }
        history.slots[position].record(outcome);
        while history.slots.len() > self.config.slots
            || history.slots.front().is_some_and(|s| too_old(s.start))
        {
            history.slots.pop_front();
        }
        history.ewma.record(outcome, self.config.ewma_alpha);
        self.publish(&stats, &mut history, at);
    }

    fn window_millis(&self) -> u64 {
        self.slot_millis
            .saturating_mul(u64::try_from(self.config.slots).unwrap_or(u64::MAX))
    }

    fn trim(&self, history: &mut History) {
        while history.slots.len() > self.config.slots {
            history.slots.pop_front();
        }
    }

    fn publish(&self, stats: &ModelStats, history: &mut History, at: UnixMillis) {
        let due = history
            .last_refresh
            .is_none_or(|last| at.0 < last.0 || at.0 - last.0 >= self.refresh_millis);
        if due {
            history.percentiles = percentiles(&merged(history.slots.iter().map(|s| &s.latency)));
            history.last_refresh = Some(at);
        }
        stats.signals.store(&Self::signals_of(history));
    }

    fn signals_of(history: &History) -> Signals {
        let (successes, failures) = history.slots.iter().fold((0, 0), |(s, f), slot| {
            (s + slot.successes, f + slot.failures)
        });
        let samples = successes + failures;
        let ewma = &history.ewma;
        Signals {
            samples,
            success_rate: if samples == 0 {
                1.0
            } else {
                successes as f64 / samples as f64
            },
            latency_ewma: Duration::from_secs_f64(ewma.latency_us.max(0.0) / 1e6),
            ttft_ewma: Duration::from_secs_f64(ewma.ttft_us.max(0.0) / 1e6),
            latency_p50: history.percentiles.p50,
            latency_p95: history.percentiles.p95,
            latency_p99: history.percentiles.p99,
            tokens_per_second: ewma.tokens_per_second,
            breaker: BreakerStatus::Closed,
        }
    }

    /// A full report for `model` over the window ending at `now`, percentiles computed afresh.
    pub fn report(&self, model: &ModelId, now: UnixMillis) -> Option<ModelReport> {
        let stats = Arc::clone(self.models.load().get(model)?);
        let history = stats.history.lock().unwrap_or_else(PoisonError::into_inner);
        let expired = now.0.checked_sub(self.window_millis());
        let live: Vec<&Slot> = history
            .slots
            .iter()
            .filter(|s| expired.is_none_or(|e| s.start.0 > e))
            .collect();
        let ttft: Vec<&Histogram<u32>> = live.iter().filter_map(|s| s.ttft.as_ref()).collect();
        let sum = |f: fn(&Slot) -> u64| live.iter().map(|s| f(s)).sum::<u64>();
        Some(ModelReport {
            model: model.clone(),
            successes: sum(|s| s.successes),
            failures: sum(|s| s.failures),
            input_tokens: sum(|s| s.input_tokens),
            output_tokens: sum(|s| s.output_tokens),
            latency: percentiles(&merged(live.iter().map(|s| &s.latency))),
            ttft: percentiles(&merged(ttft.into_iter())),
            signals: stats.signals.load(),
        })
    }

    /// Every model with statistics, sorted by id.
    pub fn models(&self) -> Vec<ModelId> {
        let mut ids: Vec<ModelId> = self.models.load().keys().cloned().collect();
        ids.sort();
        ids
    }

    /// The whole history, for persistence: one entry per model, slots oldest first.
    pub fn history(&self) -> Vec<ModelHistory> {
        let models = self.models.load();
        let mut out: Vec<ModelHistory> = models
            .iter()
            .map(|(id, stats)| {
                let history = stats.history.lock().unwrap_or_else(PoisonError::into_inner);
                ModelHistory {
                    model: id.clone(),
                    ewma: history.ewma,
                    slots: history.slots.iter().map(SlotRecord::from_slot).collect(),
                }
            })
            .collect();
        out.sort_by(|a, b| a.model.cmp(&b.model));
        out
    }

    /// Restores history saved by [`Self::history`], replacing what these statistics hold for
    /// the same models. Slots beyond the configured count keep the newest.
    pub fn restore(&self, saved: impl IntoIterator<Item = ModelHistory>) {
        for entry in saved {
            let stats = self.model(&entry.model);
            let mut history = stats.history.lock().unwrap_or_else(PoisonError::into_inner);
            let mut slots: Vec<Slot> = entry.slots.iter().map(SlotRecord::to_slot).collect();
            slots.sort_by_key(|s| s.start);
            history.slots = slots.into();
            self.trim(&mut history);
            history.ewma = entry.ewma;
            history.percentiles = percentiles(&merged(history.slots.iter().map(|s| &s.latency)));
            history.last_refresh = None;
            stats.signals.store(&Self::signals_of(&history));
        }
    }
}

fn merged<'a>(histograms: impl Iterator<Item = &'a Histogram<u32>>) -> Histogram<u32> {
    let mut all = new_histogram();
    for h in histograms {
        // Same bounds everywhere, so adding cannot fail; a saturated count stays saturated.
        let _ = all.add(h);
    }
    all
}

impl LiveSignals for PerfStats {
    fn fill(&self, models: &[Arc<ModelSpec>], first: usize, out: &mut [Option<ScoringSignals>]) {
        let chunk = models.get(first..).unwrap_or_default();
        let chunk = chunk.get(..out.len()).unwrap_or(chunk);
        let cache = self.positions.load();
        let cached = cache
            .as_deref()
            .filter(|cache| cache.entries.len() == models.len())
            .and_then(|cache| cache.entries.get(first..first + chunk.len()))
            .filter(|entries| {
                entries
                    .iter()
                    .zip(chunk)
                    .all(|((cached, _), model)| Arc::ptr_eq(cached, model))
            });
        if let Some(entries) = cached {
            for (slot, (_, stats)) in out.iter_mut().zip(entries) {
                *slot = stats.as_ref().map(|s| s.signals.load_scoring());
            }
            return;
        }
        let map = self.models.load();
        let entries: Vec<(Arc<ModelSpec>, Option<Arc<ModelStats>>)> = models
            .iter()
            .map(|model| (Arc::clone(model), map.get(&model.id).cloned()))
            .collect();
        let chunk = entries.get(first..).unwrap_or_default();
        for (slot, (_, stats)) in out.iter_mut().zip(chunk) {
            *slot = stats.as_ref().map(|s| s.signals.load_scoring());
        }
        // Publish only if no model was added meanwhile: a model missing from `map` would be
        // cached as having no statistics. Adding holds the same lock while it swaps the map
        // and clears the cache; a busy lock just means this ranking does not publish.
        if let Ok(_insert) = self.insert.try_lock()
            && Arc::ptr_eq(&map, &self.models.load())
        {
            self.positions
                .store(Some(Arc::new(PositionCache { entries })));
        }
    }

    #[inline]
    fn signals(&self, model: &ModelId) -> Option<Signals> {
        self.models
            .load()
            .get(model)
            .map(|stats| stats.signals.load())
    }
}

/// One model's persisted history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelHistory {
    /// The model.
    pub model: ModelId,
    /// Its moving averages.
    pub ewma: Ewma,
    /// Its slots, oldest first.
    pub slots: Vec<SlotRecord>,
}

/// One persisted history slot. Histograms are stored sparsely as `(value, count)` pairs of
/// their non-empty buckets, which restores every bucket exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotRecord {
    /// Start of the slot.
    pub start: UnixMillis,
    /// Successful calls.
    pub successes: u64,
    /// Failed calls.
    pub failures: u64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Latency buckets: `(microseconds, count)`.
    pub latency_us: Vec<(u64, u64)>,
    /// Time-to-first-token buckets: `(microseconds, count)`.
    pub ttft_us: Vec<(u64, u64)>,
}

fn sparse(histogram: &Histogram<u32>) -> Vec<(u64, u64)> {
    histogram
        .iter_recorded()
        .map(|bucket| (bucket.value_iterated_to(), bucket.count_at_value().into()))
        .collect()
}

fn dense(buckets: &[(u64, u64)]) -> Histogram<u32> {
    let mut histogram = new_histogram();
    for &(value, count) in buckets {
        // A value outside the bounds is clamped like a fresh recording would be.
        let _ = histogram.record_n(
            value.clamp(1, MAX_MICROS),
            u32::try_from(count).unwrap_or(u32::MAX),
        );
    }
    histogram
}

impl SlotRecord {
    fn from_slot(slot: &Slot) -> Self {
        Self {
            start: slot.start,
            successes: slot.successes,
            failures: slot.failures,
            input_tokens: slot.input_tokens,
            output_tokens: slot.output_tokens,
            latency_us: sparse(&slot.latency),
            ttft_us: slot.ttft.as_ref().map(sparse).unwrap_or_default(),
        }
    }

    fn to_slot(&self) -> Slot {
        Slot {
            start: self.start,
            successes: self.successes,
            failures: self.failures,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            latency: dense(&self.latency_us),
            ttft: (!self.ttft_us.is_empty()).then(|| dense(&self.ttft_us)),
        }
    }
}

#[cfg(test)]
mod tests;
