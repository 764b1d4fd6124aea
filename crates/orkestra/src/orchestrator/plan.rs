//! Planning a request: what its `model` field asks for, and the chain of models to try.
//!
//! Only what the request states can rule a model out of its chain: for `auto` the scorer's hard
//! constraints, for a named model (and its configured fallbacks) the context window, measured
//! as the prompt's estimated tokens plus the request's own output limit, as an upstream would.
//! When no model is left, the route says why model by model ([`Route::refusal`]), and a call
//! answers with that error before calling any model.

use std::fmt::Write as _;
use std::sync::Arc;

use orkestra_core::{ChatRequest, Error, ErrorCategory};
use orkestra_models::scorer::Exclusion;

use super::{Live, Orchestrator, Route, Target};

/// Whether routing analyzes a request whose chain does not depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Analysis {
    /// Always: the route is explained.
    Always,
    /// Only for an automatic selection, which ranks by it.
    WhenRanking,
}

impl Orchestrator {
    /// Parses a request's `model` field: an id or alias, `auto`, or `auto:<strategy>`.
    ///
    /// An empty `model` is refused with `invalid_request`, as the `OpenAI` API refuses it,
    /// rather than taken for `auto`: a client that forgot to set it should hear so.
    pub fn target(&self, model: &str) -> Result<Target, Error> {
        let model = model.trim();
        if model.is_empty() {
            return Err(Error::new(
                ErrorCategory::InvalidRequest,
                "model: must name a model id or alias from GET /v1/models, `auto` or \
                 `auto:<strategy>`, not be empty",
            ));
        }
        if model == "auto" {
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
    /// A request no model can serve is planned all the same, with an empty chain: explaining
    /// why is this method's job, and [`Route::refusal`] holds the error a call would answer.
    pub fn route(&self, request: &ChatRequest) -> Result<Route, Error> {
        self.plan(request, Analysis::Always)
    }

    /// The route a call walks: a named model's is not analyzed up front, and a route no
    /// model can serve is its refusal.
    pub(crate) fn plan_call(&self, request: &ChatRequest) -> Result<Route, Error> {
        let route = self.plan(request, Analysis::WhenRanking)?;
        match route.refusal() {
            Some(refusal) => Err(refusal),
            None => Ok(route),
        }
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
                let live = Live { orchestrator: self };
                let selection = self.inner.scorer.rank_with(
                    &self.inner.registry.snapshot(),
                    &profile,
                    strategy,
                    &self.inner.routing.constraints,
                    &live,
                );
                let mut excluded = Vec::new();
                let mut chain = Vec::new();
                for spec in selection.chain() {
                    if !self.inner.backends.contains_key(spec.endpoint()) {
                        excluded.push((spec.id.clone(), Exclusion::NoProvider));
                    } else if chain.len() < max {
                        chain.push(Arc::clone(spec));
                    }
                }
                Ok(Route {
                    target: Target::Auto(strategy),
                    profile: Some(profile),
                    selection: Some(selection),
                    chain,
                    excluded,
                })
            }
            Target::Model(spec) => {
                let profile =
                    (analysis == Analysis::Always).then(|| self.inner.analyzer.analyze(request));
                let input = profile.as_ref().map_or_else(
                    || self.inner.analyzer.input_tokens(request),
                    |profile| profile.input_tokens,
                );
                // The request's own output limit, not the analyzer's guess at the answer: an
                // upstream refuses the same way, and a guess must not refuse a prompt that fits.
                let needed = u64::from(input) + u64::from(request.output_limit().unwrap_or(0));
                let fallbacks = self
                    .inner
                    .fallbacks
                    .get(spec.id.as_str())
                    .into_iter()
                    .flatten()
                    .filter_map(|id| self.inner.registry.get(id))
                    .filter(|other| other.id != spec.id);
                let mut chain = Vec::new();
                let mut excluded = Vec::new();
                for model in std::iter::once(Arc::clone(&spec)).chain(fallbacks) {
                    if needed > u64::from(model.context_window) {
                        let window = model.context_window;
                        excluded.push((
                            model.id.clone(),
                            Exclusion::ContextWindow { needed, window },
                        ));
                    } else if !self.inner.backends.contains_key(model.endpoint()) {
                        excluded.push((model.id.clone(), Exclusion::NoProvider));
                    } else {
                        chain.push(model);
                    }
                }
                chain.truncate(max);
                Ok(Route {
                    target: Target::Model(spec),
                    profile,
                    selection: None,
                    chain,
                    excluded,
                })
            }
        }
    }
}

impl Route {
    /// The route in plain text: the analysis, the ranking with each score's breakdown (or the
    /// named model), every model left out and why, then the chain, or the refusal when no
    /// model can serve the request. `orkestra route` prints it; `POST /v1/route` sends it.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        if let Some(profile) = self.profile() {
            let _ = writeln!(
                out,
                "request: {} (confidence {:.2}), {} complexity, ~{} input and ~{} output tokens",
                profile.kind,
                profile.confidence,
                profile.complexity,
                profile.input_tokens,
                profile.expected_output_tokens
            );
        }
        match (&self.target, &self.selection) {
            (_, Some(selection)) => out.push_str(&selection.explain()),
            (Target::Model(spec), None) => {
                let _ = writeln!(out, "model {} named in the request", spec.id);
            }
            (Target::Auto(_), None) => {}
        }
        for (model, reason) in &self.excluded {
            let _ = writeln!(out, "  x {:<40} {reason}", model.as_str());
        }
        if let Some(refusal) = self.refusal() {
            let _ = writeln!(out, "refused: {refusal}");
        } else {
            let chain: Vec<&str> = self.chain.iter().map(|spec| spec.id.as_str()).collect();
            let _ = writeln!(out, "chain: {}", chain.join(" -> "));
        }
        out
    }
}

#[cfg(test)]
mod tests;
