//! Token estimates for servers that leave `usage` out (some proxies, older llama.cpp builds,
//! streams without `include_usage`).
//!
//! The rule is the common one: about four characters per token, plus a few tokens per message
//! for the chat template's role markers. It is wrong by tens of percent on code and non-Latin
//! text, which is why every estimate is marked [`Usage::estimated`]: budgets and reports can
//! tell a count from a guess.

use orkestra_core::{ChatRequest, ChatResponse, Message, Usage};

/// Characters per token of the estimate.
pub(crate) const CHARS_PER_TOKEN: usize = 4;
/// Tokens a chat template adds around each message (role markers, separators).
pub(crate) const TOKENS_PER_MESSAGE: u32 = 4;
/// Tokens a chat template adds to prime the answer.
pub(crate) const TOKENS_PER_REPLY: u32 = 3;

/// Estimated tokens of `text`: its characters divided by four, rounded up.
pub(crate) fn text_tokens(text: &str) -> u32 {
    chars_tokens(text.chars().count())
}

/// Estimated tokens of `chars` characters of text (a streamed answer counted as it arrives).
pub(crate) fn chars_tokens(chars: usize) -> u32 {
    u32::try_from(chars.div_ceil(CHARS_PER_TOKEN)).unwrap_or(u32::MAX)
}

/// Estimated tokens of one message: its text, its tool calls' names and arguments, and the
/// per-message overhead.
pub(crate) fn message_tokens(message: &Message) -> u32 {
    let mut tokens = TOKENS_PER_MESSAGE.saturating_add(text_tokens(&message.text()));
    for call in message.tool_calls.iter().flatten() {
        tokens = tokens
            .saturating_add(text_tokens(&call.function.name))
            .saturating_add(text_tokens(&call.function.arguments));
    }
    tokens
}

/// Estimated prompt tokens of `request`: every message plus the reply priming.
pub(crate) fn prompt_tokens(request: &ChatRequest) -> u32 {
    request
        .messages
        .iter()
        .map(message_tokens)
        .fold(TOKENS_PER_REPLY, u32::saturating_add)
}

/// Estimated completion tokens of `response`: every choice's text and tool calls.
pub(crate) fn completion_tokens(response: &ChatResponse) -> u32 {
    response
        .choices
        .iter()
        .map(|choice| message_tokens(&choice.message).saturating_sub(TOKENS_PER_MESSAGE))
        .fold(0, u32::saturating_add)
}

/// Fills `response.usage` with an estimate when the server left it out; reported usage is
/// kept as is.
pub(crate) fn fill_missing(request: &ChatRequest, response: &mut ChatResponse) {
    if response.usage.is_none() {
        response.usage = Some(Usage::estimated(
            prompt_tokens(request),
            completion_tokens(response),
        ));
    }
}

#[cfg(test)]
mod tests;
