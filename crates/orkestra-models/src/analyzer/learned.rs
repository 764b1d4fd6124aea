//! The learned half of the kind decision: a linear model over hashed features.
//!
//! Every feature is a hash folded into one of [`BUCKETS`] slots: words and word pairs
//! (lowercased; each Chinese, Japanese or Korean character is a word of its own), character
//! trigrams, the shape of the request (code fences, turns, a system prompt, `response_format`,
//! the length of the last user message) and the hand-written cues' evidence per kind, in
//! logarithmic levels. The model holds one small integer weight per slot and kind; a kind's
//! score is the sum of the weights of the features present, and the highest score wins.
//!
//! The weights are trained from the tuning fixture by `cargo xtask train-analyzer` (an averaged
//! perceptron, integer arithmetic throughout, so the same fixture always gives the same bytes)
//! and shipped in `model.bin`, read in place: nothing is allocated or copied at run time.
//! Features are hashed as the text is walked, over bounded windows of each message.

use orkestra_core::Role;

use super::script::is_spaceless;
use super::{Evidence, floor_boundary};
use crate::task::TaskKind;

/// Bumped whenever the features change: a model trained on other features is refused.
pub(super) const FEATURE_VERSION: u8 = 1;
/// Bits of the feature hash kept: the model has `2^BITS` slots per kind.
pub(super) const BITS: u32 = 13;
/// Slots of the hashed features (words, pairs, trigrams), one signed byte per kind each.
pub const BUCKETS: usize = 1 << BITS;
/// Slots of the dense features (shape and cues), after the hashed ones: each has a slot of its
/// own, and a 16-bit weight per kind, since a few of them carry much of the decision and need
/// a wider range than a byte gives at the scale of the n-grams.
pub const DENSE: usize = 384;
/// Bytes of the model header: magic, feature version, bits, kinds, temperature.
const HEADER: usize = 12;
const MAGIC: &[u8; 4] = b"OKAM";

/// The value of a feature of the request's shape or of the cues' verdict; words and trigrams
/// are worth 1. There are a few dozen of these against hundreds of n-grams, and they carry
/// more of the decision.
const STRONG: i32 = 8;

/// Bytes of the last user message read for words and trigrams at its start and at its end.
const LAST_HEAD: usize = 320;
const LAST_TAIL: usize = 160;
/// Bytes of a system prompt and of an earlier user message read for words.
const SYSTEM_HEAD: usize = 160;
const EARLIER_HEAD: usize = 96;

/// The model shipped with the crate.
static BUILTIN: &[u8] = include_bytes!("model.bin");

/// A trained model, read in place from its bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Model {
    /// [`BUCKETS`] rows of one signed byte per kind, in [`TaskKind`] order.
    hashed: &'static [u8],
    /// [`DENSE`] rows of one little-endian `i16` per kind.
    dense: &'static [u8],
    /// The score difference that makes one kind `e` times likelier than another.
    temperature: u32,
}

impl Model {
    /// The shipped model, or `None` when its bytes do not fit the features of this build (a
    /// model from before a feature change, or none trained yet): the cues then decide alone.
    pub(super) fn builtin() -> Option<Self> {
        Self::parse(BUILTIN)
    }

    fn parse(bytes: &'static [u8]) -> Option<Self> {
        let header = bytes.get(..HEADER)?;
        let valid = header.get(..4) == Some(MAGIC.as_slice())
            && header[4] == FEATURE_VERSION
            && u32::from(header[5]) == BITS
            && usize::from(header[6]) == TaskKind::COUNT
            && bytes.len() == HEADER + (BUCKETS + 2 * DENSE) * TaskKind::COUNT;
        let temperature = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        let (hashed, dense) = bytes
            .get(HEADER..)?
            .split_at_checked(BUCKETS * TaskKind::COUNT)?;
        (valid && temperature > 0).then_some(Self {
            hashed,
            dense,
            temperature,
        })
    }

