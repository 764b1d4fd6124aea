//! [`OllamaClient`]: Ollama's native API over HTTP.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use hyper::header::{AUTHORIZATION, HeaderMap};
use orkestra_core::{
    ChatBackend, ChatRequest, ChatResponse, ChatStream, Error, ErrorCategory, ErrorClass,
    StreamEvent,
};
use serde::{Deserialize, Serialize};

use super::{ChunkParser, LineDecoder, error_category, parse_response, parse_tags, request_body};
use crate::event_stream::{Framing, drive};
use crate::http::{Endpoint, HttpClient, HttpConfig, HttpResponse};
use crate::origin::Origin;
use crate::secret::Secret;

/// Configuration of one Ollama server.
///
/// ```
/// let config: orkestra_providers::ollama::OllamaConfig =
///     serde_json::from_str(r#"{"base_url": "http://gpu-box:11434"}"#)?;
/// assert_eq!(config.name, "ollama");
/// assert_eq!(config.api_key_env, None, "a local server needs no key");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OllamaConfig {
    /// The provider name in errors and logs.
    pub name: String,
    /// The server's base URL, without `/api`.
    pub base_url: String,
    /// The environment variable holding a key, sent as `Authorization: Bearer`: for Ollama's
    /// own cloud API, or a server behind an authenticating proxy. `None` sends no key.
    pub api_key_env: Option<String>,
    /// Extra headers sent with every request.
    pub headers: BTreeMap<String, String>,
    /// Timeouts, pool and body cap; the body cap also bounds one stream line.
    pub http: HttpConfig,
}

impl Default for OllamaConfig {
    /// - `name`: `ollama`;
    /// - `base_url`: `http://127.0.0.1:11434`, where `ollama serve` listens;
    /// - `api_key_env`: none, as a local server wants no key;
    /// - `headers`: none;
    /// - `http`: [`HttpConfig::default`].
    fn default() -> Self {
        Self {
            name: "ollama".to_owned(),
            base_url: "http://127.0.0.1:11434".to_owned(),
            api_key_env: None,
            headers: BTreeMap::new(),
            http: HttpConfig::default(),
        }
    }
}

/// A [`ChatBackend`] speaking Ollama's native `/api/chat`, plus [`OllamaClient::list_models`].
///
/// Every failure is an [`Error`] naming the provider and the model. HTTP errors are
/// classified by their status and body, then refined by the message where Ollama's wording
/// says more than its status (a missing model, GPU memory, the context length).
#[derive(Debug, Clone)]
pub struct OllamaClient {
    config: Arc<OllamaConfig>,
    origin: Arc<Origin>,
    headers: HeaderMap,
    http: HttpClient,
    chat_url: Endpoint,
    tags_url: Endpoint,
}

impl OllamaClient {
    /// A client for the server of `config`, reading the key from `config.api_key_env` when
    /// set.
    pub fn new(config: OllamaConfig) -> Result<Self, Error> {
        let key = Secret::from_optional_env(config.api_key_env.as_deref(), &config.name)?;
        Self::with_key(config, key)
    }

