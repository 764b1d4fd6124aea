//! The scorer's live signals: statistics with each model's breaker state laid over.

use std::sync::Arc;
use std::time::Duration;

use orkestra_models::stats::BreakerStatus;
use orkestra_models::{LiveSignals, ModelId, ModelSpec, ScoringSignals, Signals};

use super::Orchestrator;

/// Live signals for the scorer: the statistics, with each model's breaker state laid over.
pub(super) struct Live<'a> {
    pub(super) orchestrator: &'a Orchestrator,
}

impl LiveSignals for Live<'_> {
    fn signals(&self, model: &ModelId) -> Option<Signals> {
        let breaker = self.orchestrator.breaker_status(model);
        let signals = self.orchestrator.inner.stats.signals(model);
        match (signals, breaker) {
            (Some(mut signals), breaker) => {
                signals.breaker = breaker;
                Some(signals)
            }
            (None, BreakerStatus::Closed) => None,
            (None, breaker) => Some(Signals {
                samples: 0,
                success_rate: 1.0,
                latency_ewma: Duration::ZERO,
                ttft_ewma: Duration::ZERO,
                latency_p50: Duration::ZERO,
                latency_p95: Duration::ZERO,
                latency_p99: Duration::ZERO,
                tokens_per_second: 0.0,
                breaker,
            }),
        }
    }

    fn fill(&self, models: &[Arc<ModelSpec>], first: usize, out: &mut [Option<ScoringSignals>]) {
        self.orchestrator.inner.stats.fill(models, first, out);
        let policies = self
            .orchestrator
            .inner
            .policies
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (slot, spec) in out.iter_mut().zip(models.get(first..).unwrap_or_default()) {
            let status = policies
                .get(&spec.id)
                .map_or(BreakerStatus::Closed, |policy| policy.breaker_status());
            if status == BreakerStatus::Closed {
                continue;
            }
            let signals = slot.get_or_insert(ScoringSignals {
                success_rate: 1.0,
                ..ScoringSignals::default()
            });
            signals.breaker = status;
        }
    }
}
