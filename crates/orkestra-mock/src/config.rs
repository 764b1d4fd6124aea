//! What the simulator does: per model, latency, output, usage and faults.
//!
//! The same types are the TOML / JSON configuration of `orkestra mock`, the body of the control
//! endpoint (`PUT /_mock/models/{name}`), and the library API ([`crate::MockServer::set_model`]).
//!
//! ```toml
//! seed = 7
//!
//! [[models]]
//! name = "gpt-4o-mini"
//! ttft = { fixed = "20ms" }
//! per_token = { log_normal = { median = "2ms", sigma = 0.5 } }
//! output = { generated = { tokens = 200 } }
//! preface = "[Simulated: filler words follow.] "
//!
//! [[models.faults]]
//! fault = { rate_limited = { retry_after = "2s" } }
//! when = { rate = 0.1 }
//!
//! [[models.faults]]
//! fault = { status = { code = 503 } }
//! when = { flapping = { down = "60s", up = "60s" } }
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use orkestra_core::located::{Located, Syntax};
use serde::{Deserialize, Serialize};

/// The whole simulator: a seed and its models.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MockConfig {
    /// Seeds every random choice (latency samples, fault rates, generated text), so two runs
    /// with the same seed and the same requests behave the same.
    pub seed: u64,
    /// The models served. A request for a model not listed is answered with each wire
    /// format's "model not found" error (HTTP 404), unless [`Self::default_model`] is set.
    pub models: Vec<ModelBehaviour>,
    /// How to answer a request for a model not listed, as if it were listed under that name.
    pub default_model: Option<ModelBehaviour>,
}

/// How one model behaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelBehaviour {
    /// The name clients send as `model`.
    pub name: String,
    /// Time to the first token (to the whole answer when not streaming, plus generation).
    pub ttft: Latency,
    /// Time per output token after the first.
    pub per_token: Latency,
    /// What the model answers.
    pub output: Output,
    /// Text put before every answer, for instance to say that it is simulated and by which
    /// model. It is part of the answer: counted in its usage, streamed with it, and cut by the
    /// request's `max_tokens` like the rest.
    pub preface: String,
    /// Token counts reported; `None` counts the prompt and the answer (about four characters
    /// per token).
    pub usage: Option<FixedUsage>,
    /// Faults, checked in order for each request; the first whose trigger fires applies.
    pub faults: Vec<FaultRule>,
}

impl Default for ModelBehaviour {
    /// An echo model with no latency and no faults.
    fn default() -> Self {
        Self {
            name: String::new(),
            ttft: Latency::default(),
            per_token: Latency::default(),
            output: Output::Echo,
            preface: String::new(),
            usage: None,
            faults: Vec::new(),
        }
    }
}

impl ModelBehaviour {
    /// An echo model named `name`, with no latency and no faults.
    pub fn echo(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// The same model with this fault rule appended.
    #[must_use]
    pub fn with_fault(mut self, fault: Fault, when: Trigger) -> Self {
        self.faults.push(FaultRule { fault, when });
        self
    }
}

/// A latency distribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Latency {
    /// Always this long.
    Fixed(#[serde(with = "humantime_serde")] Duration),
    /// Uniform between the bounds.
    Uniform {
        /// Shortest.
        #[serde(with = "humantime_serde")]
        min: Duration,
        /// Longest.
        #[serde(with = "humantime_serde")]
        max: Duration,
    },
    /// Log-normal with this median and shape: the long tail of real servers.
    LogNormal {
        /// Median.
        #[serde(with = "humantime_serde")]
        median: Duration,
        /// Standard deviation of the logarithm (0.5 is a moderate tail).
        sigma: f64,
    },
}

impl Default for Latency {
    /// No latency.
    fn default() -> Self {
        Self::Fixed(Duration::ZERO)
    }
}

/// What a model answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Output {
    /// The last user message, as it was sent.
    Echo,
    /// Always this text.
    Fixed(String),
    /// These answers in turn, one per request, starting over after the last.
    Script(Vec<String>),
    /// Seeded filler text of this many tokens.
    Generated {
        /// Output tokens.
        tokens: u32,
    },
}

/// Token counts a model reports regardless of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedUsage {
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Completion tokens.
    pub completion_tokens: u32,
}

/// A fault and when it applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// What goes wrong.
    pub fault: Fault,
    /// When.
    pub when: Trigger,
}

