//! A compiled keyword table: one automaton over literals, and what each hit means.

use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};
use rustc_hash::FxHashMap;

use super::cues::Cue;
use super::script;

/// A literal parsed from the spelling described in the `cues` module.
#[derive(Debug, Clone, Copy)]
pub(super) struct Spelling {
    pub(super) literal: &'static str,
    pub(super) exact_case: bool,
    pub(super) check_start: bool,
    pub(super) check_end: bool,
}

impl Spelling {
    pub(super) fn parse(spec: &'static str) -> Self {
        let (literal, exact_case, anywhere) = if let Some(rest) = spec.strip_prefix('~') {
            (rest, false, true)
        } else if let Some(rest) = spec.strip_prefix('=') {
            (rest, true, false)
        } else {
            (spec, false, false)
        };
        let (literal, stem) = match literal.strip_suffix('*') {
            Some(rest) if !rest.is_empty() => (rest, true),
            _ => (literal, false),
        };
        let wordy = |c: Option<char>| c.is_some_and(is_word_char);
        Self {
            literal,
            exact_case,
            check_start: !anywhere && wordy(literal.chars().next()),
            check_end: !anywhere && !stem && wordy(literal.chars().next_back()),
        }
    }
}

/// Whether `c` continues a word for the keyword boundary checks. Letters of scripts written
/// without spaces do not: Japanese attaches particles straight to Latin words (`JSONで`), and
/// a keyword there must still count, while a Chinese keyword may sit anywhere in a sentence.
fn is_word_char(c: char) -> bool {
    (c.is_alphanumeric() || c == '_') && !script::is_spaceless(c)
}

/// Whether the character at byte `at` of `text` continues a word.
fn word_after(text: &str, at: usize) -> bool {
    // An ASCII byte is a whole character, and no ASCII character is written without spaces.
    if let Some(&byte) = text.as_bytes().get(at)
        && byte.is_ascii()
    {
        return word_byte(byte);
    }
    text.get(at..)
        .and_then(|tail| tail.chars().next())
        .is_some_and(is_word_char)
}

/// One literal of the table and how a hit on it is checked and read.
#[derive(Debug, Clone)]
struct Pattern {
    /// The literal, compared byte for byte when [`Self::exact_case`] is set.
    literal: &'static str,
    exact_case: bool,
    /// Whether the character after the hit must not continue a word.
    check_end: bool,
    /// Where its cues sit in [`Table::cues`].
    cues: Range<usize>,
}

/// One automaton over some of the literals of a [`Table`].
#[derive(Debug, Clone)]
struct Automaton {
    matcher: AhoCorasick,
    /// By automaton pattern id: the index into [`Table::patterns`], and the bytes before the
    /// word (0, or the length of the lead of a word literal).
    entries: Box<[(usize, usize)]>,
}

impl Automaton {
    fn build(compiled: &[String], entries: Vec<(usize, usize)>) -> Self {
        #[allow(
            clippy::expect_used,
            reason = "the literals are constants checked by the tests; building cannot fail at run time"
        )]
        let matcher = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .prefilter(false)
            .build(compiled)
            .expect("the keyword automaton builds");
        Self {
            matcher,
            entries: entries.into_boxed_slice(),
        }
    }

    /// The hits in `window` of `text` as (start of the literal, end, pattern index).
    fn hits<'a>(
        &'a self,
        text: &'a str,
        window: Range<usize>,
    ) -> impl Iterator<Item = (usize, usize, usize)> + 'a {
        self.matcher
            .find_iter(Input::new(text).span(window))
            .filter_map(|hit| {
                let &(index, offset) = self.entries.get(hit.pattern().as_usize())?;
                Some((hit.start() + offset, hit.end(), index))
            })
    }
}

/// A keyword table: an index of ASCII literals, an automaton over the others, and what each
/// hit means.
///
/// ASCII literals are found by [`Ascii`] in one walk over the bytes. A literal that must start
/// a word is looked up, by its first word, only where a word follows a space or a newline: a
/// search for `in` or `hi` that stopped inside every "thinking" and "this" would cost more than
/// the rest of the analysis, and an automaton over a thousand literals has too many states to
/// stay in the processor's cache.
///
/// The other literals (accented letters, Cyrillic, Chinese) live in an automaton that runs
/// only on text that is not ASCII. A word literal there is compiled after each of
/// [`WORD_LEADS`], so it is only reported where a word starts; the first word of a text is
/// found by searching its first bytes behind a virtual space.
#[derive(Debug, Clone)]
pub(super) struct Table {
    ascii: Ascii,
    other: Automaton,
    patterns: Box<[Pattern]>,
    cues: Box<[Cue]>,
}

/// What may come right before a word literal. Spanish opens questions and exclamations with
/// `¿` and `¡`; guillemets open quoted instructions in French and Russian.
const WORD_LEADS: &[char] = &[' ', '\n', '¿', '¡', '«'];

