//! A compiled keyword table: one automaton over literals, and what each hit means.

use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};

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

/// A keyword table: automata over literals, and what each hit means.
///
/// A literal that must start a word is compiled after each of [`WORD_LEADS`], so
/// the automaton only reports it where a word starts: a search for `in` or `hi` that stopped
/// inside every "thinking" and "this" would cost more than the rest of the analysis. The first
/// word of a text is found by searching its first bytes behind a virtual space.
///
/// ASCII literals and the others (accented letters, Cyrillic, Chinese) live in two automata,
/// and the second one runs only on text that is not ASCII. This keeps the automaton every
/// prompt goes through small: its alphabet shrinks to a few dozen byte classes, and its hot
/// states stay in the processor's cache.
#[derive(Debug, Clone)]
pub(super) struct Table {
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

impl Table {
    /// Compiles `literals` with their cues.
    pub(super) fn build(literals: &[(Spelling, Vec<Cue>)]) -> Self {
        let mut cues = Vec::new();
        let mut patterns = Vec::with_capacity(literals.len());
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
        if window.start == 0 && !text.is_empty() {
            self.first_word(text, window.end, ascii, &mut on_hit);
        }
        let mut found = self.ascii.hits(text, window.clone()).peekable();
        let mut more = if ascii {
            None
        } else {
            Some(self.other.hits(text, window).peekable())
        };
        loop {
            // Merge the two automata's hits in text order: fences change what later hits mean.
            let take_other = match (found.peek(), more.as_mut().and_then(|m| m.peek())) {
                (Some(a), Some(b)) => b.0 < a.0,
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (None, None) => break,
            };
            let next = if take_other {
                more.as_mut().and_then(Iterator::next)
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
    fn first_word(
        &self,
        text: &str,
        end: usize,
        ascii: bool,
        on_hit: &mut impl FnMut(usize, &[Cue]),
    ) {
        let mut buffer = [b' '; FIRST_WORD + 1];
        let len = end.min(FIRST_WORD);
        if let (Some(head), Some(target)) = (text.as_bytes().get(..len), buffer.get_mut(1..=len)) {
            target.copy_from_slice(head);
        }
        let haystack = buffer.get(..=len).unwrap_or_default();
        // ASCII text only needs the ASCII automaton.
        let both = [&self.ascii, &self.other];
        let automata = if ascii { &both[..1] } else { &both[..] };
        for automaton in automata {
            let first = automaton.matcher.find(Input::new(haystack));
            // Only a word literal compiled after a space can start on the virtual one.
            let word = first.filter(|hit| hit.start() == 0).and_then(|hit| {
                let &(index, offset) = automaton.entries.get(hit.pattern().as_usize())?;
                (offset == 1).then(|| (index, hit.end() - 1))
            });
            if let Some(cues) = word.and_then(|(index, end)| self.accept(text, index, 0, end)) {
                on_hit(0, cues);
                return;
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