/// When a fault applies to a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// Every request.
    Always,
    /// Each request with this probability (0 to 1), drawn from the seeded generator.
    Rate(f64),
    /// The requests with these 1-based numbers, counted per model since the behaviour was set.
    Requests(Vec<u64>),
    /// The first `n` requests since the behaviour was set, then never.
    First(u64),
    /// Down for `down`, then healthy for `up`, repeating, from the moment the behaviour was set;
    /// without `up`, down once and healthy for good.
    Flapping {
        /// How long the fault lasts.
        #[serde(with = "humantime_serde")]
        down: Duration,
        /// How long the model is healthy between faults; `None` for ever.
        #[serde(default, with = "humantime_serde")]
        up: Option<Duration>,
    },
}

/// Something that goes wrong: the catalogue of failures a gateway must survive.
///
/// Errors come in the request's wire format (OpenAI `{"error":{"message","type","param","code"}}`,
/// Anthropic `{"type":"error","error":{"type","message"}}`, Ollama `{"error":"..."}`).
/// Stream faults count content chunks (one per token); on a plain request they do the natural
/// equivalent, said on each variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// HTTP 429 in the wire format's error shape (`rate_limit_exceeded`), with a `Retry-After`
    /// header when set: whole seconds, or an HTTP date when `as_date` is true.
    RateLimited {
        /// The wait to advertise.
        #[serde(default, with = "humantime_serde")]
        retry_after: Option<Duration>,
        /// Send `Retry-After` as an HTTP date instead of seconds.
        #[serde(default)]
        as_date: bool,
    },
    /// This HTTP status with the wire format's error body (500, 502, 503, 504, 529, 401...).
    Status {
        /// The status code.
        code: u16,
    },
    /// HTTP 400 `context_length_exceeded` (Anthropic: `invalid_request_error` saying the
    /// prompt is too long).
    ContextLength,
    /// HTTP 400 refused by the content policy (`content_filter` / `content_policy_violation`).
    ContentFilter,
    /// The connection is reset (TCP RST, through `SO_LINGER` 0) after the request is read,
    /// before any answer: the client reads "connection reset by peer".
    Reset,
    /// The request is read and never answered; the connection stays open until the server
    /// shuts down, so the client's own timeout fires.
    NoResponse,
    /// The first token comes this much later than the model's `ttft` (the headers of a stream
    /// are sent at once; a plain answer comes this much later).
    SlowFirstToken {
        /// Extra delay.
        #[serde(with = "humantime_serde")]
        delay: Duration,
    },
    /// A stream stops after this many content chunks: the connection closes (FIN) without the
    /// chunked encoding's last chunk or the format's terminator. A plain answer declares its
    /// whole `Content-Length`, sends half, and closes.
    CutStream {
        /// Content chunks sent before the cut.
        after_chunks: u32,
    },
    /// A stream goes silent after this many content chunks, the connection open, for `for`,
    /// then the connection closes as for [`Fault::CutStream`]. A plain answer sends half its
    /// declared body, goes silent, then closes.
    Stall {
        /// Content chunks sent before the stall.
        after_chunks: u32,
        /// How long the silence lasts before the connection closes.
        #[serde(rename = "for", with = "humantime_serde")]
        duration: Duration,
    },
    /// A chunk that is not valid JSON (an event cut mid-object) after this many content chunks,
    /// then the stream goes on to its terminator. A plain answer is a 200 whose body is not JSON.
    MalformedChunk {
        /// Content chunks sent before the malformed one.
        after_chunks: u32,
    },
    /// The whole answer streams, then the body ends cleanly without the terminator
    /// (`data: [DONE]`, `message_stop`, the `done: true` line). A plain answer is a complete
    /// HTTP message whose JSON lacks its closing brace.
    MissingTerminator,
}

/// Why a configuration could not be loaded or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read; the reason is the source.
    #[error("{}: cannot read the file", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A problem in a file or text: `FILE:LINE:COLUMN: KEY: what was expected`, leaving out
    /// what is not known.
    #[error(transparent)]
    Located(Located),
    /// A value is out of range: `path` is where, as in `models[0].faults[1].when.rate`.
    #[error("{path}: {message}")]
    Invalid {
        /// Where the value is.
        path: String,
        /// What was expected.
        message: String,
    },
}

impl ConfigError {
    fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The same problem in `origin`: a value out of range there names the file too.
    fn in_file(self, origin: &str) -> Self {
        match self {
            Self::Invalid { path, message } => {
                Self::Located(Located::new(origin, message).key(path))
            }
            other => other,
        }
    }
}