    /// Adds the weights of the feature in `slot` to `scores`.
    #[inline]
    fn add(self, slot: u32, value: i32, scores: &mut [i32; TaskKind::COUNT]) {
        let slot = slot as usize;
        if slot < BUCKETS {
            let start = slot * TaskKind::COUNT;
            if let Some(row) = self.hashed.get(start..start + TaskKind::COUNT) {
                for (score, &weight) in scores.iter_mut().zip(row) {
                    *score += i32::from(weight.cast_signed()) * value;
                }
            }
        } else {
            let start = (slot - BUCKETS) * 2 * TaskKind::COUNT;
            if let Some(row) = self.dense.get(start..start + 2 * TaskKind::COUNT) {
                for (score, weight) in scores.iter_mut().zip(row.chunks_exact(2)) {
                    *score += i32::from(i16::from_le_bytes([weight[0], weight[1]])) * value;
                }
            }
        }
    }

    /// The scores of every kind for a request's features.
    pub(super) fn scores(self, input: &Input<'_>) -> [i32; TaskKind::COUNT] {
        let mut scores = [0; TaskKind::COUNT];
        for_each_feature(input, &mut |slot, value| self.add(slot, value, &mut scores));
        scores
    }

    /// The winning kind and the model's probability of it: a softmax of the scores at the
    /// model's temperature.
    pub(super) fn decide(self, scores: &[i32; TaskKind::COUNT]) -> (TaskKind, f64) {
        let mut best = 0;
        for (index, &score) in scores.iter().enumerate() {
            if score > scores[best] {
                best = index;
            }
        }
        let temperature = f64::from(self.temperature);
        let top = scores[best];
        let total: f64 = scores
            .iter()
            .map(|&score| (f64::from(score - top) / temperature).exp())
            .sum();
        (TaskKind::ALL[best], 1.0 / total)
    }
}

/// Serializes trained weights in the format [`Model::builtin`] reads.
#[doc(hidden)]
#[must_use]
pub fn encode_model(
    hashed: &[[i8; TaskKind::COUNT]],
    dense: &[[i16; TaskKind::COUNT]],
    temperature: u32,
) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER + (hashed.len() + 2 * dense.len()) * TaskKind::COUNT);
    bytes.extend_from_slice(MAGIC);
    bytes.push(FEATURE_VERSION);
    // Both are small constants: 13 bits, 10 kinds.
    bytes.extend_from_slice(&[BITS.to_le_bytes()[0], TaskKind::COUNT.to_le_bytes()[0], 0]);
    bytes.extend_from_slice(&temperature.to_le_bytes());
    for row in hashed {
        bytes.extend(row.iter().map(|weight| weight.cast_unsigned()));
    }
    for row in dense {
        for weight in row {
            bytes.extend_from_slice(&weight.to_le_bytes());
        }
    }
    bytes
}

/// Calls its argument with each message's role and text (its first text part), in order.
pub(super) type Messages<'a> = &'a dyn Fn(&mut dyn FnMut(Role, &str));

/// What the features are computed from: the messages' texts and what the cues found.
pub(super) struct Input<'a> {
    /// Each message's role and text (its first text part).
    pub(super) messages: Messages<'a>,
    pub(super) evidence: &'a Evidence,
    /// The cues' score per kind, in [`TaskKind`] order, after the rules that combine them.
    pub(super) cues: &'a [u64; TaskKind::COUNT],
    pub(super) response_format: bool,
    pub(super) schema: bool,
    pub(super) tools: bool,
}

/// Namespaces keep features of different sorts apart before hashing.
mod space {
    pub(super) const WORD: u64 = 1;
    pub(super) const PAIR: u64 = 2;
    pub(super) const TRIGRAM: u64 = 3;
    pub(super) const FIRST: u64 = 4;
    pub(super) const SYSTEM: u64 = 5;
    pub(super) const EARLIER: u64 = 6;
}

