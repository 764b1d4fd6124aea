//! The OpenAI-compatible chat client: `POST {base_url}/chat/completions`, plain and streamed,
//! and `GET {base_url}/models`.
//!
//! One client serves `OpenAI`, vLLM, llama.cpp server, LM Studio, Ollama's `/v1`, Groq,
//! Together and `OpenRouter`: they differ only in [`OpenAiConfig`] (base URL, key variable,
//! headers). There is no per-vendor code; parsing is tolerant instead (missing `id`,
//! `created`, `model` or `usage`, extra fields, unknown finish reasons, `null` lists).
//!
//! | server | `base_url` | `api_key_env` |
//! |---|---|---|
//! | `OpenAI` | `https://api.openai.com/v1` | `OPENAI_API_KEY` |
//! | Groq | `https://api.groq.com/openai/v1` | `GROQ_API_KEY` |
//! | Together | `https://api.together.xyz/v1` | `TOGETHER_API_KEY` |
//! | `OpenRouter` | `https://openrouter.ai/api/v1` | `OPENROUTER_API_KEY` |
//! | vLLM | `http://localhost:8000/v1` | none, or the `--api-key` variable |
//! | llama.cpp server | `http://localhost:8080/v1` | none |
//! | LM Studio | `http://localhost:1234/v1` | none |
//! | Ollama | `http://localhost:11434/v1` | none |
//!
//! A stream must end with `data: [DONE]`; one that ends without it is an error item
//! (`network`, retryable), never a clean end. When the server leaves usage out, the client
//! estimates it ([`crate::usage`]) and marks it estimated.

mod wire;

use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::{FutureExt, StreamExt};
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use orkestra_core::{
    ChatBackend, ChatRequest, ChatResponse, ChatStream, Error, ErrorCategory, StreamEvent, Usage,
};
use serde::{Deserialize, Serialize};

use crate::error::{self, ErrorBody};
use crate::http::{Endpoint, HttpClient, HttpConfig, HttpResponse, RequestBuilder};
use crate::secret::Secret;
use crate::sse::{self, SseStream};
use crate::usage;

/// Configuration of one OpenAI-compatible endpoint.
///
/// ```
/// let config: orkestra_providers::OpenAiConfig = serde_json::from_str(
///     r#"{"provider": "local-vllm", "base_url": "http://localhost:8000/v1", "api_key_env": null}"#,
/// )?;
/// assert_eq!(config.api_key_env, None);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenAiConfig {
    /// The provider's name in errors, logs and metrics.
    pub provider: String,
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
    /// `OpenAI` itself: provider `openai`, `https://api.openai.com/v1`, the key in
    /// `OPENAI_API_KEY`, no organization or extra headers, usage asked for in streams, and
    /// the [`HttpConfig`] defaults.
    fn default() -> Self {
        Self {
            provider: "openai".to_owned(),
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
    provider: Arc<str>,
    base_url: String,
    chat_url: Endpoint,
    models_url: Endpoint,
    headers: HeaderMap,
    key: Option<Secret>,
    stream_usage: bool,
    http: HttpClient,
}

impl fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("provider", &self.inner.provider)
            .field("base_url", &self.inner.base_url)
            .field("key", &self.inner.key)
            .field("http", self.inner.http.config())
            .finish_non_exhaustive()
    }
}

impl OpenAiClient {
    /// A client for `config`, reading the key from `config.api_key_env` when set.
    pub fn new(config: OpenAiConfig) -> Result<Self, Error> {
        let key = match &config.api_key_env {
            Some(var) => {
                Some(Secret::from_env(var).map_err(|e| e.with_provider(&config.provider))?)
            }
            None => None,
        };
        Self::build(config, key)
    }

    /// A client for `config` with `key` given directly (tests, keys from a vault);
    /// `config.api_key_env` is ignored.
    pub fn with_key(config: OpenAiConfig, key: Option<Secret>) -> Result<Self, Error> {
        Self::build(config, key)
    }

