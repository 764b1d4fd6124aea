//! Model catalogs as files: JSON and TOML import and export, LiteLLM's price file, and the
//! built-in catalog.

use serde::{Deserialize, Serialize};

use crate::spec::ModelSpec;

/// A list of model specs, as stored in a file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// The models.
    #[serde(default)]
    pub models: Vec<ModelSpec>,
}
