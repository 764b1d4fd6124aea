//! [`Orchestrator`]: route a request, call the chosen models with resilience, fall back by
//! error class, record what happened.
//!
//! # The fallback rules
//!
//! A request's chain is the ranking (`auto`, `auto:<strategy>`) or the named model followed by
//! its configured fallbacks, cut to `routing.max_models`. The chain is walked in order; after a
//! failed attempt the error's class decides:
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
//! Each attempt passes the model's own pipeline (rate limit, bulkhead, circuit breaker,
//! timeout): one circuit breaker per model endpoint, shared by every request. Every attempt is
//! reported; only the attempt that answered is billed.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use orkestra_core::{
    ChatBackend, ChatRequest, ChatResponse, ChatStream, Error, ErrorCategory, ErrorClass,
};
use orkestra_models::stats::BreakerStatus;
use orkestra_models::{
    Charge, CostLedger, LiveSignals, ModelId, ModelRegistry, ModelSpec, Outcome, PerfStats, Policy,
    Scorer, ScoringSignals, Selection, Signals, Strategy, TaskAnalyzer, TaskProfile, UnixMillis,
};
use orkestra_resilience::breaker::State;
use orkestra_resilience::retry::{Backoff, Decision};
use orkestra_resilience::{Pipeline, PipelineConfig, RetryConfig};
use rustc_hash::FxHashMap;

use crate::config::{ContentFilterAction, RoutingConfig};
use crate::recorder::Recorder;
use crate::report::{Attempt, CallError, Completion, RouteReport, RoutedStream};

mod builder;
mod stream;

pub use builder::{BuildError, OrchestratorBuilder};

/// Who a call is for: the principal billed and the request id recorded with the charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContext {
    /// The principal charged (an API key's owner; `default` without authentication).
    pub principal: String,
    /// The request id, kept with the charge.
    pub request_id: Option<String>,
}

impl Default for CallContext {
    fn default() -> Self {
        Self {
            principal: "default".to_owned(),
            request_id: None,
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
}

/// Whether routing analyzes a request whose chain does not depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Analysis {
    /// Always: the route is explained.
    Always,
    /// Only for an automatic selection, which ranks by it.
    WhenRanking,
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
    backends: FxHashMap<String, Arc<dyn ChatBackend>>,
    resilience: builder::ResilienceLevels,
    /// Each model's policies, built on first use so models added at run time get them too.
    policies: RwLock<FxHashMap<ModelId, Arc<ModelPolicy>>>,
    recorder: Option<Recorder>,
}

/// The resilience around one model: a pipeline without retry (retries are the walk's), and
/// the retry settings the walk applies.
struct ModelPolicy {
    pipeline: Pipeline,
    retry: RetryConfig,
    backoff: Backoff,
    /// Time allowed between two events of a stream once its first token arrived.
    idle: Option<Duration>,
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
        self.inner.backends.keys().map(String::as_str)
    }

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