    fn build(config: OpenAiConfig, key: Option<Secret>) -> Result<Self, Error> {
        let invalid = |message: String| {
            Error::new(ErrorCategory::InvalidRequest, message).with_provider(&config.provider)
        };
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(invalid(format!(
                "base_url {:?} must start with http:// or https://",
                config.base_url
            )));
        }
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(key) = &key {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                    invalid("the API key contains characters not allowed in a header".to_owned())
                })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        if let Some(organization) = &config.organization {
            let value = HeaderValue::from_str(organization).map_err(|_| {
                invalid(format!(
                    "organization {organization:?} is not a valid header value"
                ))
            })?;
            headers.insert(HeaderName::from_static("openai-organization"), value);
        }
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("headers: {name:?} is not a valid header name")))?;
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| invalid(format!("headers.{name}: not a valid header value")))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let http = HttpClient::new(config.http).map_err(|e| e.with_provider(&config.provider))?;
        Ok(Self {
            inner: Arc::new(Inner {
                provider: Arc::from(config.provider.as_str()),
                chat_url: Endpoint::parse(&format!("{base_url}/chat/completions"))
                    .map_err(|e| e.with_provider(&config.provider))?,
                models_url: Endpoint::parse(&format!("{base_url}/models"))
                    .map_err(|e| e.with_provider(&config.provider))?,
                base_url,
                headers,
                key,
                stream_usage: config.stream_usage,
                http,
            }),
        })
    }

    /// The provider's name.
    pub fn provider(&self) -> &str {
        &self.inner.provider
    }

    /// The API root, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The ids of the models the server lists at `GET {base_url}/models`.
    pub async fn list_models(&self) -> Result<Vec<String>, Error> {
        let tag = self.tag(None);
        let request = self
            .inner
            .http
            .get(&self.inner.models_url)
            .headers(self.inner.headers.clone());
        let response = self.send(request, &tag).await?;
        let body = read_json_body(response, &tag).await?;
        let list: ModelList =
            serde_json::from_slice(&body).map_err(|e| tag.apply(model_list_error(e, &body)))?;
        Ok(list.data.into_iter().map(|model| model.id).collect())
    }

    fn tag(&self, model: Option<&str>) -> Tag {
        Tag {
            provider: Arc::clone(&self.inner.provider),
            model: model.map(str::to_owned),
            key: self.inner.key.clone(),
        }
    }

    async fn send(&self, request: RequestBuilder, tag: &Tag) -> Result<HttpResponse, Error> {
        let response = self
            .inner
            .http
            .send(request)
            .await
            .map_err(|e| tag.apply(e))?;
        response.error_for_status().await.map_err(|e| tag.apply(e))
    }

    fn post_chat(&self, body: Vec<u8>, accept: &'static str) -> RequestBuilder {
        self.inner
            .http
            .post(&self.inner.chat_url)
            .headers(self.inner.headers.clone())
            .header(ACCEPT, accept)
            .body(body)
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

fn model_list_error(failure: serde_json::Error, body: &[u8]) -> Error {
    error::malformed_json("model list", failure, body)
}

/// Where an error came from: added to every error the client returns.
#[derive(Clone)]
struct Tag {
    provider: Arc<str>,
    model: Option<String>,
    key: Option<Secret>,
}

impl Tag {
    fn apply(&self, mut error: Error) -> Error {
        if let Some(key) = &self.key {
            error.message = key.redact(&error.message).into_owned();
        }
        error = error.with_provider(&*self.provider);
        match &self.model {
            Some(model) => error.with_model(model),
            None => error,
        }
    }
}

/// Reads a 2xx body that must be JSON; a proxy's HTML page is an error naming the type.
async fn read_json_body(response: HttpResponse, tag: &Tag) -> Result<bytes::Bytes, Error> {
    let content_type = response.content_type().map(str::to_owned);
    let body = response.bytes().await.map_err(|e| tag.apply(e))?;
    match content_type.as_deref() {
        None => Ok(body),
        Some(kind) if kind.contains("json") => Ok(body),
        Some(kind) => Err(tag.apply(error::unexpected_content_type(
            "application/json",
            Some(kind),
            &body,
        ))),
    }
}

/// The body of a request: without `stream` and `stream_options` for a plain call; with
/// `stream: true` and, when `include_usage`, `stream_options.include_usage: true` for a stream.
fn request_body(
    request: &ChatRequest,
    stream: bool,
    include_usage: bool,
) -> Result<Vec<u8>, Error> {
    let ready = if stream {
        request.stream == Some(true)
            && (!include_usage
                || request
                    .stream_options
                    .as_ref()
                    .is_some_and(|options| options.include_usage == Some(true)))
    } else {
        request.stream.is_none() && request.stream_options.is_none()
    };
    let result = if ready {
        serde_json::to_vec(request)
    } else {
        // Cloning copies the messages, which is small next to the network call.
        let mut request = request.clone();
        if stream {
            request.stream = Some(true);
            if include_usage {
                request
                    .stream_options
                    .get_or_insert_with(Default::default)
                    .include_usage = Some(true);
            }
        } else {
            request.stream = None;
            request.stream_options = None;
        }
        serde_json::to_vec(&request)
    };
    result.map_err(|failure| {
        Error::new(
            ErrorCategory::InvalidRequest,
            format!("request could not be written as JSON: {failure}"),
        )
    })
}

#[async_trait]
impl ChatBackend for OpenAiClient {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        let tag = self.tag(Some(&request.model));
        let body = request_body(request, false, false).map_err(|e| tag.apply(e))?;
        let response = self
            .send(self.post_chat(body, "application/json"), &tag)
            .await?;
        let headers = response.headers().clone();
        let status = response.status();
        let body = read_json_body(response, &tag).await?;
        let mut answer = match wire::parse_response(&body) {
            Ok(answer) => answer,
            // Some servers answer 200 with an error object (`OpenRouter` mid-generation).
            Err(_) if ErrorBody::parse(&body).is_some() => {
                return Err(tag.apply(error::from_status(status, &headers, &body)));
            }
            Err(failure) => {
                return Err(tag.apply(error::malformed_json("chat completion", failure, &body)));
            }
        };
        usage::fill_missing(request, &mut answer);
        Ok(answer)
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        let tag = self.tag(Some(&request.model));
        let body =
            request_body(request, true, self.inner.stream_usage).map_err(|e| tag.apply(e))?;
        let response = self
            .send(self.post_chat(body, "text/event-stream"), &tag)
            .await?;
        match response.content_type() {
            None | Some("text/event-stream") => {}
            Some(kind) => {
                let kind = kind.to_owned();
                let status = response.status();
                let headers = response.headers().clone();
                let body = response.bytes().await.map_err(|e| tag.apply(e))?;
                if ErrorBody::parse(&body).is_some() {
                    return Err(tag.apply(error::from_status(status, &headers, &body)));
                }
                return Err(tag.apply(error::unexpected_content_type(
                    "text/event-stream",
                    Some(&kind),
                    &body,
                )));
            }
        }
        let max_event = self.inner.http.config().max_body_bytes;
        let events = sse::events(response.into_stream(), max_event);
        Ok(chunk_stream(events, usage::prompt_tokens(request), tag))
    }
}