/// Bytes of a text searched behind a virtual space for its first word.
const FIRST_WORD: usize = 63;

/// Whether an ASCII byte continues a word: the ASCII part of [`is_word_char`].
fn word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// The longest first word [`Ascii`] files by its packed bytes; literals with a longer one are
/// matched as [`Ascii::syms`] after each lead.
const PACKED: usize = 16;

/// How many of the eight bytes of `chunk` (little-endian) continue a word before the first
/// that does not: ASCII letters, digits and `_`, tested on all eight at once.
fn word_bytes(chunk: u64) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let ascii = !chunk & HIGH;
    let low7 = chunk & !HIGH;
    // The high bit of each byte of `at_least(n)` is set where the byte is at least `n`; the
    // low seven bits cannot carry into the next byte.
    let at_least = |n: u64| (low7 + ONES * (0x80 - n)) & HIGH;
    let digit = at_least(0x30) & !at_least(0x3A);
    let folded = (chunk | (ONES * 0x20)) & !HIGH;
    let letter = (folded + ONES * (0x80 - 0x61)) & !(folded + ONES * (0x80 - 0x7B)) & HIGH;
    let under = !((low7 ^ (ONES * 0x5F)) + ONES * 0x7F) & HIGH;
    let word = (digit | letter | under) & ascii;
    (!word & HIGH).trailing_zeros() as usize / 8
}

/// Eight bytes of `bytes` from `at`, little-endian, padded with zeros past the end.
fn load(bytes: &[u8], at: usize) -> u64 {
    if let Some(chunk) = bytes
        .get(at..at + 8)
        .and_then(|chunk| <[u8; 8]>::try_from(chunk).ok())
    {
        return u64::from_le_bytes(chunk);
    }
    let mut buffer = [0u8; 8];
    let tail = bytes.get(at..).unwrap_or_default();
    let n = tail.len().min(8);
    if let (Some(target), Some(source)) = (buffer.get_mut(..n), tail.get(..n)) {
        target.copy_from_slice(source);
    }
    u64::from_le_bytes(buffer)
}

/// The lowercase bytes of a word of at most [`PACKED`] bytes, little-endian in a `u128`.
/// Setting bit 5 lowercases letters and leaves digits and `_` distinct.
fn pack(word: &[u8]) -> u128 {
    let mut buffer = [0u8; PACKED];
    if let Some(target) = buffer.get_mut(..word.len()) {
        target.copy_from_slice(word);
    }
    pack_prefix(u128::from_le_bytes(buffer), word.len())
}

/// The first `len` bytes of `raw` (little-endian) lowercased as [`pack`] does.
fn pack_prefix(raw: u128, len: usize) -> u128 {
    let mask = if len >= PACKED {
        u128::MAX
    } else {
        (1u128 << (8 * len)) - 1
    };
    (raw | 0x2020_2020_2020_2020_2020_2020_2020_2020) & mask
}

/// The lowest 15 bits of the first three letters of a word, for [`Ascii::stem_filter`].
fn stem_slot(packed: u128) -> usize {
    let low = packed as usize;
    (low & 0x1f) | (low >> 3 & 0x3e0) | (low >> 6 & 0x7c00)
}

/// Bits of [`Ascii::word_filter`]: 64 Ki, eight KiB.
const FILTER_BITS: u32 = 16;

/// The hash of a packed word: its top [`FILTER_BITS`] bits pick the bit of
/// [`Ascii::word_filter`], its top bits the first slot of [`WordIndex`].
fn word_hash(key: u128) -> u64 {
    #[allow(
        clippy::cast_possible_truncation,
        reason = "folding the key into a hash"
    )]
    let folded = (key as u64) ^ ((key >> 64) as u64).rotate_left(29);
    folded.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The bit of [`Ascii::word_filter`] for a word of hash `hash`.
fn filter_slot(hash: u64) -> usize {
    #[allow(
        clippy::cast_possible_truncation,
        reason = "the shift leaves FILTER_BITS bits"
    )]
    let slot = (hash >> (64 - FILTER_BITS)) as usize;
    slot
}

/// Ranges of [`Ascii::entries`] by packed first word, in an open-addressing table at most
/// half full, probed from the word's [`word_hash`]: a lookup reads one slot or a few next to
/// it, with no second hash and no control bytes.
#[derive(Debug, Clone)]
struct WordIndex {
    /// (packed word, start, end of the range); a zero word marks an empty slot, since a packed
    /// word has bit 5 of its first byte set.
    slots: Box<[(u128, u32, u32)]>,
    /// Bits of the hash that pick a slot.
    bits: u32,
}

