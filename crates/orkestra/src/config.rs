//! `orkestra.toml`: one file for the server, storage, routing, resilience, providers and models.
//!
//! Every section is optional and has documented defaults (`docs/configuration.md` lists them
//! all); unknown keys are errors. Errors are [`Located`]: `FILE:LINE:COLUMN: KEY: what was
//! expected`, in plain words. Secrets never appear in the file: a provider names the environment
//! variable that holds its key (`api_key_env`). A provider's table holds its kind's client
//! configuration as that client defines it ([`ClientConfig`]); a key another kind's client has
//! is refused.
//!
//! ```
//! use orkestra::config::{Config, ProviderKind};
//!
//! let config = Config::from_toml_str(
//!     r#"
//!     [providers.local]
//!     kind = "openai"
//!     base_url = "http://127.0.0.1:8000/v1"
//!
//!     [models]
//!     catalog = "none"
//!
//!     [[models.list]]
//!     id = "local/qwen2.5-coder"
//!     context_window = 32768
//!     max_output_tokens = 4096
//!     "#,
//!     "orkestra.toml",
//! )?;
//! assert_eq!(config.providers["local"].kind(), ProviderKind::Openai);
//! assert_eq!(config.storage.url, "sqlite://orkestra.db?mode=rwc");
//!
//! let error = Config::from_toml_str("[server]\nlisten = 8080\n", "orkestra.toml").unwrap_err();
//! assert_eq!(
//!     error.to_string(),
//!     "orkestra.toml:2:10: server.listen: expected an address such as 127.0.0.1:8080, got the number 8080"
//! );
//! # Ok::<(), orkestra::config::ConfigError>(())
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use orkestra_core::{Located, Position, Syntax};
use orkestra_models::{Constraints, ModelSpec, Strategy};
use orkestra_resilience::PipelineConfig;
use serde::{Deserialize, Serialize};

mod provider;

pub use provider::{ClientConfig, ProviderConfig, ProviderKind};

/// The whole of `orkestra.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The HTTP gateway.
    pub server: ServerConfig,
    /// Where statistics and the cost ledger are kept.
    pub storage: StorageConfig,
    /// How requests are routed and how the fallback chain is walked.
    pub routing: RoutingConfig,
    /// Resilience around every model endpoint, overridable per provider and per model.
    pub resilience: PipelineConfig,
    /// Model endpoints by name: the provider part of a model id (`openai` in `openai/gpt-4o`)
    /// or a model's `endpoint`.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Which models exist.
    pub models: ModelsConfig,
}

/// `[server]`: the HTTP gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The largest request body accepted, in bytes.
    pub body_limit: usize,
    /// How long shutdown waits for in-flight requests to finish.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// How long a client has to send a request's headers: from the first byte of a request,
    /// or from the moment a new connection is accepted. A connection that has not sent them by
    /// then is closed.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// How long a client has to send a request's body once its headers arrived; a body that
    /// is still arriving then is answered `408`.
    #[serde(with = "humantime_serde")]
    pub body_read_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request before it is closed.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// The most client connections open at once; beyond it, new connections wait in the
    /// operating system's queue until one closes.
    pub max_connections: usize,
    /// How many threads serve connections in `orkestra serve`, each with a single-threaded
    /// runtime of its own; `0` means one per CPU the process may use.
    pub workers: usize,
}

impl Default for ServerConfig {
    /// `listen = "127.0.0.1:8080"`, `body_limit = 2097152` (2 MiB, axum's default),
    /// `shutdown_grace = "30s"`, `header_read_timeout = "10s"`, `body_read_timeout = "30s"`,
    /// `idle_timeout = "75s"` (longer than the 60 s of common load balancers, so the proxy in
    /// front closes an idle connection first and never sends on one the gateway just closed),
    /// `max_connections = 4096`, `workers = 0` (one per CPU).
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: 2 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            max_connections: 4_096,
            workers: 0,
        }
    }
}