    /// A client for `config` with `key` given directly; `config.api_key_env` is ignored.
    pub fn with_key(config: OllamaConfig, key: Option<Secret>) -> Result<Self, Error> {
        let invalid = |message: String| {
            Error::new(ErrorCategory::InvalidRequest, message).with_provider(&config.name)
        };
        let mut headers = HeaderMap::new();
        if let Some(key) = &key {
            headers.insert(AUTHORIZATION, key.header_value("Bearer ").map_err(invalid)?);
        }
        crate::http::extra_headers(&mut headers, &config.headers).map_err(invalid)?;
        let http = HttpClient::new(config.http.clone())
            .map_err(|error| error.with_provider(config.name.clone()))?;
        let base = config.base_url.trim_end_matches('/');
        let endpoint = |path: &str| {
            Endpoint::parse(&format!("{base}{path}"))
                .map_err(|error| error.with_provider(config.name.clone()))
        };
        Ok(Self {
            chat_url: endpoint("/api/chat")?,
            tags_url: endpoint("/api/tags")?,
            origin: Origin::new(config.name.clone(), key),
            config: Arc::new(config),
            headers,
            http,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OllamaConfig {
        &self.config
    }

    /// The names of the models the server has (`GET /api/tags`).
    pub async fn list_models(&self) -> Result<Vec<String>, Error> {
        let result = async {
            let request = self.http.get(&self.tags_url).headers(self.headers.clone());
            let response = self.http.send(request).await?;
            let bytes = checked(response, &["application/json"])
                .await?
                .bytes()
                .await?;
            parse_tags(&bytes)
        }
        .await;
        result.map_err(|error| self.origin.apply(refine(error), None))
    }

    async fn post(
        &self,
        model: &str,
        request: &ChatRequest,
        stream: bool,
    ) -> Result<HttpResponse, Error> {
        let body = request_body(model, request, stream)?;
        let response = self
            .http
            .send(
                self.http
                    .post(&self.chat_url)
                    .headers(self.headers.clone())
                    .json(&body),
            )
            .await?;
        let expected: &[&str] = if stream {
            &["application/x-ndjson", "application/json"]
        } else {
            &["application/json"]
        };
        checked(response, expected).await
    }
}

/// The 2xx response with one of the `expected` content types, or the classified error.
async fn checked(response: HttpResponse, expected: &[&str]) -> Result<HttpResponse, Error> {
    let response = response.error_for_status().await?;
    match response.content_type() {
        Some(kind) if expected.contains(&kind) => Ok(response),
        got => {
            let got = got.map(str::to_owned);
            let body = response.bytes().await.unwrap_or_default();
            Err(crate::error::unexpected_content_type(
                expected[0],
                got.as_deref(),
                &body,
            ))
        }
    }
}

/// An HTTP error whose Ollama message names a more precise category than its status.
fn refine(mut error: Error) -> Error {
    if error.status.is_none() {
        return error;
    }
    match error_category(&error.message) {
        category @ (ErrorCategory::NotFound
        | ErrorCategory::ContextLength
        | ErrorCategory::ResourceExhausted(_))
            if category != error.class.category =>
        {
            error.class = ErrorClass::new(category);
            error
        }
        _ => error,
    }
}

/// Body chunks through the [`LineDecoder`] and the [`ChunkParser`].
struct Lines {
    decoder: LineDecoder,
    parser: ChunkParser,
}

impl Lines {
    fn lines(&mut self, lines: Vec<Vec<u8>>, events: &mut Vec<StreamEvent>) -> Result<(), Error> {
        for line in lines {
            events.extend(self.parser.push(&line)?);
            if self.parser.is_done() {
                break;
            }
        }
        Ok(())
    }
}

impl Framing for Lines {
    fn chunk(&mut self, chunk: &[u8], events: &mut Vec<StreamEvent>) -> Result<(), Error> {
        let lines = self.decoder.push(chunk)?;
        self.lines(lines, events)
    }

    fn end(&mut self, events: &mut Vec<StreamEvent>) -> Result<(), Error> {
        if let Some(line) = self.decoder.finish() {
            self.lines(vec![line], events)?;
        }
        self.parser.finish()
    }

    fn is_done(&self) -> bool {
        self.parser.is_done()
    }
}

#[async_trait]
impl ChatBackend for OllamaClient {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        self.chat_as(&request.model, request).await
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        self.stream_as(&request.model, request).await
    }

    async fn chat_as(&self, model: &str, request: &ChatRequest) -> Result<ChatResponse, Error> {
        let result = async {
            let bytes = self.post(model, request, false).await?.bytes().await?;
            parse_response(&bytes, request)
        }
        .await;
        result.map_err(|error| self.origin.apply(refine(error), Some(model)))
    }

    async fn stream_as(&self, model: &str, request: &ChatRequest) -> Result<ChatStream, Error> {
        let response = self
            .post(model, request, true)
            .await
            .map_err(|error| self.origin.apply(refine(error), Some(model)))?;
        let lines = Lines {
            decoder: LineDecoder::new(self.config.http.max_body_bytes),
            parser: ChunkParser::new(request),
        };
        let tag = self.origin.for_stream(model);
        Ok(drive(response.into_stream(), lines, move |error| {
            tag(refine(error))
        }))
    }
}

#[cfg(test)]
mod tests;
