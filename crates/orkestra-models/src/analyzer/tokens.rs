//! The input token estimate: shared by the full analysis and by [`TaskAnalyzer::input_tokens`],
//! which a caller uses alone when it needs the context a request takes and no ranking.

use orkestra_core::{ChatRequest, Content, ContentPart, ImageUrl, Message, Tool};

use super::script::{self, UNITS_PER_TOKEN};
use super::{IMAGE_DEFAULT, IMAGE_LOW_DETAIL, MESSAGE_OVERHEAD, REPLY_OVERHEAD, TOOL_OVERHEAD};
use super::{TaskAnalyzer, json_units};

/// Whole tokens and token units (twelfths of a token) of a part of a request.
pub(super) type Count = (u64, u64);

/// What a message costs besides its content: the role and separators, and its tool calls.
pub(super) fn frame(message: &Message) -> Count {
    let mut count = (MESSAGE_OVERHEAD, 0);
    for call in message.tool_calls.iter().flatten() {
        count.0 += TOOL_OVERHEAD;
        count.1 += script::text_stats(&call.function.name).units
            + script::text_stats(&call.function.arguments).units;
    }
    count
}

/// Tokens of an image part: fewer at `detail: low`.
pub(super) fn image(image: &ImageUrl) -> u64 {
    if image.detail.as_deref() == Some("low") {
        IMAGE_LOW_DETAIL
    } else {
        IMAGE_DEFAULT
    }
}

/// What the tool definitions cost: names, descriptions and parameter schemas.
pub(super) fn tool_definitions(tools: &[Tool]) -> Count {
    let mut count = (0, 0);
    for tool in tools {
        let function = &tool.function;
        count.0 += TOOL_OVERHEAD;
        count.1 += script::text_stats(&function.name).units
            + function
                .description
                .as_deref()
                .map_or(0, |text| script::text_stats(text).units)
            + function.parameters.as_ref().map_or(0, json_units);
    }
    count
}

/// The input estimate from whole tokens and units, the answer's priming included.
pub(super) fn input((tokens, units): Count) -> u32 {
    let input = tokens + REPLY_OVERHEAD + units.div_ceil(UNITS_PER_TOKEN);
    u32::try_from(input).unwrap_or(u32::MAX)
}

impl TaskAnalyzer {
    /// Estimated prompt tokens of `request`, every message included: the same figure as
    /// [`TaskProfile::input_tokens`](crate::TaskProfile::input_tokens) from [`Self::analyze`],
    /// without reading a word for the kind, so it costs little more than one pass over the
    /// text.
    pub fn input_tokens(&self, request: &ChatRequest) -> u32 {
        let mut count = (0, 0);
        let mut add = |(tokens, units): Count| {
            count.0 += tokens;
            count.1 += units;
        };
        for message in &request.messages {
            add(frame(message));
            match &message.content {
                None => {}
                Some(Content::Text(text)) => add((0, script::text_stats(text).units)),
                Some(Content::Parts(parts)) => {
                    for part in parts {
                        match part {
                            ContentPart::Text { text } => {
                                add((0, script::text_stats(text).units));
                            }
                            ContentPart::ImageUrl { image_url } => add((image(image_url), 0)),
                            // As in the analysis: no size to see without decoding.
                            _ => {}
                        }
                    }
                }
            }
        }
        add(tool_definitions(
            request.tools.as_deref().unwrap_or_default(),
        ));
        input(count)
    }
}

#[cfg(test)]
mod tests;
