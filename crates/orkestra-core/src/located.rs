//! Where in a user's file a problem is, in one format for every file orkestra reads.
//!
//! Configuration, model catalogs, suite and workflow files all report a problem the same way,
//! so a person (and an editor that jumps to `FILE:LINE:COLUMN`) reads every one alike:
//!
//! ```text
//! orkestra.toml:12:9: server.listen: expected an address such as 127.0.0.1:8080, got the number 8080
//! ```
//!
//! The parts that are not known are left out: `orkestra.toml: routing.max_models: expected at
//! least 1` has no position, `-: expected a table` names standard input.
//!
//! What serde says is written for Rust programmers (`invalid type: string "four", expected
//! usize`); [`plain_words`] says it for the people who edit the file (`expected a whole number,
//! 0 or more, got the string "four"`), and [`Located::parsed`] places such a message in its
//! file. Every reader of a user's file (configuration, catalogs, suites, workflows) goes through
//! them, so the wording is the same everywhere.
//!
//! ```
//! use orkestra_core::{Located, Position};
//!
//! let text = "[server]\nlisten = 8080\n";
//! let at = Position::of_offset(text, text.find("8080").unwrap_or(0));
//! let error = Located::new("orkestra.toml", "expected an address such as 127.0.0.1:8080")
//!     .at(at)
//!     .key("server.listen");
//! assert_eq!(
//!     error.to_string(),
//!     "orkestra.toml:2:10: server.listen: expected an address such as 127.0.0.1:8080"
//! );
//! ```

use std::fmt;

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The line, from 1.
    pub line: usize,
    /// The column, from 1, in characters.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` in `text`; an offset past the end is the end, and one
    /// inside a character is that character.
    pub fn of_offset(text: &str, offset: usize) -> Self {
        let mut end = offset.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let before = &text[..end];
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        Self {
            line: before.bytes().filter(|&byte| byte == b'\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A problem in a user's file: the file, where in it, the key at fault, and what was expected.
///
/// Displayed as `FILE:LINE:COLUMN: KEY: MESSAGE`, leaving out what is not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The file as the user named it (`-` for standard input).
    pub file: String,
    /// Where in the file, when known.
    pub position: Option<Position>,
    /// The dotted key or JSON path at fault (`providers.local.base_url`, `tests[3].assert[0]`).
    pub key: Option<String>,
    /// What was wrong and what was expected, in plain words.
    pub message: String,
}

impl Located {
    /// A problem in `file`, position and key unknown.
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            position: None,
            key: None,
            message: message.into(),
        }
    }

    /// The same problem at `position`.
    #[must_use]
    pub fn at(mut self, position: Position) -> Self {
        self.position = Some(position);
        self
    }

    /// The same problem naming the key at fault.
    #[must_use]
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// A problem a parser (serde with TOML or JSON) reported in `file`: placed at byte `offset`
    /// of `text` when known, its message in [`plain_words`].
    ///
    /// ```
    /// use orkestra_core::located::{Located, Syntax};
    ///
    /// let text = "[routing]\nmax_models = \"four\"\n";
    /// let offset = text.find("\"four\"");
    /// let error = Located::parsed(
    ///     "orkestra.toml",
    ///     text,
    ///     offset,
    ///     "invalid type: string \"four\", expected usize",
    ///     Syntax::Toml,
    /// )
    /// .key("routing.max_models");
    /// assert_eq!(
    ///     error.to_string(),
    ///     "orkestra.toml:2:14: routing.max_models: expected a whole number, 0 or more, got the string \"four\""
    /// );
    /// ```
    pub fn parsed(
        file: impl Into<String>,
        text: &str,
        offset: Option<usize>,
        message: &str,
        syntax: Syntax,
    ) -> Self {
        let located = Self::new(file, plain_words(message, syntax));
        match offset {
            Some(offset) => located.at(Position::of_offset(text, offset)),
            None => located,
        }
    }

    /// A problem `serde_json` reported in `file`, at its line and column.
    pub fn json(file: impl Into<String>, error: &serde_json::Error) -> Self {
        // serde_json appends the position to its message; it is said once, in the position.
        let full = error.to_string();
        let suffix = format!(" at line {} column {}", error.line(), error.column());
        let message = full.strip_suffix(&suffix).unwrap_or(&full);
        let located = Self::new(file, plain_words(message, Syntax::Json));
        // Line 0 means serde_json did not know where (an error from a value, not from text).
        if error.line() == 0 {
            located
        } else {
            located.at(Position {
                line: error.line(),
                column: error.column(),
            })
        }
    }
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(position) = self.position {
            write!(f, ":{position}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for Located {}

/// The syntax of a user's file, for the few words that differ between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Syntax {
    /// TOML: tables and keys.
    Toml,
    /// JSON: objects and fields.
    Json,
}

impl Syntax {
    /// What a map is called.
    const fn table(self) -> &'static str {
        match self {
            Self::Toml => "a table",
            Self::Json => "an object",
        }
    }

    /// What a map's entry is called.
    const fn key(self) -> &'static str {
        match self {
            Self::Toml => "key",
            Self::Json => "field",
        }
    }

    /// What a string is called.
    const fn string(self) -> &'static str {
        match self {
            Self::Toml => "a string in quotes",
            Self::Json => "a string",
        }
    }
}

