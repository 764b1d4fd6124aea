//! Labelled prompts and the analyzer's accuracy on them.
//!
//! A labelled file holds one JSON object per line, in the shape of the fixture in
//! `tests/fixtures/analyzer` (its README gives the labelling rules):
//!
//! ```json
//! {"kind":"debugging","complexity":"medium","language":"en","messages":[{"role":"user","content":"..."}]}
//! ```
//!
//! with optional `response_format` and `tools` copied onto the request. [`parse`] reads such a
//! file, [`Report`] scores the analyzer on it: kind (overall and per kind, with the confusions),
//! complexity and language. `cargo xtask analyzer-eval FILE...` prints the report for any file.

use std::fmt::{self, Write as _};

use orkestra_core::{ChatRequest, Message, Role, Tool};
use serde_json::Value;

use super::TaskAnalyzer;
use crate::task::{Complexity, TaskKind, TaskProfile};

/// One labelled prompt.
#[derive(Debug, Clone)]
pub struct Labelled {
    /// The line of the file it was read from, from 1.
    pub line: usize,
    /// The kind the prompt asks for.
    pub kind: TaskKind,
    /// How demanding it is.
    pub complexity: Complexity,
    /// The ISO 639-1 code of the user's language, when labelled.
    pub language: Option<String>,
    /// The request.
    pub request: ChatRequest,
}

/// A line that is not a labelled prompt: `LINE: FIELD: what was wrong`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}: {field}: {message}")]
pub struct LabelError {
    /// The line, from 1.
    pub line: usize,
    /// The field that could not be read (`line` for the JSON itself).
    pub field: &'static str,
    /// What was expected.
    pub message: String,
}

/// Reads every non-blank line of `text` as a labelled prompt.
///
/// # Errors
///
/// The first line that is not JSON or lacks a valid `kind`, `complexity` or `messages`.
pub fn parse(text: &str) -> Result<Vec<Labelled>, LabelError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| parse_line(index + 1, line))
        .collect()
}

fn parse_line(line: usize, text: &str) -> Result<Labelled, LabelError> {
    let error = |field: &'static str, message: String| LabelError {
        line,
        field,
        message,
    };
    let value: Value = serde_json::from_str(text).map_err(|err| error("line", err.to_string()))?;
    let field = |name: &str| value.get(name).cloned().unwrap_or(Value::Null);
    let messages: Vec<Message> = serde_json::from_value(field("messages"))
        .map_err(|err| error("messages", err.to_string()))?;
    let mut request = ChatRequest::new("auto", messages);
    if let Some(format) = value.get("response_format") {
        request.response_format = Some(format.clone());
    }
    if let Some(tools) = value.get("tools") {
        let tools: Vec<Tool> =
            serde_json::from_value(tools.clone()).map_err(|err| error("tools", err.to_string()))?;
        request.tools = Some(tools);
    }
    Ok(Labelled {
        line,
        kind: serde_json::from_value(field("kind"))
            .map_err(|err| error("kind", err.to_string()))?,
        complexity: serde_json::from_value(field("complexity"))
            .map_err(|err| error("complexity", err.to_string()))?,
        language: value
            .get("language")
            .and_then(Value::as_str)
            .map(str::to_owned),
        request,
    })
}

/// What the analyzer got right on a labelled set.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Right and total per labelled kind, in [`TaskKind`] order.
    pub per_kind: [(usize, usize); TaskKind::COUNT],
    /// How often each labelled kind (row) was answered as each kind (column).
    pub confusion: [[usize; TaskKind::COUNT]; TaskKind::COUNT],
    /// Prompts scored.
    pub total: usize,
    /// Prompts whose kind was right.
    pub kind_hits: usize,
    /// Prompts with a language label, and those whose language was right.
    pub language_total: usize,
    /// See [`Self::language_total`].
    pub language_hits: usize,
    /// Prompts whose complexity was right, and within one level.
    pub complexity_hits: usize,
    /// See [`Self::complexity_hits`].
    pub complexity_near: usize,
    /// One line per miss, when [`Self::with_misses`] asked for them.
    pub misses: Option<String>,
}

impl Report {
    /// A report that also lists every miss, prompt by prompt.
    #[must_use]
    pub fn with_misses() -> Self {
        Self {
            misses: Some(String::new()),
            ..Self::default()
        }
    }

    /// Scores `analyzer` on every prompt of `labelled`.
    pub fn score(&mut self, analyzer: &TaskAnalyzer, labelled: &[Labelled]) {
        for item in labelled {
            self.add(item, &analyzer.analyze(&item.request));
        }
    }

