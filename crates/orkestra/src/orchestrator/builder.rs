//! Building an [`Orchestrator`]: by hand with [`OrchestratorBuilder`], or from `orkestra.toml`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use orkestra_core::{ChatBackend, Clock};
use orkestra_models::stats::StatsConfig;
use orkestra_models::store::Store;
use orkestra_models::{CostLedger, ModelRegistry, ModelSpec, PerfStats, Scorer, TaskAnalyzer};
use orkestra_resilience::PipelineConfig;
use rustc_hash::FxHashMap;

use super::{Inner, Orchestrator};
use crate::config::RoutingConfig;
use crate::recorder::Recorder;

/// Resilience settings at three levels; the most specific section wins.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResilienceLevels {
    pub(crate) default: PipelineConfig,
    pub(crate) providers: HashMap<String, PipelineConfig>,
    pub(crate) models: HashMap<String, PipelineConfig>,
}

impl ResilienceLevels {
    /// The effective settings of one model: section by section, the model's, else its
    /// provider's, else the default's, else the recommended ones.
    pub(crate) fn for_model(&self, model: &str, endpoint: &str) -> PipelineConfig {
        let mut effective = PipelineConfig::recommended();
        for level in [
            Some(&self.default),
            self.providers.get(endpoint),
            self.models.get(model),
        ]
        .into_iter()
        .flatten()
        {
            overlay(&mut effective.retry, level.retry.as_ref());
            overlay(&mut effective.rate_limit, level.rate_limit.as_ref());
            overlay(&mut effective.bulkhead, level.bulkhead.as_ref());
            overlay(
                &mut effective.circuit_breaker,
                level.circuit_breaker.as_ref(),
            );
            overlay(&mut effective.timeout, level.timeout.as_ref());
        }
        effective
    }
}

fn overlay<T: Clone>(base: &mut Option<T>, level: Option<&T>) {
    if let Some(level) = level {
        *base = Some(level.clone());
    }
}

/// Builds an [`Orchestrator`].
///
/// ```
/// use std::sync::Arc;
/// use orkestra::Orchestrator;
/// use orkestra::models::{ModelId, ModelSpec};
/// use orkestra::providers::EchoBackend;
///
/// let orchestrator = Orchestrator::builder()
///     .model(ModelSpec::new(ModelId::new("echo/echo")?, 8_192))
///     .backend("echo", Arc::new(EchoBackend::new()))
///     .build()?;
/// assert_eq!(orchestrator.registry().snapshot().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default)]
pub struct OrchestratorBuilder {
    models: Vec<ModelSpec>,
    backends: FxHashMap<Arc<str>, Arc<dyn ChatBackend>>,
    routing: RoutingConfig,
    resilience: ResilienceLevels,
    fallbacks: HashMap<String, Vec<String>>,
    store: Option<(Store, Duration, usize)>,
    stats: Option<Arc<PerfStats>>,
    ledger: Option<Arc<CostLedger>>,
    scorer: Scorer,
    clock: Option<Arc<dyn Clock>>,
}

impl std::fmt::Debug for OrchestratorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrchestratorBuilder")
            .field("models", &self.models.len())
            .field("backends", &self.backends.keys().collect::<Vec<_>>())
            .field("routing", &self.routing)
            .finish_non_exhaustive()
    }
}

impl OrchestratorBuilder {
    /// Adds a model; a later model with the same id replaces an earlier one.
    #[must_use]
    pub fn model(mut self, spec: ModelSpec) -> Self {
        self.models.retain(|known| known.id != spec.id);
        self.models.push(spec);
        self
    }

    /// Adds models.
    #[must_use]
    pub fn models(self, specs: impl IntoIterator<Item = ModelSpec>) -> Self {
        specs.into_iter().fold(self, Self::model)
    }

    /// Serves the models of endpoint `name` (the provider part of their ids, or their
    /// `endpoint`) with `backend`.
    #[must_use]
    pub fn backend(mut self, name: impl Into<String>, backend: Arc<dyn ChatBackend>) -> Self {
        self.backends.insert(Arc::from(name.into()), backend);
        self
    }

    /// Routing settings.
    #[must_use]
    pub fn routing(mut self, routing: RoutingConfig) -> Self {
        self.routing = routing;
        self
    }

    /// Resilience for every model (over the recommended settings, section by section).
    #[must_use]
    pub fn resilience(mut self, config: PipelineConfig) -> Self {
        self.resilience.default = config;
        self
    }

    /// Resilience for every model of one endpoint.
    #[must_use]
    pub fn provider_resilience(
        mut self,
        endpoint: impl Into<String>,
        config: PipelineConfig,
    ) -> Self {
        self.resilience.providers.insert(endpoint.into(), config);
        self
    }

    /// Resilience for one model.
    #[must_use]
    pub fn model_resilience(mut self, model: impl Into<String>, config: PipelineConfig) -> Self {
        self.resilience.models.insert(model.into(), config);
        self
    }