impl WordIndex {
    fn build(ranges: &Ranges<u128>) -> Self {
        let bits = (ranges.len() * 2)
            .next_power_of_two()
            .trailing_zeros()
            .max(4);
        let mut slots = vec![(0u128, 0u32, 0u32); 1 << bits];
        let mask = slots.len() - 1;
        for (&key, &(from, to)) in ranges {
            let mut at = Self::first_slot(word_hash(key), bits);
            while slots.get(at).is_some_and(|slot| slot.0 != 0) {
                at = (at + 1) & mask;
            }
            if let Some(slot) = slots.get_mut(at) {
                *slot = (key, from, to);
            }
        }
        Self {
            slots: slots.into_boxed_slice(),
            bits,
        }
    }

    fn first_slot(hash: u64, bits: u32) -> usize {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "the shift leaves at most 32 bits"
        )]
        let slot = (hash >> (64 - bits)) as usize;
        slot
    }

    /// The range filed under `key`, whose hash is `hash`.
    fn get(&self, key: u128, hash: u64) -> Option<(u32, u32)> {
        let mask = self.slots.len() - 1;
        let mut at = Self::first_slot(hash, self.bits);
        loop {
            let &(slot, from, to) = self.slots.get(at)?;
            if slot == key {
                return Some((from, to));
            }
            if slot == 0 {
                return None;
            }
            at = (at + 1) & mask;
        }
    }
}

/// An ASCII literal filed under its first word.
#[derive(Debug, Clone)]
struct WordEntry {
    /// The bytes of the literal after its first word, compared ignoring ASCII case.
    rest: &'static [u8],
    /// The length of the whole literal.
    len: usize,
    /// The index into [`Table::patterns`].
    index: usize,
}

/// An ASCII literal found wherever its first byte is: code syntax, markers, and word literals
/// whose first word is too long to pack (compiled after a lead).
#[derive(Debug, Clone)]
struct SymEntry {
    literal: Box<[u8]>,
    /// Bytes of lead before the literal proper.
    offset: usize,
    index: usize,
}

/// Byte classes of [`Ascii::class`].
const LEAD: u8 = 1;
const SYM: u8 = 2;
const SYM_ONE: u8 = 4;
/// The first byte that does not continue a word in a literal of [`Ascii::anchored`].
const ANCHOR: u8 = 8;

/// The bit of [`Ascii::sym_pairs`] for two bytes as they are: the table holds every case.
fn pair_slot(first: u8, second: u8) -> usize {
    usize::from(first) << 8 | usize::from(second)
}

/// The ASCII literals of a table and one walk that finds them.
#[derive(Debug, Clone)]
struct Ascii {
    /// Entries by packed first word, longest literal first: ranges of [`Self::entries`].
    by_first: WordIndex,
    entries: Box<[WordEntry]>,
    /// Single-word stems by [`stem_slot`] of their first three letters: ranges of
    /// [`Self::stem_entries`], longest stem first.
    stems: FxHashMap<usize, (u32, u32)>,
    /// Single-word stems as (packed stem, length, pattern index).
    stem_entries: Box<[(u128, usize, usize)]>,
    /// Bit [`filter_slot`] set for every key of [`Self::by_first`].
    word_filter: Box<[u64]>,
    /// Bit `n` set when some stem is `n` bytes long.
    stem_lengths: u32,
    /// Bit [`stem_slot`] set when some stem starts with those three letters.
    stem_filter: Box<[u64]>,
    /// Literals found anywhere, by first byte (lowercase), longest first.
    syms: Box<[Box<[SymEntry]>]>,
    /// Bit [`pair_slot`] set for the first two bytes of every literal of [`Self::syms`].
    sym_pairs: Box<[u64]>,
    /// [`LEAD`], [`SYM`], [`SYM_ONE`] and [`ANCHOR`] by byte.
    class: [u8; 256],
    /// The literals of [`Self::syms`] that start with a byte continuing a word ("error:"),
    /// with the offset of their first byte that does not, by that offset and then length,
    /// longest first. The walk does not stop at their first bytes, which are frequent
    /// letters, but at those anchors, and looks back.
    anchored: Box<[(SymEntry, usize)]>,
    /// Whether some byte that continues a word starts a symbol ("~ciones"): the walk then
    /// reads every byte of the words it looked up.
    word_stops: bool,
}

/// Ranges of a flattened list by key.
type Ranges<K> = FxHashMap<K, (u32, u32)>;

/// Lays `groups` out in one list, each group longest first by `len`, and returns the range of
/// each key in it.
fn flatten<K: std::hash::Hash + Eq, T>(
    groups: FxHashMap<K, Vec<T>>,
    len: impl Fn(&T) -> usize,
) -> (Ranges<K>, Box<[T]>) {
    let mut ranges = FxHashMap::default();
    let mut all = Vec::new();
    for (key, mut list) in groups {
        list.sort_by_key(|item| std::cmp::Reverse(len(item)));
        let from = all.len();
        all.extend(list);
        #[allow(
            clippy::cast_possible_truncation,
            reason = "a table holds a few thousand literals"
        )]
        ranges.insert(key, (from as u32, all.len() as u32));
    }
    (ranges, all.into_boxed_slice())
}

