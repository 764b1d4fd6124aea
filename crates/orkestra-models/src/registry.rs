//! The model registry: lock-free reads of an immutable [`Snapshot`], swapped on every change.
//!
//! Routing reads the registry on every request and changes it rarely, so readers take an
//! `Arc` of the current snapshot (a few nanoseconds, never blocked) while writers build the next
//! snapshot under a mutex and publish it atomically. A selection holds its snapshot for its whole
//! life, so it never sees half an update.

use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use rustc_hash::FxHashMap;

use crate::error::Error;
use crate::spec::{ModelId, ModelSpec};

/// One immutable version of the registry.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Sorted by id, so iteration and ranking ties are deterministic.
    models: Vec<Arc<ModelSpec>>,
    /// Ids and aliases to positions in `models`.
    names: FxHashMap<Box<str>, usize>,
    /// Per model, a small number naming its endpoint, so the scorer compares integers.
    endpoints: Vec<u32>,
    endpoint_count: usize,
    /// Per model, its spec latency as plain seconds, computed once per snapshot so that ranking
    /// does no division for it.
    speeds: Vec<SpecSpeed>,
    version: u64,
}

/// A spec's expected speed in the form the scorer computes with.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SpecSpeed {
    pub(crate) ttft_seconds: f64,
    pub(crate) seconds_per_token: f64,
}

impl Snapshot {
    /// Indexes `models`, refusing clashes. Models earlier in `models` keep their names, so
    /// an edit that appends a model is blamed for the clash it brings.
    fn build(mut models: Vec<Arc<ModelSpec>>, version: u64) -> Result<Self, Error> {
        for spec in &models {
            spec.validate()?;
        }
        Self::index(&models)?;
        models.sort_by(|a, b| a.id.cmp(&b.id));
        // Sorting cannot create a clash, so this second indexing always succeeds.
        let names = Self::index(&models)?;
        let mut endpoint_names: Vec<&str> = Vec::new();
        let endpoints = models
            .iter()
            .map(|m| {
                let position = endpoint_names
                    .iter()
                    .position(|&e| e == m.endpoint())
                    .unwrap_or_else(|| {
                        endpoint_names.push(m.endpoint());
                        endpoint_names.len() - 1
                    });
                u32::try_from(position).unwrap_or(u32::MAX)
            })
            .collect();
        let endpoint_count = endpoint_names.len();
        let speeds = models
            .iter()
            .map(|m| SpecSpeed {
                ttft_seconds: m.latency.ttft.as_secs_f64(),
                seconds_per_token: 1.0 / m.latency.tokens_per_second,
            })
            .collect();
        Ok(Self {
            models,
            names,
            endpoints,
            endpoint_count,
            speeds,
            version,
        })
    }

    fn index(models: &[Arc<ModelSpec>]) -> Result<FxHashMap<Box<str>, usize>, Error> {
        let mut names: FxHashMap<Box<str>, usize> = FxHashMap::default();
        names.reserve(models.len());
        // Ids first, aliases second, so an alias can never shadow an id whichever comes first.
        let ids = models
            .iter()
            .enumerate()
            .map(|(i, m)| (i, m.id.as_str(), true));
        let aliases = models
            .iter()
            .enumerate()
            .flat_map(|(i, m)| m.aliases.iter().map(move |a| (i, a.as_str(), false)));
        for (position, name, is_id) in ids.chain(aliases) {
            match names.entry(Box::<str>::from(name)) {
                Entry::Occupied(taken) => {
                    let by: &ModelId = &models[*taken.get()].id;
                    return Err(if is_id && by.as_str() == name {
                        Error::DuplicateModel {
                            id: name.to_owned(),
                        }
                    } else {
                        Error::NameTaken {
                            name: name.to_owned(),
                            by: by.to_string(),
                        }
                    });
                }
                Entry::Vacant(free) => {
                    free.insert(position);
                }
            }
        }
        Ok(names)
    }

    /// The model with this id or alias.
    pub fn get(&self, id_or_alias: &str) -> Option<&Arc<ModelSpec>> {
        self.names.get(id_or_alias).map(|&i| &self.models[i])
    }

    /// Every model, sorted by id.
    pub fn models(&self) -> &[Arc<ModelSpec>] {
        &self.models
    }

    /// A number naming the endpoint of the model at `position` in [`Self::models`]: equal
    /// numbers, same endpoint (within this snapshot).
    pub fn endpoint_key(&self, position: usize) -> u32 {
        self.endpoints[position]
    }

