//! Each model's resilience policies, built on first use, and its breaker as the scorer sees it.

use std::sync::Arc;
use std::time::Duration;

use orkestra_core::Clock;
use orkestra_models::ModelId;
use orkestra_models::stats::BreakerStatus;
use orkestra_resilience::breaker::{State, StateChange};
use orkestra_resilience::{Pipeline, PipelineConfig};

use super::Orchestrator;

/// The resilience around one model: its pipeline, whose retry policy the walk drives attempt by
/// attempt, and how long a stream may idle.
pub(super) struct ModelPolicy {
    pub(super) pipeline: Pipeline,
    /// Time allowed between two events of a stream once its first token arrived.
    pub(super) idle: Option<Duration>,
}

impl Orchestrator {
    /// The state of every circuit breaker created so far, by model.
    pub fn breakers(&self) -> Vec<(ModelId, State)> {
        let policies = self
            .inner
            .policies
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut states: Vec<_> = policies
            .iter()
            .filter_map(|(id, policy)| {
                let breaker = policy.pipeline.circuit_breaker()?;
                Some((id.clone(), breaker.state()))
            })
            .collect();
        states.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        states
    }

    pub(super) fn breaker_status(&self, model: &ModelId) -> BreakerStatus {
        let policies = self
            .inner
            .policies
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        policies
            .get(model)
            .map_or(BreakerStatus::Closed, |policy| policy.breaker_status())
    }

    /// The policies of `model`, built on first use.
    pub(super) fn policy_of(&self, model: &ModelId) -> Arc<ModelPolicy> {
        if let Some(policy) = self
            .inner
            .policies
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(model)
        {
            return Arc::clone(policy);
        }
        let mut policies = self
            .inner
            .policies
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let endpoint = self.inner.registry.get(model.as_str()).map_or_else(
            || model.provider().to_owned(),
            |spec| spec.endpoint().to_owned(),
        );
        Arc::clone(policies.entry(model.clone()).or_insert_with(|| {
            let config = self.inner.resilience.for_model(model.as_str(), &endpoint);
            Arc::new(ModelPolicy::new(
                model.as_str(),
                &config,
                self.inner.clock.as_ref(),
            ))
        }))
    }
}

impl ModelPolicy {
    /// The state of the model's breaker, as the scorer reads it (`Closed` without one).
    pub(super) fn breaker_status(&self) -> BreakerStatus {
        match self
            .pipeline
            .circuit_breaker()
            .map(|breaker| breaker.state())
        {
            Some(State::Open) => BreakerStatus::Open,
            Some(State::HalfOpen) => BreakerStatus::HalfOpen,
            _ => BreakerStatus::Closed,
        }
    }

    /// Policies from an effective configuration that was validated when the orchestrator was
    /// built; a section that still fails to build is left off rather than failing a request.
    /// The time-dependent policies read `clock` when one is given.
    fn new(name: &str, config: &PipelineConfig, clock: Option<&Arc<dyn Clock>>) -> Self {
        let pipeline = match clock {
            Some(clock) => Pipeline::from_config_with_clock(name, config, Arc::clone(clock)),
            None => Pipeline::from_config(name, config),
        }
        .unwrap_or_else(|error| {
            tracing::warn!(model = name, %error, "invalid resilience settings; calling without them");
            Pipeline::builder().build()
        });
        if let Some(breaker) = pipeline.circuit_breaker() {
            breaker.on_state_change(Arc::new(log_state_change));
        }
        Self {
            pipeline,
            idle: config.timeout.as_ref().map(|timeout| timeout.duration),
        }
    }
}

/// Logs a breaker's change once, where it happens: an opening says what tripped it.
fn log_state_change(change: &StateChange) {
    let rate = change.failure_rate.or(change.slow_call_rate);
    tracing::info!(
        model = &*change.breaker,
        from = change.from.as_str(),
        to = change.to.as_str(),
        reason = ?change.reason,
        rate,
        "circuit breaker state changed"
    );
}
