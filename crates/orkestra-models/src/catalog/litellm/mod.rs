//! Import of LiteLLM's price file, `model_prices_and_context_window.json`, the de-facto
//! interchange format for model prices and limits.
//!
//! The file is one JSON object keyed by model name; each entry carries prices per token,
//! token limits, the provider, a `mode` and `supports_*` flags, among many keys that change
//! from release to release. The import is lenient about keys it does not read and strict about
//! the ones it does: an entry whose price or limit has the wrong type is skipped with the
//! reason, never guessed.
//!
//! # Mapping
//!
//! - Only `mode = "chat"` entries become models; the rest are counted by mode in
//!   [`Skipped::by_mode`]. The `sample_spec` entry (LiteLLM's schema description) is ignored
//!   and not counted.
//! - Id: the provider is `litellm_provider`, normalised ([`normalise_provider`]: `ollama_chat`
//!   is `ollama`, `gemini` is `google`, `vertex_ai-*` is `vertex_ai`, `bedrock_converse` is
//!   `bedrock`). A key already starting with `<provider>/` (raw or normalised) keeps its model
//!   part, so `gemini/gemini-2.0-flash` becomes `google/gemini-2.0-flash` and
//!   `openrouter/meta-llama/llama-3.1-8b-instruct` stays as it is; any other key is prefixed,
//!   so `gpt-4o` becomes `openai/gpt-4o`. When the id differs from the key, the key becomes an
//!   alias, unless it is already another model's id.
//! - `context_window` is `max_input_tokens`, which is what providers call the context window;
//!   `max_output_tokens` is not added to it, since for most providers the window already holds
//!   the output. An entry without `max_input_tokens` is skipped: the legacy `max_tokens` means
//!   the output limit for some providers and the window for others.
//! - `max_output_tokens` is `max_output_tokens`, else `max_tokens`, capped at the window;
//!   with neither, 4,096 tokens (capped at the window), a limit every chat API honours.
//! - Prices come from `input_cost_per_token` and `output_cost_per_token` (dollars per token).
//!   A local model without them is free; a cloud model without them is skipped, because
//!   registering it as free would make every cost-aware strategy prefer it.
//! - Capabilities: `tools` from `supports_function_calling` or `supports_tool_choice`,
//!   `vision` from `supports_vision`, `json_mode` from `supports_response_schema`, and
//!   `streaming` unless `supports_native_streaming` is `false` (LiteLLM writes that key only
//!   for the models that cannot stream).
//! - Deployment: local for the providers `ollama`, `ollama_chat` and `lm_studio`, which serve
//!   models on the user's machine; cloud for everything else, including `hosted_vllm`, whose
//!   location the file does not say.
//! - Quality and latency: LiteLLM has neither, so every model gets the defaults (quality 0.5
//!   for every kind, [`crate::LatencyProfile::default`]); tune them, or let live statistics
//!   correct them. Entries with `supports_reasoning = true` are tagged `reasoning`.
//! - Duplicates: when two keys map to the same id, the first in the file wins and the others
//!   are skipped with [`SkipReason::Duplicate`].

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs;
use std::path::Path;

use serde_json::{Map, Value};

use orkestra_core::{Located, Position};

use super::{Catalog, Format, error};
use crate::error::Error;
use crate::money::TokenPrice;
use crate::spec::{Capabilities, Capability, Deployment, ModelId, ModelSpec};

/// The key LiteLLM uses to describe its own schema.
const SAMPLE_SPEC: &str = "sample_spec";

/// The output limit used when an entry gives none.
const DEFAULT_MAX_OUTPUT: u32 = 4_096;

/// Providers whose models run on the user's own machine.
const LOCAL_PROVIDERS: [&str; 3] = ["ollama", "ollama_chat", "lm_studio"];