    /// The models tried, in order, after `model` when it is asked for by name and fails.
    #[must_use]
    pub fn fallbacks(mut self, model: impl Into<String>, fallbacks: Vec<String>) -> Self {
        self.fallbacks.insert(model.into(), fallbacks);
        self
    }

    /// Persists charges and statistics to `store`, every `flush_interval`, keeping at most
    /// [`StorageConfig::max_pending`](crate::config::StorageConfig::max_pending) charges (the
    /// default, 100,000) while the store cannot take them; see
    /// [`store_with_bound`](Self::store_with_bound).
    #[must_use]
    pub fn store(self, store: Store, flush_interval: Duration) -> Self {
        let max_pending = crate::config::StorageConfig::default().max_pending;
        self.store_with_bound(store, flush_interval, max_pending)
    }

    /// Persists charges and statistics to `store`, every `flush_interval`; while the store
    /// cannot take them, at most `max_pending` charges wait in memory and later ones are
    /// dropped, counted and logged ([`Orchestrator::recording`]).
    #[must_use]
    pub fn store_with_bound(
        mut self,
        store: Store,
        flush_interval: Duration,
        max_pending: usize,
    ) -> Self {
        self.store = Some((store, flush_interval, max_pending.max(1)));
        self
    }

    /// The clock every policy reads: circuit breakers, rate limiters and retry budgets, such
    /// as a [`ManualClock`](orkestra_core::ManualClock) in tests. Waits (backoff,
    /// `Retry-After`, timeouts, the deadline) run on tokio's timer, which
    /// `tokio::time::pause` controls. Without it each policy reads its production clock.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Shares these statistics (restored from a store, or read elsewhere).
    #[must_use]
    pub fn stats(mut self, stats: Arc<PerfStats>) -> Self {
        self.stats = Some(stats);
        self
    }

    /// Shares this ledger.
    #[must_use]
    pub fn ledger(mut self, ledger: Arc<CostLedger>) -> Self {
        self.ledger = Some(ledger);
        self
    }

    /// Ranks with this scorer.
    #[must_use]
    pub fn scorer(mut self, scorer: Scorer) -> Self {
        self.scorer = scorer;
        self
    }

    /// The orchestrator. With a store, it must be called inside a tokio runtime (the writer
    /// task starts on it).
    pub fn build(self) -> Result<Orchestrator, BuildError> {
        let registry = ModelRegistry::from_specs(self.models).map_err(BuildError::Registry)?;
        let snapshot = registry.snapshot();
        for (model, fallbacks) in &self.fallbacks {
            for name in std::iter::once(model).chain(fallbacks) {
                if snapshot.get(name).is_none() {
                    return Err(BuildError::UnknownModel {
                        key: format!("models.fallbacks.\"{model}\""),
                        model: name.clone(),
                    });
                }
            }
        }
        for (key, config) in std::iter::once((&"(default)".to_owned(), &self.resilience.default))
            .chain(&self.resilience.providers)
            .chain(&self.resilience.models)
        {
            orkestra_resilience::Pipeline::from_config("check", config).map_err(|source| {
                BuildError::Resilience {
                    scope: key.clone(),
                    source,
                }
            })?;
        }
        // Fallbacks are keyed by model id, whatever name the configuration used.
        let fallbacks = self
            .fallbacks
            .into_iter()
            .filter_map(|(model, chain)| Some((snapshot.get(&model)?.id.to_string(), chain)))
            .collect();
        let stats = self
            .stats
            .unwrap_or_else(|| Arc::new(PerfStats::new(StatsConfig::default())));
        let recorder = match self.store {
            Some((store, interval, max_pending)) => {
                if tokio::runtime::Handle::try_current().is_err() {
                    return Err(BuildError::NoRuntime);
                }
                Some(Recorder::start(
                    store,
                    Arc::clone(&stats),
                    interval,
                    max_pending,
                ))
            }
            None => None,
        };
        Ok(Orchestrator {
            inner: Arc::new(Inner {
                registry,
                analyzer: TaskAnalyzer::new(),
                scorer: self.scorer,
                stats,
                ledger: self.ledger.unwrap_or_default(),
                routing: self.routing,
                fallbacks,
                backends: self.backends,
                resilience: self.resilience,
                policies: RwLock::new(FxHashMap::default()),
                clock: self.clock,
                recorder,
            }),
        })
    }
}

/// Why an orchestrator could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Two models share an id or alias, or a spec is invalid.
    #[error("models: {0}")]
    Registry(#[source] orkestra_models::Error),
    /// A fallback names a model that does not exist.
    #[error("{key}: no model `{model}` (see `orkestra models list`)")]
    UnknownModel {
        /// The configuration key.
        key: String,
        /// The unknown name.
        model: String,
    },
    /// A resilience section cannot work.
    #[error("resilience of {scope}: {source}")]
    Resilience {
        /// `(default)`, an endpoint or a model id.
        scope: String,
        /// What is wrong.
        source: orkestra_resilience::ConfigError,
    },
    /// A provider could not be set up (a missing key variable, a bad URL).
    #[error("providers.{name}: {source}")]
    Provider {
        /// The provider's name.
        name: String,
        /// What went wrong.
        source: Box<orkestra_core::Error>,
    },
    /// The model catalog could not be read.
    #[error("models.catalog: {0}")]
    Catalog(#[source] orkestra_models::Error),
    /// The store could not be opened or read.
    #[error("storage: {0}")]
    Store(#[source] orkestra_models::Error),
    /// A store was configured but no tokio runtime is running.
    #[error("an orchestrator with a store must be built inside a tokio runtime")]
    NoRuntime,
    /// A provider kind the library cannot start by itself.
    #[error(
        "providers.{name}: kind `simulator` is started by the `orkestra` binary; in a library, start `orkestra-mock` and configure kind `openai` at its address"
    )]
    Simulator {
        /// The provider's name.
        name: String,
    },
}

