//! The command line: every command, argument and help text, as clap derive types.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use orkestra::models::Strategy;

/// Shown after `orkestra --help`; the crate README repeats it.
const AFTER_HELP: &str = "\
Configuration: --config FILE, else ./orkestra.toml if it exists, else the built-in demo
(simulated models and an echo model: no network, no key). `orkestra init` writes a
commented starting point; docs/configuration.md describes every key.

Logs go to standard error; set RUST_LOG (for example RUST_LOG=debug) to see more.

Exit codes:
  0  success
  1  runtime failure (no model answered, a port or database could not be opened, I/O)
  2  usage or configuration error (bad arguments, an invalid configuration file as
     FILE:LINE:COLUMN: KEY: what was expected, an unknown model, a file that `init`
     would overwrite)";

/// Put one orchestrator in front of your language models.
#[derive(Debug, Parser)]
#[command(
    name = "orkestra",
    version,
    about = "Route each request to the right language model, call it with retries, circuit breakers and fallback, and serve an OpenAI-compatible API.",
    after_help = AFTER_HELP,
    propagate_version = true
)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Serve the OpenAI-compatible gateway (POST /v1/chat/completions, GET /v1/models,
    /// POST /v1/route, /healthz, /readyz).
    ///
    /// The first line printed is `listening on http://ADDR`. Providers of kind `simulator`
    /// are started in-process and labelled "simulated". Ctrl-C or SIGTERM stops accepting,
    /// lets requests under way finish, then writes pending statistics and charges.
    Serve(ServeArgs),
    /// Explain which models would answer a prompt, in order, and why; calls no model.
    Route(RouteArgs),
    /// Send one prompt through the orchestrator in this process (no server needed) and print
    /// the answer; the model that answered and every attempt go to standard error.
    Chat(ChatArgs),
    /// List, export and import model catalogs.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Run the model simulator alone (OpenAI, Anthropic and Ollama wire formats) on loopback.
    ///
    /// The first line printed is `listening on http://127.0.0.1:PORT`. Without --config every
    /// model name is answered by an echo model with no latency.
    Mock(MockArgs),
    /// Write a commented example configuration that documents every section.
    Init(InitArgs),
}

/// Where the configuration comes from.
#[derive(Debug, Clone, Args)]
pub(crate) struct ConfigArg {
    /// The configuration file [default: ./orkestra.toml if it exists, else the built-in demo]
    #[arg(long, short, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

/// `orkestra serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The address to listen on, overriding `server.listen` (port 0 picks a free port)
    #[arg(long, short, value_name = "ADDR")]
    pub(crate) listen: Option<SocketAddr>,
}

/// `orkestra route`.
#[derive(Debug, Args)]
pub(crate) struct RouteArgs {
    /// The prompt to route, as a user message
    #[arg(value_parser = prompt)]
    pub(crate) prompt: String,
    /// The strategy [default: `routing.strategy` of the configuration]
    #[arg(long, short, value_enum)]
    pub(crate) strategy: Option<StrategyArg>,
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// Print the selection as JSON
    #[arg(long)]
    pub(crate) json: bool,
}

/// `orkestra chat`.
#[derive(Debug, Args)]
pub(crate) struct ChatArgs {
    /// The prompt, sent as a user message
    #[arg(value_parser = prompt)]
    pub(crate) prompt: String,
    /// A model id or alias, `auto`, or `auto:<strategy>` (cost, quality, speed, balanced, local)
    #[arg(long, short, default_value = "auto")]
    pub(crate) model: String,
    /// Print the answer as it is generated
    #[arg(long)]
    pub(crate) stream: bool,
    #[command(flatten)]
    pub(crate) config: ConfigArg,
}

/// `orkestra models ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ModelsCommand {
    /// List the models of the configuration: id, endpoint, context window, prices, deployment.
    List(ModelsListArgs),
    /// Write the configuration's models as a catalog file (the format `models.catalog` reads).
    Export(ModelsExportArgs),
    /// Check a catalog file, or convert LiteLLM's `model_prices_and_context_window.json` into one.
    Import(ModelsImportArgs),
}

/// `orkestra models list`.
#[derive(Debug, Args)]
pub(crate) struct ModelsListArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// Print JSON instead of a table
    #[arg(long)]
    pub(crate) json: bool,
}

/// `orkestra models export`.
#[derive(Debug, Args)]
pub(crate) struct ModelsExportArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The format [default: from the --output extension, else json]
    #[arg(long, short, value_enum)]
    pub(crate) format: Option<CatalogFormat>,
    /// The file to write [default: standard output]
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

/// `orkestra models import`.
#[derive(Debug, Args)]
pub(crate) struct ModelsImportArgs {
    /// The file to read: a catalog (.toml or .json), or LiteLLM's price JSON with --litellm
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// Read FILE as LiteLLM's `model_prices_and_context_window.json`
    #[arg(long)]
    pub(crate) litellm: bool,
    /// Write the checked catalog here, in the format its extension names (.toml or .json)
    /// [default: with --litellm, TOML on standard output; else only check]
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

/// `orkestra mock`.
#[derive(Debug, Args)]
pub(crate) struct MockArgs {
    /// The port on 127.0.0.1; 0 picks a free one
    #[arg(long, short, default_value_t = 0)]
    pub(crate) port: u16,
    /// A simulator configuration (TOML, or JSON when the name ends in .json), the format of
    /// a `[providers.NAME.simulator]` table
    #[arg(long, short, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

/// `orkestra init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The file to write
    #[arg(long, short, value_name = "FILE", default_value = "orkestra.toml")]
    pub(crate) output: PathBuf,
    /// Overwrite the file if it exists
    #[arg(long)]
    pub(crate) force: bool,
}

/// A prompt with something in it: an empty one would be routed and answered as if it meant
/// something, so it is a usage error (exit 2) instead.
fn prompt(text: &str) -> Result<String, &'static str> {
    if text.trim().is_empty() {
        Err("the prompt is empty: give the text to send, such as \"Write a haiku about routers\"")
    } else {
        Ok(text.to_owned())
    }
}

/// A routing strategy as spelled on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum StrategyArg {
    /// The cheapest adequate model
    Cost,
    /// The best model for the task, cost aside
    Quality,
    /// The fastest adequate model
    Speed,
    /// A balance of quality, cost and speed
    Balanced,
    /// Local models while one qualifies
    Local,
}

impl From<StrategyArg> for Strategy {
    fn from(strategy: StrategyArg) -> Self {
        match strategy {
            StrategyArg::Cost => Self::Cost,
            StrategyArg::Quality => Self::Quality,
            StrategyArg::Speed => Self::Speed,
            StrategyArg::Balanced => Self::Balanced,
            StrategyArg::Local => Self::LocalFirst,
        }
    }
}

/// A catalog file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CatalogFormat {
    /// JSON, `{"models": [...]}`
    Json,
    /// TOML, one `[[models]]` table per model
    Toml,
}
