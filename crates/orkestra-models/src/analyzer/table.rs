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

/// A keyword table: a word index and automata over literals, and what each hit means.
///
/// ASCII literals that must start a word are found by [`Words`]: one walk over the bytes that
/// looks up each word following a space or a newline in a hash map. A search for `in` or `hi`
/// that stopped inside every "thinking" and "this" would cost more than the rest of the
/// analysis, and an automaton over a thousand literals has too many states to stay in the
/// processor's cache.
///
/// The remaining ASCII literals (code syntax, markers found anywhere) live in a small
/// automaton, and the others (accented letters, Cyrillic, Chinese) in a second one that runs
/// only on text that is not ASCII. A word literal of the second one is compiled after each of
/// [`WORD_LEADS`], so it is only reported where a word starts; the first word of a text is
/// found by searching its first bytes behind a virtual space.
#[derive(Debug, Clone)]
pub(super) struct Table {
    words: Words,
    ascii: Automaton,
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

/// Stems are filed under their first [`STEM_KEY`] bytes, which every stem has.
const STEM_KEY: usize = 3;

/// One ASCII word literal as [`Words`] files it under its first word.
#[derive(Debug, Clone)]
struct WordEntry {
    /// The bytes of the literal after its first word, compared ignoring ASCII case.
    rest: &'static [u8],
    /// The length of the whole literal.
    len: usize,
    /// The index into [`Table::patterns`].
    index: usize,
}

/// A single-word stem, which also matches the start of a longer word.
#[derive(Debug, Clone)]
struct StemEntry {
    /// The stem, lowercase.
    stem: Box<[u8]>,
    index: usize,
}

/// The ASCII literals that start a word, by their first word.
#[derive(Debug, Clone, Default)]
struct Words {
    /// Entries by lowercase first word, longest literal first.
    by_first: FxHashMap<Box<[u8]>, Box<[WordEntry]>>,
    /// Single-word stems by their first [`STEM_KEY`] bytes, longest first.
    stems: FxHashMap<[u8; STEM_KEY], Box<[StemEntry]>>,
    /// The longest first word of any literal.
    longest: usize,
}

/// The longest first word [`Words`] can file; literals with a longer one go to the automaton.
const LONGEST_WORD: usize = 32;

impl Words {
    /// Files `literal`, a literal that starts with an ASCII word character; false when it
    /// cannot be filed.
    fn insert(&mut self, literal: &'static str, stem: bool, index: usize) -> bool {
        let bytes = literal.as_bytes();
        let first = bytes
            .iter()
            .position(|&b| !word_byte(b))
            .unwrap_or(bytes.len());
        if first > LONGEST_WORD || first == 0 {
            return false;
        }
        let (word, rest) = bytes.split_at(first);
        if stem && rest.is_empty() && first >= STEM_KEY {
            let stem_bytes: Box<[u8]> = word.to_ascii_lowercase().into_boxed_slice();
            let mut key = [0; STEM_KEY];
            key.copy_from_slice(&stem_bytes[..STEM_KEY]);
            let mut list = self.stems.remove(&key).map(Vec::from).unwrap_or_default();
            list.push(StemEntry {
                stem: stem_bytes,
                index,
            });
            list.sort_by_key(|entry| std::cmp::Reverse(entry.stem.len()));
            self.stems.insert(key, list.into_boxed_slice());
        }
        let key: Box<[u8]> = word.to_ascii_lowercase().into_boxed_slice();
        let mut list = self
            .by_first
            .remove(&key)
            .map(Vec::from)
            .unwrap_or_default();
        list.push(WordEntry {
            rest,
            len: bytes.len(),
            index,
        });
        list.sort_by_key(|entry| std::cmp::Reverse(entry.len));
        self.by_first.insert(key, list.into_boxed_slice());
        self.longest = self.longest.max(first);
        true
    }

    /// The longest literal starting with the word at `start..run` of `bytes` and ending by
    /// `limit`, as (end, pattern index).
    fn lookup(
        &self,
        bytes: &[u8],
        start: usize,
        run: usize,
        limit: usize,
    ) -> Option<(usize, usize)> {
        let len = run - start;
        let mut lower = [0u8; LONGEST_WORD];
        let word = bytes.get(start..run)?;
        let shown = len.min(self.longest);
        for (target, &byte) in lower.iter_mut().zip(word.iter().take(shown)) {
            *target = byte.to_ascii_lowercase();
        }
        if len <= self.longest
            && let Some(list) = self.by_first.get(lower.get(..len)?)
        {
            let after = bytes.get(run..limit).unwrap_or_default();
            for entry in list {
                let rest = entry.rest;
                if after
                    .get(..rest.len())
                    .is_some_and(|tail| tail.eq_ignore_ascii_case(rest))
                {
                    return Some((start + entry.len, entry.index));
                }
            }
        }
        // A stem shorter than the word: "summar" in "summarize".
        if len > STEM_KEY && !self.stems.is_empty() {
            let mut key = [0; STEM_KEY];
            key.copy_from_slice(lower.get(..STEM_KEY)?);
            if let Some(list) = self.stems.get(&key) {
                for entry in list {
                    let stem = &entry.stem[..];
                    if stem.len() < len
                        && stem.len() <= shown
                        && lower.get(..stem.len()) == Some(stem)
                        && start + stem.len() <= limit
                    {
                        return Some((start + stem.len(), entry.index));
                    }
                }
            }
        }
        None
    }
}

/// Walks `window` of a text and reports, in order, the word literals of [`Words`] that start
/// after a lead (or at the start of the text).
struct WordScan<'a> {
    words: &'a Words,
    bytes: &'a [u8],
    /// Where the search for the next lead resumes.
    at: usize,
    end: usize,
    /// Whether a word at `at` counts without a lead: the start of the text.
    at_text_start: bool,
}

