//! `[providers.<name>]`: a kind, that kind's client settings, and resilience.
//!
//! Each wire client owns its configuration (`OpenAiConfig`, `AnthropicConfig`, `OllamaConfig`
//! in `orkestra-providers`, every key documented with its default); a provider's table is the
//! `kind`, the keys of that kind's client, and the facade's own `resilience`. A key that the
//! kind's client does not have is an error naming the file, the line and the key, so a key
//! meant for another kind (`anthropic_version` under `kind = "openai"`) is never silently
//! dropped. The provider's name is its table's name, never a key.

use std::collections::BTreeSet;
use std::fmt;

use orkestra_resilience::PipelineConfig;
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[cfg(feature = "providers")]
use orkestra_providers::{AnthropicConfig, OllamaConfig, OpenAiConfig};

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

/// A provider's client settings, by kind: each wire client's own configuration.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientConfig {
    /// An OpenAI-compatible server.
    #[cfg(feature = "providers")]
    Openai(OpenAiConfig),
    /// Anthropic's Messages API.
    #[cfg(feature = "providers")]
    Anthropic(AnthropicConfig),
    /// An Ollama server.
    #[cfg(feature = "providers")]
    Ollama(OllamaConfig),
    /// The built-in echo model; it has no settings.
    Echo,
    /// The built-in simulator, with its `simulator` table in `orkestra mock`'s format.
    Simulator(Option<toml::Table>),
    /// Without the `providers` feature there is no client to build: the keys of an `openai`,
    /// `anthropic` or `ollama` provider are kept as written, unchecked.
    #[cfg(not(feature = "providers"))]
    Unchecked(ProviderKind, toml::Table),
}

/// `[providers.<name>]`: one model endpoint.
///
/// ```
/// use orkestra::config::{ClientConfig, Config, ProviderKind};
///
/// let config = Config::from_toml_str(
///     "[providers.local]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:8000/v1\"\n\
///      [providers.local.http]\nfirst_byte_timeout = \"30s\"\n",
///     "orkestra.toml",
/// )?;
/// let local = &config.providers["local"];
/// assert_eq!(local.kind(), ProviderKind::Openai);
/// let ClientConfig::Openai(client) = &local.client else { unreachable!() };
/// assert_eq!(client.http.first_byte_timeout, std::time::Duration::from_secs(30));
/// assert_eq!(client.api_key_env, None, "a server at its own address sends no key by default");
///
/// let error = Config::from_toml_str(
///     "[providers.local]\nkind = \"openai\"\nanthropic_version = \"2023-06-01\"\n",
///     "orkestra.toml",
/// )
/// .unwrap_err();
/// assert!(
///     error.to_string().starts_with("orkestra.toml:3:1: providers.local.anthropic_version: "),
///     "{error}"
/// );
/// # Ok::<(), orkestra::config::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    /// The kind, and the settings of its client.
    pub client: ClientConfig,
    /// Resilience for every model of this provider, section by section over `[resilience]`.
    pub resilience: PipelineConfig,
}

impl ProviderConfig {
    /// A provider of `kind` with every other setting at its default.
    pub fn new(kind: ProviderKind) -> Self {
        let client = client_config(kind, toml::Table::new())
            .unwrap_or_else(|_| unreachable!("an empty table is every kind's defaults"));
        Self {
            client,
            resilience: PipelineConfig::default(),
        }
    }

    /// The wire format.
    pub fn kind(&self) -> ProviderKind {
        match &self.client {
            #[cfg(feature = "providers")]
            ClientConfig::Openai(_) => ProviderKind::Openai,
            #[cfg(feature = "providers")]
            ClientConfig::Anthropic(_) => ProviderKind::Anthropic,
            #[cfg(feature = "providers")]
            ClientConfig::Ollama(_) => ProviderKind::Ollama,
            ClientConfig::Echo => ProviderKind::Echo,
            ClientConfig::Simulator(_) => ProviderKind::Simulator,
            #[cfg(not(feature = "providers"))]
            ClientConfig::Unchecked(kind, _) => *kind,
        }
    }

