//! Walking a chain: each attempt through the model's policies, the fallback rules, billing.
//!
//! Retries are the resilience crate's: each model's retry policy is driven attempt by attempt
//! ([`Retry::start`](orkestra_resilience::Retry::start) and
//! [`Attempts::failed_if`](orkestra_resilience::retry::Attempts::failed_if)), so its backoff,
//! jitter, `Retry-After` rule and budget apply as configured. The walk only adds what a chain
//! knows and a single policy cannot: whether another model is expected to answer sooner than
//! the wait, and how much of the request's deadline is left.

use std::sync::Arc;
use std::time::Duration;

use orkestra_core::{AsModel, ChatBackend, ChatRequest, Error, ErrorCategory, ErrorClass};
use orkestra_models::{Charge, LiveSignals as _, ModelSpec, Outcome, TaskProfile, UnixMillis};
use tokio::time::Instant;

use super::{CallContext, Orchestrator, Route, Target};
use crate::config::ContentFilterAction;
use crate::report::{Attempt, CallError, Completion, RouteReport};

/// The model that answered, as the walk hands it to whoever records the answer.
pub(super) struct Answered {
    /// Its spec, which prices the answer.
    pub(super) spec: Arc<ModelSpec>,
    /// The longest a stream from it may idle between two events.
    pub(super) idle: Option<Duration>,
}

/// Tokens billed for one answer.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tokens {
    pub(super) input: u32,
    pub(super) output: u32,
    /// Whether the counts are estimated rather than reported by the upstream.
    pub(super) estimated: bool,
}

impl Orchestrator {
    /// Answers `request` through `route`'s chain, recording and billing the answer.
    pub(crate) async fn complete_routed(
        &self,
        request: &ChatRequest,
        route: &Route,
        context: &CallContext,
    ) -> Result<Completion, CallError> {
        let (mut response, answered, report) = self
            .walk(request, route, context, |backend, upstream| {
                Box::pin(async move { backend.chat(upstream).await })
            })
            .await?;
        let tokens = response.usage.as_ref().map_or(
            Tokens {
                input: 0,
                output: 0,
                estimated: false,
            },
            |usage| Tokens {
                input: usage.prompt_tokens,
                output: usage.completion_tokens,
                estimated: usage.estimated,
            },
        );
        let latency = report
            .attempts
            .last()
            .map_or(Duration::ZERO, |attempt| attempt.latency);
        let spec = &answered.spec;
        self.record(
            spec,
            &Outcome::success(latency, tokens.input, tokens.output),
        );
        // Clients see the id of the model that answered; the upstream's buffer is reused.
        response.model.clear();
        response.model.push_str(spec.id.as_str());
        self.charge(
            spec,
            tokens,
            context.principal.clone(),
            context.request_id.clone(),
        );
        Ok(Completion { response, report })
    }

    /// The request's deadline: `routing.deadline`, or the caller's own when it is shorter.
    fn deadline_of(&self, context: &CallContext) -> Duration {
        let configured = self.inner.routing.deadline;
        context
            .deadline
            .map_or(configured, |own| own.min(configured))
    }

