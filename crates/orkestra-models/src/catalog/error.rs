//! [`CatalogError`] and the positions it reports.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::registry::RegistryError;

/// The two file formats a catalog is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// JSON: `{"models": [{...}]}`.
    Json,
    /// TOML: one `[[models]]` table per model.
    Toml,
}

impl Format {
    /// The format a path's extension names (`.json` or `.toml`, in any case).
    pub fn from_path(path: &Path) -> Result<Self, CatalogError> {
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if extension.eq_ignore_ascii_case("json") {
            Ok(Self::Json)
        } else if extension.eq_ignore_ascii_case("toml") {
            Ok(Self::Toml)
        } else {
            Err(CatalogError::UnsupportedFormat {
                path: path.to_owned(),
            })
        }
    }

    /// `JSON` or `TOML`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Json => "JSON",
            Self::Toml => "TOML",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where in a catalog a problem was found: `models.toml:12:1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, when the catalog was read from one.
    pub file: Option<PathBuf>,
    /// The 1-based line and column (in characters), when known.
    pub line_column: Option<(usize, usize)>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line_column) {
            (Some(file), Some((line, column))) => {
                write!(f, "{}:{line}:{column}", file.display())
            }
            (Some(file), None) => write!(f, "{}", file.display()),
            (None, Some((line, column))) => write!(f, "line {line}, column {column}"),
            (None, None) => f.write_str("catalog"),
        }
    }
}

/// Why a catalog could not be read, checked or written.
///
/// Every message is one line that says where (file, line and column when known) and what
/// was expected: `models.toml:12:1: unknown field `colour`, expected one of `id`, ...`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The text is not a catalog: bad syntax, an unknown key, a value of the wrong type,
    /// a negative price, a malformed id.
    #[error("{at}: {message}")]
    Parse {
        /// The format being read.
        format: Format,
        /// Where the problem is.
        at: Location,
        /// What is wrong and what was expected.
        message: String,
    },
    /// The catalog parses but a model cannot be registered as written: a value out of range,
    /// the same id twice, an alias naming two models.
    #[error("{}{error}", file_prefix(file.as_deref()))]
    Invalid {
        /// The file, when the catalog was read from one.
        file: Option<PathBuf>,
        /// What the registry refused. It is part of this message rather than a `source`,
        /// because it is the message.
        error: RegistryError,
    },
    /// The file could not be read.
    #[error("cannot read catalog `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: io::Error,
    },
    /// The file could not be written.
    #[error("cannot write catalog `{}`", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: io::Error,
    },
    /// The path's extension names no catalog format.
    #[error(
        "`{}`: {}, expected `.json` or `.toml`",
        path.display(),
        describe_extension(path)
    )]
    UnsupportedFormat {
        /// The path.
        path: PathBuf,
    },
    /// A model holds a value the format cannot spell (a non-finite number in TOML).
    #[error("cannot write model `{id}` as {format}: `{field}` {problem}")]
    Export {
        /// The format being written.
        format: Format,
        /// The model's id.
        id: String,
        /// The field holding the value.
        field: String,
        /// What is wrong.
        problem: String,
    },
}

impl CatalogError {
    /// The file the problem is in, when the catalog was read from or written to one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Self::Parse { at, .. } => at.file.as_deref(),
            Self::Invalid { file, .. } => file.as_deref(),
            Self::Read { path, .. }
            | Self::Write { path, .. }
            | Self::UnsupportedFormat { path } => Some(path),
            Self::Export { .. } => None,
        }
    }

    /// The 1-based line and column of the problem, when known.
    pub fn line_column(&self) -> Option<(usize, usize)> {
        match self {
            Self::Parse { at, .. } => at.line_column,
            _ => None,
        }
    }

    /// This error, now naming `file` (errors from text parsing know no file).
    pub(crate) fn in_file(mut self, path: &Path) -> Self {
        match &mut self {
            Self::Parse { at, .. } => at.file = Some(path.to_owned()),
            Self::Invalid { file, .. } => *file = Some(path.to_owned()),
            _ => {}
        }
        self
    }
}

fn file_prefix(file: Option<&Path>) -> String {
    file.map(|f| format!("{}: ", f.display()))
        .unwrap_or_default()
}

