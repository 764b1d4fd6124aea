//! [`OpenAiClient`]: the OpenAI-compatible chat API over HTTP.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use hyper::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use orkestra_core::{ChatBackend, ChatRequest, ChatResponse, ChatStream, Error, ErrorCategory};
use serde::{Deserialize, Serialize};

use super::request::{Mode, request_body};
use super::response;
use super::stream::ChunkParser;
use crate::error::{self, ErrorBody};
use crate::event_stream::drive;
use crate::http::{Endpoint, HttpClient, HttpConfig, HttpResponse, RequestBuilder};
use crate::origin::Origin;
use crate::secret::Secret;
use crate::sse::Framed;
use crate::usage;

/// Configuration of one OpenAI-compatible endpoint.
///
/// ```
/// let config: orkestra_providers::OpenAiConfig = serde_json::from_str(
///     r#"{"name": "local-vllm", "base_url": "http://localhost:8000/v1", "api_key_env": null}"#,
/// )?;
/// assert_eq!(config.api_key_env, None);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenAiConfig {
    /// The provider's name in errors, logs and metrics.
    pub name: String,
    /// The API root, ending in `/v1` (a trailing slash is fine).
    pub base_url: String,
    /// The environment variable holding the key; `None` for servers without authentication.
    /// The key itself is never part of the configuration.
    pub api_key_env: Option<String>,
    /// Sent as `OpenAI-Organization` when set.
    pub organization: Option<String>,
    /// Extra headers on every request (`HTTP-Referer` for `OpenRouter`, ...).
    pub headers: BTreeMap<String, String>,
    /// Ask for a final usage chunk when streaming (`stream_options.include_usage`). Turn it
    /// off for a server that rejects the option; usage is then estimated.
    pub stream_usage: bool,
    /// Timeouts, pooling and the body cap.
    pub http: HttpConfig,
}

impl Default for OpenAiConfig {
    /// `OpenAI` itself: named `openai`, `https://api.openai.com/v1`, the key in
    /// `OPENAI_API_KEY`, no organization or extra headers, usage asked for in streams, and
    /// the [`HttpConfig`] defaults.
    fn default() -> Self {
        Self {
            name: "openai".to_owned(),
            base_url: "https://api.openai.com/v1".to_owned(),
            api_key_env: Some("OPENAI_API_KEY".to_owned()),
            organization: None,
            headers: BTreeMap::new(),
            stream_usage: true,
            http: HttpConfig::default(),
        }
    }
}

/// A client of one OpenAI-compatible endpoint. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct OpenAiClient {
    inner: Arc<Inner>,
}

struct Inner {
    origin: Arc<Origin>,
    base_url: String,
    chat_url: Endpoint,
    models_url: Endpoint,
    headers: HeaderMap,
    stream_usage: bool,
    http: HttpClient,
}

impl fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("origin", &self.inner.origin)
            .field("base_url", &self.inner.base_url)
            .field("http", self.inner.http.config())
            .finish_non_exhaustive()
    }
}

impl OpenAiClient {
    /// A client for `config`, reading the key from `config.api_key_env` when set.
    pub fn new(config: OpenAiConfig) -> Result<Self, Error> {
        let key = Secret::from_optional_env(config.api_key_env.as_deref(), &config.name)?;
        Self::build(config, key)
    }

    /// A client for `config` with `key` given directly (tests, keys from a vault);
    /// `config.api_key_env` is ignored.
    pub fn with_key(config: OpenAiConfig, key: Option<Secret>) -> Result<Self, Error> {
        Self::build(config, key)
    }