/// What an import produced: the models, and what was left out and why.
#[derive(Debug, Clone, PartialEq)]
pub struct LiteLlmImport {
    /// The chat models, in file order.
    pub models: Vec<ModelSpec>,
    /// The entries that did not become models.
    pub skipped: Skipped,
}

impl LiteLlmImport {
    /// The imported models as a catalog.
    pub fn into_catalog(self) -> Catalog {
        Catalog {
            models: self.models,
        }
    }
}

/// The entries an import left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Entries whose `mode` is not `chat`, counted per mode (`embedding`, `image_generation`).
    pub by_mode: BTreeMap<String, usize>,
    /// Chat entries (or entries without a mode) that could not become a model, in file order.
    pub unusable: Vec<UnusableEntry>,
}

impl Skipped {
    /// How many entries were left out, `sample_spec` aside.
    pub fn total(&self) -> usize {
        self.by_mode.values().sum::<usize>() + self.unusable.len()
    }
}

/// One entry that could not become a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusableEntry {
    /// The entry's key in the file.
    pub key: String,
    /// Why.
    pub reason: SkipReason,
}

impl fmt::Display for UnusableEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.key, self.reason)
    }
}

/// Why an entry could not become a model.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// The entry is not a JSON object.
    NotAnObject,
    /// The entry has no `mode`, so it is not known to be a chat model.
    NoMode,
    /// The entry has no `litellm_provider`.
    NoProvider,
    /// `max_input_tokens` is missing or zero.
    NoContextWindow,
    /// A cloud model without a per-token price.
    NoPrice {
        /// The missing field.
        field: &'static str,
    },
    /// A field the import reads holds something else than expected.
    BadValue {
        /// The field.
        field: &'static str,
        /// What it holds and what was expected.
        problem: String,
    },
    /// An earlier entry already produced this id.
    Duplicate {
        /// The id both entries map to.
        id: String,
        /// The key of the entry that was kept.
        first_key: String,
    },
    /// The mapped id is not a valid model id, or the spec built from the entry fails
    /// validation: what [`Error`] said.
    Invalid(String),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAnObject => f.write_str("the entry is not an object"),
            Self::NoMode => f.write_str("no `mode`; only `chat` entries are imported"),
            Self::NoProvider => f.write_str("no `litellm_provider`"),
            Self::NoContextWindow => {
                f.write_str("no usable context window: `max_input_tokens` is missing or zero")
            }
            Self::NoPrice { field } => write!(f, "no `{field}` for a cloud model"),
            Self::BadValue { field, problem } => write!(f, "`{field}` {problem}"),
            Self::Duplicate { id, first_key } => {
                write!(f, "maps to `{id}`, already imported from `{first_key}`")
            }
            Self::Invalid(problem) => f.write_str(problem),
        }
    }
}

/// An entry whose id or spec the crate refuses is skipped for that reason.
impl From<Error> for SkipReason {
    fn from(error: Error) -> Self {
        Self::Invalid(error.to_string())
    }
}