/// The symbol literals of an [`Ascii`] filed for its walk.
struct FiledSyms {
    by_byte: Vec<Vec<SymEntry>>,
    sym_pairs: Vec<u64>,
    class: [u8; 256],
    anchored: Vec<(SymEntry, usize)>,
}

impl FiledSyms {
    /// Files `syms` as (literal, bytes of lead, pattern index) by first byte, by first pair
    /// and by anchor, and classes the bytes.
    fn file(syms: Vec<(String, usize, usize)>) -> Self {
        let mut by_byte: Vec<Vec<SymEntry>> = vec![Vec::new(); 256];
        let mut class = [0u8; 256];
        class[usize::from(b' ')] |= LEAD;
        class[usize::from(b'\n')] |= LEAD;
        class[0xC2] |= LEAD;
        let mut sym_pairs = vec![0u64; (1 << 16) / 64];
        // A literal that starts inside a word is found from its anchor, the first byte that
        // ends the word, when every such literal has one; otherwise from its first byte.
        let anchor = |literal: &[u8]| {
            literal
                .iter()
                .position(|&byte| !word_byte(byte))
                .filter(|_| literal.first().is_some_and(|&first| word_byte(first)))
        };
        let anchoring = syms.iter().all(|(literal, _, _)| {
            let bytes = literal.as_bytes();
            bytes.first().is_none_or(|&first| !word_byte(first)) || anchor(bytes).is_some()
        });
        let mut anchored = Vec::new();
        for (literal, offset, index) in syms {
            let literal = literal.into_bytes().into_boxed_slice();
            let Some(&first) = literal.first() else {
                continue;
            };
            let kind = match literal.get(1) {
                Some(&second) => {
                    // Every spelling of the pair, so the walk looks bytes up as they are.
                    for first in [first.to_ascii_lowercase(), first.to_ascii_uppercase()] {
                        for second in [second.to_ascii_lowercase(), second.to_ascii_uppercase()] {
                            let slot = pair_slot(first, second);
                            if let Some(bits) = sym_pairs.get_mut(slot / 64) {
                                *bits |= 1 << (slot % 64);
                            }
                        }
                    }
                    SYM
                }
                None => SYM | SYM_ONE,
            };
            match anchor(&literal).filter(|_| anchoring) {
                Some(at) => {
                    if let Some(&byte) = literal.get(at) {
                        class[usize::from(byte)] |= ANCHOR;
                    }
                    let entry = SymEntry {
                        literal: literal.clone(),
                        offset,
                        index,
                    };
                    anchored.push((entry, at));
                }
                None => {
                    for byte in [first.to_ascii_lowercase(), first.to_ascii_uppercase()] {
                        class[usize::from(byte)] |= kind;
                    }
                }
            }
            // The walk finds anchored literals without this list; the reference walk of the
            // tests finds them here.
            if let Some(list) = by_byte.get_mut(usize::from(first.to_ascii_lowercase())) {
                list.push(SymEntry {
                    literal: literal.clone(),
                    offset,
                    index,
                });
            }
        }
        for list in &mut by_byte {
            list.sort_by_key(|entry| std::cmp::Reverse(entry.literal.len()));
        }
        anchored.sort_by_key(|(entry, at)| std::cmp::Reverse((*at, entry.literal.len())));
        Self {
            by_byte,
            sym_pairs,
            class,
            anchored,
        }
    }
}