    /// Whether the store answers (`Ok` without a store).
    pub async fn check_storage(&self) -> Result<(), String> {
        match &self.inner.recorder {
            Some(recorder) => recorder.ping().await,
            None => Ok(()),
        }
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

    /// Parses a request's `model` field: an id or alias, `auto`, or `auto:<strategy>`.
    pub fn target(&self, model: &str) -> Result<Target, Error> {
        let model = model.trim();
        if model.is_empty() || model == "auto" {
            return Ok(Target::Auto(self.inner.routing.strategy));
        }
        if let Some(strategy) = model.strip_prefix("auto:") {
            return strategy.parse().map(Target::Auto).map_err(|_| {
                Error::new(
                    ErrorCategory::InvalidRequest,
                    format!(
                        "model `{model}`: unknown strategy `{strategy}`, expected auto:cost, auto:quality, auto:speed, auto:balanced or auto:local"
                    ),
                )
            });
        }
        self.inner
            .registry
            .get(model)
            .map(Target::Model)
            .ok_or_else(|| {
                Error::new(
                    ErrorCategory::NotFound,
                    format!(
                        "model `{model}` does not exist: use a model id or alias from GET /v1/models, `auto` or `auto:<strategy>`"
                    ),
                )
            })
    }

    /// The plan for `request`, without calling any model.
    ///
    /// A request without messages is refused here with `invalid_request`, as the `OpenAI` API
    /// refuses it: no model can answer nothing, and each would refuse it in its own way.
    pub fn route(&self, request: &ChatRequest) -> Result<Route, Error> {
        self.plan(request, Analysis::Always)
    }

    /// The route a call walks: a named model's is not analyzed up front.
    pub(crate) fn plan_call(&self, request: &ChatRequest) -> Result<Route, Error> {
        self.plan(request, Analysis::WhenRanking)
    }

    fn plan(&self, request: &ChatRequest, analysis: Analysis) -> Result<Route, Error> {
        if request.messages.is_empty() {
            return Err(Error::new(
                ErrorCategory::InvalidRequest,
                "messages: at least one message is required",
            ));
        }
        let target = self.target(&request.model)?;
        let max = self.inner.routing.max_models;
        match target {
            Target::Auto(strategy) => {
                let profile = self.inner.analyzer.analyze(request);
                let policy = Policy {
                    strategy,
                    constraints: self.inner.routing.constraints.clone(),
                };
                let live = Live { orchestrator: self };
                let selection = self.inner.scorer.rank(
                    &self.inner.registry.snapshot(),
                    &profile,
                    &policy,
                    &live,
                );
                let chain: Vec<_> = selection
                    .chain()
                    .filter(|spec| self.inner.backends.contains_key(spec.endpoint()))
                    .take(max)
                    .cloned()
                    .collect();
                if chain.is_empty() {
                    let why = selection.explain();
                    return Err(Error::new(
                        ErrorCategory::NotFound,
                        format!("no model can serve this request: {}", first_line(&why)),
                    ));
                }
                Ok(Route {
                    target: Target::Auto(strategy),
                    profile: Some(profile),
                    selection: Some(selection),
                    chain,
                })
            }
            Target::Model(spec) => {
                let mut chain = vec![Arc::clone(&spec)];
                if let Some(fallbacks) = self.inner.fallbacks.get(spec.id.as_str()) {
                    chain.extend(
                        fallbacks
                            .iter()
                            .filter_map(|id| self.inner.registry.get(id))
                            .filter(|other| other.id != spec.id),
                    );
                }
                chain.truncate(max);
                Ok(Route {
                    target: Target::Model(spec),
                    profile: (analysis == Analysis::Always)
                        .then(|| self.inner.analyzer.analyze(request)),
                    selection: None,
                    chain,
                })
            }
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

    /// Answers `request` through `route`'s chain, recording and billing the answer.
    pub(crate) async fn complete_routed(
        &self,
        request: &ChatRequest,
        route: &Route,
        context: &CallContext,
    ) -> Result<Completion, CallError> {
        let (response, report) = self
            .walk(request, route, |backend, upstream| {
                Box::pin(async move { backend.chat(upstream).await })
            })
            .await?;
        let mut response = response;
        if let Some(attempt) = report.attempts.last() {
            let (input, output) = response.usage.as_ref().map_or((0, 0), |usage| {
                (usage.prompt_tokens, usage.completion_tokens)
            });
            let outcome = Outcome::success(attempt.latency, input, output);
            self.record_success(&attempt.model, &outcome);
            response.model = attempt.model.to_string();
            self.charge(&attempt.model, u64::from(input), u64::from(output), context);
        }
        Ok(Completion { response, report })
    }

    /// Streams the answer to `request`; failures before the first token fall back, a failure
    /// after it ends the stream with an error item.
    pub async fn complete_stream(
        &self,
        request: &ChatRequest,
        context: &CallContext,
    ) -> Result<RoutedStream, CallError> {
        let route = self.plan_call(request).map_err(CallError::before_routing)?;
        let ((primed, idle), report) = self
            .walk(request, &route, |backend, upstream| {
                Box::pin(stream::open(backend, upstream))
            })
            .await
            .map(|(primed, report)| {
                let idle = report.model().and_then(|model| self.policy_of(model).idle);
                ((primed, idle), report)
            })?;
        let model = report.model().cloned().ok_or_else(|| {
            CallError::before_routing(Error::new(ErrorCategory::Internal, "no model answered"))
        })?;
        let stream = stream::recorded(
            primed,
            stream::Recording {
                orchestrator: self.clone(),
                model,
                context: context.clone(),
                started: Instant::now(),
                idle,
            },
        );
        Ok(RoutedStream { stream, report })
    }

    /// Walks `route.chain`, calling `call` for each attempt, until one succeeds or the rules
    /// stop the walk.
    #[allow(
        clippy::too_many_lines,
        reason = "the walk reads best as one loop beside the table of rules in the module docs"
    )]
    async fn walk<T, F>(
        &self,
        request: &ChatRequest,
        route: &Route,
        call: F,
    ) -> Result<(T, RouteReport), CallError>
    where
        F: for<'a> Fn(
            &'a dyn ChatBackend,
            &'a ChatRequest,
        )
            -> std::pin::Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>,
    {
        let mut report = RouteReport {
            strategy: match &route.target {
                Target::Auto(strategy) => Some(*strategy),
                Target::Model(_) => None,
            },
            ..RouteReport::default()
        };
        let mut last_error: Option<Error> = None;
        // The analysis, when the route skipped it and a decision below needs it.
        let mut analyzed: Option<TaskProfile> = None;
        let mut min_context: Option<u32> = None;
        let mut dead_endpoints: Vec<&str> = Vec::new();
        let viable = |spec: &ModelSpec, min_context: Option<u32>, dead: &[&str]| {
            min_context.is_none_or(|min| spec.context_window >= min)
                && !dead.contains(&spec.endpoint())
        };
        let mut upstream = request.clone();
        for (position, spec) in route.chain.iter().enumerate() {
            if !viable(spec, min_context, &dead_endpoints) {
                continue;
            }
            let Some(backend) = self.inner.backends.get(spec.endpoint()) else {
                continue;
            };
            spec.id.model().clone_into(&mut upstream.model);
            let policy = self.policy_of(&spec.id);
            let mut backoff = policy.backoff.clone();
            let mut tries = 0_u32;
            loop {
                tries += 1;
                let started = Instant::now();
                let result = policy
                    .pipeline
                    .call(|| call(backend.as_ref(), &upstream))
                    .await;
                let latency = started.elapsed();
                report.upstream += latency;
                let failure = match result {
                    Ok(value) => {
                        report.attempts.push(Attempt {
                            model: spec.id.clone(),
                            endpoint: spec.endpoint().to_owned(),
                            error: None,
                            status: None,
                            latency,
                        });
                        return Ok((value, report));
                    }
                    Err(failure) => failure,
                };
                let class = failure.class;
                let refused = failure.error.is_rejection();
                let error = match failure.error.into_inner() {
                    Some(error) => error,
                    None => Error::with_class(class, refusal_message(class))
                        .with_model(spec.id.to_string())
                        .with_provider(spec.endpoint()),
                };
                if !refused && class.category != ErrorCategory::Cancelled {
                    self.inner.stats.record(
                        &spec.id,
                        &Outcome::failure(latency),
                        UnixMillis::now(),
                    );
                }
                report.attempts.push(Attempt {
                    model: spec.id.clone(),
                    endpoint: spec.endpoint().to_owned(),
                    error: Some(class),
                    status: error.status,
                    latency,
                });
                tracing::debug!(model = %spec.id, class = class.category.as_str(), "attempt failed");
                match class.category {
                    ErrorCategory::InvalidRequest | ErrorCategory::Cancelled => {
                        return Err(CallError { error, report });
                    }
                    ErrorCategory::ContentFilter
                        if self.inner.routing.content_filter == ContentFilterAction::Fail =>
                    {
                        return Err(CallError { error, report });
                    }
                    ErrorCategory::ContextLength => {
                        min_context = Some(spec.context_window.saturating_add(1));
                        last_error = Some(error);
                        break;
                    }
                    ErrorCategory::Auth | ErrorCategory::ResourceExhausted(_) => {
                        dead_endpoints.push(spec.endpoint());
                        last_error = Some(error);
                        break;
                    }
                    _ => {}
                }
                let retry = class.retryable
                    && policy.retry.decide(&class, tries, || true) == Decision::Retry;
                if !retry {
                    last_error = Some(error);
                    break;
                }
                let delay = backoff.delay_honouring(tries, class.retry_after, &mut rand::rng());
                let next = route.chain[position + 1..]
                    .iter()
                    .find(|next| viable(next, min_context, &dead_endpoints));
                // Waiting out a rate limit or an overload beats moving on only when the next
                // model is expected to take longer than the wait plus this model's answer.
                let move_on = delay > self.inner.routing.max_retry_wait
                    || matches!(
                        class.category,
                        ErrorCategory::RateLimited | ErrorCategory::Overloaded
                    ) && next.is_some_and(|next| {
                        let profile = match &route.profile {
                            Some(profile) => profile,
                            None => {
                                analyzed.get_or_insert_with(|| self.inner.analyzer.analyze(request))
                            }
                        };
                        self.expected_latency(next, profile)
                            < delay + self.expected_latency(spec, profile)
                    });
                if move_on {
                    last_error = Some(error);
                    break;
                }
                report.waited += delay;
                tokio::time::sleep(delay).await;
            }
        }
        let error = last_error.unwrap_or_else(|| {
            Error::new(
                ErrorCategory::NotFound,
                "no model in the chain can serve this request (no provider configured, or every one was skipped)",
            )
        });
        Err(CallError { error, report })
    }