    pub(crate) fn speed(&self, position: usize) -> SpecSpeed {
        self.speeds[position]
    }

    /// How many distinct endpoints the models use; endpoint keys are below this.
    pub fn endpoint_count(&self) -> usize {
        self.endpoint_count
    }

    /// The position of the model with this id or alias in [`Self::models`].
    pub fn position(&self, id_or_alias: &str) -> Option<usize> {
        self.names.get(id_or_alias).copied()
    }

    /// How many models there are.
    pub fn len(&self) -> usize {
        self.models.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }

    /// Increases by one on every change, starting at 0 for an empty registry.
    pub fn version(&self) -> u64 {
        self.version
    }
}

/// The registry of known models.
///
/// ```
/// use orkestra_models::{ModelId, ModelRegistry, ModelSpec};
///
/// let registry = ModelRegistry::new();
/// let mut spec = ModelSpec::new(ModelId::new("ollama/llama3.1:8b")?, 8_192);
/// spec.aliases.push("llama".into());
/// registry.add(spec)?;
/// assert_eq!(registry.get("llama").unwrap().id.as_str(), "ollama/llama3.1:8b");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct ModelRegistry {
    current: ArcSwap<Snapshot>,
    // Serialises writers so no update is lost between reading and publishing a snapshot.
    write: Mutex<()>,
}

impl ModelRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry holding `specs`, validated.
    pub fn from_specs(specs: impl IntoIterator<Item = ModelSpec>) -> Result<Self, Error> {
        let models = specs.into_iter().map(Arc::new).collect();
        Ok(Self {
            current: ArcSwap::from_pointee(Snapshot::build(models, 1)?),
            write: Mutex::new(()),
        })
    }

    /// The current snapshot; it stays valid and unchanged however the registry changes.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The model with this id or alias, in the current snapshot.
    pub fn get(&self, id_or_alias: &str) -> Option<Arc<ModelSpec>> {
        self.current.load().get(id_or_alias).cloned()
    }

    /// Adds a model; its id and aliases must be new.
    pub fn add(&self, spec: ModelSpec) -> Result<(), Error> {
        self.change(|models| {
            models.push(Arc::new(spec));
            Ok(())
        })
    }

    /// Replaces the model with the same id and returns the old spec.
    pub fn update(&self, spec: ModelSpec) -> Result<Arc<ModelSpec>, Error> {
        self.change(|models| {
            let slot =
                models
                    .iter_mut()
                    .find(|m| m.id == spec.id)
                    .ok_or_else(|| Error::UnknownModel {
                        id: spec.id.to_string(),
                    })?;
            Ok(std::mem::replace(slot, Arc::new(spec)))
        })
    }

    /// Adds the model, or replaces the one with the same id.
    pub fn upsert(&self, spec: ModelSpec) -> Result<Option<Arc<ModelSpec>>, Error> {
        self.change(|models| {
            let spec = Arc::new(spec);
            if let Some(slot) = models.iter_mut().find(|m| m.id == spec.id) {
                Ok(Some(std::mem::replace(slot, spec)))
            } else {
                models.push(spec);
                Ok(None)
            }
        })
    }

    /// Removes the model with this id (not an alias) and returns it.
    pub fn remove(&self, id: &str) -> Result<Arc<ModelSpec>, Error> {
        self.change(|models| {
            let position = models
                .iter()
                .position(|m| m.id.as_str() == id)
                .ok_or_else(|| Error::UnknownModel { id: id.to_owned() })?;
            Ok(models.remove(position))
        })
    }

    /// Replaces every model at once (an import): all or nothing.
    pub fn replace_all(&self, specs: impl IntoIterator<Item = ModelSpec>) -> Result<(), Error> {
        self.change(|models| {
            *models = specs.into_iter().map(Arc::new).collect();
            Ok(())
        })
    }

    /// Applies `edit` to a copy of the model list and publishes the result if it is valid;
    /// on any error the registry is unchanged.
    fn change<T>(
        &self,
        edit: impl FnOnce(&mut Vec<Arc<ModelSpec>>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let _writer = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.current.load();
        let mut models = current.models.clone();
        let out = edit(&mut models)?;
        let next = Snapshot::build(models, current.version + 1)?;
        self.current.store(Arc::new(next));
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