impl Ascii {
    fn build(words: Vec<(&'static str, bool, usize)>, syms: Vec<(String, usize, usize)>) -> Self {
        let mut grouped: FxHashMap<u128, Vec<WordEntry>> = FxHashMap::default();
        let mut stem_lists: FxHashMap<usize, Vec<(u128, usize, usize)>> = FxHashMap::default();
        let mut stem_lengths = 0;
        let mut stem_filter = vec![0u64; 1 << 9];
        for (literal, stem, index) in words {
            let bytes = literal.as_bytes();
            let first = bytes
                .iter()
                .position(|&b| !word_byte(b))
                .unwrap_or(bytes.len());
            let (word, rest) = bytes.split_at(first);
            let key = pack(word);
            if stem && rest.is_empty() {
                stem_lengths |= 1 << first;
                let slot = stem_slot(key);
                stem_lists
                    .entry(slot)
                    .or_default()
                    .push((key, first, index));
                if first < 3 {
                    // The filter reads three letters: a shorter stem lets every word through.
                    stem_filter.fill(u64::MAX);
                } else if let Some(bits) = stem_filter.get_mut(slot / 64) {
                    *bits |= 1 << (slot % 64);
                }
            }
            grouped.entry(key).or_default().push(WordEntry {
                rest,
                len: bytes.len(),
                index,
            });
        }
        let (by_first, entries) = flatten(grouped, |entry: &WordEntry| entry.len);
        let mut word_filter = vec![0u64; (1 << FILTER_BITS) / 64];
        for &key in by_first.keys() {
            let slot = filter_slot(word_hash(key));
            if let Some(bits) = word_filter.get_mut(slot / 64) {
                *bits |= 1 << (slot % 64);
            }
        }
        let (stems, stem_entries) = flatten(stem_lists, |&(_, len, _)| len);
        let FiledSyms {
            by_byte,
            sym_pairs,
            class,
            anchored,
        } = FiledSyms::file(syms);
        Self {
            by_first: WordIndex::build(&by_first),
            entries,
            word_filter: word_filter.into_boxed_slice(),
            stems,
            stem_entries,
            stem_lengths,
            stem_filter: stem_filter.into_boxed_slice(),
            syms: by_byte.into_iter().map(Vec::into_boxed_slice).collect(),
            sym_pairs: sym_pairs.into_boxed_slice(),
            class,
            anchored: anchored.into_boxed_slice(),
            word_stops: (0..=u8::MAX).any(|byte| word_byte(byte) && class[usize::from(byte)] != 0),
        }
    }

    /// The range of [`Self::entries`] filed under `key` when there is one, looked up only when
    /// a one-hash filter small enough to stay in the first-level cache lets it through, so most
    /// words of a text cost no table lookup.
    fn first_word(&self, key: u128) -> Option<(u32, u32)> {
        let hash = word_hash(key);
        let slot = filter_slot(hash);
        let held = self
            .word_filter
            .get(slot / 64)
            .is_some_and(|bits| bits & (1 << (slot % 64)) != 0);
        if held {
            self.by_first.get(key, hash)
        } else {
            None
        }
    }

    /// The longest word literal at `word` of `bytes` ending by `limit`, as (end, pattern
    /// index); else the length of the word, which the walk need not read again.
    #[allow(
        clippy::inline_always,
        reason = "inlined into the walk, the lookup of a word costs about a tenth less, as measured on the 1 KB bench request"
    )]
    #[inline(always)]
    fn word_at(&self, bytes: &[u8], word: usize, limit: usize) -> Result<(usize, usize), usize> {
        // Read the word straight from the text, eight bytes at a time, and measure it without
        // a branch per byte.
        let low = load(bytes, word);
        let mut len = word_bytes(low);
        if len == 0 {
            return Err(0);
        }
        let mut high = 0;
        let key = if len < 8 {
            // Most words fit in the first eight bytes: pack them without 128-bit shifts.
            let mask = (1u64 << (8 * len)) - 1;
            u128::from((low | 0x2020_2020_2020_2020) & mask)
        } else {
            high = load(bytes, word + 8);
            len += word_bytes(high);
            if len == 16 {
                let mut run = word + 16;
                while bytes.get(run).copied().is_some_and(word_byte) {
                    run += 1;
                }
                len = run - word;
            }
            pack_prefix(u128::from(low) | u128::from(high) << 64, len)
        };
        let run = word + len;
        let raw = u128::from(low) | u128::from(high) << 64;
        if len <= PACKED
            && let Some((from, to)) = self.first_word(key)
        {
            let after = bytes.get(run..limit).unwrap_or_default();
            for entry in self
                .entries
                .get(from as usize..to as usize)
                .unwrap_or_default()
            {
                let rest = entry.rest;
                if rest.is_empty()
                    || after
                        .get(..rest.len())
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(rest))
                {
                    return Ok((word + entry.len, entry.index));
                }
            }
        }
        // A stem shorter than the word: "summar" in "summarize".
        let shorter = self.stem_lengths & ((1u32 << len.min(31)) - 1);
        if shorter != 0 {
            // The slot reads the low five bits of the first three bytes, which lowercasing
            // leaves as they are.
            let slot = stem_slot(u128::from(low));
            let filtered = self
                .stem_filter
                .get(slot / 64)
                .is_some_and(|bits| bits & (1 << (slot % 64)) != 0);
            if filtered && let Some(hit) = self.stem_at(slot, raw, word, len, limit) {
                return Ok(hit);
            }
        }
        Err(len)
    }

    /// The longest stem filed under `slot` that starts the word of `len` bytes at `word`,
    /// whose first sixteen bytes are `raw`, and ends by `limit`, as (end, pattern index).
    #[inline(never)]
    fn stem_at(
        &self,
        slot: usize,
        raw: u128,
        word: usize,
        len: usize,
        limit: usize,
    ) -> Option<(usize, usize)> {
        let &(from, to) = self.stems.get(&slot)?;
        let list = self.stem_entries.get(from as usize..to as usize);
        list.unwrap_or_default()
            .iter()
            .find(|&&(stem, stem_len, _)| {
                stem_len < len && word + stem_len <= limit && pack_prefix(raw, stem_len) == stem
            })
            .map(|&(_, stem_len, index)| (word + stem_len, index))
    }

    /// Whether a literal of [`Self::syms`] may start at `at`: its first two bytes are those of
    /// one.
    fn pair_at(&self, bytes: &[u8], at: usize) -> bool {
        let (Some(&first), Some(&second)) = (bytes.get(at), bytes.get(at + 1)) else {
            return false;
        };
        let slot = pair_slot(first, second);
        self.sym_pairs
            .get(slot / 64)
            .is_some_and(|bits| bits & (1 << (slot % 64)) != 0)
    }

    /// The longest literal of [`Self::syms`] at `at` of `bytes` ending by `limit`, as (start
    /// of the literal proper, end, pattern index).
    fn sym_at(&self, bytes: &[u8], at: usize, limit: usize) -> Option<(usize, usize, usize)> {
        let first = bytes.get(at)?.to_ascii_lowercase();
        let list = self.syms.get(usize::from(first))?;
        let text = bytes.get(at..limit)?;
        list.iter().find_map(|entry| {
            let literal = &entry.literal[..];
            text.get(..literal.len())
                .is_some_and(|head| {
                    // The last byte first: most places fail there, without a call.
                    head.last().map(u8::to_ascii_lowercase)
                        == literal.last().map(u8::to_ascii_lowercase)
                        && head.eq_ignore_ascii_case(literal)
                })
                .then(|| (at + entry.offset, at + entry.literal.len(), entry.index))
        })
    }

    /// The earliest and then longest literal of [`Self::anchored`] whose anchor is at `at`,
    /// starting at or after `from` and ending by `limit`, as (start of the literal proper, end,
    /// pattern index). Its bytes before the anchor continue a word, and so start nothing else
    /// the walk could have found since `from`.
    fn anchored_at(
        &self,
        bytes: &[u8],
        from: usize,
        at: usize,
        limit: usize,
    ) -> Option<(usize, usize, usize)> {
        let anchor = bytes.get(at)?;
        self.anchored.iter().find_map(|(entry, offset)| {
            let start = at.checked_sub(*offset).filter(|&start| start >= from)?;
            let literal = &entry.literal[..];
            (literal.get(*offset) == Some(anchor)
                && bytes
                    .get(start..limit)?
                    .get(..literal.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(literal)))
            .then(|| (start + entry.offset, start + literal.len(), entry.index))
        })
    }

    /// Calls `on_hit` with (start, end, pattern index) of every hit in `window` of `bytes`, in
    /// order and without overlaps: at each place the longest literal wins, and it takes the
    /// text it covers even when its checks then reject it.
    fn for_each_hit(
        &self,
        bytes: &[u8],
        window: Range<usize>,
        mut on_hit: impl FnMut(usize, usize, usize),
    ) {
        let limit = window.end.min(bytes.len());
        let mut at = window.start;
        if at == 0
            && let Ok((end, index)) = self.word_at(bytes, 0, limit)
        {
            on_hit(0, end, index);
            at = end;
        }
        // Where the text not yet taken by a hit starts.
        let mut free = at;
        while at < limit {
            // Skip the bytes that start nothing in one tight loop.
            let rest = bytes.get(at..limit).unwrap_or_default();
            at += rest
                .iter()
                .position(|&byte| self.class[usize::from(byte)] != 0)
                .unwrap_or(rest.len());
            let Some(&byte) = bytes.get(at).filter(|_| at < limit) else {
                break;
            };
            let class = self.class[usize::from(byte)];
            // A literal anchored here starts in the bytes skipped since the last hit, before
            // anything that starts here.
            if class & ANCHOR != 0
                && let Some((start, end, index)) = self.anchored_at(bytes, free, at, limit)
            {
                on_hit(start, end, index);
                at = end;
                free = end;
                continue;
            }
            let mut best: Option<(usize, usize, usize)> = None;
            let mut next = at + 1;
            if class & LEAD != 0 {
                let word = match byte {
                    b' ' | b'\n' => Some(at + 1),
                    // The second byte of `¿`, `¡` and `«`.
                    _ if matches!(bytes.get(at + 1), Some(0xBF | 0xA1 | 0xAB)) => Some(at + 2),
                    _ => None,
                };
                if let Some(word) = word {
                    match self.word_at(bytes, word, limit) {
                        Ok((end, index)) => best = Some((word, end, index)),
                        // No byte of a word starts anything: go on after it.
                        Err(len) if !self.word_stops => next = word + len,
                        Err(_) => {}
                    }
                }
            }
            if class & SYM != 0
                && (class & SYM_ONE != 0 || self.pair_at(bytes, at))
                && let Some(sym) = self.sym_at(bytes, at, limit)
                && best.is_none_or(|(_, end, _)| sym.1 > end)
            {
                best = Some(sym);
            }
            match best {
                Some((start, end, index)) => {
                    on_hit(start, end, index);
                    at = end;
                    free = end;
                }
                None => at = next.max(at + 1),
            }
        }
    }
}

