//! [`AnthropicClient`]: the Messages API over HTTP.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use orkestra_core::{ChatBackend, ChatRequest, ChatResponse, ChatStream, Error, StreamEvent};
use serde::{Deserialize, Serialize};

use super::{EventParser, parse_response, request_body};
use crate::event_stream::{Framing, drive};
use crate::http::{Endpoint, HttpClient, HttpConfig, HttpResponse};
use crate::secret::Secret;
use crate::sse::{self, SseEvent};

/// Configuration of one Anthropic endpoint.
///
/// ```
/// let config: orkestra_providers::anthropic::AnthropicConfig = serde_json::from_str(
///     r#"{
///         "default_max_tokens": 1024,
///         "headers": {"anthropic-beta": "prompt-caching-2024-07-31"},
///         "http": {"first_byte_timeout": "30s"}
///     }"#,
/// )?;
/// assert_eq!(config.base_url, "https://api.anthropic.com");
/// assert_eq!(config.api_key_env, "ANTHROPIC_API_KEY");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnthropicConfig {
    /// The provider name in errors and logs.
    pub name: String,
    /// The API's base URL, without `/v1/messages`.
    pub base_url: String,
    /// The environment variable holding the API key.
    pub api_key_env: String,
    /// The `anthropic-version` header.
    pub anthropic_version: String,
    /// `max_tokens` for requests that set no limit (the API requires one).
    pub default_max_tokens: u32,
    /// Extra headers sent with every request (`anthropic-beta`, ...).
    pub headers: BTreeMap<String, String>,
    /// Timeouts, pool and body cap.
    pub http: HttpConfig,
}

impl Default for AnthropicConfig {
    /// - `name`: `anthropic`;
    /// - `base_url`: `https://api.anthropic.com`;
    /// - `api_key_env`: `ANTHROPIC_API_KEY`;
    /// - `anthropic_version`: `2023-06-01`, the current version of the Messages API;
    /// - `default_max_tokens`: 4096, which every current Claude model can produce;
    /// - `headers`: none;
    /// - `http`: [`HttpConfig::default`].
    fn default() -> Self {
        Self {
            name: "anthropic".to_owned(),
            base_url: "https://api.anthropic.com".to_owned(),
            api_key_env: "ANTHROPIC_API_KEY".to_owned(),
            anthropic_version: "2023-06-01".to_owned(),
            default_max_tokens: 4096,
            headers: BTreeMap::new(),
            http: HttpConfig::default(),
        }
    }
}

/// A [`ChatBackend`] speaking the Anthropic Messages API.
///
/// Sends `x-api-key` and `anthropic-version`; every failure is an [`Error`] classified by
/// [`crate::error`] (status 529 is `overloaded`), naming the provider and the model, with the
/// key redacted from messages.
#[derive(Debug, Clone)]
pub struct AnthropicClient {
    config: AnthropicConfig,
    key: Secret,
    http: HttpClient,
    messages_url: Endpoint,
}

impl AnthropicClient {
    /// A client reading its key from the environment variable `config.api_key_env`.
    pub fn new(config: AnthropicConfig) -> Result<Self, Error> {
        let key = Secret::from_env(&config.api_key_env)
            .map_err(|error| error.with_provider(config.name.clone()))?;
        Self::with_key(config, key)
    }

    /// A client with an explicit key.
    pub fn with_key(config: AnthropicConfig, key: Secret) -> Result<Self, Error> {
        let http = HttpClient::new(config.http.clone())
            .map_err(|error| error.with_provider(config.name.clone()))?;
        let messages_url = Endpoint::parse(&format!(
            "{}/v1/messages",
            config.base_url.trim_end_matches('/')
        ))
        .map_err(|error| error.with_provider(config.name.clone()))?;
        Ok(Self {
            config,
            key,
            http,
            messages_url,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AnthropicConfig {
        &self.config
    }

    /// Adds the provider, the model, and redacts the key.
    fn decorate(&self, model: &str) -> impl Fn(Error) -> Error + Send + 'static {
        let provider = self.config.name.clone();
        let model = model.to_owned();
        let key = self.key.clone();
        move |mut error: Error| {
            error.message = key.redact(&error.message).into_owned();
            error
                .with_provider(provider.clone())
                .with_model(model.clone())
        }
    }

    /// Sends the body and returns the 2xx response with the expected content type.
    async fn send(&self, body: &serde_json::Value, expected: &str) -> Result<HttpResponse, Error> {
        let mut request = self
            .http
            .post(&self.messages_url)
            .header("x-api-key", self.key.expose())
            .header("anthropic-version", &self.config.anthropic_version)
            .header("accept", expected)
            .header("content-type", "application/json")
            .body(body.to_string());
        for (name, value) in &self.config.headers {
            request = request.header(name, value);
        }
        let response = self.http.send(request).await?.error_for_status().await?;
        if response.content_type() != Some(expected) {
            let got = response.content_type().map(str::to_owned);
            let body = response.bytes().await.unwrap_or_default();
            return Err(crate::error::unexpected_content_type(
                expected,
                got.as_deref(),
                &body,
            ));
        }
        Ok(response)
    }
}

/// Unix seconds now, for `created`: the Messages API does not say when it answered.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// SSE events through the [`EventParser`].
struct Events(EventParser);

impl Framing for Events {
    type Item = SseEvent;

    fn item(&mut self, item: SseEvent) -> Result<Vec<StreamEvent>, Error> {
        self.0.push(&item.data)
    }

    fn end(&mut self) -> Result<Vec<StreamEvent>, Error> {
        self.0.finish().map(|()| Vec::new())
    }

    fn is_done(&self) -> bool {
        self.0.is_done()
    }
}

#[async_trait]
impl ChatBackend for AnthropicClient {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        let decorate = self.decorate(&request.model);
        let result = async {
            let body = request_body(request, self.config.default_max_tokens, false)?;
            let response = self.send(&body, "application/json").await?;
            let bytes = response.bytes().await?;
            parse_response(&bytes, unix_now())
        }
        .await;
        result.map_err(decorate)
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        let decorate = self.decorate(&request.model);
        let response = async {
            let body = request_body(request, self.config.default_max_tokens, true)?;
            self.send(&body, "text/event-stream").await
        }
        .await
        .map_err(&decorate)?;
        let events = sse::events(response.into_stream(), self.config.http.max_body_bytes);
        Ok(drive(
            events,
            Events(EventParser::new(unix_now())),
            decorate,
        ))
    }
}

#[cfg(test)]
mod tests;