/// Where each sort of dense feature starts among the [`DENSE`] slots.
mod dense {
    /// Always present: the prior of each kind.
    pub(super) const BIAS: u32 = 0;
    /// 13 flags of the request's shape, from 1.
    pub(super) const FLAGS: u32 = 0;
    /// User turns, 1 to 4 or more.
    pub(super) const USERS: u32 = 16;
    /// Length of the last user message in bytes, in 15 logarithmic levels.
    pub(super) const LENGTH: u32 = 24;
    /// Per kind: the cues' evidence in 13 levels.
    pub(super) const CUE: u32 = 40;
    /// Per kind: its share of the cues' evidence in fifths.
    pub(super) const CUE_SHARE: u32 = 170;
    /// Per kind: the cues' winner, with its confidence in quarters.
    pub(super) const CUE_WINNER: u32 = 220;
    /// Per combined feature: its evidence in 11 levels.
    pub(super) const CUE_FEATURE: u32 = 260;
    /// Where they end: at most [`super::DENSE`].
    pub(super) const END: u32 = CUE_FEATURE + 8 * 11;
}

const _: () = assert!(dense::END as usize <= DENSE);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// One step of an FxHash-like hash: cheap, and good enough to spread features over slots.
#[inline]
fn mix(hash: u64, value: u64) -> u64 {
    (hash.rotate_left(5) ^ value).wrapping_mul(SEED)
}

/// The slot of a finished hash: its top bits after one more multiplication.
#[inline]
fn slot(hash: u64) -> u32 {
    (hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - BITS)) as u32
}

/// The slot of the dense feature at `offset`, as a small integer computed from counts and
/// levels, all bounded.
fn dense_slot(offset: u64) -> u32 {
    (1_u32 << BITS) + u32::try_from(offset).unwrap_or(0).min(dense::END)
}

/// `value` in logarithmic levels: 0 for 0, then 1 + its bit length, at most `cap`.
fn level(value: u64, cap: u64) -> u64 {
    u64::from(u64::BITS - value.leading_zeros()).min(cap)
}

/// Calls `emit` with the slot of every feature of `input`, in a fixed order.
pub(super) fn for_each_feature(input: &Input<'_>, emit: &mut dyn FnMut(u32, i32)) {
    emit(dense_slot(u64::from(dense::BIAS)), STRONG);
    let mut users = 0_u64;
    (input.messages)(&mut |role, _| users += u64::from(role == Role::User));
    let mut seen_users = 0;
    let mut system = false;
    let mut last_len = 0;
    (input.messages)(&mut |role, text| match role {
        Role::User => {
            seen_users += 1;
            if seen_users == users {
                last_len = text.len();
                last_user_features(text, emit);
            } else {
                words(
                    text,
                    0..floor_boundary(text, EARLIER_HEAD),
                    space::EARLIER,
                    false,
                    emit,
                );
            }
        }
        Role::System | Role::Developer => {
            system = true;
            words(
                text,
                0..floor_boundary(text, SYSTEM_HEAD),
                space::SYSTEM,
                false,
                emit,
            );
        }
        Role::Assistant | Role::Tool => {}
    });
    shape_features(input, users, system, last_len, emit);
    cue_features(input, emit);
}

/// Words, word pairs, trigrams and first words of the last user message, at both its ends.
fn last_user_features(text: &str, emit: &mut dyn FnMut(u32, i32)) {
    let head = floor_boundary(text, LAST_HEAD);
    words(text, 0..head, space::WORD, true, emit);
    if text.len() > head {
        let tail = floor_boundary(text, text.len().saturating_sub(LAST_TAIL)).max(head);
        words(text, tail..text.len(), space::WORD, true, emit);
    }
}

/// Features of the request's shape.
fn shape_features(
    input: &Input<'_>,
    users: u64,
    system: bool,
    last_len: usize,
    emit: &mut dyn FnMut(u32, i32),
) {
    let evidence = input.evidence;
    let flags = [
        (1, evidence.fences > 0),
        (2, evidence.syntax >= 3),
        (3, evidence.syntax >= 10),
        (4, system),
        (5, input.response_format),
        (6, input.schema),
        (7, input.tools),
        (8, evidence.vision),
        (9, evidence.json_demand),
        (10, evidence.steps >= 3),
        (11, evidence.math >= 2),
        (12, evidence.constraints >= 3),
        (13, evidence.hard > 0),
    ];
    for (id, present) in flags {
        if present {
            emit(dense_slot(u64::from(dense::FLAGS) + id), STRONG);
        }
    }
    emit(dense_slot(u64::from(dense::USERS) + users.min(4)), STRONG);
    emit(
        dense_slot(u64::from(dense::LENGTH) + level(last_len as u64, 14)),
        STRONG,
    );
}