    /// The API root the client calls, for kinds that call one over the network.
    pub fn base_url(&self) -> Option<&str> {
        match &self.client {
            #[cfg(feature = "providers")]
            ClientConfig::Openai(config) => Some(&config.base_url),
            #[cfg(feature = "providers")]
            ClientConfig::Anthropic(config) => Some(&config.base_url),
            #[cfg(feature = "providers")]
            ClientConfig::Ollama(config) => Some(&config.base_url),
            #[cfg(not(feature = "providers"))]
            ClientConfig::Unchecked(_, table) => table.get("base_url")?.as_str(),
            ClientConfig::Echo | ClientConfig::Simulator(_) => None,
        }
    }
}

/// The key naming a provider's wire format: the facade's, not the client's.
const KIND: &str = "kind";
/// The key of a provider's resilience sections: the facade's, not the client's.
const RESILIENCE: &str = "resilience";
/// The key of the simulator's table.
const SIMULATOR: &str = "simulator";
/// The client key the facade fills in from the table's name.
const NAME: &str = "name";

impl<'de> Deserialize<'de> for ProviderConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ProviderVisitor;
        impl<'de> Visitor<'de> for ProviderVisitor {
            type Value = ProviderConfig;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a provider table with a `kind`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ProviderConfig, A::Error> {
                let mut kind = None;
                let mut resilience = PipelineConfig::default();
                let mut keys = toml::Table::new();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        KIND => kind = Some(map.next_value::<ProviderKind>()?),
                        RESILIENCE => resilience = map.next_value()?,
                        _ => {
                            let value = map.next_value::<toml::Value>()?;
                            keys.insert(key, value);
                        }
                    }
                }
                let kind = kind.ok_or_else(|| de::Error::missing_field(KIND))?;
                let client = client_config(kind, keys).map_err(de::Error::custom)?;
                Ok(ProviderConfig { client, resilience })
            }
        }
        deserializer.deserialize_map(ProviderVisitor)
    }
}

