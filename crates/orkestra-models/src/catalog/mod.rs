//! Model catalogs as files: JSON and TOML import and export, LiteLLM's price file, and the
//! built-in catalog.
//!
//! A catalog is the file form of a registry: a list of [`ModelSpec`]s. Both formats hold the
//! same fields with the same names (those of [`ModelSpec`]); TOML spells each model as a
//! `[[models]]` table:
//!
//! ```toml
//! [[models]]
//! id = "ollama/llama3.1:8b"
//! aliases = ["llama"]
//! context_window = 8192
//! max_output_tokens = 4096
//! latency = { ttft = "400ms", tokens_per_second = 40.0 }
//! quality = { default = 0.55, code_generation = 0.45 }
//! deployment = "local"
//! memory_gb = 4.9
//! ```
//!
//! Reading is strict: an unknown key, a negative price or a malformed id is an error that
//! names the file, the line and the column, the key and what was expected, in plain words
//! (`models.toml:3:18: models[0].context_window: expected a whole number from 0 to
//! 4294967295, got the text "big"`). Every importer also runs the checks the registry runs,
//! located the same way, so a catalog that loads can be registered. Writing is deterministic, and a
//! written catalog reads back equal ([`Catalog::to_json`], [`Catalog::to_toml`]).
//!
//! ```
//! use orkestra_models::Catalog;
//!
//! let catalog = Catalog::from_toml(
//!     r#"
//!     [[models]]
//!     id = "openai/gpt-4o-mini"
//!     context_window = 128000
//!     max_output_tokens = 16384
//!     input_usd_per_mtok = 0.15
//!     output_usd_per_mtok = 0.60
//!     "#,
//! )?;
//! let registry = catalog.clone().into_registry()?;
//! assert_eq!(registry.snapshot().len(), 1);
//! assert_eq!(Catalog::from_json(&catalog.to_json())?, catalog);
//! # Ok::<(), orkestra_models::Error>(())
//! ```

mod error;
pub mod litellm;

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use self::error::Format;
use crate::error::Error;
use crate::registry::{ModelRegistry, Snapshot};
use crate::spec::ModelSpec;

/// The built-in catalog's text, checked by a unit test.
const BUILTIN_TOML: &str = include_str!("../../catalog/builtin.toml");

/// A list of model specs, as stored in a file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// The models.
    #[serde(default)]
    pub models: Vec<ModelSpec>,
}

impl Catalog {
    /// The catalog shipped with orkestra (`catalog/builtin.toml` in this crate): local Ollama
    /// models and common cloud models with their public list prices, expected latency and
    /// relative quality.
    ///
    /// The figures are starting points: prices change, and quality and latency are meant to
    /// be corrected by live statistics. The file is parsed and registered by a unit test, so
    /// it cannot ship broken; should it ever fail to parse anyway, this returns an empty
    /// catalog rather than panicking.
    pub fn builtin() -> Self {
        Self::parse_named(BUILTIN_TOML, Format::Toml, Path::new("builtin.toml")).unwrap_or_default()
    }

    /// Reads a catalog from JSON text and checks it as the registry would.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        Self::parse(text, Format::Json)
    }

    /// Reads a catalog from TOML text and checks it as the registry would.
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        Self::parse(text, Format::Toml)
    }

    /// Reads a catalog from text in `format` and checks it as the registry would.
    ///
    /// Errors name the text's format as their file (`(TOML text)`); [`Self::load`] names the
    /// file itself.
    pub fn parse(text: &str, format: Format) -> Result<Self, Error> {
        let catalog = error::parse_catalog(text, format)?;
        catalog
            .validate()
            .map_err(|problem| error::in_text(text, format, &catalog, problem))?;
        Ok(catalog)
    }

    fn parse_named(text: &str, format: Format, path: &Path) -> Result<Self, Error> {
        Self::parse(text, format).map_err(|e| e.in_file(path))
    }

    /// Reads and checks the catalog in `path`, choosing the format by its extension
    /// (`.json` or `.toml`); errors name the file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let format = Format::from_path(path)?;
        let text = fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse_named(&text, format, path)
    }

    /// Writes the catalog to `path` in the format its extension names, replacing the file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        let text = match Format::from_path(path)? {
            Format::Json => self.to_json(),
            Format::Toml => self.to_toml()?,
        };
        fs::write(path, text).map_err(|source| Error::Write {
            path: path.to_owned(),
            source,
        })
    }

    /// The catalog as pretty-printed JSON ending with a newline; fields keep
    /// [`ModelSpec`]'s order, so the same catalog always gives the same bytes.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_else(|error| {
            // Every field serialises to a JSON string, number, list or object with string
            // keys, which serde_json always accepts.
            unreachable!("a catalog always serialises to JSON: {error}")
        });
        text.push('\n');
        text
    }

    /// The catalog as TOML: one `[[models]]` table per model, one field per line in
    /// [`ModelSpec`]'s order, `latency` and `quality` as inline tables.
    ///
    /// Fails only for a value TOML cannot spell the way JSON reads it back, such as a
    /// non-finite `memory_gb`, which no valid spec holds.
    pub fn to_toml(&self) -> Result<String, Error> {
        let mut out = String::new();
        for (i, model) in self.models.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str("[[models]]\n");
            let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(model) else {
                // A struct always serialises to an object; anything else is a bug upstream.
                unreachable!("a model spec serialises to a JSON object")
            };
            for (key, value) in fields {
                // Going through a JSON value keeps the struct's field order (serde_json's
                // `preserve_order`); a non-finite float has become `null` on the way, which
                // TOML cannot hold.
                if value.is_null() {
                    return Err(Error::Export {
                        format: Format::Toml,
                        id: model.id.to_string(),
                        field: key,
                        problem: "is not a finite number".to_owned(),
                    });
                }
                let mut inline = String::new();
                value
                    .serialize(toml::ser::ValueSerializer::new(&mut inline))
                    .map_err(|e| Error::Export {
                        format: Format::Toml,
                        id: model.id.to_string(),
                        field: key.clone(),
                        problem: e.to_string(),
                    })?;
                // Field names are plain snake_case words, valid as bare TOML keys.
                out.push_str(&key);
                out.push_str(" = ");
                out.push_str(&inline);
                out.push('\n');
            }
        }
        Ok(out)
    }

    /// The catalog of a registry snapshot, sorted by id.
    pub fn from_registry(snapshot: &Snapshot) -> Self {
        Self {
            models: snapshot
                .models()
                .iter()
                .map(|spec| ModelSpec::clone(spec))
                .collect(),
        }
    }

    /// A registry holding these models; refused if a spec is invalid, an id repeats or an
    /// alias names two models.
    pub fn into_registry(self) -> Result<ModelRegistry, Error> {
        ModelRegistry::from_specs(self.models)
    }

    /// Runs the registry's checks without building a registry.
    pub fn validate(&self) -> Result<(), Error> {
        // Building a throwaway registry runs exactly the checks `into_registry` runs; a catalog
        // holds tens of models, so the copy is cheap.
        ModelRegistry::from_specs(self.models.iter().cloned()).map(drop)
    }
}

#[cfg(test)]
mod tests;