    /// Adds one prompt and the analyzer's profile of it.
    pub fn add(&mut self, item: &Labelled, profile: &TaskProfile) {
        self.total += 1;
        self.confusion[item.kind as usize][profile.kind as usize] += 1;
        let slot = &mut self.per_kind[item.kind as usize];
        slot.1 += 1;
        if profile.kind == item.kind {
            slot.0 += 1;
            self.kind_hits += 1;
        } else if let Some(misses) = &mut self.misses {
            let _ = writeln!(
                misses,
                "  kind  line {:>4}: want {:<16} got {:<16} ({:.2}) {}",
                item.line,
                item.kind.as_str(),
                profile.kind.as_str(),
                profile.confidence,
                excerpt(&item.request)
            );
        }
        if let Some(code) = &item.language {
            self.language_total += 1;
            if profile.language.code() == code {
                self.language_hits += 1;
            } else if let Some(misses) = &mut self.misses {
                let _ = writeln!(
                    misses,
                    "  lang  line {:>4}: want {code:<3} got {:<3} {}",
                    item.line,
                    profile.language,
                    excerpt(&item.request)
                );
            }
        }
        if profile.complexity == item.complexity {
            self.complexity_hits += 1;
        } else if let Some(misses) = &mut self.misses {
            let _ = writeln!(
                misses,
                "  cplx  line {:>4}: want {:<6} got {:<6} {:?}",
                item.line, item.complexity, profile.complexity, profile.complexity_signals
            );
        }
        if (profile.complexity as i32 - item.complexity as i32).abs() <= 1 {
            self.complexity_near += 1;
        }
    }

    /// Kind accuracy, in percent.
    #[must_use]
    pub fn kind_accuracy(&self) -> f64 {
        percent(self.kind_hits, self.total)
    }

    /// Language accuracy over the prompts with a language label, in percent.
    #[must_use]
    pub fn language_accuracy(&self) -> f64 {
        percent(self.language_hits, self.language_total)
    }

    /// Complexity accuracy, in percent.
    #[must_use]
    pub fn complexity_accuracy(&self) -> f64 {
        percent(self.complexity_hits, self.total)
    }
}

/// `hits` of `total` in percent; 100 for an empty set.
fn percent(hits: usize, total: usize) -> f64 {
    if total == 0 {
        100.0
    } else {
        // Counts stay far below 2^52, so the conversions are exact.
        100.0 * hits as f64 / total as f64
    }
}

/// The first words of the last user message, for a miss.
#[must_use]
pub fn excerpt(request: &ChatRequest) -> String {
    let text = request
        .messages
        .iter()
        .rev()
        .find(|message| message.role == Role::User)
        .map(Message::text)
        .unwrap_or_default();
    text.chars()
        .take(70)
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect()
}

impl fmt::Display for Report {
    /// The per-kind table, the overall figures, the most frequent confusions and, when kept,
    /// every miss.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  {:<18} {:>5} {:>7} {:>8}",
            "kind", "right", "of", "accuracy"
        )?;
        for kind in TaskKind::ALL {
            let (hits, count) = self.per_kind[kind as usize];
            let accuracy = percent(hits, count);
            writeln!(
                f,
                "  {:<18} {hits:>5} {count:>7} {accuracy:>7.1}%",
                kind.as_str()
            )?;
        }
        let rows = [
            ("overall kind", self.kind_hits, self.total),
            ("language", self.language_hits, self.language_total),
            ("complexity", self.complexity_hits, self.total),
        ];
        for (name, hits, total) in rows {
            let accuracy = percent(hits, total);
            writeln!(f, "  {name:<18} {hits:>5} {total:>7} {accuracy:>7.1}%")?;
        }
        let near = percent(self.complexity_near, self.total);
        writeln!(f, "  complexity within one level: {near:.1}%")?;
        let mut confusions: Vec<(usize, TaskKind, TaskKind)> = Vec::new();
        for want in TaskKind::ALL {
            for got in TaskKind::ALL {
                let count = self.confusion[want as usize][got as usize];
                if want != got && count > 0 {
                    confusions.push((count, want, got));
                }
            }
        }
        // Most frequent first; ties in kind order, so the report is stable.
        confusions.sort_by(|a, b| b.0.cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
        writeln!(f, "  confusions (labelled -> answered):")?;
        for (count, want, got) in confusions.iter().take(12) {
            writeln!(
                f,
                "    {count:>4}  {:<16} -> {}",
                want.as_str(),
                got.as_str()
            )?;
        }
        if let Some(misses) = &self.misses {
            write!(f, "misses:\n{misses}")?;
        }
        Ok(())
    }
}