/// The key of a path to a value, none for the whole document; a segment serde could not name
/// (`?`, inside a value that failed to parse) is left out.
fn key_of(path: &serde_path_to_error::Path) -> Option<String> {
    let key = path.to_string().replace(".?", "");
    (key != "." && key != "?").then_some(key)
}

/// `located` naming `key`, when there is one.
fn with_key(located: Located, key: Option<String>) -> Located {
    match key {
        Some(key) => located.key(key),
        None => located,
    }
}

impl MockConfig {
    /// Reads a configuration from a TOML file, or a JSON file when the name ends in `.json`,
    /// and validates it.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let origin = path.display().to_string();
        if path
            .extension()
            .is_some_and(|extension| extension == "json")
        {
            Self::from_json_str(&text, &origin)
        } else {
            Self::from_toml_str(&text, &origin)
        }
    }

    /// Reads and validates a TOML configuration; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let located = |error: &toml::de::Error, key: Option<String>| {
            let at = error.span().map(|span| span.start);
            let located = Located::parsed(origin, text, at, error.message(), Syntax::Toml);
            ConfigError::Located(with_key(located, key))
        };
        let deserializer =
            toml::de::Deserializer::parse(text).map_err(|error| located(&error, None))?;
        let config: Self = serde_path_to_error::deserialize(deserializer)
            .map_err(|error| located(error.inner(), key_of(error.path())))?;
        config.validate().map_err(|error| error.in_file(origin))?;
        Ok(config)
    }

    /// Reads and validates a JSON configuration; `origin` names it in errors.
    pub fn from_json_str(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let config: Self =
            serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
                let located = Located::json(origin, error.inner());
                ConfigError::Located(with_key(located, key_of(error.path())))
            })?;
        config.validate().map_err(|error| error.in_file(origin))?;
        Ok(config)
    }

    /// Checks every value the types cannot: names present and unique, rates between 0 and 1,
    /// error statuses between 400 and 599, finite latency shapes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (index, model) in self.models.iter().enumerate() {
            let path = format!("models[{index}]");
            if model.name.is_empty() {
                return Err(ConfigError::invalid(
                    format!("{path}.name"),
                    "a model needs a name",
                ));
            }
            if self.models[..index]
                .iter()
                .any(|earlier| earlier.name == model.name)
            {
                return Err(ConfigError::invalid(
                    format!("{path}.name"),
                    format!("model `{}` is listed twice", model.name),
                ));
            }
            model.validate_at(&path)?;
        }
        if let Some(model) = &self.default_model {
            model.validate_at("default_model")?;
        }
        Ok(())
    }
}

impl ModelBehaviour {
    /// Checks the values the types cannot (see [`MockConfig::validate`]); the name may be empty.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_at("model")
    }

    fn validate_at(&self, path: &str) -> Result<(), ConfigError> {
        self.ttft.validate_at(&format!("{path}.ttft"))?;
        self.per_token.validate_at(&format!("{path}.per_token"))?;
        if let Output::Generated { tokens } = self.output {
            let limit = crate::behaviour::MAX_GENERATED_TOKENS;
            if tokens > limit {
                return Err(ConfigError::invalid(
                    format!("{path}.output.generated.tokens"),
                    format!("{tokens} is above the limit of {limit}"),
                ));
            }
        }
        for (index, rule) in self.faults.iter().enumerate() {
            let at = format!("{path}.faults[{index}]");
            if let Fault::Status { code } = rule.fault
                && !(400..=599).contains(&code)
            {
                return Err(ConfigError::invalid(
                    format!("{at}.fault.status.code"),
                    format!("{code} is not an error status (expected 400 to 599)"),
                ));
            }
            match &rule.when {
                Trigger::Rate(rate) if !(0.0..=1.0).contains(rate) => {
                    return Err(ConfigError::invalid(
                        format!("{at}.when.rate"),
                        format!("{rate} is not a probability (expected 0 to 1)"),
                    ));
                }
                Trigger::Flapping { down, .. } if down.is_zero() => {
                    return Err(ConfigError::invalid(
                        format!("{at}.when.flapping.down"),
                        "must be longer than zero",
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl Latency {
    fn validate_at(&self, path: &str) -> Result<(), ConfigError> {
        match *self {
            Self::Uniform { min, max } if min > max => Err(ConfigError::invalid(
                format!("{path}.uniform"),
                format!("min {min:?} is above max {max:?}"),
            )),
            Self::LogNormal { sigma, .. } if !sigma.is_finite() || sigma < 0.0 => {
                Err(ConfigError::invalid(
                    format!("{path}.log_normal.sigma"),
                    format!("{sigma} is not a finite, non-negative number"),
                ))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