/// Imports LiteLLM's `model_prices_and_context_window.json`.
///
/// Fails only when the text is not a JSON object; problems with single entries are reported
/// in [`LiteLlmImport::skipped`]. See the [module docs](self) for the mapping.
pub fn import(json: &str) -> Result<LiteLlmImport, Error> {
    let root: Value = error::parse(json, Format::Json)?;
    let Value::Object(entries) = root else {
        let start = json.len() - json.trim_start().len();
        let at = Located::new(
            Format::Json.text_name(),
            "expected a JSON object keyed by model name",
        )
        .at(Position::of_offset(json, start));
        return Err(Error::Catalog {
            format: Format::Json,
            at,
        });
    };

    let mut skipped = Skipped::default();
    // Each kept model with the key it came from, in file order.
    let mut kept: Vec<(String, ModelSpec)> = Vec::new();
    let mut first_key_of: BTreeMap<ModelId, String> = BTreeMap::new();
    for (key, entry) in entries {
        if key == SAMPLE_SPEC {
            continue;
        }
        let unusable = |reason| UnusableEntry {
            key: key.clone(),
            reason,
        };
        let spec = match classify(&entry) {
            Kind::Chat(fields) => match spec_from_entry(&key, fields) {
                Ok(spec) => spec,
                Err(reason) => {
                    skipped.unusable.push(unusable(reason));
                    continue;
                }
            },
            Kind::Other(mode) => {
                *skipped.by_mode.entry(mode).or_default() += 1;
                continue;
            }
            Kind::Unusable(reason) => {
                skipped.unusable.push(unusable(reason));
                continue;
            }
        };
        if let Some(first_key) = first_key_of.get(&spec.id) {
            skipped.unusable.push(unusable(SkipReason::Duplicate {
                id: spec.id.to_string(),
                first_key: first_key.clone(),
            }));
            continue;
        }
        first_key_of.insert(spec.id.clone(), key.clone());
        kept.push((key, spec));
    }

    // The key becomes an alias once every id is known, so an alias never takes a name that a
    // later entry's id needs; keys are unique, so aliases cannot clash with each other.
    let ids: HashSet<&str> = kept.iter().map(|(_, spec)| spec.id.as_str()).collect();
    let aliases: Vec<Option<String>> = kept
        .iter()
        .map(|(key, spec)| {
            (key != spec.id.as_str() && !ids.contains(key.as_str())).then(|| key.clone())
        })
        .collect();
    let models = kept
        .into_iter()
        .zip(aliases)
        .map(|((_, mut spec), alias)| {
            spec.aliases.extend(alias);
            spec
        })
        .collect();
    Ok(LiteLlmImport { models, skipped })
}

/// Imports LiteLLM's price file from `path`; errors name the file.
pub fn import_file(path: impl AsRef<Path>) -> Result<LiteLlmImport, Error> {
    let path = path.as_ref();
    let json = fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    import(&json).map_err(|error| error.in_file(path))
}

/// The provider name orkestra uses for a LiteLLM provider.
///
/// LiteLLM splits some providers by API flavour (`ollama_chat`, `vertex_ai-language-models`,
/// `bedrock_converse`); orkestra names the endpoint, which is the same for all flavours.
pub fn normalise_provider(litellm_provider: &str) -> &str {
    match litellm_provider {
        "ollama_chat" => "ollama",
        "gemini" => "google",
        "bedrock_converse" => "bedrock",
        p if p.starts_with("vertex_ai-") => "vertex_ai",
        p => p.strip_prefix("text-completion-").unwrap_or(p),
    }
}

enum Kind<'a> {
    Chat(&'a Map<String, Value>),
    Other(String),
    Unusable(SkipReason),
}

fn classify(entry: &Value) -> Kind<'_> {
    let Value::Object(fields) = entry else {
        return Kind::Unusable(SkipReason::NotAnObject);
    };
    match fields.get("mode") {
        None | Some(Value::Null) => Kind::Unusable(SkipReason::NoMode),
        Some(Value::String(mode)) if mode == "chat" => Kind::Chat(fields),
        Some(Value::String(mode)) => Kind::Other(mode.clone()),
        Some(other) => Kind::Unusable(SkipReason::BadValue {
            field: "mode",
            problem: format!("is {other}, expected a string"),
        }),
    }
}

