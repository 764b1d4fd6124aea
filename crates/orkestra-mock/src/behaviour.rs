//! The decisions behind one answer, without IO: which fault applies, what the model says, how
//! many tokens it reports and how long each step takes.
//!
//! Every random choice of a request comes from a generator seeded with the server's seed, the
//! model's name, the request's number for that model and what the choice is for, so the same
//! requests get the same answers and faults whatever the concurrency, and adding a fault rule
//! does not change the generated text.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng as _};

use crate::config::{Fault, FaultRule, FixedUsage, Latency, Output, Trigger};

#[cfg(test)]
mod tests;

/// Characters per token in the usage estimate and in the stream's chunking.
pub(crate) const CHARS_PER_TOKEN: usize = 4;

/// The longest latency sampled, so a wild log-normal tail cannot overflow a `Duration`.
const MAX_LATENCY: Duration = Duration::from_hours(1);

/// What a random draw is for; each purpose has its own generator.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Purpose {
    /// A fault rule's rate, with the rule's index.
    Fault(usize),
    /// Latency samples.
    Latency,
    /// Generated text.
    Text,
}

/// The identity of one request, from which its random choices derive.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestKey<'a> {
    /// The server's seed.
    pub(crate) seed: u64,
    /// The model's name.
    pub(crate) model: &'a str,
    /// The 1-based request number for that model.
    pub(crate) number: u64,
}

impl RequestKey<'_> {
    /// A generator for one purpose of this request.
    pub(crate) fn rng(&self, purpose: Purpose) -> SmallRng {
        let purpose = match purpose {
            Purpose::Fault(index) => 0x100 + index as u64,
            Purpose::Latency => 1,
            Purpose::Text => 2,
        };
        let mut state = splitmix(self.seed);
        state = splitmix(state ^ fnv1a(self.model.as_bytes()));
        state = splitmix(state ^ self.number);
        state = splitmix(state ^ purpose);
        SmallRng::seed_from_u64(state)
    }
}

/// One round of `SplitMix64`: a fast, well-mixing bijection on `u64`.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over bytes: a stable hash of the model name (std's hasher is not stable across releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01B3)
    })
}

/// The first fault whose trigger fires for this request, with its rule's index.
///
/// `since_set` is how long ago the model's behaviour was set (the flapping clock).
pub(crate) fn select_fault<'a>(
    rules: &'a [FaultRule],
    key: &RequestKey<'_>,
    since_set: Duration,
) -> Option<&'a Fault> {
    rules
        .iter()
        .enumerate()
        .find(|(index, rule)| fires(&rule.when, key, *index, since_set))
        .map(|(_, rule)| &rule.fault)
}

fn fires(trigger: &Trigger, key: &RequestKey<'_>, index: usize, since_set: Duration) -> bool {
    match trigger {
        Trigger::Always => true,
        // A NaN or negative rate never fires; a rate of 1 or more always does.
        Trigger::Rate(rate) => {
            *rate >= 1.0 || key.rng(Purpose::Fault(index)).random::<f64>() < *rate
        }
        Trigger::Requests(numbers) => numbers.contains(&key.number),
        Trigger::First(count) => key.number <= *count,
        Trigger::Flapping { down, up } => match up {
            None => since_set < *down,
            Some(up) => {
                let period = down.saturating_add(*up).as_nanos();
                period == 0 || since_set.as_nanos() % period < down.as_nanos()
            }
        },
    }
}

/// Whether a latency is always zero, so the caller need not sample nor sleep.
pub(crate) fn is_zero(latency: &Latency) -> bool {
    match latency {
        Latency::Fixed(duration) => duration.is_zero(),
        Latency::Uniform { min, max } => min.is_zero() && max.is_zero(),
        Latency::LogNormal { median, .. } => median.is_zero(),
    }
}

/// One sample of a latency distribution.
pub(crate) fn sample(latency: &Latency, rng: &mut SmallRng) -> Duration {
    match *latency {
        Latency::Fixed(duration) => duration,
        Latency::Uniform { min, max } => {
            let (low, high) = if min <= max { (min, max) } else { (max, min) };
            if low == high {
                return low;
            }
            let nanos = rng.random_range(low.as_nanos()..=high.as_nanos());
            Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX)).min(MAX_LATENCY)
        }
        Latency::LogNormal { median, sigma } => {
            let sigma = if sigma.is_finite() { sigma.abs() } else { 0.0 };
            // Box-Muller: one standard normal draw from two uniforms; `1 - u` keeps the
            // logarithm's argument in (0, 1].
            let u1 = 1.0 - rng.random::<f64>();
            let u2 = rng.random::<f64>();
            let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            let seconds = median.as_secs_f64() * (sigma * normal).exp();
            Duration::try_from_secs_f64(seconds)
                .unwrap_or(MAX_LATENCY)
                .min(MAX_LATENCY)
        }
    }
}