/// Why a provider's client keys were refused, and the key at fault (relative to the table).
#[derive(Debug)]
pub(super) struct KeyProblem {
    pub(super) key: Option<String>,
    pub(super) message: String,
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "{key}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The keys a provider of `kind` takes besides `kind` and `resilience`.
pub(super) fn client_keys(kind: ProviderKind) -> BTreeSet<String> {
    #[cfg(feature = "providers")]
    fn keys_of(defaults: &impl Serialize) -> BTreeSet<String> {
        match serde_json::to_value(defaults) {
            Ok(serde_json::Value::Object(fields)) => fields
                .into_iter()
                .map(|(key, _)| key)
                .filter(|key| key != NAME)
                .collect(),
            _ => BTreeSet::new(),
        }
    }
    match kind {
        #[cfg(feature = "providers")]
        ProviderKind::Openai => keys_of(&OpenAiConfig::default()),
        #[cfg(feature = "providers")]
        ProviderKind::Anthropic => keys_of(&AnthropicConfig::default()),
        #[cfg(feature = "providers")]
        ProviderKind::Ollama => keys_of(&OllamaConfig::default()),
        #[cfg(not(feature = "providers"))]
        ProviderKind::Openai | ProviderKind::Anthropic | ProviderKind::Ollama => BTreeSet::new(),
        ProviderKind::Echo => BTreeSet::new(),
        ProviderKind::Simulator => BTreeSet::from([SIMULATOR.to_owned()]),
    }
}

/// The first key of `keys` that a provider of `kind` does not take, and why.
pub(super) fn foreign_key<'k>(
    kind: ProviderKind,
    keys: impl IntoIterator<Item = &'k str>,
) -> Option<KeyProblem> {
    if cfg!(not(feature = "providers"))
        && matches!(
            kind,
            ProviderKind::Openai | ProviderKind::Anthropic | ProviderKind::Ollama
        )
    {
        return None;
    }
    let allowed = client_keys(kind);
    let key = keys.into_iter().find(|key| !allowed.contains(*key))?;
    let message = if key == NAME {
        "a provider's name is its table's name (`[providers.NAME]`); leave `name` out".to_owned()
    } else {
        let mut known: Vec<&str> = allowed.iter().map(String::as_str).collect();
        known.push(RESILIENCE);
        format!(
            "not a key of kind `{kind}`, whose keys are {}",
            known
                .iter()
                .map(|known| format!("`{known}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Some(KeyProblem {
        key: Some(key.to_owned()),
        message,
    })
}

/// `keys` as a client's configuration, naming the key at fault.
#[cfg(feature = "providers")]
fn typed<T: serde::de::DeserializeOwned>(keys: toml::Table) -> Result<T, KeyProblem> {
    serde_path_to_error::deserialize(toml::Value::Table(keys)).map_err(|error| {
        let key = error.path().to_string();
        KeyProblem {
            key: (key != ".").then_some(key),
            message: error.into_inner().message().trim_end().to_owned(),
        }
    })
}

/// The client settings of a provider of `kind` from its table's other keys.
///
/// An `openai` provider given a `base_url` and no `api_key_env` sends no key: a server at its
/// own address (vLLM, llama.cpp, a simulator) usually wants none, while the public API always
/// does.
fn client_config(kind: ProviderKind, mut keys: toml::Table) -> Result<ClientConfig, KeyProblem> {
    if let Some(problem) = foreign_key(kind, keys.keys().map(String::as_str)) {
        return Err(problem);
    }
    Ok(match kind {
        #[cfg(feature = "providers")]
        ProviderKind::Openai => {
            let local = keys.contains_key("base_url") && !keys.contains_key("api_key_env");
            let mut config: OpenAiConfig = typed(keys)?;
            if local {
                config.api_key_env = None;
            }
            ClientConfig::Openai(config)
        }
        #[cfg(feature = "providers")]
        ProviderKind::Anthropic => ClientConfig::Anthropic(typed(keys)?),
        #[cfg(feature = "providers")]
        ProviderKind::Ollama => ClientConfig::Ollama(typed(keys)?),
        #[cfg(not(feature = "providers"))]
        ProviderKind::Openai | ProviderKind::Anthropic | ProviderKind::Ollama => {
            ClientConfig::Unchecked(kind, keys)
        }
        ProviderKind::Echo => ClientConfig::Echo,
        ProviderKind::Simulator => match keys.remove(SIMULATOR) {
            None => ClientConfig::Simulator(None),
            Some(toml::Value::Table(table)) => ClientConfig::Simulator(Some(table)),
            Some(_) => {
                return Err(KeyProblem {
                    key: Some(SIMULATOR.to_owned()),
                    message: "expected a table in `orkestra mock`'s format".to_owned(),
                });
            }
        },
    })
}

impl Serialize for ProviderConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[cfg(feature = "providers")]
        use serde::ser::Error as _;
        let keys: toml::Table = match &self.client {
            #[cfg(feature = "providers")]
            ClientConfig::Openai(config) => {
                toml::Table::try_from(config).map_err(S::Error::custom)?
            }
            #[cfg(feature = "providers")]
            ClientConfig::Anthropic(config) => {
                toml::Table::try_from(config).map_err(S::Error::custom)?
            }
            #[cfg(feature = "providers")]
            ClientConfig::Ollama(config) => {
                toml::Table::try_from(config).map_err(S::Error::custom)?
            }
            #[cfg(not(feature = "providers"))]
            ClientConfig::Unchecked(_, table) => table.clone(),
            ClientConfig::Echo | ClientConfig::Simulator(None) => toml::Table::new(),
            ClientConfig::Simulator(Some(table)) => {
                toml::Table::from_iter([(SIMULATOR.to_owned(), toml::Value::Table(table.clone()))])
            }
        };
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry(KIND, &self.kind())?;
        for (key, value) in keys.iter().filter(|(key, _)| *key != NAME) {
            map.serialize_entry(key, value)?;
        }
        map.serialize_entry(RESILIENCE, &self.resilience)?;
        map.end()
    }
}