/// The hand-written cues' verdict as features: each kind's evidence and share in levels, the
/// winner, and the combined features' levels.
fn cue_features(input: &Input<'_>, emit: &mut dyn FnMut(u32, i32)) {
    let cues = input.cues;
    let total: u64 = cues.iter().sum();
    let mut winner = None;
    for (index, &score) in cues.iter().enumerate() {
        let kind = index as u64;
        emit(
            dense_slot(u64::from(dense::CUE) + kind * 13 + level(score, 12)),
            STRONG,
        );
        if score > 0 {
            emit(
                dense_slot(u64::from(dense::CUE_SHARE) + kind * 5 + score * 4 / total.max(1)),
                STRONG,
            );
        }
        if score > 0 && winner.is_none_or(|(_, best)| score > best) {
            winner = Some((kind, score));
        }
    }
    if let Some((kind, score)) = winner {
        emit(
            dense_slot(u64::from(dense::CUE_WINNER) + kind * 4 + score * 4 / (total + 16)),
            STRONG,
        );
    }
    for (index, &value) in input.evidence.features.iter().enumerate() {
        if value > 0 {
            emit(
                dense_slot(u64::from(dense::CUE_FEATURE) + index as u64 * 11 + level(value, 10)),
                STRONG,
            );
        }
    }
}

/// Hashes the words of `text[window]`: each word, each pair of neighbours, and (with
/// `trigrams`) each run of three characters, spaces folded to one; in the last user message the
/// first two words also count as openers. Punctuation marks and each character of a script
/// written without spaces are words of their own.
fn words(
    text: &str,
    window: std::ops::Range<usize>,
    space: u64,
    trigrams: bool,
    emit: &mut dyn FnMut(u32, i32),
) {
    let Some(part) = text.get(window) else {
        return;
    };
    let mut walk = Walk {
        emit,
        space,
        previous: 0,
        words: 0,
        chars: [0; 3],
    };
    let mut word: u64 = 0;
    let mut in_word = false;
    for c in part.chars() {
        let lower = if c.is_ascii() {
            c.to_ascii_lowercase()
        } else {
            c.to_lowercase().next().unwrap_or(c)
        };
        let spaceless = !c.is_ascii() && is_spaceless(c);
        let letter = !spaceless && (lower.is_alphanumeric() || lower == '_' || lower == '\'');
        if letter {
            word = mix(if in_word { word } else { 1 }, u64::from(lower));
            in_word = true;
        } else {
            if in_word {
                walk.word(word);
                in_word = false;
            }
            if spaceless || lower.is_ascii_punctuation() {
                walk.word(mix(2, u64::from(lower)));
            }
        }
        if trigrams {
            walk.char(if lower.is_whitespace() { ' ' } else { lower });
        }
    }
    if in_word {
        walk.word(word);
    }
}

/// The state of [`words`] between characters.
struct Walk<'a> {
    emit: &'a mut dyn FnMut(u32, i32),
    space: u64,
    /// The hash of the word before, 0 at the start.
    previous: u64,
    words: u64,
    /// The last three characters, 0 before the start.
    chars: [u32; 3],
}

impl Walk<'_> {
    fn word(&mut self, word: u64) {
        (self.emit)(slot(mix(word, self.space)), 1);
        if self.previous != 0 {
            (self.emit)(slot(mix(mix(self.previous, word), space::PAIR)), 1);
        }
        if self.words < 2 && self.space == space::WORD {
            (self.emit)(slot(mix(mix(word, self.words), space::FIRST)), 1);
        }
        self.words += 1;
        self.previous = word;
    }

    fn char(&mut self, c: char) {
        let c = u32::from(c);
        if c == u32::from(b' ') && self.chars[2] == c {
            return;
        }
        self.chars = [self.chars[1], self.chars[2], c];
        if self.chars[0] != 0 {
            let hash = self
                .chars
                .iter()
                .fold(space::TRIGRAM, |hash, &c| mix(hash, u64::from(c)));
            (self.emit)(slot(hash), 1);
        }
    }
}
