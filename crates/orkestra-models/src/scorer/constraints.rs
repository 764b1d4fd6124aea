//! Hard limits on which models may serve a request: [`Constraints`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::money::Nanodollars;
use crate::spec::{Capabilities, ModelSpec};

/// Hard limits: a model that breaks one is excluded, with the reason, never ranked.
///
/// The context window, the capabilities the request needs and the breaker state are always
/// checked; these add the caller's own limits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Constraints {
    /// Most a single request may cost (estimated from the profile's token counts).
    pub max_cost: Option<Nanodollars>,
    /// Longest expected latency.
    #[serde(with = "humantime_serde")]
    pub max_latency: Option<Duration>,
    /// Capabilities required beyond what the request itself shows.
    pub capabilities: Capabilities,
    /// Only these models: ids, aliases, or `provider/*` patterns. Empty allows all.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// Never these models: ids, aliases, or `provider/*` patterns.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
    /// Only local models.
    pub local_only: bool,
    /// Only models with at least this context window (re-routing after a context-length error).
    pub min_context_window: Option<u32>,
}

/// Whether `pattern` names `spec`: its id, one of its aliases, or `prefix*`.
pub(crate) fn matches(pattern: &str, spec: &ModelSpec) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => spec.id.as_str().starts_with(prefix),
        None => spec.id.as_str() == pattern || spec.aliases.iter().any(|a| a == pattern),
    }
}
