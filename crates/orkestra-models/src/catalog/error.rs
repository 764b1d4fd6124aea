//! Reading catalog text: the two [`Format`]s, and every problem found in a text as an
//! [`Error::Catalog`] that says where (`FILE:LINE:COLUMN: KEY`) and what was expected, in
//! plain words rather than serde's (`expected u32`, `invalid type: sequence`, `expected ident`).

use std::fmt::{self, Write as _};
use std::path::Path;

use orkestra_core::{Located, Position};
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

use super::Catalog;
use crate::error::Error;

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
    pub fn from_path(path: &Path) -> Result<Self, Error> {
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if extension.eq_ignore_ascii_case("json") {
            Ok(Self::Json)
        } else if extension.eq_ignore_ascii_case("toml") {
            Ok(Self::Toml)
        } else {
            Err(Error::UnsupportedFormat {
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

    /// What a problem names as its file when the text came from no file.
    pub(crate) const fn text_name(self) -> &'static str {
        match self {
            Self::Json => "(JSON text)",
            Self::Toml => "(TOML text)",
        }
    }

    /// What the format calls a set of keys and values.
    const fn table(self) -> &'static str {
        match self {
            Self::Json => "an object",
            Self::Toml => "a table",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A problem at byte `offset` of a text in `format`, under `key`.
fn problem(
    format: Format,
    position: Option<Position>,
    key: Option<String>,
    message: String,
) -> Error {
    let mut at = Located::new(format.text_name(), message);
    at.position = position;
    at.key = key;
    Error::Catalog { format, at }
}

/// Reads a catalog from `text`: a JSON document that is not an object is refused as a whole,
/// since serde would read a list as the catalog's fields in order and complain about its
/// first item.
pub(crate) fn parse_catalog(text: &str, format: Format) -> Result<Catalog, Error> {
    let start = text.len() - text.trim_start().len();
    if format == Format::Json
        && !text[start..].starts_with('{')
        && let Ok(value) = serde_json::from_str::<serde_json::Value>(text)
    {
        let got = match value {
            serde_json::Value::Array(_) => "a list".to_owned(),
            serde_json::Value::String(text) => format!("the text {text:?}"),
            serde_json::Value::Number(number) => format!("the number {number}"),
            other => other.to_string(),
        };
        return Err(problem(
            format,
            Some(Position::of_offset(text, start)),
            None,
            format!(
                "expected {}, got {got}",
                expected_words("struct Catalog", format)
            ),
        ));
    }
    parse(text, format)
}

/// Deserialises `text` in `format` as a `T`; a failure says where and what, in plain words.
pub(crate) fn parse<T: DeserializeOwned>(text: &str, format: Format) -> Result<T, Error> {
    match format {
        Format::Json => {
            let mut deserializer = serde_json::Deserializer::from_str(text);
            let value = serde_path_to_error::deserialize(&mut deserializer)
                .map_err(|error| from_json_error(text, error.inner(), key_of(error.path())))?;
            // Text after the value is an error, as `serde_json::from_str` makes it.
            deserializer
                .end()
                .map_err(|error| from_json_error(text, &error, None))?;
            Ok(value)
        }
        Format::Toml => {
            let deserializer = toml::Deserializer::parse(text)
                .map_err(|error| from_toml_error(text, &error, None, true))?;
            serde_path_to_error::deserialize(deserializer)
                .map_err(|error| from_toml_error(text, error.inner(), key_of(error.path()), false))
        }
    }
}

/// A path such as `models[0].latency.ttft`, up to the first segment serde could not name;
/// `None` for the whole document.
fn key_of(path: &serde_path_to_error::Path) -> Option<String> {
    let mut key = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => {
                let _ = write!(key, "[{index}]");
            }
            Segment::Map { key: name } | Segment::Enum { variant: name } => {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(name);
            }
            Segment::Unknown => break,
        }
    }
    (!key.is_empty()).then_some(key)
}

fn from_toml_error(
    text: &str,
    error: &toml::de::Error,
    key: Option<String>,
    syntax: bool,
) -> Error {
    let position = error
        .span()
        .map(|span| Position::of_offset(text, span.start));
    // toml words some syntax errors on two lines ("invalid table header\nexpected `.`, `]`").
    let words = error.message().trim_end().replace('\n', ", ");
    let message = if syntax {
        format!("not valid TOML: {words}")
    } else {
        plain_words(&words, Format::Toml)
    };
    problem(Format::Toml, position, key, message)
}

fn from_json_error(text: &str, error: &serde_json::Error, key: Option<String>) -> Error {
    let full = error.to_string();
    let (line, column) = (error.line(), error.column());
    // serde_json appends the position to its message; the location already says it.
    let suffix = format!(" at line {line} column {column}");
    let words = full.strip_suffix(&suffix).unwrap_or(&full);
    let mut position = (line > 0).then_some(Position {
        line,
        column: column.max(1),
    });
    if error.classify() != serde_json::error::Category::Data {
        // A syntax error has a position, not a key: the path is only where the reader was.
        let message = format!("not valid JSON: {}", json_syntax_words(words));
        return problem(Format::Json, position, None, message);
    }
    // serde_json reports a data error where it stopped reading: the closing quote of an
    // unknown key, or the `,` or `}` after a refused value. Point at the key or value instead,
    // as the TOML errors do.
    if let Some(offset) = offset_of(text, line, column) {
        let start = if words.starts_with("unknown field") {
            text[..offset].rfind('"')
        } else {
            value_start_before(text, offset)
        };
        if let Some(start) = start {
            position = Some(Position::of_offset(text, start));
        }
    }
    problem(
        Format::Json,
        position,
        key,
        plain_words(words, Format::Json),
    )
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

/// Where the value of the last `"key": value` pair that starts before `end` begins.
fn value_start_before(text: &str, end: usize) -> Option<usize> {
    let before = &text[..end];
    let after_colon = before.rfind("\":")? + 2;
    Some(before.len() - before[after_colon..].trim_start().len())
}

/// `serde_json`'s syntax messages in plain words.
fn json_syntax_words(words: &str) -> String {
    match words {
        // `expected ident` is a word that is not `true`, `false` or `null`.
        "expected value" | "expected ident" => {
            "expected a value (an object, a list, a string, a number, true, false or null)".into()
        }
        "trailing comma" => "a comma before a closing bracket".into(),
        "trailing characters" => "more text after the end of the value".into(),
        "key must be a string" => "an object's key must be a string in double quotes".into(),
        other => match other.strip_prefix("EOF while parsing ") {
            Some(what) => format!("the text ends inside {what}"),
            None => other.to_owned(),
        },
    }
}

/// serde's wording of a data error in plain words: `invalid type: integer `5`, expected a
/// sequence` becomes `expected a list, got the number 5`. Messages of our own (a price, a
/// model id) pass unchanged.
fn plain_words(message: &str, format: Format) -> String {
    if let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        && let Some((got, expected)) = rest.rsplit_once(", expected ")
    {
        return format!(
            "expected {}, got {}",
            expected_words(expected, format),
            got_words(got, format)
        );
    }
    if let Some(rest) = message.strip_prefix("invalid length ")
        && let Some((length, expected)) = rest.split_once(", expected ")
    {
        return format!(
            "expected {}, got {length} items",
            expected_words(expected, format)
        );
    }
    for (serde_words, plain) in [
        ("unknown field ", "unknown key "),
        ("unknown variant ", "unknown value "),
        ("missing field ", "missing key "),
    ] {
        if let Some(rest) = message.strip_prefix(serde_words) {
            let rest = rest
                .trim_end_matches(", there are no fields")
                .trim_end_matches(", there are no variants");
            return format!("{plain}{rest}");
        }
    }
    if let Some(key) = message.strip_prefix("duplicate field ") {
        return format!("key {key} is given twice");
    }
    message.to_owned()
}

/// What serde says a field expects, in plain words.
fn expected_words(expected: &str, format: Format) -> String {
    let from_zero = |max: u64| format!("a whole number from 0 to {max}");
    match expected {
        "u8" => from_zero(u8::MAX.into()),
        "u16" => from_zero(u16::MAX.into()),
        "u32" => from_zero(u32::MAX.into()),
        "u64" | "usize" => from_zero(u64::MAX),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" => "true or false".into(),
        "a sequence" => "a list".into(),
        "a map" => format.table().into(),
        "struct Catalog" => match format {
            Format::Json => "a catalog (an object with a `models` list)".into(),
            Format::Toml => "a catalog (`[[models]]` tables)".into(),
        },
        other if other.starts_with("struct ") => format.table().into(),
        other => other.to_owned(),
    }
}

/// What serde says a field held, in plain words.
fn got_words(got: &str, format: Format) -> String {
    let quoted = |prefix: &str| {
        got.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('`'))
            .and_then(|rest| rest.strip_suffix('`'))
            .map(str::to_owned)
    };
    if let Some(number) = quoted("integer ").or_else(|| quoted("floating point ")) {
        return format!("the number {number}");
    }
    if let Some(boolean) = quoted("boolean ") {
        return boolean;
    }
    if let Some(text) = got.strip_prefix("string ") {
        return format!("the text {text}");
    }
    match got {
        "sequence" => "a list".into(),
        "map" => format.table().into(),
        "unit value" | "unit" => "nothing".into(),
        other => other.to_owned(),
    }
}

/// A registry check that failed on a catalog read from `text`, located at the model's `id`
/// and named by its key (`models[2].max_output_tokens`).
pub(crate) fn in_text(text: &str, format: Format, catalog: &Catalog, error: Error) -> Error {
    let models = &catalog.models;
    let (index, field, message) = match &error {
        Error::InvalidSpec { id, field, problem } => {
            let Some(index) = models
                .iter()
                .position(|m| m.id.as_str() == id && m.validate().is_err())
            else {
                return error;
            };
            (index, *field, problem.clone())
        }
        Error::DuplicateModel { id } => {
            let mut same = models
                .iter()
                .enumerate()
                .filter(|(_, m)| m.id.as_str() == id)
                .map(|(i, _)| i);
            let (Some(first), Some(index)) = (same.next(), same.next()) else {
                return error;
            };
            (
                index,
                "id",
                format!("`{id}` is already the id of models[{first}]"),
            )
        }
        Error::NameTaken { name, by } => {
            let Some(index) = models
                .iter()
                .position(|m| m.id.as_str() != by && m.aliases.contains(name))
            else {
                return error;
            };
            (
                index,
                "aliases",
                format!("`{name}` already names model `{by}`"),
            )
        }
        _ => return error,
    };
    let position = id_key(text, format, index).map(|offset| Position::of_offset(text, offset));
    problem(
        format,
        position,
        Some(format!("models[{index}].{field}")),
        message,
    )
}

/// Where the `id` key of the `index`-th model is: each model has exactly one, and none of a
/// model's other keys is called `id`, so the n-th `id` key belongs to the n-th model.
fn id_key(text: &str, format: Format, index: usize) -> Option<usize> {
    match format {
        Format::Toml => {
            let mut offset = 0;
            text.split_inclusive('\n')
                .filter_map(|line| {
                    let start = offset;
                    offset += line.len();
                    let trimmed = line.trim_start();
                    let rest = trimmed
                        .strip_prefix("id")
                        .or_else(|| trimmed.strip_prefix("\"id\""))?;
                    let indent = line.len() - trimmed.len();
                    rest.trim_start().starts_with('=').then_some(start + indent)
                })
                .nth(index)
        }
        // A JSON model may share its line with others, so keys are counted, not lines.
        Format::Json => text
            .match_indices("\"id\"")
            .filter(|(at, key)| text[at + key.len()..].trim_start().starts_with(':'))
            .map(|(at, _)| at)
            .nth(index),
    }
}
