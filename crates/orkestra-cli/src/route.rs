//! `orkestra route`: the ranking for a prompt and why, without calling any model.

use std::fmt::Write as _;

use orkestra::Route;
use orkestra::core::{ChatRequest, ErrorCategory, Message};

use crate::cli::RouteArgs;
use crate::failure::Failure;
use crate::setup;

/// Prints how `args.prompt` would be routed.
pub(crate) fn run(args: &RouteArgs) -> Result<(), Failure> {
    let setup::Loaded { mut config, source } = setup::load(args.config.config.as_deref())?;
    setup::without_simulators(&mut config, &source)?;
    let orchestrator = setup::orchestrator_without_store(&config, &source)?;
    let model = match args.strategy {
        Some(strategy) => format!("auto:{}", orkestra::models::Strategy::from(strategy).name()),
        None => "auto".to_owned(),
    };
    let request = ChatRequest::new(model, vec![Message::user(args.prompt.clone())]);
    let route = orchestrator.route(&request).map_err(|error| {
        let failure = anyhow::anyhow!("{source}: {error}");
        // No model qualifying is a fact about the configuration, not a passing failure.
        if error.class.category == ErrorCategory::NotFound {
            Failure::usage(failure)
        } else {
            Failure::runtime(failure)
        }
    })?;
    let text = if args.json {
        let mut json = serde_json::to_string_pretty(&as_json(&route))?;
        json.push('\n');
        json
    } else {
        explain(&route)
    };
    print!("{text}");
    Ok(())
}

/// The ranking with each score's breakdown, the exclusions, then the chain to be walked.
pub(crate) fn explain(route: &Route) -> String {
    let mut out = String::new();
    if let Some(profile) = route.profile() {
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
    if let Some(selection) = &route.selection {
        out.push_str(&selection.explain());
    }
    let chain: Vec<&str> = route.chain.iter().map(|spec| spec.id.as_str()).collect();
    let _ = writeln!(out, "chain: {}", chain.join(" -> "));
    out
}

fn as_json(route: &Route) -> serde_json::Value {
    serde_json::json!({
        "profile": route.profile(),
        "selection": route.selection,
        "chain": route.chain.iter().map(|spec| spec.id.as_str()).collect::<Vec<_>>(),
    })
}