fn spec_from_entry(key: &str, fields: &Map<String, Value>) -> Result<ModelSpec, SkipReason> {
    let Some(raw_provider) = string(fields, "litellm_provider")? else {
        return Err(SkipReason::NoProvider);
    };
    let provider = normalise_provider(raw_provider);
    let model = key
        .strip_prefix(raw_provider)
        .and_then(|rest| rest.strip_prefix('/'))
        .or_else(|| {
            key.strip_prefix(provider)
                .and_then(|rest| rest.strip_prefix('/'))
        })
        .unwrap_or(key);
    let id = ModelId::new(&format!("{provider}/{model}"))?;
    let deployment = if LOCAL_PROVIDERS.contains(&raw_provider) {
        Deployment::Local
    } else {
        Deployment::Cloud
    };

    let context_window = match tokens(fields, "max_input_tokens")? {
        Some(window) if window > 0 => window,
        _ => return Err(SkipReason::NoContextWindow),
    };
    let max_output_tokens = match tokens(fields, "max_output_tokens")? {
        Some(limit) if limit > 0 => limit,
        _ => tokens(fields, "max_tokens")?
            .filter(|&limit| limit > 0)
            .unwrap_or(DEFAULT_MAX_OUTPUT),
    }
    .min(context_window);

    let mut spec = ModelSpec::new(id, context_window);
    spec.max_output_tokens = max_output_tokens;
    spec.deployment = deployment;
    spec.input_price = price(fields, "input_cost_per_token", deployment)?;
    spec.output_price = price(fields, "output_cost_per_token", deployment)?;
    spec.capabilities = capabilities(fields)?;
    if flag(fields, "supports_reasoning")? == Some(true) {
        spec.tags.push("reasoning".to_owned());
    }
    spec.validate()?;
    Ok(spec)
}

fn capabilities(fields: &Map<String, Value>) -> Result<Capabilities, SkipReason> {
    let mut set = Capabilities::NONE;
    if flag(fields, "supports_function_calling")? == Some(true)
        || flag(fields, "supports_tool_choice")? == Some(true)
    {
        set = set.with(Capability::Tools);
    }
    if flag(fields, "supports_vision")? == Some(true) {
        set = set.with(Capability::Vision);
    }
    if flag(fields, "supports_response_schema")? == Some(true) {
        set = set.with(Capability::JsonMode);
    }
    if flag(fields, "supports_native_streaming")? != Some(false) {
        set = set.with(Capability::Streaming);
    }
    Ok(set)
}

/// A string field; `null` counts as absent.
fn string<'a>(
    fields: &'a Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'a str>, SkipReason> {
    match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(bad_value(field, other, "a string")),
    }
}

/// A boolean field; `null` counts as absent.
fn flag(fields: &Map<String, Value>, field: &'static str) -> Result<Option<bool>, SkipReason> {
    match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(bad_value(field, other, "true or false")),
    }
}

/// A token count; a whole float such as `1e5` is accepted, and counts beyond `u32::MAX`
/// saturate (no model comes near).
fn tokens(fields: &Map<String, Value>, field: &'static str) -> Result<Option<u32>, SkipReason> {
    let value = match fields.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(value) => value,
    };
    let count = value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0 && f.fract() == 0.0)
            .map(|f| {
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "the filter leaves whole non-negative numbers; the cast saturates \
                              above u64::MAX"
                )]
                let whole = f as u64;
                whole
            })
    });
    match count {
        Some(count) => Ok(Some(u32::try_from(count).unwrap_or(u32::MAX))),
        None => Err(bad_value(field, value, "a whole number of tokens")),
    }
}

/// A price in dollars per token.
fn price(
    fields: &Map<String, Value>,
    field: &'static str,
    deployment: Deployment,
) -> Result<TokenPrice, SkipReason> {
    match fields.get(field) {
        None | Some(Value::Null) if deployment == Deployment::Local => Ok(TokenPrice::FREE),
        None | Some(Value::Null) => Err(SkipReason::NoPrice { field }),
        Some(value) => value
            .as_f64()
            .and_then(TokenPrice::from_usd_per_token)
            .ok_or_else(|| bad_value(field, value, "a non-negative number of dollars per token")),
    }
}

fn bad_value(field: &'static str, value: &Value, expected: &str) -> SkipReason {
    SkipReason::BadValue {
        field,
        problem: format!("is {value}, expected {expected}"),
    }
}

#[cfg(test)]
mod tests;