/// Reads a `chat.completion` body, tolerating what compatible servers leave out (see the
/// [module docs](self)). The client calls it; gateways reading upstream bodies can too.
pub fn parse_response(body: &[u8]) -> Result<ChatResponse, serde_json::Error> {
    wire::parse_response(body)
}

/// Reads the data of one stream event as a `chat.completion.chunk`.
pub fn parse_chunk(data: &[u8]) -> Result<orkestra_core::ChatChunk, serde_json::Error> {
    wire::parse_chunk(data)
}

/// Reads the data of one stream event straight into the [`StreamEvent`]s it carries (with
/// [`StreamEvent::Start`] first when `first`), the same as [`parse_chunk`] followed by
/// [`orkestra_core::ChatChunk::into_events`] but without building the chunk.
///
/// An `error` object sent inside the stream is returned as its classified error; JSON that
/// is not a chunk is an `internal` error naming the position.
pub fn chunk_events(data: &[u8], first: bool) -> Result<Vec<StreamEvent>, Error> {
    let chunk = wire::parse_chunk_events(data, first)
        .map_err(|failure| error::malformed_json("stream chunk", failure, data))?;
    match chunk.error {
        Some(inner)
            if !chunk
                .events
                .iter()
                .any(|e| !matches!(e, StreamEvent::Start { .. })) =>
        {
            let value = serde_json::json!({ "error": inner });
            Err(error::from_stream_error(&value))
        }
        _ => Ok(chunk.events),
    }
}