/// serde's wording of a problem, said in plain words for the person who edits the file.
///
/// serde names Rust types (`expected usize`) and its own vocabulary (`a sequence`, `struct
/// ServerConfig`, `unknown field`); this names what to write (`a whole number, 0 or more`,
/// `a list`, `a table`, `unknown key`), and suggests the closest allowed name for a misspelt
/// key or value. A message it does not recognise (a custom one, a syntax error) is returned
/// as it is.
///
/// ```
/// use orkestra_core::located::{Syntax, plain_words};
///
/// assert_eq!(
///     plain_words("invalid type: integer `8080`, expected socket address", Syntax::Toml),
///     "expected an address such as 127.0.0.1:8080, got the number 8080"
/// );
/// assert_eq!(
///     plain_words("unknown field `lisen`, expected one of `listen`, `body_limit`", Syntax::Toml),
///     "unknown key `lisen` (did you mean `listen`?); expected one of `listen`, `body_limit`"
/// );
/// ```
pub fn plain_words(message: &str, syntax: Syntax) -> String {
    let message = message.trim_end();
    if let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        && let Some((unexpected, expected)) = rest.split_once(", expected ")
    {
        return format!(
            "expected {}, got {}",
            expected_words(expected, syntax),
            unexpected_words(unexpected, syntax)
        );
    }
    if let Some(rest) = message.strip_prefix("invalid length ")
        && let Some((length, expected)) = rest.split_once(", expected ")
    {
        return format!(
            "expected {}, got {length} items",
            expected_words(expected, syntax)
        );
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        return unknown(syntax.key(), rest, syntax);
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        return unknown("value", rest, syntax);
    }
    if let Some(name) = quoted(message.strip_prefix("missing field ")) {
        return format!("the {} `{name}` is required", syntax.key());
    }
    if let Some(name) = quoted(message.strip_prefix("duplicate field ")) {
        return format!("the {} `{name}` is given twice", syntax.key());
    }
    message.to_owned()
}

/// The name inside serde's backticks: `` `name` `` gives `name`.
fn quoted(text: Option<&str>) -> Option<&str> {
    text?.strip_prefix('`')?.strip_suffix('`')
}

/// `unknown field` and `unknown variant`: the name, a suggestion, and what is allowed.
fn unknown(what: &str, rest: &str, syntax: Syntax) -> String {
    let (name, allowed) = rest.split_once(", ").unwrap_or((rest, ""));
    let name = quoted(Some(name)).unwrap_or(name);
    let choices: Vec<&str> = allowed
        .strip_prefix("expected one of ")
        .or_else(|| allowed.strip_prefix("expected "))
        .map(|list| {
            list.split(", ")
                .filter_map(|choice| quoted(Some(choice)))
                .collect()
        })
        .unwrap_or_default();
    let suggestion = closest(name, &choices)
        .map(|closest| format!(" (did you mean `{closest}`?)"))
        .unwrap_or_default();
    let allowed = match choices.as_slice() {
        [] if allowed.starts_with("there are no") => {
            format!("; no {}s are allowed here", syntax.key())
        }
        [] => String::new(),
        [only] => format!("; the only one allowed is `{only}`"),
        _ => {
            let listed: Vec<String> = choices.iter().map(|choice| format!("`{choice}`")).collect();
            format!("; expected one of {}", listed.join(", "))
        }
    };
    format!("unknown {what} `{name}`{suggestion}{allowed}")
}

/// The allowed name closest to `name`, if it is close enough to be a typo of it.
fn closest<'a>(name: &str, choices: &[&'a str]) -> Option<&'a str> {
    let budget = (name.chars().count() / 3).clamp(1, 3);
    choices
        .iter()
        .map(|choice| (edit_distance(name, choice), *choice))
        .filter(|(distance, _)| *distance <= budget)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, choice)| choice)
}

/// Levenshtein distance in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, a_char) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, b_char) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(a_char != *b_char);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// What serde expected, in plain words.
fn expected_words(expected: &str, syntax: Syntax) -> String {
    let words = match expected {
        "usize" | "u8" | "u16" | "u32" | "u64" | "u128" => "a whole number, 0 or more",
        "isize" | "i8" | "i16" | "i32" | "i64" | "i128" => "a whole number",
        "f32" | "f64" => "a number",
        "a boolean" | "bool" => "true or false",
        "a string" | "string" | "a borrowed string" => syntax.string(),
        "a sequence" => "a list",
        "a map" => syntax.table(),
        "a character" | "char" => "a single character",
        "a duration" => "a duration such as \"250ms\", \"30s\" or \"5m\"",
        "socket address" => "an address such as 127.0.0.1:8080",
        "IP address" => "an IP address such as 127.0.0.1",
        "path string" => "a file path",
        "option" => "a value",
        "unit" => "nothing",
        other if other.starts_with("struct ") || other.starts_with("struct variant ") => {
            syntax.table()
        }
        other => return other.to_owned(),
    };
    words.to_owned()
}

/// What serde found instead, in plain words.
fn unexpected_words(unexpected: &str, syntax: Syntax) -> String {
    let backticked = |prefix: &str| {
        unexpected
            .strip_prefix(prefix)
            .and_then(|rest| quoted(Some(rest)))
    };
    if let Some(number) = backticked("integer ").or_else(|| backticked("floating point ")) {
        return format!("the number {number}");
    }
    if let Some(flag) = backticked("boolean ") {
        return flag.to_owned();
    }
    if let Some(character) = backticked("character ") {
        return format!("the character `{character}`");
    }
    if let Some(text) = unexpected.strip_prefix("string ") {
        return format!("the string {text}");
    }
    match unexpected {
        "sequence" => "a list".to_owned(),
        "map" => syntax.table().to_owned(),
        "unit value" => match syntax {
            Syntax::Json => "null".to_owned(),
            Syntax::Toml => "nothing".to_owned(),
        },
        "Option value" => "a value".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests;