/// A hit as (start, end, pattern index).
#[cfg(test)]
type Hit = (usize, usize, usize);

/// A plain restatement of [`Ascii::for_each_hit`], byte by byte and without filters, that the
/// tests compare the fast walk with.
#[cfg(test)]
impl Ascii {
    /// The longest word literal at `word`, as [`Self::word_at`] finds it.
    fn reference_word_at(&self, bytes: &[u8], word: usize, limit: usize) -> Option<(usize, usize)> {
        let tail = bytes.get(word..).unwrap_or_default();
        let len = tail.iter().take_while(|&&byte| word_byte(byte)).count();
        if len == 0 {
            return None;
        }
        let mut first = [0u8; PACKED];
        for (target, &byte) in first.iter_mut().zip(tail) {
            *target = byte;
        }
        let raw = u128::from_le_bytes(first);
        if len <= PACKED
            && let Some(&(_, from, to)) = self
                .by_first
                .slots
                .iter()
                .find(|slot| slot.0 == pack_prefix(raw, len))
        {
            let after = bytes.get(word + len..limit).unwrap_or_default();
            for entry in &self.entries[from as usize..to as usize] {
                if after
                    .get(..entry.rest.len())
                    .is_some_and(|text| text.eq_ignore_ascii_case(entry.rest))
                {
                    return Some((word + entry.len, entry.index));
                }
            }
        }
        let slot = stem_slot(pack_prefix(raw, 3));
        self.stem_entries
            .iter()
            .filter(|&&(stem, stem_len, _)| {
                stem_len < len
                    && word + stem_len <= limit
                    && stem_slot(stem) == slot
                    && pack_prefix(raw, stem_len) == stem
            })
            .max_by_key(|&&(_, stem_len, _)| stem_len)
            .map(|&(_, stem_len, index)| (word + stem_len, index))
    }

