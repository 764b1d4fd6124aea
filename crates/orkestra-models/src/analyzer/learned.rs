//! The learned half of the kind decision: a linear model over hashed features.
//!
//! Dense features have a slot each among [`DENSE`]: the hand-written cues' evidence per kind in
//! logarithmic levels, their winner, and the shape of the request (code fences, turns, a
//! system prompt, `response_format`, the length of the last user message). When the cues are
//! not decisive, hashed features are folded into [`BUCKETS`] slots: words and word pairs
//! (lowercased; each Chinese, Japanese or Korean character is a word of its own) and character
//! trigrams. The model holds one small integer weight per slot and kind; a kind's score is the
//! sum of the weights of the features present, and the highest score wins.
//!
//! The weights are trained from the tuning fixture by `cargo xtask train-analyzer` (an averaged
//! perceptron, integer arithmetic throughout, so the same fixture always gives the same bytes)
//! and shipped in `model.bin`, read in place: nothing is allocated or copied at run time.
//! Features are hashed as the text is walked, over bounded windows of each message.

use orkestra_core::Role;

use super::script::is_spaceless;
use super::{Evidence, floor_boundary, head_paragraph, tail_paragraph};
use crate::task::TaskKind;

/// Bumped whenever the features change: a model trained on other features is refused.
pub(super) const FEATURE_VERSION: u8 = 2;
/// Bits of the feature hash kept: the model has `2^BITS` slots per kind.
pub(super) const BITS: u32 = 12;
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

/// How many times the runner-up's evidence the cues' winner must have to be decisive, when the
/// message's words are not read.
const DECISIVE_LEAD: u64 = 2;

/// Bytes of the opening paragraph of the last user message read for words, and at its start
/// for character trigrams.
const WORD_SPAN: usize = 96;
const TRIGRAM_SPAN: usize = 32;
/// Bytes of a system prompt and of an earlier user message read for words.
const SYSTEM_HEAD: usize = 96;
const EARLIER_HEAD: usize = 64;

/// The model shipped with the crate.
static BUILTIN: &[u8] = include_bytes!("model.bin");

/// Kinds padded to a row of 16 lanes, so adding a row is a few vector instructions.
const LANES: usize = 16;

/// The running sums of a scoring, per kind, in padded lanes.
struct Sums {
    hashed: [i32; LANES],
    /// Dense weights, still to be multiplied by [`STRONG`].
    dense: [i32; LANES],
}

