//! [`Orchestrator`]: route a request, call the chosen models with resilience, fall back by
//! error class, record what happened.
//!
//! # The fallback rules
//!
//! A request's chain is the ranking (`auto`, `auto:<strategy>`) or the named model followed by
//! its configured fallbacks, those whose context window holds the prompt, cut to
//! `routing.max_models`. An empty chain is answered at once with why, model by model
//! ([`Route::refusal`]). The chain is walked in order; after a failed attempt the error's
//! class decides:
//!
//! | class | what happens |
//! |---|---|
//! | `invalid_request`, `cancelled` | the caller's error: returned at once, no other model tried |
//! | `context_length` | only models with a larger context window remain in the chain |
//! | `auth`, `resource_exhausted` | every model of the same provider is skipped: the key is the problem |
//! | `content_filter` | next model (or fail at once with `routing.content_filter = "fail"`) |
//! | `rate_limited`, `overloaded` | wait for `retry_after` (or backoff) and retry, or move on, whichever is expected to answer sooner |
//! | other retryable (`network`, `timeout`, `internal`) | retried on the same model per its retry policy, then the next model |
//! | anything else (`not_found`) | next model |
//!
//! Retrying is the model's retry policy, driven attempt by attempt: its `max_attempts`, backoff,
//! `max_retry_after` and retry budget decide, and the walk declines a wait only when another
//! model is expected to answer sooner, when it exceeds `routing.max_retry_wait`, or when it
//! would end past the request's deadline.
//!
//! Each attempt passes the model's own pipeline (rate limit, bulkhead, circuit breaker,
//! timeout): one circuit breaker per model endpoint, shared by every request. A candidate its
//! own rate limit, bulkhead or open breaker refuses is skipped without a call; the report (and
//! the gateway's headers) count model calls and skipped candidates apart.
//!
//! # The deadline
//!
//! A request may take at most `routing.deadline`, or the caller's
//! [`CallContext::deadline`] when it is shorter: no attempt starts after it, an attempt's
//! timeout is cut to what is left (an attempt so cut is not held against the model by its
//! breaker or its statistics), and when it passes the call fails with a `timeout` that names
//! the deadline. For a stream it covers the wait for the first token.
//!
//! # Billing and statistics
//!
//! Every attempt is reported; failed attempts are never billed. The attempt that answered is
//! billed with the usage it reported. A stream is billed when it ends:
//!
//! - complete, once every choice reached its `finish_reason` (whether or not the upstream then
//!   sent `data: [DONE]`): a clean end, a success, billed with its usage;
//! - cut, ended or failed before a `finish_reason`: an `Err` item ends it (never a clean
//!   finish), a failure in the statistics, billed for what it streamed;
//! - abandoned, dropped by its reader before every choice finished: nothing in the statistics,
//!   billed for what it streamed.
//!
//! The provider charges for what it streamed whether or not the answer was whole; such a
//! charge is marked as estimated unless the stream's usage came. Statistics count successes,
//! failures and timeouts of calls made; refusals, cancellations and attempts cut by the
//! deadline say nothing about the model and are left out.
//!
//! Failed attempts, retries, fallbacks, timeouts and breaker changes are logged at `info`, each
//! once, with the request id, the model, the error class and the latency.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use orkestra_core::{ChatBackend, ChatRequest, ChatResponse, ChatStream, Clock, Error};
use orkestra_models::scorer::Exclusion;
use orkestra_models::stats::BreakerStatus;
use orkestra_models::{
    CostLedger, ModelId, ModelRegistry, ModelSpec, NoCandidate, PerfStats, Scorer, Selection,
    Strategy, TaskAnalyzer, TaskProfile,
};
use rustc_hash::FxHashMap;

use crate::config::RoutingConfig;
use crate::recorder::Recorder;
use crate::report::{CallError, Completion, RoutedStream};

mod builder;
mod live;
mod plan;
mod policy;
mod stream;
mod walk;

pub use crate::recorder::RecordingStatus;
pub use builder::{BuildError, OrchestratorBuilder};
use live::Live;
use policy::ModelPolicy;

/// Who a call is for: the principal billed and the request id recorded with the charge and
/// logged with every failed attempt; and how long the caller is willing to wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContext {
    /// The principal charged (an API key's owner; `default` without authentication).
    pub principal: String,
    /// The request id, kept with the charge.
    pub request_id: Option<String>,
    /// The caller's own deadline, counted from the call; it only lowers
    /// [`RoutingConfig::deadline`], never raises it.
    pub deadline: Option<Duration>,
}

impl Default for CallContext {
    /// Principal `default`, no request id, no deadline of its own.
    fn default() -> Self {
        Self {
            principal: "default".to_owned(),
            request_id: None,
            deadline: None,
        }
    }
}

/// What a request's `model` field asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Rank every model with this strategy.
    Auto(Strategy),
    /// This model (an id or an alias), then its configured fallbacks.
    Model(Arc<ModelSpec>),
}

/// The plan for one request: what was asked, the ranking when there was one, and the chain.
#[derive(Debug, Clone)]
pub struct Route {
    /// What the request asked for.
    pub target: Target,
    /// The ranking of an automatic selection.
    pub selection: Option<Selection>,
    /// The models to try, in order.
    pub chain: Vec<Arc<ModelSpec>>,
    profile: Option<TaskProfile>,
    /// Models left out of the chain beyond the selection's exclusions: a named model or
    /// fallback whose window is too small, a model no provider serves.
    excluded: Vec<(ModelId, Exclusion)>,
}

impl Route {
    /// The analyzer's view of the request.
    ///
    /// Always there in a route from [`Orchestrator::route`]. When a call names its model, the
    /// chain does not depend on the analysis, so the call path skips it unless a fallback
    /// decision needs it.
    pub fn profile(&self) -> Option<&TaskProfile> {
        self.profile.as_ref()
    }

