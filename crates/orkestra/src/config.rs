//! `orkestra.toml`: one file for the server, storage, routing, resilience, providers and models.
//!
//! Every section is optional and has documented defaults (`docs/configuration.md` lists them
//! all); unknown keys are errors. Errors name the file, the line and the key, and say what was
//! expected. Secrets never appear in the file: a provider names the environment variable that
//! holds its key (`api_key_env`).
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
//! assert_eq!(config.providers["local"].kind, ProviderKind::Openai);
//! assert_eq!(config.storage.url, "sqlite://orkestra.db?mode=rwc");
//!
//! let error = Config::from_toml_str("[server]\nlisten = 8080\n", "orkestra.toml").unwrap_err();
//! assert!(error.to_string().starts_with("orkestra.toml: line 2"), "{error}");
//! # Ok::<(), orkestra::config::ConfigError>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use orkestra_models::{Constraints, ModelSpec, Strategy};
use orkestra_resilience::PipelineConfig;
use serde::{Deserialize, Serialize};

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
}

impl Default for ServerConfig {
    /// `listen = "127.0.0.1:8080"`, `body_limit = 2097152` (2 MiB, axum's default),
    /// `shutdown_grace = "30s"`.
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: 2 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(30),
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

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// OpenAI-compatible `/v1/chat/completions` (OpenAI, vLLM, llama.cpp, LM Studio, Groq, ...).
    Openai,
    /// Anthropic `/v1/messages`.
    Anthropic,
    /// Ollama `/api/chat`.
    Ollama,
    /// The built-in echo model: answers with the last user message, no network.
    Echo,
    /// The built-in simulator (`orkestra mock`), started in-process by the `orkestra` binary
    /// and spoken to over loopback HTTP; for demos and tests.
    Simulator,
}

impl ProviderKind {
    /// The name used in files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Anthropic => "anthropic",
            Self::Ollama => "ollama",
            Self::Echo => "echo",
            Self::Simulator => "simulator",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[providers.<name>]`: one model endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// The wire format.
    pub kind: ProviderKind,
    /// The API root: ending in `/v1` for `openai`, the server root for `anthropic` and
    /// `ollama`. Defaults to the public API of the kind (`https://api.openai.com/v1`,
    /// `https://api.anthropic.com`, `http://127.0.0.1:11434`).
    #[serde(default)]
    pub base_url: Option<String>,
    /// The environment variable holding the API key. `openai` without it sends no key
    /// (local servers); `anthropic` defaults to `ANTHROPIC_API_KEY`.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Extra headers on every request.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Resilience for every model of this provider, section by section over `[resilience]`.
    #[serde(default)]
    pub resilience: PipelineConfig,
    /// Simulated models (`kind = "simulator"` only), in `orkestra mock`'s format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulator: Option<toml::Table>,
}

impl ProviderConfig {
    /// A provider of `kind` with every other setting at its default.
    pub fn new(kind: ProviderKind) -> Self {
        Self {
            kind,
            base_url: None,
            api_key_env: None,
            headers: BTreeMap::new(),
            resilience: PipelineConfig::default(),
            simulator: None,
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
        let mut config = Self::from_toml_str(&text, &path.display().to_string())?;
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
        let config: Self = toml::from_str(text).map_err(|error| {
            let line = error.span().map(|span| line_of(text, span.start));
            ConfigError::Parse {
                origin: origin.to_owned(),
                line,
                message: error.message().trim_end().to_owned(),
            }
        })?;
        config.validate().map_err(|problem| ConfigError::Invalid {
            origin: origin.to_owned(),
            line: problem.key_line(text),
            key: problem.key,
            message: problem.message,
        })?;
        Ok(config)
    }

    /// The configuration as TOML.
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        toml::to_string_pretty(self).map_err(|error| ConfigError::Parse {
            origin: "(serialization)".to_owned(),
            line: None,
            message: error.to_string(),
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
            if provider.simulator.is_some() && provider.kind != ProviderKind::Simulator {
                return Err(Problem::new(
                    format!("providers.{name}.simulator"),
                    "only with `kind = \"simulator\"`",
                ));
            }
            if let Some(url) = &provider.base_url
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
            spec.validate().map_err(|error| {
                Problem::new(
                    format!("models.list[{index}].{}", error.field),
                    error.problem,
                )
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

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let prefix = text.get(..offset).unwrap_or(text);
    prefix.bytes().filter(|&byte| byte == b'\n').count() + 1
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

    /// The line that defines the key's last plain segment under its table, best effort: the
    /// first line that starts with that segment after the line that opens its table.
    fn key_line(&self, text: &str) -> Option<usize> {
        let segments: Vec<&str> = self
            .key
            .split('.')
            .map(|segment| segment.split('[').next().unwrap_or(segment))
            .collect();
        let (last, tables) = segments.split_last()?;
        let table = tables.join(".");
        let mut in_table = table.is_empty();
        for (number, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.starts_with('[') {
                let header = trimmed.trim_matches(|c| c == '[' || c == ']' || c == ' ');
                in_table = header == table || header.starts_with(&format!("{table}."));
                if header == format!("{table}.{last}") || (table.is_empty() && header == *last) {
                    return Some(number + 1);
                }
                continue;
            }
            if in_table
                && trimmed
                    .strip_prefix(*last)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            {
                return Some(number + 1);
            }
        }
        None
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
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not valid TOML, or a key is unknown or of the wrong type.
    #[error("{origin}: {}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Parse {
        /// The file name.
        origin: String,
        /// The line of the problem, when known.
        line: Option<usize>,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A value is out of range or refers to something that does not exist.
    #[error("{origin}: {}key `{key}`: expected {message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Invalid {
        /// The file name.
        origin: String,
        /// The line of the key, when it could be found.
        line: Option<usize>,
        /// The dotted key (`providers.openai.base_url`).
        key: String,
        /// What was expected.
        message: String,
    },
}

#[cfg(test)]
mod tests;
