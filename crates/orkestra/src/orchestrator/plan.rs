//! Planning a request: what its `model` field asks for, and the chain of models to try.

use std::sync::Arc;

use orkestra_core::{ChatRequest, Error, ErrorCategory};
use orkestra_models::Policy;

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
}

fn first_line(text: &str) -> &str {
    text.lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or(text)
}
