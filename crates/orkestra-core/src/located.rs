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

#[cfg(test)]
mod tests;