/// `[storage]`: the database behind statistics and the cost ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// `sqlite://path?mode=rwc` (created if missing), a plain file path, `sqlite::memory:`, or
    /// `postgres://user@host/db`. A password in a URL is never logged.
    pub url: String,
    /// How often recorded charges and statistics are written to the database; they are also
    /// written at shutdown.
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
    /// The most charges kept in memory while the database cannot take them; beyond it new
    /// charges are dropped (counted, logged and shown by `/readyz`) rather than filling memory.
    pub max_pending: usize,
}

impl Default for StorageConfig {
    /// `url = "sqlite://orkestra.db?mode=rwc"` (a file beside the working directory),
    /// `flush_interval = "1s"`, `max_pending = 100000` (about 20 MB of charges; over a minute
    /// of an outage at 1,000 requests a second).
    fn default() -> Self {
        Self {
            url: "sqlite://orkestra.db?mode=rwc".to_owned(),
            flush_interval: Duration::from_secs(1),
            max_pending: 100_000,
        }
    }
}

/// What the router does when a model refuses content.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentFilterAction {
    /// Try the next model: another provider's policy may allow the request.
    #[default]
    Fallback,
    /// Return the refusal to the caller at once.
    Fail,
}

/// `[routing]`: the default strategy and constraints, and how far a fallback chain goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingConfig {
    /// The strategy of `"model": "auto"`: `quality`, `cost`, `speed`, `balanced` or `local_first`.
    pub strategy: Strategy,
    /// Hard limits applied to every automatic selection.
    pub constraints: Constraints,
    /// The most models one request may try, the first included.
    pub max_models: usize,
    /// The longest a request waits for a rate-limited or overloaded model's `retry_after`
    /// when no other model can answer sooner.
    #[serde(with = "humantime_serde")]
    pub max_retry_wait: Duration,
    /// What a content-filter refusal does.
    pub content_filter: ContentFilterAction,
    /// The longest a request may take, every attempt, retry and wait included; a request's
    /// `x-orkestra-deadline-ms` header may lower it. For a stream it covers the wait for the
    /// first token.
    #[serde(with = "humantime_serde")]
    pub deadline: Duration,
}

impl Default for RoutingConfig {
    /// `strategy = "balanced"`, no constraints, `max_models = 4`, `max_retry_wait = "10s"`,
    /// `content_filter = "fallback"`, `deadline = "120s"` (two attempts at the default 60 s
    /// timeout).
    fn default() -> Self {
        Self {
            strategy: Strategy::Balanced,
            constraints: Constraints::default(),
            max_models: 4,
            max_retry_wait: Duration::from_secs(10),
            content_filter: ContentFilterAction::Fallback,
            deadline: Duration::from_mins(2),
        }
    }
}

/// `[models]`: the registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelsConfig {
    /// `"builtin"`, `"none"` or the path of a registry file.
    pub catalog: String,
    /// Models defined here (`[[models.list]]`, the `ModelSpec` fields); a model with the id of a
    /// catalog model replaces it.
    pub list: Vec<ModelSpec>,
    /// Fallbacks of a model asked for by name: `"openai/gpt-4o" = ["anthropic/claude-sonnet-4"]`.
    /// Without an entry, a named model has no fallback; `auto` always walks the ranking.
    pub fallbacks: BTreeMap<String, Vec<String>>,
    /// Resilience per model id, section by section over its provider's.
    pub resilience: BTreeMap<String, PipelineConfig>,
}