    /// Every hit in `window`, as (start, end, pattern index).
    pub(super) fn reference_hits(&self, bytes: &[u8], window: Range<usize>) -> Vec<Hit> {
        let limit = window.end.min(bytes.len());
        let mut hits = Vec::new();
        let mut at = window.start;
        if at == 0
            && let Some((end, index)) = self.reference_word_at(bytes, 0, limit)
        {
            hits.push((0, end, index));
            at = end;
        }
        while at < limit {
            let byte = bytes[at];
            let word = match byte {
                b' ' | b'\n' => Some(at + 1),
                0xC2 if matches!(bytes.get(at + 1), Some(0xBF | 0xA1 | 0xAB)) => Some(at + 2),
                _ => None,
            };
            let mut best = word.and_then(|word| {
                let (end, index) = self.reference_word_at(bytes, word, limit)?;
                Some((word, end, index))
            });
            let text = &bytes[at..limit];
            let sym = self.syms[usize::from(byte.to_ascii_lowercase())]
                .iter()
                .find(|entry| {
                    text.get(..entry.literal.len())
                        .is_some_and(|head| head.eq_ignore_ascii_case(&entry.literal))
                })
                .map(|entry| (at + entry.offset, at + entry.literal.len(), entry.index));
            if let Some(sym) = sym
                && best.is_none_or(|(_, end, _)| sym.1 > end)
            {
                best = Some(sym);
            }
            match best {
                Some(hit) => {
                    hits.push(hit);
                    at = hit.1;
                }
                None => at += 1,
            }
        }
        hits
    }
}

impl Table {
    /// Compiles `literals` with their cues.
    pub(super) fn build(literals: &[(Spelling, Vec<Cue>)]) -> Self {
        let mut cues = Vec::new();
        let mut patterns = Vec::with_capacity(literals.len());
        let (mut words, mut syms) = (Vec::new(), Vec::new());
        let (mut other, mut other_entries) = (Vec::new(), Vec::new());
        for (index, (spelling, list)) in literals.iter().enumerate() {
            let start = cues.len();
            cues.extend_from_slice(list);
            patterns.push(Pattern {
                literal: spelling.literal,
                exact_case: spelling.exact_case,
                check_end: spelling.check_end,
                cues: start..cues.len(),
            });
            let literal = spelling.literal;
            let first_word = literal.bytes().take_while(|&b| word_byte(b)).count();
            if spelling.check_start && literal.is_ascii() && (1..=PACKED).contains(&first_word) {
                words.push((literal, !spelling.check_end, index));
                continue;
            }
            let leads: &[char] = if spelling.check_start {
                WORD_LEADS
            } else {
                &[]
            };
            let variants = leads
                .iter()
                .map(|&lead| (format!("{lead}{literal}"), lead.len_utf8()))
                .chain((!spelling.check_start).then(|| (literal.to_owned(), 0)));
            for (compiled, offset) in variants {
                if compiled.is_ascii() {
                    syms.push((compiled, offset, index));
                } else {
                    other.push(compiled);
                    other_entries.push((index, offset));
                }
            }
        }
        Self {
            ascii: Ascii::build(words, syms),
            other: Automaton::build(&other, other_entries),
            patterns: patterns.into_boxed_slice(),
            cues: cues.into_boxed_slice(),
        }
    }

