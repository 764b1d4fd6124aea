//! A local token estimate, used until the shared `usage` module lands.
//!
//! The rule is the common rough one: a token is about four characters of text.

use orkestra_core::ChatRequest;

/// Estimated tokens of `text`: one per four characters, rounded up.
pub(crate) fn estimate_tokens(text: &str) -> u32 {
    let chars = text.chars().count();
    u32::try_from(chars.div_ceil(4)).unwrap_or(u32::MAX)
}

/// Estimated prompt tokens of `request`: the sum over its messages' text.
pub(crate) fn estimate_prompt_tokens(request: &ChatRequest) -> u32 {
    request
        .messages
        .iter()
        .map(|message| estimate_tokens(&message.text()))
        .fold(0, u32::saturating_add)
}