    /// Every model left out of the chain and why: the selection's exclusions for an automatic
    /// selection, a window too small for a named model or its fallbacks, no provider.
    pub fn excluded(&self) -> impl Iterator<Item = (&ModelId, &Exclusion)> {
        let selected = self.selection.iter().flat_map(|selection| {
            selection
                .excluded()
                .map(|(spec, reason)| (&spec.id, reason))
        });
        selected.chain(self.excluded.iter().map(|(id, reason)| (id, reason)))
    }

    /// The error a call answers when no model can serve the request (the chain is empty),
    /// saying why model by model, with the class of the cause: `context_length` when the
    /// prompt fits no window, `invalid_request` when no model has what the request requires.
    pub fn refusal(&self) -> Option<Error> {
        if !self.chain.is_empty() {
            return None;
        }
        let refusal = NoCandidate::new(
            self.excluded()
                .map(|(id, reason)| (id.clone(), reason.clone()))
                .collect(),
        );
        Some(orkestra_models::Error::Unserved(refusal).into())
    }
}

/// Routes requests to models and calls them with resilience and fallback.
///
/// Cheap to clone: clones share everything.
#[derive(Clone)]
pub struct Orchestrator {
    inner: Arc<Inner>,
}

struct Inner {
    registry: ModelRegistry,
    analyzer: TaskAnalyzer,
    scorer: Scorer,
    stats: Arc<PerfStats>,
    ledger: Arc<CostLedger>,
    routing: RoutingConfig,
    fallbacks: HashMap<String, Vec<String>>,
    /// Keyed by `Arc<str>` so that each attempt's report shares the endpoint's name.
    backends: FxHashMap<Arc<str>, Arc<dyn ChatBackend>>,
    resilience: builder::ResilienceLevels,
    /// The clock every policy reads, when one was given; else each uses its production clock.
    clock: Option<Arc<dyn Clock>>,
    /// Each model's policies, built on first use so models added at run time get them too.
    policies: RwLock<FxHashMap<ModelId, Arc<ModelPolicy>>>,
    recorder: Option<Recorder>,
}

impl std::fmt::Debug for Orchestrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orchestrator")
            .field("models", &self.inner.registry.snapshot().len())
            .field("endpoints", &self.inner.backends.keys().collect::<Vec<_>>())
            .field("routing", &self.inner.routing)
            .finish_non_exhaustive()
    }
}

impl Orchestrator {
    /// A builder with no model, no backend and default settings.
    pub fn builder() -> OrchestratorBuilder {
        OrchestratorBuilder::default()
    }

    /// The model registry (add, update or remove models at run time).
    pub fn registry(&self) -> &ModelRegistry {
        &self.inner.registry
    }

    /// Live latency and outcome statistics per model.
    pub fn stats(&self) -> &Arc<PerfStats> {
        &self.inner.stats
    }

    /// Spending per principal, model and day.
    pub fn ledger(&self) -> &Arc<CostLedger> {
        &self.inner.ledger
    }

    /// The routing settings.
    pub fn routing(&self) -> &RoutingConfig {
        &self.inner.routing
    }

    /// The configured endpoint names.
    pub fn endpoints(&self) -> impl Iterator<Item = &str> {
        self.inner.backends.keys().map(AsRef::as_ref)
    }

    /// Whether the store answers (`Ok` without a store).
    pub async fn check_storage(&self) -> Result<(), String> {
        match &self.inner.recorder {
            Some(recorder) => recorder.ping().await,
            None => Ok(()),
        }
    }

    /// How the writing of charges to the store is going; `None` without a store.
    pub fn recording(&self) -> Option<RecordingStatus> {
        self.inner.recorder.as_ref().map(Recorder::status)
    }

    /// Models that can be called now: a backend serves them and their breaker is not open.
    pub fn available_models(&self) -> usize {
        let snapshot = self.inner.registry.snapshot();
        snapshot
            .models()
            .iter()
            .filter(|spec| self.inner.backends.contains_key(spec.endpoint()))
            .filter(|spec| self.breaker_status(&spec.id) != BreakerStatus::Open)
            .count()
    }

    /// Writes pending charges and statistics to the store and stops the writer.
    pub async fn shutdown(&self) {
        if let Some(recorder) = &self.inner.recorder {
            recorder.shutdown(&self.inner.stats).await;
        }
    }

    /// Answers `request` through the first model of its chain that can.
    pub async fn complete(
        &self,
        request: &ChatRequest,
        context: &CallContext,
    ) -> Result<Completion, CallError> {
        let route = self.plan_call(request).map_err(CallError::before_routing)?;
        self.complete_routed(request, &route, context).await
    }

    /// Streams the answer to `request`; failures before the first token fall back, a failure
    /// after it ends the stream with an error item.
    pub async fn complete_stream(
        &self,
        request: &ChatRequest,
        context: &CallContext,
    ) -> Result<RoutedStream, CallError> {
        let route = self.plan_call(request).map_err(CallError::before_routing)?;
        let (primed, answered, report) = self
            .walk(request, &route, context, |backend, upstream| {
                Box::pin(stream::open(backend, upstream))
            })
            .await?;
        let stream = stream::recorded(
            primed,
            stream::Recording::new(self.clone(), answered, context.clone(), request),
        );
        Ok(RoutedStream { stream, report })
    }
}

#[async_trait]
impl ChatBackend for Orchestrator {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        self.complete(request, &CallContext::default())
            .await
            .map(|completion| completion.response)
            .map_err(Error::from)
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        self.complete_stream(request, &CallContext::default())
            .await
            .map(|routed| routed.stream)
            .map_err(Error::from)
    }
}

#[cfg(test)]
mod tests;
