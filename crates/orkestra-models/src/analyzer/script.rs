//! One pass over the bytes of a text: token estimate and writing systems.

/// Token estimates are kept in twelfths of a token so every rate below is an integer.
pub(super) const UNITS_PER_TOKEN: u64 = 12;

/// Twelfths of a token per character, by writing system. The rates follow what BPE tokenizers
/// of current models do on average: about 4 characters per token for Latin script, about 3 for
/// Cyrillic, Greek, Hebrew and Arabic, 2 for Indic scripts and Thai, one token per Chinese,
/// Japanese or Korean character, and two for an emoji.
mod rate {
    pub(super) const ASCII: u64 = 3;
    pub(super) const LATIN: u64 = 3;
    pub(super) const ALPHABET: u64 = 4;
    pub(super) const ABUGIDA: u64 = 6;
    pub(super) const SYMBOL: u64 = 6;
    pub(super) const CJK: u64 = 12;
    pub(super) const ASTRAL: u64 = 24;
}

/// Writing systems the language guess tells apart, in [`Scripts::counts`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Script {
    /// Chinese characters (also used in Japanese).
    Han,
    /// Hiragana and katakana.
    Kana,
    /// Korean.
    Hangul,
    /// Russian, Ukrainian and more.
    Cyrillic,
    /// Arabic, Persian, Urdu.
    Arabic,
    /// Hindi, Marathi, Nepali.
    Devanagari,
    /// Greek.
    Greek,
    /// Hebrew.
    Hebrew,
    /// Thai.
    Thai,
}

/// How many scripts [`Script`] has.
pub(super) const SCRIPTS: usize = 9;

/// Character counts per script, plus the letters that set Ukrainian apart from Russian.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Scripts {
    /// Characters per [`Script`], indexed by `Script as usize`.
    pub(super) counts: [u32; SCRIPTS],
    /// Ukrainian-only Cyrillic letters (і, ї, є, ґ).
    pub(super) ukrainian: u32,
}

/// What one byte pass learned about a text.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct TextStats {
    /// Estimated tokens, in twelfths.
    pub(super) units: u64,
    /// Characters per script.
    pub(super) scripts: Scripts,
}

/// Counts token units and script characters of `text` in one pass over its bytes. Runs of
/// ASCII are skipped eight bytes at a time, so an ASCII prompt costs little more than its length
/// check.
pub(super) fn text_stats(text: &str) -> TextStats {
    let bytes = text.as_bytes();
    let mut stats = TextStats::default();
    if text.is_ascii() {
        stats.units = bytes.len() as u64 * rate::ASCII;
        return stats;
    }
    let mut ascii: u64 = 0;
    let mut units: u64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Skip eight ASCII bytes at once when none has its high bit set.
        if let Some(chunk) = bytes.get(i..i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            if u64::from_le_bytes(word) & 0x8080_8080_8080_8080 == 0 {
                ascii += 8;
                i += 8;
                continue;
            }
        }
        let lead = bytes[i];
        if lead < 0x80 {
            ascii += 1;
            i += 1;
            continue;
        }
        let (code_point, len) = decode(bytes, i);
        i += len;
        let (rate, script) = classify(code_point);
        units += rate;
        if let Some(script) = script {
            stats.scripts.counts[script as usize] += 1;
            if matches!(code_point, 0x0456 | 0x0457 | 0x0454 | 0x0491) {
                stats.scripts.ukrainian += 1;
            }
        }
    }
    stats.units = units + ascii * rate::ASCII;
    stats
}

/// Decodes the character whose lead byte is at `at`, returning it and its length. A stray
/// continuation byte cannot occur in a `str`, but is read as a one-byte character anyway.
fn decode(bytes: &[u8], at: usize) -> (u32, usize) {
    let lead = u32::from(bytes[at]);
    let cont = |k: usize| bytes.get(at + k).map_or(0, |b| u32::from(b & 0x3F));
    if lead >= 0xF0 {
        (
            ((lead & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3),
            4,
        )
    } else if lead >= 0xE0 {
        (((lead & 0x0F) << 12) | (cont(1) << 6) | cont(2), 3)
    } else if lead >= 0xC0 {
        (((lead & 0x1F) << 6) | cont(1), 2)
    } else {
        (lead, 1)
    }
}

/// The token rate and script of a non-ASCII character.
fn classify(c: u32) -> (u64, Option<Script>) {
    match c {
        0x0080..=0x036F | 0x1E00..=0x1EFF => (rate::LATIN, None),
        0x0370..=0x03FF | 0x1F00..=0x1FFF => (rate::ALPHABET, Some(Script::Greek)),
        0x0400..=0x052F => (rate::ALPHABET, Some(Script::Cyrillic)),
        0x0590..=0x05FF => (rate::ALPHABET, Some(Script::Hebrew)),
        0x0600..=0x06FF | 0x0750..=0x077F => (rate::ALPHABET, Some(Script::Arabic)),
        0x0900..=0x097F => (rate::ABUGIDA, Some(Script::Devanagari)),
        0x0E00..=0x0E7F => (rate::ABUGIDA, Some(Script::Thai)),
        0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF => (rate::CJK, Some(Script::Hangul)),
        0x3040..=0x30FF | 0xFF66..=0xFF9F => (rate::CJK, Some(Script::Kana)),
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3FFFF => {
            (rate::CJK, Some(Script::Han))
        }
        0x3000..=0x303F | 0xFF00..=0xFF65 => (rate::CJK, None),
        0x10000.. => (rate::ASTRAL, None),
        0x0530..=0x058F | 0x0700..=0x08FF | 0x0980..=0x0DFF | 0x0E80..=0x0FFF => {
            (rate::ABUGIDA, None)
        }
        _ => (rate::SYMBOL, None),
    }
}

/// Whether `c` belongs to a script written without spaces between words, where a keyword
/// cannot be asked to stand alone.
pub(super) fn is_spaceless(c: char) -> bool {
    matches!(
        u32::from(c),
        0x0E00..=0x0E7F
            | 0x1100..=0x11FF
            | 0x3000..=0x30FF
            | 0x3130..=0x318F
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xAC00..=0xD7AF
            | 0xF900..=0xFAFF
            | 0xFF00..=0xFFEF
            | 0x20000..=0x3FFFF
    )
}
