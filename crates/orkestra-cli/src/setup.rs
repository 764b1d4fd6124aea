//! What several commands share: finding and loading the configuration, starting simulated
//! providers, building the orchestrator, logging and the shutdown signal.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use orkestra::config::{ClientConfig, Config, ConfigError, ProviderConfig, key_position};
use orkestra::core::{Located, Syntax, plain_words};
use orkestra::providers::OpenAiConfig;
use orkestra::{BuildError, Orchestrator, OrchestratorBuilder};
use orkestra_mock::{ConfigError as MockConfigError, MockConfig, MockServer, ModelBehaviour};

use crate::failure::Failure;

/// The built-in demo configuration: simulated models and an echo model, no network, no key.
pub(crate) const DEMO: &str = include_str!("demo.toml");

/// The file read when `--config` is not given, if it exists.
pub(crate) const DEFAULT_FILE: &str = "orkestra.toml";

/// Where the configuration came from, with its text, so a problem found after parsing (in a
/// simulator's table) is placed at its line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A file and what it holds.
    File {
        /// The file as the user named it.
        path: PathBuf,
        /// Its text.
        text: String,
    },
    /// The built-in demo.
    Demo,
}

impl Source {
    /// The configuration's text.
    pub(crate) fn text(&self) -> &str {
        match self {
            Self::File { text, .. } => text,
            Self::Demo => DEMO,
        }
    }

    /// A problem at `key` of this configuration, placed where the key is written.
    pub(crate) fn problem(&self, key: String, message: impl Into<String>) -> Located {
        let located = Located::new(self.to_string(), message);
        let located = match key_position(self.text(), &key) {
            Some(position) => located.at(position),
            None => located,
        };
        located.key(key)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File { path, .. } => write!(f, "{}", path.display()),
            Self::Demo => f.write_str("(built-in demo configuration)"),
        }
    }
}

/// A checked configuration and where it came from.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) config: Config,
    pub(crate) source: Source,
}

/// Loads `path`, else `./orkestra.toml` if it exists, else the demo; every error is a
/// configuration error (exit 2) naming the file and line.
pub(crate) fn load(path: Option<&Path>) -> Result<Loaded, Failure> {
    let path = path.map(Path::to_path_buf).or_else(|| {
        let default = PathBuf::from(DEFAULT_FILE);
        default.is_file().then_some(default)
    });
    match path {
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|source| {
                Failure::usage(ConfigError::Read {
                    path: path.clone(),
                    source,
                })
            })?;
            Ok(Loaded {
                config: Config::from_file_text(&text, &path).map_err(Failure::usage)?,
                source: Source::File { path, text },
            })
        }
        None => Ok(Loaded {
            config: Config::from_toml_str(DEMO, &Source::Demo.to_string())
                .map_err(Failure::usage)?,
            source: Source::Demo,
        }),
    }
}

/// The simulator configuration of provider `name`: its `simulator` table, or an echo model
/// for every name when it has none.
pub(crate) fn simulator_config(
    name: &str,
    provider: &ProviderConfig,
    source: &Source,
) -> Result<MockConfig, Failure> {
    let ClientConfig::Simulator(Some(table)) = &provider.client else {
        return Ok(MockConfig {
            default_model: Some(ModelBehaviour::echo("")),
            ..MockConfig::default()
        });
    };
    // The table was parsed as part of the configuration, so its problems are placed in the
    // configuration's text by their key.
    let table_key = format!("providers.{name}.simulator");
    let invalid = |key: Option<String>, message: String| {
        let key = key.map_or_else(|| table_key.clone(), |key| format!("{table_key}.{key}"));
        Failure::usage(source.problem(key, message))
    };
    let config: MockConfig = serde_path_to_error::deserialize(toml::Value::Table(table.clone()))
        .map_err(|error| {
            let key = error.path().to_string().replace(".?", "");
            let key = (key != "." && key != "?").then_some(key);
            invalid(key, plain_words(error.inner().message(), Syntax::Toml))
        })?;
    config.validate().map_err(|error| match error {
        MockConfigError::Invalid { path, message } => invalid(Some(path), message),
        other => invalid(None, other.to_string()),
    })?;
    Ok(config)
}

/// The simulators started for providers of kind `simulator`, by provider name.
#[derive(Debug, Default)]
pub(crate) struct Simulators {
    pub(crate) running: Vec<(String, MockServer)>,
}

impl Simulators {
    /// Whether provider `name` is simulated.
    pub(crate) fn is_simulated(&self, name: &str) -> bool {
        self.running.iter().any(|(provider, _)| provider == name)
    }

    /// Stops every simulator, letting answers under way finish.
    pub(crate) async fn shutdown(self) {
        for (_, server) in self.running {
            server.shutdown().await;
        }
    }
}

/// Starts an in-process simulator for every provider of kind `simulator` and points the
/// provider at it, as kind `openai`, so the orchestrator speaks to it like to any server.
pub(crate) async fn start_simulators(
    config: &mut Config,
    source: &Source,
) -> Result<Simulators, Failure> {
    let mut simulators = Simulators::default();
    for (name, provider) in &mut config.providers {
        if !matches!(provider.client, ClientConfig::Simulator(_)) {
            continue;
        }
        let mock = simulator_config(name, provider, source)?;
        let server = MockServer::start(mock)
            .await
            .with_context(|| format!("cannot start the simulator of provider `{name}`"))?;
        provider.client = ClientConfig::Openai(OpenAiConfig::local(
            name.clone(),
            format!("{}/v1", server.base_url()),
        ));
        simulators.running.push((name.clone(), server));
    }
    Ok(simulators)
}

/// Replaces simulated providers by echo backends, for commands that never call a model
/// (`route`, `models`): the registry and the ranking are the same, and nothing is started.
pub(crate) fn without_simulators(config: &mut Config, source: &Source) -> Result<(), Failure> {
    for (name, provider) in &mut config.providers {
        if matches!(provider.client, ClientConfig::Simulator(_)) {
            // Check the table anyway, so `route` reports the error `serve` would.
            simulator_config(name, provider, source)?;
            provider.client = ClientConfig::Echo;
        }
    }
    Ok(())
}

/// An orchestrator without a store, for commands that only read the registry.
pub(crate) fn orchestrator_without_store(
    config: &Config,
    source: &Source,
) -> Result<Orchestrator, Failure> {
    OrchestratorBuilder::from_config(config)
        .and_then(OrchestratorBuilder::build)
        .map_err(|error| build_failure(&error, source))
}

/// The orchestrator of `config`, with its store.
pub(crate) async fn orchestrator(
    config: &Config,
    source: &Source,
) -> Result<Orchestrator, Failure> {
    Orchestrator::from_config(config)
        .await
        .map_err(|error| build_failure(&error, source))
}

/// A store that cannot be opened may work later (exit 1); anything else is the file's fault.
fn build_failure(error: &BuildError, source: &Source) -> Failure {
    let runtime = matches!(error, BuildError::Store(_) | BuildError::NoRuntime);
    let error = anyhow!("{source}: {error}");
    if runtime {
        Failure::runtime(error)
    } else {
        Failure::usage(error)
    }
}

/// `storage.url` with any password replaced, for printing.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:*****{}", &rest[at..]),
        None => url.to_owned(),
    }
}

/// Logs to standard error, filtered by `RUST_LOG`, else at `default` (`warn`, `info`).
pub(crate) fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // A second initialisation (only possible in tests) is harmless, so its error is ignored.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Completes on Ctrl-C or, on Unix, SIGTERM.
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    eprintln!("shutting down: finishing requests under way");
}
