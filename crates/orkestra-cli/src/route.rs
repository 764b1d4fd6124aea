//! `orkestra route`: the ranking for a prompt and why, without calling any model.
//!
//! A prompt no model can serve is explained like any other, model by model, ending with the
//! error a call would answer: explaining is the command's job, so it still exits 0.

use orkestra::Route;
use orkestra::core::{ChatRequest, Message};

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
    let route = orchestrator
        .route(&request)
        .map_err(|error| Failure::usage(anyhow::anyhow!("{source}: {error}")))?;
    let text = if args.json {
        let mut json = serde_json::to_string_pretty(&as_json(&route))?;
        json.push('\n');
        json
    } else {
        route.explain()
    };
    print!("{text}");
    Ok(())
}

fn as_json(route: &Route) -> serde_json::Value {
    let excluded: Vec<serde_json::Value> = route
        .excluded()
        .map(|(model, reason)| {
            let mut entry = serde_json::json!({ "model": model.as_str() });
            if let (Some(entry), Ok(serde_json::Value::Object(reason))) =
                (entry.as_object_mut(), serde_json::to_value(reason))
            {
                entry.extend(reason);
            }
            entry
        })
        .collect();
    serde_json::json!({
        "profile": route.profile(),
        "selection": route.selection,
        "chain": route.chain.iter().map(|spec| spec.id.as_str()).collect::<Vec<_>>(),
        "excluded": excluded,
        "refusal": route.refusal().map(|error| serde_json::json!({
            "category": error.class.category.as_str(),
            "message": error.message,
        })),
    })
}