    fn build(config: OpenAiConfig, key: Option<Secret>) -> Result<Self, Error> {
        let invalid = |message: String| {
            Error::new(ErrorCategory::InvalidRequest, message).with_provider(&config.name)
        };
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(invalid(format!(
                "base_url {:?} must start with http:// or https://",
                config.base_url
            )));
        }
        let mut headers = HeaderMap::new();
        if let Some(key) = &key {
            headers.insert(AUTHORIZATION, key.header_value("Bearer ").map_err(invalid)?);
        }
        if let Some(organization) = &config.organization {
            let value = HeaderValue::from_str(organization).map_err(|_| {
                invalid(format!(
                    "organization {organization:?} is not a valid header value"
                ))
            })?;
            headers.insert(HeaderName::from_static("openai-organization"), value);
        }
        crate::http::extra_headers(&mut headers, &config.headers).map_err(invalid)?;
        let http = HttpClient::new(config.http).map_err(|e| e.with_provider(&config.name))?;
        Ok(Self {
            inner: Arc::new(Inner {
                chat_url: Endpoint::parse(&format!("{base_url}/chat/completions"))
                    .map_err(|e| e.with_provider(&config.name))?,
                models_url: Endpoint::parse(&format!("{base_url}/models"))
                    .map_err(|e| e.with_provider(&config.name))?,
                origin: Origin::new(config.name, key),
                base_url,
                headers,
                stream_usage: config.stream_usage,
                http,
            }),
        })
    }

    /// The provider's name.
    pub fn name(&self) -> &str {
        self.inner.origin.provider()
    }

    /// The API root, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The ids of the models the server lists at `GET {base_url}/models`.
    pub async fn list_models(&self) -> Result<Vec<String>, Error> {
        let origin = &self.inner.origin;
        let result = async {
            let request = self
                .inner
                .http
                .get(&self.inner.models_url)
                .headers(self.inner.headers.clone());
            let response = self.send(request).await?;
            let (_, body) = read_json_body(response).await?;
            let list: ModelList = serde_json::from_slice(&body)
                .map_err(|e| error::malformed_json("model list", e, &body))?;
            Ok(list.data.into_iter().map(|model| model.id).collect())
        }
        .await;
        result.map_err(|e| origin.apply(e, None))
    }

    async fn send(&self, request: RequestBuilder) -> Result<HttpResponse, Error> {
        self.inner
            .http
            .send(request)
            .await?
            .error_for_status()
            .await
    }

    fn post_chat(&self, body: &impl Serialize, accept: &'static str) -> RequestBuilder {
        self.inner
            .http
            .post(&self.inner.chat_url)
            .headers(self.inner.headers.clone())
            .header(ACCEPT, accept)
            .json(body)
    }

    async fn chat_to(&self, model: &str, request: &ChatRequest) -> Result<ChatResponse, Error> {
        let body = request_body(model, request, Mode::Plain);
        let response = self.send(self.post_chat(&body, "application/json")).await?;
        let status = response.status();
        let (headers, body) = read_json_body(response).await?;
        let mut answer = match response::parse_response(&body) {
            Ok(answer) => answer,
            // Some servers answer 200 with an error object (`OpenRouter` mid-generation).
            Err(_) if ErrorBody::parse(&body).is_some() => {
                return Err(error::from_status(status, &headers, &body));
            }
            Err(failure) => return Err(error::malformed_json("chat completion", failure, &body)),
        };
        usage::fill_missing(request, &mut answer);
        Ok(answer)
    }

    async fn stream_to(&self, model: &str, request: &ChatRequest) -> Result<HttpResponse, Error> {
        let mode = Mode::Stream {
            include_usage: self.inner.stream_usage,
        };
        let body = request_body(model, request, mode);
        let mut response = self
            .send(self.post_chat(&body, "text/event-stream"))
            .await?;
        match response.content_type() {
            None | Some("text/event-stream") => Ok(response),
            Some(kind) => {
                let kind = kind.to_owned();
                let status = response.status();
                let headers = response.take_headers();
                let body = response.bytes().await?;
                if ErrorBody::parse(&body).is_some() {
                    return Err(error::from_status(status, &headers, &body));
                }
                Err(error::unexpected_content_type(
                    "text/event-stream",
                    Some(&kind),
                    &body,
                ))
            }
        }
    }
}

/// `GET /models`: `{"object": "list", "data": [{"id": ...}, ...]}`.
#[derive(Deserialize)]
struct ModelList {
    data: Vec<ModelEntry>,
}

#[derive(Deserialize)]
struct ModelEntry {
    id: String,
}

/// Reads a 2xx body that must be JSON, with the headers it came with; a proxy's HTML page is an
/// error naming the type.
async fn read_json_body(mut response: HttpResponse) -> Result<(HeaderMap, Bytes), Error> {
    let headers = response.take_headers();
    let body = response.bytes().await?;
    match error::content_type(&headers) {
        Some(kind) if !kind.contains("json") => Err(error::unexpected_content_type(
            "application/json",
            Some(kind),
            &body,
        )),
        _ => Ok((headers, body)),
    }
}

#[async_trait]
impl ChatBackend for OpenAiClient {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        self.chat_as(&request.model, request).await
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        self.stream_as(&request.model, request).await
    }

    async fn chat_as(&self, model: &str, request: &ChatRequest) -> Result<ChatResponse, Error> {
        let origin = &self.inner.origin;
        self.chat_to(model, request)
            .await
            .map_err(|e| origin.apply(e, Some(model)))
    }

    async fn stream_as(&self, model: &str, request: &ChatRequest) -> Result<ChatStream, Error> {
        let origin = &self.inner.origin;
        let response = self
            .stream_to(model, request)
            .await
            .map_err(|e| origin.apply(e, Some(model)))?;
        let max_event = self.inner.http.config().max_body_bytes;
        let parser = ChunkParser::new(usage::prompt_tokens(request));
        Ok(drive(
            response.into_stream(),
            Framed::new(parser, max_event),
            origin.for_stream(model),
        ))
    }
}

impl OpenAiConfig {
    /// The configuration for a server at `base_url` without authentication (vLLM,
    /// llama.cpp, LM Studio, Ollama), named `name`.
    pub fn local(name: impl Into<String>, base_url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            base_url: base_url.into(),
            api_key_env: None,
            ..Self::default()
        }
    }
}