#[cfg(feature = "providers")]
mod from_config {
    use std::sync::Arc;

    use orkestra_core::ChatBackend;
    use orkestra_models::store::Store;
    use orkestra_models::{Catalog, CostLedger, ModelSpec, PerfStats};
    use orkestra_providers::{
        AnthropicClient, AnthropicConfig, EchoBackend, OllamaClient, OllamaConfig, OpenAiClient,
        OpenAiConfig,
    };

    use super::{BuildError, OrchestratorBuilder};
    use crate::config::{ClientConfig, Config, ProviderConfig};
    use crate::orchestrator::Orchestrator;

    impl Orchestrator {
        /// An orchestrator from `orkestra.toml`: opens the store (restoring statistics and
        /// spending), builds a client per provider and registers the models.
        pub async fn from_config(config: &Config) -> Result<Self, BuildError> {
            let store = Store::open(&config.storage.url)
                .await
                .map_err(BuildError::Store)?;
            let stats = Arc::new(PerfStats::new(
                orkestra_models::stats::StatsConfig::default(),
            ));
            store.load_stats(&stats).await.map_err(BuildError::Store)?;
            let ledger = Arc::new(CostLedger::new());
            store
                .load_ledger(&ledger)
                .await
                .map_err(BuildError::Store)?;
            OrchestratorBuilder::from_config(config)?
                .stats(stats)
                .ledger(ledger)
                .store_with_bound(
                    store,
                    config.storage.flush_interval,
                    config.storage.max_pending,
                )
                .build()
        }
    }

    impl OrchestratorBuilder {
        /// A builder with everything of `config` but the store: providers, models, routing,
        /// resilience and fallbacks.
        pub fn from_config(config: &Config) -> Result<Self, BuildError> {
            let mut builder = Self::default()
                .routing(config.routing.clone())
                .resilience(config.resilience.clone());
            for (name, provider) in &config.providers {
                builder = builder
                    .backend(name.clone(), client(name, provider)?)
                    .provider_resilience(name.clone(), provider.resilience.clone());
            }
            for (model, resilience) in &config.models.resilience {
                builder = builder.model_resilience(model.clone(), resilience.clone());
            }
            for (model, fallbacks) in &config.models.fallbacks {
                builder = builder.fallbacks(model.clone(), fallbacks.clone());
            }
            Ok(builder.models(models(config)?))
        }
    }

    /// The catalog's models served by a configured provider, then the configured ones.
    fn models(config: &Config) -> Result<Vec<ModelSpec>, BuildError> {
        let catalog = match config.models.catalog.as_str() {
            "none" => Vec::new(),
            "builtin" => Catalog::builtin().models,
            path => Catalog::load(path).map_err(BuildError::Catalog)?.models,
        };
        let mut models: Vec<ModelSpec> = catalog
            .into_iter()
            .filter(|spec| config.providers.contains_key(spec.endpoint()))
            .filter(|spec| config.models.list.iter().all(|own| own.id != spec.id))
            .collect();
        models.extend(config.models.list.iter().cloned());
        Ok(models)
    }

    /// The backend of provider `name`: its kind's client, built from that client's own
    /// configuration as the file gave it, named after the provider.
    fn client(name: &str, provider: &ProviderConfig) -> Result<Arc<dyn ChatBackend>, BuildError> {
        let failed = |source| BuildError::Provider {
            name: name.to_owned(),
            source: Box::new(source),
        };
        Ok(match &provider.client {
            ClientConfig::Openai(config) => Arc::new(
                OpenAiClient::new(OpenAiConfig {
                    name: name.to_owned(),
                    ..config.clone()
                })
                .map_err(failed)?,
            ),
            ClientConfig::Anthropic(config) => Arc::new(
                AnthropicClient::new(AnthropicConfig {
                    name: name.to_owned(),
                    ..config.clone()
                })
                .map_err(failed)?,
            ),
            ClientConfig::Ollama(config) => Arc::new(
                OllamaClient::new(OllamaConfig {
                    name: name.to_owned(),
                    ..config.clone()
                })
                .map_err(failed)?,
            ),
            ClientConfig::Echo => Arc::new(EchoBackend::with_name(name)),
            ClientConfig::Simulator(_) => {
                return Err(BuildError::Simulator {
                    name: name.to_owned(),
                });
            }
        })
    }
}