impl WordScan<'_> {
    /// The next hit as (start of its lead, start of the word, end, pattern index).
    fn next_hit(&mut self) -> Option<(usize, usize, usize, usize)> {
        let bytes = self.bytes;
        if self.at_text_start {
            self.at_text_start = false;
            if let Some(hit) = self.word_at(0, 0) {
                return Some(hit);
            }
        }
        while self.at < self.end {
            let lead = self.at;
            let byte = bytes.get(lead).copied().unwrap_or(0);
            let word = match byte {
                b' ' | b'\n' => lead + 1,
                // The second byte of `¿`, `¡` and `«`.
                0xC2 if matches!(bytes.get(lead + 1), Some(0xBF | 0xA1 | 0xAB)) => lead + 2,
                _ => {
                    self.at += 1;
                    continue;
                }
            };
            if let Some(hit) = self.word_at(lead, word) {
                return Some(hit);
            }
            if self.at == lead {
                self.at = word;
            }
        }
        None
    }

    /// The hit of a word at `word` after a lead at `lead`; moves past the word either way.
    fn word_at(&mut self, lead: usize, word: usize) -> Option<(usize, usize, usize, usize)> {
        let bytes = self.bytes;
        if !bytes.get(word).copied().is_some_and(word_byte) {
            return None;
        }
        let mut run = word + 1;
        while bytes.get(run).copied().is_some_and(word_byte) {
            run += 1;
        }
        self.at = run;
        let (end, index) = self.words.lookup(bytes, word, run, self.end)?;
        self.at = self.at.max(end);
        Some((lead, word, end, index))
    }

    /// Resumes the search at `at` when something else took the text before it.
    fn skip_to(&mut self, at: usize) {
        self.at = self.at.max(at);
    }
}

impl Table {
    /// Compiles `literals` with their cues.
    pub(super) fn build(literals: &[(Spelling, Vec<Cue>)]) -> Self {
        let mut cues = Vec::new();
        let mut patterns = Vec::with_capacity(literals.len());
        let mut words = Words::default();
        let (mut ascii, mut ascii_entries) = (Vec::new(), Vec::new());
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
            if spelling.check_start
                && spelling.literal.is_ascii()
                && words.insert(spelling.literal, !spelling.check_end, index)
            {
                continue;
            }
            let leads: &[char] = if spelling.check_start {
                WORD_LEADS
            } else {
                &[]
            };
            let variants = leads
                .iter()
                .map(|&lead| (format!("{lead}{}", spelling.literal), lead.len_utf8()))
                .chain((!spelling.check_start).then(|| (spelling.literal.to_owned(), 0)));
            for (literal, offset) in variants {
                let (compiled, entries) = if literal.is_ascii() {
                    (&mut ascii, &mut ascii_entries)
                } else {
                    (&mut other, &mut other_entries)
                };
                compiled.push(literal);
                entries.push((index, offset));
            }
        }
        Self {
            words,
            ascii: Automaton::build(&ascii, ascii_entries),
            other: Automaton::build(&other, other_entries),
            patterns: patterns.into_boxed_slice(),
            cues: cues.into_boxed_slice(),
        }
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
        if !ascii && window.start == 0 && !text.is_empty() {
            self.first_word(text, window.end, &mut on_hit);
        }
        let mut scan = WordScan {
            words: &self.words,
            bytes,
            at: window.start,
            end: window.end.min(bytes.len()),
            at_text_start: window.start == 0,
        };
        let mut word = scan.next_hit();
        let mut found = self.ascii.hits(text, window.clone()).peekable();
        let mut more = if ascii {
            None
        } else {
            Some(self.other.hits(text, window).peekable())
        };
        // Word hits and the ASCII automaton's hits do not overlap, as one automaton's would
        // not: a literal takes the text it covers, even when its checks then reject it.
        let mut covered = 0;
        loop {
            // The next ASCII hit: a word by where its lead starts, or an automaton hit; at the
            // same place the longer one.
            let take_word = match (word, found.peek()) {
                (Some((lead, _, end, _)), Some(&(start, found_end, _))) => {
                    lead < start || (lead == start && end >= found_end)
                }
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => {
                    if more.is_none() {
                        break;
                    }
                    false
                }
            };
            let ascii_start = if take_word {
                word.map(|(_, start, ..)| start)
            } else {
                found.peek().map(|&(start, ..)| start)
            };
            // Merge with the other automaton's hits in text order: fences change what later
            // hits mean.
            if let Some(&(start, end, index)) = more.as_mut().and_then(|m| m.peek())
                && ascii_start.is_none_or(|at| start < at)
            {
                more.as_mut().and_then(Iterator::next);
                if let Some(cues) = self.accept(text, index, start, end) {
                    on_hit(start, cues);
                }
                continue;
            }
            let hit = if take_word {
                word.take()
                    .map(|(_, start, end, index)| (start, end, index))
            } else {
                found.next().filter(|&(start, ..)| start >= covered)
            };
            if let Some((start, end, index)) = hit {
                covered = end;
                if let Some(cues) = self.accept(text, index, start, end) {
                    on_hit(start, cues);
                }
            } else if ascii_start.is_none() {
                break;
            }
            if word.is_none_or(|(lead, ..)| lead < covered) {
                scan.skip_to(covered);
                word = scan.next_hit();
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
