//! The gateway over two offline echo models, for trying it with `curl` and for load runs.
//!
//! `cargo run --release -p orkestra-server --example echo -- 127.0.0.1:8080`, then
//! `curl -s localhost:8080/v1/chat/completions -d '{"model":"auto","messages":[{"role":"user","content":"hi"}]}'`.
//! Stops on Ctrl-C, draining in-flight requests.

use std::sync::Arc;

use orkestra::Orchestrator;
use orkestra::config::ServerConfig;
use orkestra::models::{ModelId, ModelSpec};
use orkestra_providers::EchoBackend;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let orchestrator = Orchestrator::builder()
        .model(ModelSpec::new(ModelId::new("echo/small")?, 8_192))
        .model(ModelSpec::new(ModelId::new("echo/large")?, 131_072))
        .backend("echo", Arc::new(EchoBackend::new()))
        .build()?;
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!(
        "orkestra gateway (echo models) on http://{}",
        listener.local_addr()?
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    orkestra_server::serve(
        listener,
        orchestrator.clone(),
        ServerConfig::default(),
        shutdown,
    )
    .await?;
    orchestrator.shutdown().await;
    Ok(())
}
