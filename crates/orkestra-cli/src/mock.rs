//! `orkestra mock`: the simulator alone.

use std::io::Write as _;

use anyhow::Context as _;
use orkestra_mock::{MockConfig, MockServer, ModelBehaviour};
use tokio::net::TcpListener;

use crate::cli::MockArgs;
use crate::failure::Failure;
use crate::setup;

/// Serves the simulator on 127.0.0.1 until Ctrl-C or SIGTERM.
pub(crate) async fn run(args: MockArgs) -> Result<(), Failure> {
    let config = match &args.config {
        Some(path) => MockConfig::from_file(path).map_err(Failure::usage)?,
        None => MockConfig {
            default_model: Some(ModelBehaviour::echo("")),
            ..MockConfig::default()
        },
    };
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on http://{}", listener.local_addr()?)?;
    let names: Vec<&str> = config
        .models
        .iter()
        .map(|model| model.name.as_str())
        .collect();
    if !names.is_empty() {
        writeln!(stdout, "simulated models: {}", names.join(", "))?;
    }
    if config.default_model.is_some() {
        let which = if names.is_empty() {
            "every"
        } else {
            "any other"
        };
        writeln!(stdout, "{which} model name: answered by the default model")?;
    }
    stdout.flush()?;
    drop(stdout);
    MockServer::run(listener, config, setup::shutdown_signal())
        .await
        .context("the simulator stopped with an error")?;
    Ok(())
}