fn describe_extension(path: &Path) -> String {
    match path.extension() {
        Some(extension) => format!(
            "unsupported catalog extension `.{}`",
            extension.to_string_lossy()
        ),
        None => "no file extension to choose a catalog format".to_owned(),
    }
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// The byte offset of the 1-based `line` and `column` (in characters) in `text`, clamped to
/// the end of that line.
fn offset_of(text: &str, line: usize, column: usize) -> Option<usize> {
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n').nth(line - 2)?.0 + 1
    };
    let rest = &text[line_start..];
    let line_text = rest.split('\n').next().unwrap_or(rest);
    let within = line_text
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(line_text.len(), |(i, _)| i);
    Some(line_start + within)
}

/// Builds the error for a TOML text that does not deserialise as `T`.
pub(crate) fn from_toml_error(text: &str, error: &toml::de::Error) -> CatalogError {
    let offset = error.span().map(|span| span.start);
    let line_column = offset.map(|offset| line_column(text, offset));
    // A data error (the syntax is fine but a value is not what the field takes) gets the
    // field's name in front, since messages like "price -1 is not ..." do not carry it.
    // Parsing the text as a plain table tells syntax errors apart.
    let is_data_error = text.parse::<toml::Table>().is_ok();
    let mut message = error.message().trim_end().to_owned();
    if is_data_error
        && !names_a_field(&message)
        && let Some(key) = offset.and_then(|offset| toml_key_before(text, offset))
    {
        message = format!("`{key}`: {message}");
    }
    CatalogError::Parse {
        format: Format::Toml,
        at: Location {
            file: None,
            line_column,
        },
        message,
    }
}

/// Builds the error for a JSON text that does not deserialise.
pub(crate) fn from_json_error(text: &str, error: &serde_json::Error) -> CatalogError {
    let full = error.to_string();
    let (line, column) = (error.line(), error.column());
    // serde_json appends the position to its message; the location already says it.
    let suffix = format!(" at line {line} column {column}");
    let mut message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    let mut line_column = (line > 0).then_some((line, column.max(1)));
    if error.classify() == serde_json::error::Category::Data
        && let Some(offset) = offset_of(text, line, column)
    {
        // serde_json reports a data error where it stopped reading: the closing quote of an
        // unknown key, or the `,` or `}` after a refused value. Point at the key or value
        // instead, as the TOML errors do, and name the field a value belongs to.
        if message.starts_with("unknown field") {
            if let Some(open) = text[..offset].rfind('"') {
                line_column = Some(self::line_column(text, open));
            }
        } else if !names_a_field(&message)
            && let Some((key, value_start)) = json_value_before(text, offset)
        {
            message = format!("`{key}`: {message}");
            line_column = Some(self::line_column(text, value_start));
        }
    }
    CatalogError::Parse {
        format: Format::Json,
        at: Location {
            file: None,
            line_column,
        },
        message,
    }
}

/// Whether serde's message already names the field ("unknown field `x`", "missing field").
fn names_a_field(message: &str) -> bool {
    message.contains("field `")
}

/// The key of the `key = value` pair whose value starts at `offset`, on the same line.
fn toml_key_before(text: &str, offset: usize) -> Option<String> {
    let line_start = text[..offset].rfind('\n').map_or(0, |newline| newline + 1);
    let before = &text[line_start..offset];
    let (key, _) = before.rsplit_once('=')?;
    let key = key
        .trim_end()
        .rsplit(|c: char| c.is_whitespace() || c == '{' || c == ',')
        .next()?
        .trim_matches(|c| c == '"' || c == '\'');
    is_plain_key(key).then(|| key.to_owned())
}

/// The key and the value's offset of the last `"key": value` pair that starts before `end`.
fn json_value_before(text: &str, end: usize) -> Option<(String, usize)> {
    let before = &text[..end];
    let colon = before.rfind("\":")?;
    let open = before[..colon].rfind('"')?;
    let key = &before[open + 1..colon];
    let after_colon = colon + 2;
    let value_start = before.len() - before[after_colon..].trim_start().len();
    is_plain_key(key).then(|| (key.to_owned(), value_start))
}

fn is_plain_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