/// The terminator an `OpenAI` stream must end with.
const DONE: &str = "[DONE]";

/// State of one stream being turned from SSE events into [`StreamEvent`]s.
struct ChunkState {
    events: SseStream,
    tag: Tag,
    pending: VecDeque<StreamEvent>,
    first: bool,
    finished: bool,
    saw_usage: bool,
    prompt_estimate: u32,
    completion_chars: usize,
}

/// Turns the SSE events of an `OpenAI` stream into [`StreamEvent`]s.
fn chunk_stream(events: SseStream, prompt_estimate: u32, tag: Tag) -> ChatStream {
    let state = Some(ChunkState {
        events,
        tag,
        pending: VecDeque::new(),
        first: true,
        finished: false,
        saw_usage: false,
        prompt_estimate,
        completion_chars: 0,
    });
    Box::pin(futures_util::stream::unfold(state, |state| async move {
        let mut state = state?;
        loop {
            if let Some(event) = state.pending.pop_front() {
                return Some((Ok(event), Some(state)));
            }
            if state.finished {
                return None;
            }
            match state.events.next().await {
                Some(Ok(event)) => {
                    if let Err(failure) = state.on_event(&event.data) {
                        return Some((Err(state.tag.apply(failure)), None));
                    }
                }
                Some(Err(failure)) => return Some((Err(state.tag.apply(failure)), None)),
                None => {
                    let cut = error::stream_cut("data: [DONE]");
                    return Some((Err(state.tag.apply(cut)), None));
                }
            }
        }
    }))
}

impl ChunkState {
    fn on_event(&mut self, data: &str) -> Result<(), Error> {
        let data = data.trim();
        if data == DONE {
            self.finished = true;
            if !self.saw_usage {
                self.pending.push_back(StreamEvent::Usage(Usage::estimated(
                    self.prompt_estimate,
                    usage::chars_tokens(self.completion_chars),
                )));
            }
            // If the end of the body is already here, reading it returns the connection to
            // the pool; if not, the connection is dropped rather than waited for.
            let _ = self.events.next().now_or_never();
            return Ok(());
        }
        if data.is_empty() {
            return Ok(());
        }
        let chunk = chunk_events(data.as_bytes(), self.first)?;
        self.first = false;
        for event in &chunk {
            match event {
                StreamEvent::Delta(delta) => {
                    if let Some(content) = &delta.content {
                        self.completion_chars += content.chars().count();
                    }
                    for call in &delta.tool_calls {
                        if let Some(function) = &call.function {
                            let name = function.name.as_deref().unwrap_or_default();
                            let arguments = function.arguments.as_deref().unwrap_or_default();
                            self.completion_chars +=
                                name.chars().count() + arguments.chars().count();
                        }
                    }
                }
                StreamEvent::Usage(_) => self.saw_usage = true,
                _ => {}
            }
        }
        self.pending.extend(chunk);
        Ok(())
    }
}

impl OpenAiConfig {
    /// The configuration for a server at `base_url` without authentication (vLLM,
    /// llama.cpp, LM Studio, Ollama), named `provider`.
    pub fn local(provider: impl Into<String>, base_url: impl Into<String>) -> Self {
        Self {
            provider: provider.into(),
            base_url: base_url.into(),
            api_key_env: None,
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests;