/// A trained model, read in place from its bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Model {
    /// [`BUCKETS`] rows of one signed byte per kind, in [`TaskKind`] order, padded with zeros.
    hashed: &'static [[u8; LANES]],
    /// [`DENSE`] rows of one little-endian `i16` per kind, padded with zeros.
    dense: &'static [[u8; 2 * LANES]],
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
            && bytes.len() == HEADER + (BUCKETS + 2 * DENSE) * LANES;
        let temperature = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        let (hashed, dense) = bytes.get(HEADER..)?.split_at_checked(BUCKETS * LANES)?;
        (valid && temperature > 0).then_some(Self {
            hashed: hashed.as_chunks().0,
            dense: dense.as_chunks().0,
            temperature,
        })
    }

    /// Adds the weights of the feature in `slot` to the sums. Hashed features always have the
    /// value 1 and dense ones [`STRONG`] ([`for_each_feature`] gives them no other), so a row
    /// is added as it is, and the dense sums are multiplied once at the end.
    #[inline]
    fn add(self, slot: u32, sums: &mut Sums) {
        let slot = slot as usize;
        if let Some(row) = self.hashed.get(slot) {
            for (lane, &weight) in sums.hashed.iter_mut().zip(row) {
                *lane += i32::from(weight.cast_signed());
            }
        } else if let Some(row) = self.dense.get(slot - BUCKETS) {
            for (lane, &pair) in sums.dense.iter_mut().zip(row.as_chunks::<2>().0) {
                *lane += i32::from(i16::from_le_bytes(pair));
            }
        }
    }

    /// The scores of every kind for a request's features.
    pub(super) fn scores(self, input: &Input<'_>) -> [i32; TaskKind::COUNT] {
        let mut sums = Sums {
            hashed: [0; LANES],
            dense: [0; LANES],
        };
        for_each_feature(input, &mut |slot, _| self.add(slot, &mut sums));
        std::array::from_fn(|kind| sums.hashed[kind] + sums.dense[kind] * STRONG)
    }

    /// The winning kind and the model's confidence in it: the probability of the winner against
    /// the runner-up, a logistic function of its lead at the model's temperature.
    pub(super) fn decide(self, scores: &[i32; TaskKind::COUNT]) -> (TaskKind, f64) {
        let (mut best, mut second) = (0, None::<usize>);
        for (index, &score) in scores.iter().enumerate().skip(1) {
            if score > scores[best] {
                second = Some(best);
                best = index;
            } else if second.is_none_or(|second| score > scores[second]) {
                second = Some(index);
            }
        }
        let lead = second.map_or(0, |second| scores[best] - scores[second]);
        let confidence = 1.0 / (1.0 + (-f64::from(lead) / f64::from(self.temperature)).exp());
        (TaskKind::ALL[best], confidence)
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
    let mut bytes = Vec::with_capacity(HEADER + (hashed.len() + 2 * dense.len()) * LANES);
    bytes.extend_from_slice(MAGIC);
    bytes.push(FEATURE_VERSION);
    // Both are small constants: 12 bits, 10 kinds.
    bytes.extend_from_slice(&[BITS.to_le_bytes()[0], TaskKind::COUNT.to_le_bytes()[0], 0]);
    bytes.extend_from_slice(&temperature.to_le_bytes());
    for row in hashed {
        bytes.extend(row.iter().map(|weight| weight.cast_unsigned()));
        bytes.resize(bytes.len() + LANES - row.len(), 0);
    }
    for row in dense {
        for weight in row {
            bytes.extend_from_slice(&weight.to_le_bytes());
        }
        bytes.resize(bytes.len() + 2 * (LANES - row.len()), 0);
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
    /// 14 flags of the request's shape and of decisive cues, from 1.
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

/// Calls `emit` with the slot and value of every feature of `input`, in a fixed order.
pub(super) fn for_each_feature(input: &Input<'_>, emit: &mut impl FnMut(u32, i32)) {
    emit(dense_slot(u64::from(dense::BIAS)), STRONG);
    // When the cues' winner leads clearly, the words add nothing the cues did not see
    // (cross-validation on the tuning split agrees), and skipping them keeps the common case
    // nearly as cheap as the cues alone.
    let (mut best, mut second) = (0, 0);
    for &score in input.cues {
        if score > best {
            second = best;
            best = score;
        } else if score > second {
            second = score;
        }
    }
    let decisive = best >= DECISIVE_LEAD * second && best >= super::EVIDENCE_PRIOR;
    if decisive {
        emit(dense_slot(u64::from(dense::FLAGS) + 14), STRONG);
    }
    let users = input.evidence.turns;
    let mut seen_users = 0;
    let mut system = false;
    let mut last_len = 0;
    (input.messages)(&mut |role, text| match role {
        Role::User => {
            seen_users += 1;
            if seen_users == users {
                last_len = text.len();
                if !decisive {
                    last_user_features(text, emit);
                }
            } else if !decisive {
                let end = floor_boundary(text, EARLIER_HEAD);
                words(text, 0..end, space::EARLIER, emit);
            }
        }
        Role::System | Role::Developer => {
            system = true;
            if !decisive {
                words(
                    text,
                    0..floor_boundary(text, SYSTEM_HEAD),
                    space::SYSTEM,
                    emit,
                );
            }
        }
        Role::Assistant | Role::Tool => {}
    });
    shape_features(input, u64::from(users), system, last_len, emit);
    cue_features(input, emit);
}

/// The words and word pairs of the last user message's instructions (its opening paragraph
/// and a closing one, as the cues find them), its first two words, and the character trigrams
/// of its first [`TRIGRAM_SPAN`] bytes. The middle, often pasted data, is left to the cues:
/// hashing it cost more than it told.
fn last_user_features(text: &str, emit: &mut impl FnMut(u32, i32)) {
    let head = head_paragraph(text).min(floor_boundary(text, WORD_SPAN));
    let tail = tail_paragraph(text);
    words(text, 0..head, space::WORD, emit);
    if tail > head && tail < text.len() {
        words(text, tail..text.len(), space::WORD, emit);
    }
    trigrams(
        text.get(..floor_boundary(text, TRIGRAM_SPAN))
            .unwrap_or_default(),
        emit,
    );
}

/// Features of the request's shape.
fn shape_features(
    input: &Input<'_>,
    users: u64,
    system: bool,
    last_len: usize,
    emit: &mut impl FnMut(u32, i32),
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
fn cue_features(input: &Input<'_>, emit: &mut impl FnMut(u32, i32)) {
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

/// Lowercases `c`: ASCII by itself, other letters by the first character of their lowercase.
fn lower(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else {
        c.to_lowercase().next().unwrap_or(c)
    }
}

/// Hashes the words of `text[window]` into `space`: each word and each pair of neighbours, and
/// in the last user message the first two words again as openers. Punctuation marks and each
/// character of a script written without spaces (Chinese, Japanese, Korean, Thai) are words of
/// their own, so pairs of those are character bigrams.
fn words(text: &str, window: std::ops::Range<usize>, space: u64, emit: &mut impl FnMut(u32, i32)) {
    let Some(part) = text.get(window) else {
        return;
    };
    let mut previous: u64 = 0;
    let mut count: u64 = 0;
    let mut finish = |word: u64| {
        emit(slot(mix(word, space)), 1);
        if previous != 0 {
            emit(slot(mix(mix(previous, word), space::PAIR)), 1);
        }
        if count < 2 && space == space::WORD {
            emit(slot(mix(mix(word, count), space::FIRST)), 1);
        }
        count += 1;
        previous = word;
    };
    let mut word: u64 = 0;
    for c in part.chars() {
        let spaceless = !c.is_ascii() && is_spaceless(c);
        if !spaceless && (c.is_alphanumeric() || c == '_' || c == '\'') {
            word = mix(if word == 0 { 1 } else { word }, u64::from(lower(c)));
            continue;
        }
        if word != 0 {
            finish(word);
            word = 0;
        }
        if spaceless || c.is_ascii_punctuation() {
            finish(mix(2, u64::from(c)));
        }
    }
    if word != 0 {
        finish(word);
    }
}

/// Hashes each run of three characters of `text`, lowercased, with runs of spaces folded to
/// one: word pieces that carry across inflections and languages the word list misses.
fn trigrams(text: &str, emit: &mut impl FnMut(u32, i32)) {
    let mut window: u64 = 0;
    let mut seen = 0;
    let mut last_space = false;
    for c in text.chars() {
        let space = c.is_whitespace();
        if space && last_space {
            continue;
        }
        last_space = space;
        let c = if space { ' ' } else { lower(c) };
        // Three characters of 21 bits each fit one word.
        window = (window << 21 | u64::from(c)) & ((1 << 63) - 1);
        seen += 1;
        if seen >= 3 {
            emit(slot(mix(space::TRIGRAM, window)), 1);
        }
    }
}
