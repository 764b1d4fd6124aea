//! Each model's resilience policies, built on first use, and its breaker as the scorer sees it.

use std::sync::Arc;
use std::time::Duration;

use orkestra_models::ModelId;
use orkestra_models::stats::BreakerStatus;
use orkestra_resilience::breaker::State;
use orkestra_resilience::retry::Backoff;
use orkestra_resilience::{Pipeline, PipelineConfig, RetryConfig};

use super::Orchestrator;

/// The resilience around one model: a pipeline without retry (retries are the walk's), and
/// the retry settings the walk applies.
pub(super) struct ModelPolicy {
    pub(super) pipeline: Pipeline,
    pub(super) retry: RetryConfig,
    pub(super) backoff: Backoff,
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
            Arc::new(ModelPolicy::new(model.as_str(), &config))
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
    fn new(name: &str, config: &PipelineConfig) -> Self {
        let retry = config.retry.clone().unwrap_or_else(|| RetryConfig {
            max_attempts: 1,
            ..RetryConfig::default()
        });
        let without_retry = PipelineConfig {
            retry: None,
            ..config.clone()
        };
        let pipeline = Pipeline::from_config(name, &without_retry).unwrap_or_else(|error| {
            tracing::warn!(model = name, %error, "invalid resilience settings; calling without them");
            Pipeline::builder().build()
        });
        let backoff = Backoff::new(&retry.backoff).unwrap_or_else(|_| {
            Backoff::new(&RetryConfig::default().backoff).unwrap_or_else(|_| unreachable!())
        });
        Self {
            pipeline,
            idle: config.timeout.as_ref().map(|timeout| timeout.duration),
            retry,
            backoff,
        }
    }
}
