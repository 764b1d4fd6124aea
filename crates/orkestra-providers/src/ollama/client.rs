//! [`OllamaClient`]: Ollama's native API over HTTP.

use async_trait::async_trait;
use bytes::Bytes;
use orkestra_core::{
    ChatBackend, ChatRequest, ChatResponse, ChatStream, Error, ErrorCategory, ErrorClass,
    StreamEvent,
};
use serde::{Deserialize, Serialize};

use super::{ChunkParser, LineDecoder, error_category, parse_response, parse_tags, request_body};
use crate::event_stream::{Framing, drive};
use crate::http::{Endpoint, HttpClient, HttpConfig, HttpResponse};

/// Configuration of one Ollama server.
///
/// ```
/// let config: orkestra_providers::ollama::OllamaConfig =
///     serde_json::from_str(r#"{"base_url": "http://gpu-box:11434"}"#)?;
/// assert_eq!(config.name, "ollama");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OllamaConfig {
    /// The provider name in errors and logs.
    pub name: String,
    /// The server's base URL, without `/api`.
    pub base_url: String,
    /// Timeouts, pool and body cap; the body cap also bounds one stream line.
    pub http: HttpConfig,
}

impl Default for OllamaConfig {
    /// - `name`: `ollama`;
    /// - `base_url`: `http://127.0.0.1:11434`, where `ollama serve` listens;
    /// - `http`: [`HttpConfig::default`].
    fn default() -> Self {
        Self {
            name: "ollama".to_owned(),
            base_url: "http://127.0.0.1:11434".to_owned(),
            http: HttpConfig::default(),
        }
    }
}

/// A [`ChatBackend`] speaking Ollama's native `/api/chat`, plus [`OllamaClient::list_models`].
///
/// Every failure is an [`Error`] naming the provider and the model. HTTP errors are
/// classified by [`crate::error`], then refined by the message where Ollama's wording says
/// more than its status (a missing model, GPU memory, the context length).
#[derive(Debug, Clone)]
pub struct OllamaClient {
    config: OllamaConfig,
    http: HttpClient,
    chat_url: Endpoint,
    tags_url: Endpoint,
}

impl OllamaClient {
    /// A client for the server of `config`.
    pub fn new(config: OllamaConfig) -> Result<Self, Error> {
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
            config,
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
            let response = self.http.send(self.http.get(&self.tags_url)).await?;
            let bytes = self
                .checked(response, &["application/json"])
                .await?
                .bytes()
                .await?;
            parse_tags(&bytes)
        }
        .await;
        result.map_err(|error| error.with_provider(self.config.name.clone()))
    }

    fn decorate(&self, model: &str) -> impl Fn(Error) -> Error + Send + 'static {
        let provider = self.config.name.clone();
        let model = model.to_owned();
        move |error: Error| {
            refine(error)
                .with_provider(provider.clone())
                .with_model(model.clone())
        }
    }

    /// The 2xx response with one of the `expected` content types, or the classified error.
    async fn checked(
        &self,
        response: HttpResponse,
        expected: &[&str],
    ) -> Result<HttpResponse, Error> {
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

    async fn post(&self, request: &ChatRequest, stream: bool) -> Result<HttpResponse, Error> {
        let body = request_body(request, stream)?;
        let response = self
            .http
            .send(
                self.http
                    .post(&self.chat_url)
                    .header("content-type", "application/json")
                    .body(body.to_string()),
            )
            .await?;
        let expected: &[&str] = if stream {
            &["application/x-ndjson", "application/json"]
        } else {
            &["application/json"]
        };
        self.checked(response, expected).await
    }
}

/// An HTTP error whose Ollama message names a more precise category than its status.
fn refine(error: Error) -> Error {
    if error.status.is_none() {
        return error;
    }
    match error_category(&error.message) {
        category @ (ErrorCategory::NotFound
        | ErrorCategory::ContextLength
        | ErrorCategory::ResourceExhausted(_))
            if category != error.class.category =>
        {
            let mut refined = Error::with_class(ErrorClass::new(category), error.message.clone());
            refined.status = error.status;
            refined.with_source(error)
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
    fn lines(&mut self, lines: Vec<Vec<u8>>) -> Result<Vec<StreamEvent>, Error> {
        let mut events = Vec::new();
        for line in lines {
            events.extend(self.parser.push(&line)?);
            if self.parser.is_done() {
                break;
            }
        }
        Ok(events)
    }
}

impl Framing for Lines {
    type Item = Bytes;

    fn item(&mut self, chunk: Bytes) -> Result<Vec<StreamEvent>, Error> {
        let lines = self.decoder.push(&chunk)?;
        self.lines(lines)
    }

    fn end(&mut self) -> Result<Vec<StreamEvent>, Error> {
        let events = match self.decoder.finish() {
            Some(line) => self.lines(vec![line])?,
            None => Vec::new(),
        };
        self.parser.finish()?;
        Ok(events)
    }

    fn is_done(&self) -> bool {
        self.parser.is_done()
    }
}

#[async_trait]
impl ChatBackend for OllamaClient {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        let result = async {
            let bytes = self.post(request, false).await?.bytes().await?;
            parse_response(&bytes, request)
        }
        .await;
        result.map_err(self.decorate(&request.model))
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        let decorate = self.decorate(&request.model);
        let response = self.post(request, true).await.map_err(&decorate)?;
        let lines = Lines {
            decoder: LineDecoder::new(self.config.http.max_body_bytes),
            parser: ChunkParser::new(request),
        };
        Ok(drive(response.into_stream(), lines, decorate))
    }
}

#[cfg(test)]
mod tests;