/// Why an answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finish {
    /// The model said everything.
    Stop,
    /// The answer reached the request's `max_tokens`.
    Length,
}

/// The text of an answer and the usage it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    /// The whole text.
    pub(crate) text: String,
    /// Prompt tokens reported.
    pub(crate) prompt_tokens: u32,
    /// Completion tokens reported.
    pub(crate) completion_tokens: u32,
    /// Why it ended.
    pub(crate) finish: Finish,
}

impl Answer {
    /// The text in token-sized pieces, as a stream sends them.
    pub(crate) fn chunks(&self) -> Vec<&str> {
        token_chunks(&self.text)
    }
}

/// What the request asked, as far as the answer depends on it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prompt<'a> {
    /// The last user message's text.
    pub(crate) last_user: &'a str,
    /// Characters in every message and the system prompt, for the usage estimate.
    pub(crate) chars: usize,
    /// The request's output limit.
    pub(crate) max_tokens: Option<u32>,
}

/// Writes the answer for one request: the preface, then what the output says.
pub(crate) fn answer(
    output: &Output,
    preface: &str,
    usage: Option<FixedUsage>,
    prompt: &Prompt<'_>,
    key: &RequestKey<'_>,
) -> Answer {
    let said = match output {
        Output::Echo => prompt.last_user.to_owned(),
        Output::Fixed(text) => text.clone(),
        Output::Script(answers) => {
            if answers.is_empty() {
                String::new()
            } else {
                let len = u64::try_from(answers.len()).unwrap_or(u64::MAX);
                let index = key.number.saturating_sub(1) % len;
                // The remainder is below the length, which is a `usize`.
                answers[usize::try_from(index).unwrap_or(0)].clone()
            }
        }
        Output::Generated { tokens } => generate(*tokens, &mut key.rng(Purpose::Text)),
    };
    let mut text = if preface.is_empty() {
        said
    } else {
        format!("{preface}{said}")
    };
    let mut finish = Finish::Stop;
    if let Some(limit) = prompt.max_tokens {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if estimate(&text) > limit {
            let end = text
                .char_indices()
                .nth(limit.saturating_mul(CHARS_PER_TOKEN))
                .map_or(text.len(), |(at, _)| at);
            text.truncate(end);
            finish = Finish::Length;
        }
    }
    let (prompt_tokens, completion_tokens) = match usage {
        Some(fixed) => (fixed.prompt_tokens, fixed.completion_tokens),
        None => (
            tokens_for_chars(prompt.chars),
            to_u32(estimate(&text).max(1)),
        ),
    };
    Answer {
        text,
        prompt_tokens,
        completion_tokens,
        finish,
    }
}

/// Tokens for this many characters: about four characters each, at least one.
pub(crate) fn tokens_for_chars(chars: usize) -> u32 {
    to_u32(chars.div_ceil(CHARS_PER_TOKEN).max(1))
}

fn to_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// Tokens in a text: its characters divided by four, rounded up (zero for no text).
fn estimate(text: &str) -> usize {
    text.chars().count().div_ceil(CHARS_PER_TOKEN)
}

/// Splits a text into pieces of four characters (the last may be shorter).
pub(crate) fn token_chunks(text: &str) -> Vec<&str> {
    let mut chunks = Vec::with_capacity(text.len() / CHARS_PER_TOKEN + 1);
    let mut start = 0;
    for (count, (at, _)) in text.char_indices().enumerate() {
        if count > 0 && count % CHARS_PER_TOKEN == 0 {
            chunks.push(&text[start..at]);
            start = at;
        }
    }
    if start < text.len() {
        chunks.push(&text[start..]);
    }
    chunks
}

/// The longest generated answer, so a typo in a configuration cannot exhaust memory.
pub(crate) const MAX_GENERATED_TOKENS: u32 = 1_000_000;

/// Three-letter filler words: with a space each is exactly one four-character token.
const FILLER: [&str; 32] = [
    "the", "and", "for", "but", "not", "you", "all", "any", "can", "had", "her", "was", "one",
    "our", "out", "day", "get", "has", "him", "his", "how", "man", "new", "now", "old", "see",
    "two", "way", "who", "did", "its", "let",
];

/// `tokens` seeded filler words separated by spaces: exactly `tokens` tokens by the estimate.
fn generate(tokens: u32, rng: &mut SmallRng) -> String {
    let count = usize::try_from(tokens.min(MAX_GENERATED_TOKENS)).unwrap_or(usize::MAX);
    let mut text = String::with_capacity(count.saturating_mul(CHARS_PER_TOKEN));
    for index in 0..count {
        if index > 0 {
            text.push(' ');
        }
        text.push_str(FILLER[rng.random_range(0..FILLER.len())]);
    }
    text
}
