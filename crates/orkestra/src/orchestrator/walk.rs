//! Walking a chain: each attempt through the model's policies, the fallback rules, billing.

use std::time::{Duration, Instant};

use orkestra_core::{AsModel, ChatBackend, ChatRequest, Error, ErrorCategory, ErrorClass};
use orkestra_models::{
    Charge, LiveSignals as _, ModelId, ModelSpec, Outcome, TaskProfile, UnixMillis,
};
use orkestra_resilience::retry::Decision;

use super::{CallContext, Orchestrator, Route, Target};
use crate::config::ContentFilterAction;
use crate::report::{Attempt, CallError, Completion, RouteReport};

impl Orchestrator {
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

    /// Walks `route.chain`, calling `call` for each attempt, until one succeeds or the rules
    /// stop the walk.
    #[allow(
        clippy::too_many_lines,
        reason = "the walk reads best as one loop beside the table of rules in the module docs"
    )]
    pub(super) async fn walk<T, F>(
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
        for (position, spec) in route.chain.iter().enumerate() {
            if !viable(spec, min_context, &dead_endpoints) {
                continue;
            }
            let Some(backend) = self.inner.backends.get(spec.endpoint()) else {
                continue;
            };
            let upstream = AsModel::new(backend.as_ref(), spec.id.model());
            let policy = self.policy_of(&spec.id);
            let mut backoff = policy.backoff.clone();
            let mut tries = 0_u32;
            loop {
                tries += 1;
                let started = Instant::now();
                let result = policy.pipeline.call(|| call(&upstream, request)).await;
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

    pub(super) fn charge(&self, model: &ModelId, input: u64, output: u64, context: &CallContext) {
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

    pub(super) fn record_success(&self, model: &ModelId, outcome: &Outcome) {
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