impl Default for ModelsConfig {
    /// `catalog = "builtin"`, no extra models, no fallbacks, no per-model resilience.
    fn default() -> Self {
        Self {
            catalog: "builtin".to_owned(),
            list: Vec::new(),
            fallbacks: BTreeMap::new(),
            resilience: BTreeMap::new(),
        }
    }
}

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_file_text(&text, path)
    }

    /// Parses and checks `text`, read from `path` (which names it in errors); a relative
    /// `models.catalog` is made relative to the file's folder.
    pub fn from_file_text(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut config = Self::from_toml_str(text, &path.display().to_string())?;
        // A relative catalog path is relative to the file that names it.
        if let Some(dir) = path.parent()
            && !matches!(config.models.catalog.as_str(), "builtin" | "none")
            && Path::new(&config.models.catalog).is_relative()
        {
            config.models.catalog = dir.join(&config.models.catalog).display().to_string();
        }
        Ok(config)
    }

    /// Parses and checks TOML text; `origin` names it in errors (a file name).
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ConfigError> {
        provider::check_client_keys(text, origin).map_err(ConfigError::Parse)?;
        let config: Self = parse_toml(text, origin).map_err(ConfigError::Parse)?;
        config
            .validate()
            .map_err(|problem| ConfigError::Invalid(problem.locate(text, origin)))?;
        Ok(config)
    }

    /// The configuration as TOML.
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        toml::to_string_pretty(self).map_err(|error| {
            ConfigError::Parse(Located::new(
                "(the configuration as TOML)",
                error.to_string(),
            ))
        })
    }

    /// Checks what serde cannot: every policy's bounds, references between sections.
    fn validate(&self) -> Result<(), Problem> {
        if self.server.body_limit == 0 {
            return Err(Problem::new(
                "server.body_limit",
                "a positive number of bytes",
            ));
        }
        for (key, timeout) in [
            (
                "server.header_read_timeout",
                self.server.header_read_timeout,
            ),
            ("server.body_read_timeout", self.server.body_read_timeout),
            ("server.idle_timeout", self.server.idle_timeout),
        ] {
            if timeout.is_zero() {
                return Err(Problem::new(
                    key,
                    "a duration longer than zero, such as \"10s\"",
                ));
            }
        }
        if self.server.max_connections == 0 {
            return Err(Problem::new("server.max_connections", "at least 1"));
        }
        if self.routing.max_models == 0 {
            return Err(Problem::new("routing.max_models", "at least 1"));
        }
        if self.routing.deadline.is_zero() {
            return Err(Problem::new(
                "routing.deadline",
                "a duration above zero, such as \"60s\"",
            ));
        }
        if self.storage.max_pending == 0 {
            return Err(Problem::new(
                "storage.max_pending",
                "at least 1 charge (a bound on what waits for the database)",
            ));
        }
        self.resilience
            .validate_sections()
            .map_err(|e| Problem::new(format!("resilience.{}", e.0), e.1))?;
        for (name, provider) in &self.providers {
            if name.is_empty() || name.contains('/') {
                return Err(Problem::new(
                    format!("providers.{name}"),
                    "a provider name without `/` (it is the first part of model ids)",
                ));
            }
            provider
                .resilience
                .validate_sections()
                .map_err(|e| Problem::new(format!("providers.{name}.resilience.{}", e.0), e.1))?;
            if let Some(url) = provider.base_url()
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                return Err(Problem::new(
                    format!("providers.{name}.base_url"),
                    format!("an http:// or https:// URL, got `{url}`"),
                ));
            }
        }
        if self.models.catalog.is_empty() {
            return Err(Problem::new(
                "models.catalog",
                "`builtin`, `none` or the path of a registry file",
            ));
        }
        for (index, spec) in self.models.list.iter().enumerate() {
            spec.validate().map_err(|error| match error {
                orkestra_models::Error::InvalidSpec { field, problem, .. } => {
                    Problem::new(format!("models.list[{index}].{field}"), problem)
                }
                other => Problem::new(format!("models.list[{index}]"), other.to_string()),
            })?;
            if !self.providers.contains_key(spec.endpoint()) {
                return Err(Problem::new(
                    format!("models.list[{index}]"),
                    format!(
                        "model `{}` is served by `{}`, which is not a configured provider (add [providers.{}])",
                        spec.id,
                        spec.endpoint(),
                        spec.endpoint()
                    ),
                ));
            }
        }
        for (model, resilience) in &self.models.resilience {
            resilience
                .validate_sections()
                .map_err(|e| Problem::new(format!("models.resilience.\"{model}\".{}", e.0), e.1))?;
        }
        Ok(())
    }
}