/// Checks every provider's client keys against its kind's, naming the file, the line and the
/// key of the first one refused. It reads `text` again with positions, which the typed
/// reading of the whole file does not keep inside a provider's table.
pub(super) fn check_client_keys(text: &str, origin: &str) -> Result<(), orkestra_core::Located> {
    use orkestra_core::{Located, Position};
    use toml::de::{DeTable, DeValue};

    // A file that does not parse is reported by the typed reading, with its own position.
    let Ok(document) = DeTable::parse(text) else {
        return Ok(());
    };
    let Some(DeValue::Table(providers)) = document
        .get_ref()
        .get("providers")
        .map(toml::Spanned::get_ref)
    else {
        return Ok(());
    };
    let located = |at: usize, key: String, message: String| {
        Located::new(origin, message)
            .at(Position::of_offset(text, at))
            .key(key)
    };
    for (name, table) in providers {
        let DeValue::Table(entries) = table.get_ref() else {
            continue;
        };
        let Some(kind) = entries.get(KIND).and_then(|kind| match kind.get_ref() {
            DeValue::String(kind) => {
                ProviderKind::deserialize(de::value::StrDeserializer::<de::value::Error>::new(kind))
                    .ok()
            }
            _ => None,
        }) else {
            // A missing or unknown kind is reported by the typed reading.
            continue;
        };
        let prefix = format!("providers.{}", name.get_ref());
        let keys: Vec<_> = entries
            .iter()
            .filter(|(key, _)| !matches!(key.get_ref().as_ref(), KIND | RESILIENCE))
            .collect();
        if let Some(problem) = foreign_key(kind, keys.iter().map(|(key, _)| key.get_ref().as_ref()))
        {
            let key = problem.key.unwrap_or_default();
            let at = entries
                .iter()
                .find(|(entry, _)| entry.get_ref().as_ref() == key)
                .map_or(table.span().start, |(entry, _)| entry.span().start);
            return Err(located(at, format!("{prefix}.{key}"), problem.message));
        }
        if cfg!(not(feature = "providers")) {
            continue;
        }
        let client: DeTable<'_> = keys
            .into_iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let client = toml::Spanned::new(table.span(), DeValue::Table(client));
        if let Err(error) = deserialize_client(kind, toml::de::ValueDeserializer::from(client)) {
            let at = error.span().map_or(table.span().start, |span| span.start);
            let key = key_at(entries, at).map_or(prefix.clone(), |key| format!("{prefix}.{key}"));
            return Err(located(
                at,
                key,
                orkestra_core::located::plain_words(
                    error.message(),
                    orkestra_core::located::Syntax::Toml,
                ),
            ));
        }
    }
    Ok(())
}

/// Reads a provider's client keys as its kind's configuration, only to find what is wrong.
#[cfg_attr(
    not(feature = "providers"),
    expect(
        clippy::unnecessary_wraps,
        clippy::needless_pass_by_value,
        reason = "without clients there is nothing to read"
    )
)]
fn deserialize_client(
    kind: ProviderKind,
    deserializer: toml::de::ValueDeserializer<'_>,
) -> Result<(), toml::de::Error> {
    match kind {
        #[cfg(feature = "providers")]
        ProviderKind::Openai => OpenAiConfig::deserialize(deserializer).map(drop),
        #[cfg(feature = "providers")]
        ProviderKind::Anthropic => AnthropicConfig::deserialize(deserializer).map(drop),
        #[cfg(feature = "providers")]
        ProviderKind::Ollama => OllamaConfig::deserialize(deserializer).map(drop),
        _ => {
            let _ = deserializer;
            Ok(())
        }
    }
}

/// The dotted key, within `table`, whose key or value holds byte `at`.
///
/// A table written under its own header (`[providers.local.http]`) has a span of its header
/// only, so every nested table is searched whatever its span.
fn key_at(table: &toml::de::DeTable<'_>, at: usize) -> Option<String> {
    table.iter().find_map(|(key, value)| {
        let name = key.get_ref().to_string();
        if let toml::de::DeValue::Table(inner) = value.get_ref()
            && let Some(inner) = key_at(inner, at)
        {
            return Some(format!("{name}.{inner}"));
        }
        (key.span().contains(&at) || value.span().contains(&at)).then_some(name)
    })
}
