//! [`AnthropicClient`]: the Messages API over HTTP.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use hyper::header::{ACCEPT, HeaderMap, HeaderName, HeaderValue};
use orkestra_core::{ChatBackend, ChatRequest, ChatResponse, ChatStream, Error, ErrorCategory};
use serde::{Deserialize, Serialize};

use super::request::MessagesBody;
use super::{EventParser, parse_response, request_body};
use crate::event_stream::drive;
use crate::http::{Endpoint, HttpClient, HttpConfig, HttpResponse};
use crate::origin::Origin;
use crate::secret::Secret;
use crate::sse::Framed;

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
/// its status and body (status 529 is `overloaded`), naming the provider and the model, with the
/// key redacted from messages.
#[derive(Debug, Clone)]
pub struct AnthropicClient {
    config: Arc<AnthropicConfig>,
    origin: Arc<Origin>,
    headers: HeaderMap,
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
        let invalid = |message: String| {
            Error::new(ErrorCategory::InvalidRequest, message).with_provider(&config.name)
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("x-api-key"),
            key.header_value("").map_err(invalid)?,
        );
        let version = HeaderValue::from_str(&config.anthropic_version).map_err(|_| {
            invalid(format!(
                "anthropic_version {:?} is not a valid header value",
                config.anthropic_version
            ))
        })?;
        headers.insert(HeaderName::from_static("anthropic-version"), version);
        crate::http::extra_headers(&mut headers, &config.headers).map_err(invalid)?;
        let http = HttpClient::new(config.http.clone())
            .map_err(|error| error.with_provider(config.name.clone()))?;
        let messages_url = Endpoint::parse(&format!(
            "{}/v1/messages",
            config.base_url.trim_end_matches('/')
        ))
        .map_err(|error| error.with_provider(config.name.clone()))?;
        Ok(Self {
            origin: Origin::new(config.name.clone(), Some(key)),
            config: Arc::new(config),
            headers,
            http,
            messages_url,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AnthropicConfig {
        &self.config
    }

    /// Sends the body and returns the 2xx response with the expected content type.
    async fn send(
        &self,
        body: &MessagesBody<'_>,
        expected: &'static str,
    ) -> Result<HttpResponse, Error> {
        let request = self
            .http
            .post(&self.messages_url)
            .headers(self.headers.clone())
            .header(ACCEPT, expected)
            .json(body);
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

#[async_trait]
impl ChatBackend for AnthropicClient {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        self.chat_as(&request.model, request).await
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        self.stream_as(&request.model, request).await
    }

    async fn chat_as(&self, model: &str, request: &ChatRequest) -> Result<ChatResponse, Error> {
        let result = async {
            let body = request_body(model, request, self.config.default_max_tokens, false)?;
            let response = self.send(&body, "application/json").await?;
            let bytes = response.bytes().await?;
            parse_response(&bytes, unix_now())
        }
        .await;
        result.map_err(|error| self.origin.apply(error, Some(model)))
    }

    async fn stream_as(&self, model: &str, request: &ChatRequest) -> Result<ChatStream, Error> {
        let response = async {
            let body = request_body(model, request, self.config.default_max_tokens, true)?;
            self.send(&body, "text/event-stream").await
        }
        .await
        .map_err(|error| self.origin.apply(error, Some(model)))?;
        Ok(drive(
            response.into_stream(),
            Framed::new(
                EventParser::new(unix_now()),
                self.config.http.max_body_bytes,
            ),
            self.origin.for_stream(model),
        ))
    }
}

#[cfg(test)]
mod tests;
