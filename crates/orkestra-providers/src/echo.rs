//! `echo`: an offline [`ChatBackend`] that answers with the last user message.
//!
//! Like promptfoo's `echo` provider, it lets suites, examples and smoke tests run without a
//! network or a model. It still behaves like a model where a caller can notice:
//! - usage is counted with the crate's token estimate ([`crate::usage`]: about four characters
//!   a token, plus a few per message) and reported as the echo model's own count, so it is not
//!   marked estimated;
//! - the request's output limit is honoured: a longer answer is cut at the limit and finishes
//!   with [`FinishReason::Length`];
//! - [`ChatBackend::stream`] yields the answer in word-sized pieces (each word with the
//!   whitespace before it), then a finish and the usage, like a real streamed answer.
//!
//! A request without a user message is an [`ErrorCategory::InvalidRequest`] error, because
//! there is nothing to echo.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use orkestra_core::{
    ChatBackend, ChatRequest, ChatResponse, ChatStream, Choice, Delta, Error, ErrorCategory,
    FinishReason, Message, Role, StreamEvent, Usage,
};
use serde_json::Map;

use crate::usage::{prompt_tokens, text_tokens};

/// The default provider name of an [`EchoBackend`].
pub(crate) const DEFAULT_ECHO_NAME: &str = "echo";

/// Answers every request with the text of its last user message; no network involved.
///
/// ```
/// use orkestra_core::{ChatBackend, ChatRequest, Message};
/// use orkestra_providers::EchoBackend;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let echo = EchoBackend::new();
/// let request = ChatRequest::new("any", vec![Message::user("ping")]);
/// let response = echo.chat(&request).await?;
/// assert_eq!(response.text(), "ping");
/// assert_eq!(response.usage.unwrap().completion_tokens, 1);
/// # Ok::<(), orkestra_core::Error>(())
/// # })?;
/// # Ok::<(), orkestra_core::Error>(())
/// ```
#[derive(Debug)]
pub struct EchoBackend {
    name: String,
    calls: AtomicU64,
}

impl Default for EchoBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl EchoBackend {
    /// An echo backend named `echo`.
    pub fn new() -> Self {
        Self::with_name(DEFAULT_ECHO_NAME)
    }

    /// An echo backend with its own provider name, for suites that run several.
    pub fn with_name(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            calls: AtomicU64::new(0),
        }
    }

    /// The provider name, used in error messages and response ids.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Works out the answer to `request`, shared by `chat` and `stream`.
    fn answer(&self, request: &ChatRequest) -> Result<Answer, Error> {
        let last_user = request
            .messages
            .iter()
            .rev()
            .find(|message| message.role == Role::User)
            .ok_or_else(|| {
                Error::new(
                    ErrorCategory::InvalidRequest,
                    "the echo model needs a user message to echo, and the request has none",
                )
                .with_provider(self.name.clone())
                .with_model(request.model.clone())
            })?;
        let mut text = last_user.text();
        let mut finish_reason = FinishReason::Stop;
        if let Some(limit) = request.output_limit() {
            // The estimate counts four characters a token, so cutting at `limit * 4` characters
            // keeps the completion within the limit.
            let max_chars = usize::try_from(limit)
                .unwrap_or(usize::MAX)
                .saturating_mul(4);
            if let Some((cut, _)) = text.char_indices().nth(max_chars) {
                text.truncate(cut);
                finish_reason = FinishReason::Length;
            }
        }
        let call = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        let usage = Usage::new(prompt_tokens(request), text_tokens(&text));
        Ok(Answer {
            id: format!("{}-{call}", self.name),
            model: if request.model.is_empty() {
                self.name.clone()
            } else {
                request.model.clone()
            },
            text,
            finish_reason,
            usage,
        })
    }
}

/// What the echo model says to one request.
struct Answer {
    id: String,
    model: String,
    text: String,
    finish_reason: FinishReason,
    usage: Usage,
}

impl Answer {
    fn into_response(self) -> ChatResponse {
        ChatResponse {
            id: self.id,
            object: "chat.completion".to_owned(),
            created: unix_now(),
            model: self.model,
            choices: vec![Choice {
                index: 0,
                message: Message::assistant(self.text),
                finish_reason: Some(self.finish_reason),
                extra: Map::new(),
            }],
            usage: Some(self.usage),
            extra: Map::new(),
        }
    }

    fn into_events(self) -> Vec<StreamEvent> {
        let pieces = word_pieces(&self.text);
        let mut events = Vec::with_capacity(pieces.len() + 4);
        events.push(StreamEvent::Start {
            id: self.id,
            model: self.model,
            created: unix_now(),
        });
        events.push(StreamEvent::Delta(Delta {
            role: Some(Role::Assistant),
            ..Delta::default()
        }));
        events.extend(
            pieces
                .into_iter()
                .map(|piece| StreamEvent::Delta(Delta::text(0, piece))),
        );
        events.push(StreamEvent::Finish {
            index: 0,
            reason: self.finish_reason,
        });
        events.push(StreamEvent::Usage(self.usage));
        events
    }
}

/// The current Unix time in seconds, for the `created` field.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Splits `text` into pieces of one word each, every piece carrying the whitespace before
/// its word, so that the pieces concatenate back to `text`.
pub(crate) fn word_pieces(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut in_word = false;
    for (at, character) in text.char_indices() {
        if character.is_whitespace() {
            if in_word {
                pieces.push(&text[start..at]);
                start = at;
                in_word = false;
            }
        } else {
            in_word = true;
        }
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

#[async_trait]
impl ChatBackend for EchoBackend {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        Ok(self.answer(request)?.into_response())
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        let events = self.answer(request)?.into_events();
        Ok(Box::pin(futures_util::stream::iter(
            events.into_iter().map(Ok),
        )))
    }
}

#[cfg(test)]
mod tests;