    /// The ASCII hits in `window` of `text` as (start, end, pattern index): from the fast walk,
    /// and from [`Ascii::reference_hits`].
    #[cfg(test)]
    pub(super) fn ascii_hits_both_ways(
        &self,
        text: &str,
        window: Range<usize>,
    ) -> (Vec<Hit>, Vec<Hit>) {
        let mut fast = Vec::new();
        self.ascii
            .for_each_hit(text.as_bytes(), window.clone(), |start, end, index| {
                fast.push((start, end, index));
            });
        (fast, self.ascii.reference_hits(text.as_bytes(), window))
    }

    /// How many literals the table holds.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Calls `on_hit` with the start of the word and the cues of every hit in `window` of
    /// `text`, in order.
    pub(super) fn for_each_hit(
        &self,
        text: &str,
        window: Range<usize>,
        mut on_hit: impl FnMut(usize, &[Cue]),
    ) {
        let bytes = text.as_bytes();
        let ascii = bytes.get(window.clone()).is_none_or(<[u8]>::is_ascii);
        if ascii {
            self.ascii.for_each_hit(bytes, window, |start, end, index| {
                if let Some(cues) = self.accept(text, index, start, end) {
                    on_hit(start, cues);
                }
            });
            return;
        }
        if window.start == 0 && !text.is_empty() {
            self.first_word(text, window.end, &mut on_hit);
        }
        // Merge the ASCII hits with the other automaton's in text order: fences change what
        // later hits mean. Text that is not ASCII is rare enough to collect them first.
        let mut found = Vec::new();
        self.ascii
            .for_each_hit(bytes, window.clone(), |start, end, index| {
                found.push((start, end, index));
            });
        let mut more = self.other.hits(text, window).peekable();
        let mut found = found.into_iter().peekable();
        loop {
            let take_other = match (found.peek(), more.peek()) {
                (Some(a), Some(b)) => b.0 < a.0,
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (None, None) => break,
            };
            let next = if take_other {
                more.next()
            } else {
                found.next()
            };
            let Some((start, end, index)) = next else {
                break;
            };
            if let Some(cues) = self.accept(text, index, start, end) {
                on_hit(start, cues);
            }
        }
    }

    /// Reports a word literal at the very start of `text`, which no space precedes, by
    /// searching its first bytes behind a virtual one.
    fn first_word(&self, text: &str, end: usize, on_hit: &mut impl FnMut(usize, &[Cue])) {
        let mut buffer = [b' '; FIRST_WORD + 1];
        let len = end.min(FIRST_WORD);
        if let (Some(head), Some(target)) = (text.as_bytes().get(..len), buffer.get_mut(1..=len)) {
            target.copy_from_slice(head);
        }
        let haystack = buffer.get(..=len).unwrap_or_default();
        // ASCII word literals are the word scan's; only the other automaton has word literals.
        {
            let automaton = &self.other;
            let first = automaton.matcher.find(Input::new(haystack));
            // Only a word literal compiled after a space can start on the virtual one.
            let word = first.filter(|hit| hit.start() == 0).and_then(|hit| {
                let &(index, offset) = automaton.entries.get(hit.pattern().as_usize())?;
                (offset == 1).then(|| (index, hit.end() - 1))
            });
            if let Some(cues) = word.and_then(|(index, end)| self.accept(text, index, 0, end)) {
                on_hit(0, cues);
            }
        }
    }

    /// The cues of a hit of pattern `index` on `start..end` of `text`, unless the hit fails the
    /// literal's case or end-of-word check.
    fn accept(&self, text: &str, index: usize, start: usize, end: usize) -> Option<&[Cue]> {
        let pattern = self.patterns.get(index)?;
        if pattern.exact_case && text.as_bytes().get(start..end) != Some(pattern.literal.as_bytes())
        {
            return None;
        }
        if pattern.check_end && word_after(text, end) {
            return None;
        }
        self.cues.get(pattern.cues.clone())
    }
}