    fn charge(&self, model: &ModelId, input: u64, output: u64, context: &CallContext) {
        let cost = self
            .inner
            .registry
            .get(model.as_str())
            .map(|spec| spec.cost(input, output))
            .unwrap_or_default();
        let charge = Charge {
            at: UnixMillis::now(),
            principal: context.principal.clone(),
            model: model.clone(),
            input_tokens: input,
            output_tokens: output,
            cost,
            request_id: context.request_id.clone(),
        };
        self.inner.ledger.charge(&charge);
        if let Some(recorder) = &self.inner.recorder {
            recorder.record(charge);
        }
    }

    fn record_success(&self, model: &ModelId, outcome: &Outcome) {
        self.inner.stats.record(model, outcome, UnixMillis::now());
    }

    /// The expected answer time of `spec` for this request: live when measured, else its spec.
    ///
    /// The live average counts failures too, so a model that has only failed (a 503 comes back
    /// in a millisecond) would look faster than any other; until it has answered, its spec says
    /// more about how long an answer takes.
    fn expected_latency(&self, spec: &ModelSpec, profile: &TaskProfile) -> Duration {
        match self.inner.stats.signals(&spec.id) {
            Some(signals) if signals.samples > 0 && signals.success_rate > 0.0 => {
                signals.latency_ewma
            }
            _ => spec.latency.estimate(profile.expected_output_tokens),
        }
    }

    fn breaker_status(&self, model: &ModelId) -> BreakerStatus {
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
    fn policy_of(&self, model: &ModelId) -> Arc<ModelPolicy> {
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
    fn breaker_status(&self) -> BreakerStatus {
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

fn refusal_message(class: ErrorClass) -> String {
    match class.category {
        ErrorCategory::Overloaded => {
            "refused by the model's circuit breaker or bulkhead".to_owned()
        }
        ErrorCategory::Timeout => "the model did not answer in time".to_owned(),
        ErrorCategory::RateLimited => "refused by the model's rate limit".to_owned(),
        other => format!("refused ({other})"),
    }
}

fn first_line(text: &str) -> &str {
    text.lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or(text)
}

/// Live signals for the scorer: the statistics, with each model's breaker state laid over.
struct Live<'a> {
    orchestrator: &'a Orchestrator,
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
