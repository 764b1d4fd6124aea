//! `orkestra serve`: the gateway, with simulated providers started in-process.

use std::fmt::Write as _;
use std::io::Write as _;

use anyhow::Context as _;
use orkestra::Orchestrator;
use orkestra::config::{Config, ProviderKind};
use tokio::net::TcpListener;

use crate::cli::ServeArgs;
use crate::failure::Failure;
use crate::setup::{self, Simulators, Source};

/// Runs the gateway until Ctrl-C or SIGTERM.
pub(crate) async fn run(args: ServeArgs) -> Result<(), Failure> {
    let setup::Loaded { mut config, source } = setup::load(args.config.config.as_deref())?;
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    // Kinds as written, before simulated providers are rewritten to `openai`.
    let kinds: Vec<(String, ProviderKind)> = config
        .providers
        .iter()
        .map(|(name, provider)| (name.clone(), provider.kind()))
        .collect();
    let simulators = setup::start_simulators(&mut config, &source).await?;
    let orchestrator = setup::orchestrator(&config, &source).await?;
    let listener = TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let address = listener.local_addr()?;

    // Load tests and scripts read the first line for the address, so it comes first and is
    // flushed at once; the summary follows.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on http://{address}")?;
    stdout.write_all(summary(&config, &source, &kinds, &simulators, &orchestrator).as_bytes())?;
    writeln!(
        stdout,
        "try: curl -i http://{address}/v1/chat/completions -H 'content-type: application/json' \
         -d '{{\"model\":\"auto\",\"messages\":[{{\"role\":\"user\",\"content\":\"Write a haiku about routers\"}}]}}'"
    )?;
    stdout.flush()?;
    drop(stdout);

    let served = orkestra_server::serve_on_workers(
        listener,
        orchestrator.clone(),
        config.server.clone(),
        setup::shutdown_signal(),
    )
    .await
    .context("the gateway stopped with an error");
    // Whatever ended serving, what was recorded is written before the process exits.
    orchestrator.shutdown().await;
    simulators.shutdown().await;
    served?;
    Ok(())
}

/// A few lines on what is served: configuration, storage, providers and models, with
/// simulated ones labelled.
fn summary(
    config: &Config,
    source: &Source,
    kinds: &[(String, ProviderKind)],
    simulators: &Simulators,
    orchestrator: &Orchestrator,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "config:    {source}");
    let _ = writeln!(out, "storage:   {}", setup::redact_url(&config.storage.url));
    let _ = writeln!(
        out,
        "routing:   strategy {}, up to {} models per request",
        config.routing.strategy.name(),
        config.routing.max_models
    );
    let _ = writeln!(out, "providers:");
    for (name, kind) in kinds {
        let detail = if let Some((_, server)) = simulators
            .running
            .iter()
            .find(|(running, _)| running == name)
        {
            format!(
                "simulated (in-process simulator at {}/v1)",
                server.base_url()
            )
        } else if *kind == ProviderKind::Echo {
            "echo (built in: answers with your last message, no network)".to_owned()
        } else {
            let url = config.providers[name]
                .base_url()
                .unwrap_or("its public API");
            format!("{kind} at {url}")
        };
        let _ = writeln!(out, "  {name:<12} {detail}");
    }
    let snapshot = orchestrator.registry().snapshot();
    let _ = writeln!(out, "models ({}):", snapshot.len());
    for spec in snapshot.models() {
        let label = if simulators.is_simulated(spec.endpoint()) {
            "  [simulated]"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {:<32} ${:.2} / ${:.2} per M tokens{label}",
            spec.id.as_str(),
            spec.input_price.usd_per_million(),
            spec.output_price.usd_per_million(),
        );
    }
    out
}