    /// Walks `route.chain`, calling `call` for each attempt, until one succeeds or the rules
    /// stop the walk.
    #[expect(
        clippy::too_many_lines,
        reason = "the walk reads best as one loop beside the table of rules in the module docs"
    )]
    pub(super) async fn walk<T, F>(
        &self,
        request: &ChatRequest,
        route: &Route,
        context: &CallContext,
        call: F,
    ) -> Result<(T, Answered, RouteReport), CallError>
    where
        F: for<'a> Fn(
            &'a dyn ChatBackend,
            &'a ChatRequest,
        )
            -> std::pin::Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>,
    {
        let limit = self.deadline_of(context);
        let deadline = Instant::now() + limit;
        let request_id = context.request_id.as_deref().unwrap_or("-");
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
        // The model the walk left after a failure, logged once the next one is known.
        let mut left: Option<(&ModelSpec, ErrorClass)> = None;
        let viable = |spec: &ModelSpec, min_context: Option<u32>, dead: &[&str]| {
            min_context.is_none_or(|min| spec.context_window >= min)
                && !dead.contains(&spec.endpoint())
        };
        for (position, spec) in route.chain.iter().enumerate() {
            if !viable(spec, min_context, &dead_endpoints) {
                continue;
            }
            let Some((endpoint, backend)) = self.inner.backends.get_key_value(spec.endpoint())
            else {
                continue;
            };
            if let Some((from, class)) = left.take() {
                tracing::info!(
                    request_id,
                    from = %from.id,
                    to = %spec.id,
                    class = class.category.as_str(),
                    "falling back"
                );
            }
            let upstream = AsModel::new(backend.as_ref(), spec.id.model());
            let policy = self.policy_of(&spec.id);
            let retry = policy.pipeline.retry();
            let mut attempts = retry.start();
            loop {
                let started = Instant::now();
                let time_left = deadline.saturating_duration_since(started);
                if time_left.is_zero() {
                    return Err(deadline_passed(limit, report));
                }
                let result = policy
                    .pipeline
                    .attempt_within(|| call(&upstream, request), Some(time_left))
                    .await;
                let latency = started.elapsed();
                let failure = match result {
                    Ok(value) => {
                        report.upstream += latency;
                        report.attempts.push(Attempt {
                            model: spec.id.clone(),
                            endpoint: Arc::clone(endpoint),
                            error: None,
                            status: None,
                            latency,
                            called: true,
                        });
                        let answered = Answered {
                            spec: Arc::clone(spec),
                            idle: policy.idle,
                        };
                        return Ok((value, answered, report));
                    }
                    Err(failure) => failure,
                };
                let class = orkestra_core::Classify::class(&failure);
                let called = !failure.is_rejection();
                let cut_by_deadline =
                    matches!(failure, orkestra_resilience::Error::DeadlineExceeded { .. });
                // A policy's refusal or timeout keeps the policy's own words ("circuit breaker
                // is open; retry after 3s"); the model's error is passed on as it came.
                let error = match failure {
                    orkestra_resilience::Error::Inner(error) => error,
                    policy_error => Error::with_class(class, policy_error.to_string())
                        .with_model(spec.id.to_string())
                        .with_provider(spec.endpoint()),
                };
                if called {
                    report.upstream += latency;
                }
                // The statistics judge the model: a refusal never reached it, a cancelled call
                // says nothing about it, and an attempt cut by the caller's deadline had not
                // yet taken too long by the model's own limit.
                if called && !cut_by_deadline && class.category != ErrorCategory::Cancelled {
                    self.record(spec, &Outcome::failure(latency));
                }
                report.attempts.push(Attempt {
                    model: spec.id.clone(),
                    endpoint: Arc::clone(endpoint),
                    error: Some(class),
                    status: error.status,
                    latency,
                    called,
                });
                log_failure(request_id, spec, class, &error, latency, called);
                if cut_by_deadline {
                    return Err(deadline_passed(limit, report));
                }
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
                        left = Some((spec, class));
                        break;
                    }
                    ErrorCategory::Auth | ErrorCategory::ResourceExhausted(_) => {
                        dead_endpoints.push(spec.endpoint());
                        last_error = Some(error);
                        left = Some((spec, class));
                        break;
                    }
                    _ => {}
                }
                let next = route.chain[position + 1..]
                    .iter()
                    .find(|next| viable(next, min_context, &dead_endpoints));
                let max_wait = self.inner.routing.max_retry_wait;
                let time_left = deadline.saturating_duration_since(Instant::now());
                let wait = attempts.failed_if(class, |class, delay| {
                    // No attempt may start after the deadline, and no wait is longer than
                    // `routing.max_retry_wait`.
                    if delay >= time_left || delay > max_wait {
                        return false;
                    }
                    // Waiting out a rate limit or an overload beats moving on only when the
                    // next model is expected to take longer than the wait plus this model's
                    // answer.
                    let limited = matches!(
                        class.category,
                        ErrorCategory::RateLimited | ErrorCategory::Overloaded
                    );
                    !(limited
                        && next.is_some_and(|next| {
                            let profile = match &route.profile {
                                Some(profile) => profile,
                                None => analyzed
                                    .get_or_insert_with(|| self.inner.analyzer.analyze(request)),
                            };
                            self.expected_latency(next, profile)
                                < delay + self.expected_latency(spec, profile)
                        }))
                });
                match wait {
                    Ok(delay) => {
                        tracing::info!(
                            request_id,
                            model = %spec.id,
                            class = class.category.as_str(),
                            attempt = attempts.made(),
                            delay_ms = delay.as_secs_f64() * 1e3,
                            "retrying"
                        );
                        report.waited += delay;
                        retry.sleep(delay).await;
                    }
                    Err(stopped) => {
                        tracing::debug!(request_id, model = %spec.id, stop = stopped.stop.as_str(), "no retry");
                        last_error = Some(error);
                        left = Some((spec, class));
                        break;
                    }
                }
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

    /// Records an answered call: the ledger, and the store when there is one.
    pub(super) fn charge(
        &self,
        spec: &ModelSpec,
        tokens: Tokens,
        principal: String,
        request_id: Option<String>,
    ) {
        let (input, output) = (u64::from(tokens.input), u64::from(tokens.output));
        let charge = Charge {
            at: UnixMillis::now(),
            principal,
            model: spec.id.clone(),
            input_tokens: input,
            output_tokens: output,
            cost: spec.cost(input, output),
            request_id,
            estimated: tokens.estimated,
        };
        self.inner.ledger.charge(&charge);
        if let Some(recorder) = &self.inner.recorder {
            recorder.record(charge);
        }
    }

    /// Records one outcome of `spec` in the statistics.
    pub(super) fn record(&self, spec: &ModelSpec, outcome: &Outcome) {
        self.inner
            .stats
            .record(&spec.id, outcome, UnixMillis::now());
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
}

/// Logs a failed attempt once: a timeout, a refusal by the model's own policy (an open circuit
/// breaker, a full bulkhead, a rate limit) or an error of the model.
fn log_failure(
    request_id: &str,
    spec: &ModelSpec,
    class: ErrorClass,
    error: &Error,
    latency: Duration,
    called: bool,
) {
    let latency_ms = latency.as_secs_f64() * 1e3;
    let category = class.category.as_str();
    if !called {
        tracing::info!(request_id, model = %spec.id, class = category, reason = %error.message, "candidate skipped");
    } else if class.category == ErrorCategory::Timeout {
        tracing::info!(request_id, model = %spec.id, class = category, latency_ms, "attempt timed out");
    } else {
        tracing::info!(
            request_id,
            model = %spec.id,
            class = category,
            status = error.status,
            latency_ms,
            "attempt failed"
        );
    }
}

/// The answer once the request's deadline has passed: a timeout that names the deadline.
fn deadline_passed(limit: Duration, report: RouteReport) -> CallError {
    let calls = report.calls();
    let error = Error::with_class(
        ErrorClass::new(ErrorCategory::Timeout).with_retryable(false),
        format!(
            "the request's deadline of {limit:?} passed after {calls} model call{} \
             (routing.deadline, or the request's x-orkestra-deadline-ms header)",
            if calls == 1 { "" } else { "s" }
        ),
    );
    CallError { error, report }
}