/// Reads TOML `text` as a `T`; a problem is placed at its line and column and names its key,
/// in plain words. `origin` names the text (a file name).
pub fn parse_toml<'de, T: Deserialize<'de>>(text: &'de str, origin: &str) -> Result<T, Located> {
    let located = |error: &toml::de::Error, key: Option<String>| {
        let located = Located::parsed(
            origin,
            text,
            error.span().map(|span| span.start),
            error.message(),
            Syntax::Toml,
        );
        match key {
            Some(key) => located.key(key),
            None => located,
        }
    };
    let deserializer =
        toml::de::Deserializer::parse(text).map_err(|error| located(&error, None))?;
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        // `.` is the whole document, a problem there names no key; a segment serde could not
        // name (`?`, inside a value that failed to parse) is left out.
        let key = error.path().to_string().replace(".?", "");
        located(error.inner(), (key != "." && key != "?").then_some(key))
    })
}

/// Where `key` is written in TOML `text`: a dotted key with `[index]` for an array of tables and
/// `"quoted"` segments (`models.list[1].context_window`,
/// `models.resilience."openai/gpt-4o".timeout`). When only the start of the key is written, the
/// deepest part of it that is; `None` when nothing of it is, or the text is not TOML.
pub fn key_position(text: &str, key: &str) -> Option<Position> {
    let root = toml::de::DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
    let mut found = None;
    for (name, indices) in key_segments(key) {
        let Some((written, mut value)) = table
            .iter()
            .find(|(written, _)| **written.get_ref() == *name)
        else {
            break;
        };
        found = Some(written.span().start);
        for index in indices {
            let Some(element) = value.get_ref().get(index) else {
                return found.map(|offset| Position::of_offset(text, offset));
            };
            found = Some(element.span().start);
            value = element;
        }
        match value.get_ref().as_table() {
            Some(inner) => table = inner,
            None => break,
        }
    }
    found.map(|offset| Position::of_offset(text, offset))
}

/// The segments of a dotted key: each name with the indices that follow it.
fn key_segments(key: &str) -> Vec<(String, Vec<usize>)> {
    let mut segments = Vec::new();
    let mut chars = key.chars().peekable();
    while chars.peek().is_some() {
        let mut name = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            name.extend(chars.by_ref().take_while(|&c| c != '"'));
        } else {
            while let Some(&c) = chars.peek() {
                if c == '.' || c == '[' {
                    break;
                }
                name.push(c);
                chars.next();
            }
        }
        let mut indices = Vec::new();
        while chars.peek() == Some(&'[') {
            chars.next();
            let digits: String = chars.by_ref().take_while(|&c| c != ']').collect();
            if let Ok(index) = digits.parse() {
                indices.push(index);
            }
        }
        if chars.peek() == Some(&'.') {
            chars.next();
        }
        segments.push((name, indices));
    }
    segments
}

/// A semantic problem found after parsing: the dotted key and what was expected.
struct Problem {
    key: String,
    message: String,
}

impl Problem {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The problem in `origin`, placed where its key is written in `text`.
    fn locate(self, text: &str, origin: &str) -> Located {
        let located = Located::new(origin, format!("expected {}", self.message));
        let located = match key_position(text, &self.key) {
            Some(position) => located.at(position),
            None => located,
        };
        located.key(self.key)
    }
}

/// Checks a [`PipelineConfig`] section by section, naming the section.
trait ValidateSections {
    fn validate_sections(&self) -> Result<(), (String, String)>;
}

impl ValidateSections for PipelineConfig {
    fn validate_sections(&self) -> Result<(), (String, String)> {
        orkestra_resilience::Pipeline::from_config("validate", self)
            .map(drop)
            .map_err(|error| (error.field.to_owned(), error.expected))
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read; the reason is the source.
    #[error("{}: cannot read the file", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not valid TOML, or a key is unknown or of the wrong type.
    #[error(transparent)]
    Parse(Located),
    /// A value is out of range or refers to something that does not exist.
    #[error(transparent)]
    Invalid(Located),
}

impl ConfigError {
    /// Where in the file the problem is, when it is about the file's text.
    pub fn located(&self) -> Option<&Located> {
        match self {
            Self::Read { .. } => None,
            Self::Parse(located) | Self::Invalid(located) => Some(located),
        }
    }
}

#[cfg(test)]
mod tests;
