use std::fmt::Write as _;

use orkestra_core::{ChatRequest, Content, ContentPart, ImageUrl, Message, Tool};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

// ---------------------------------------------------------------------------------------------
// The labelled fixture.
// ---------------------------------------------------------------------------------------------

const FIXTURE: &str = include_str!("../../tests/fixtures/analyzer/prompts.jsonl");

/// One labelled prompt of the fixture.
struct Labelled {
    line: usize,
    kind: TaskKind,
    complexity: Complexity,
    language: Option<String>,
    request: ChatRequest,
}

fn fixture() -> Vec<Labelled> {
    FIXTURE
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("fixture line {}: {err}", index + 1));
            let field = |name: &str| value.get(name).cloned().unwrap_or(Value::Null);
            let messages: Vec<Message> = serde_json::from_value(field("messages"))
                .unwrap_or_else(|err| panic!("fixture line {}: messages: {err}", index + 1));
            let mut request = ChatRequest::new("auto", messages);
            if let Some(format) = value.get("response_format") {
                request.response_format = Some(format.clone());
            }
            if let Some(tools) = value.get("tools") {
                let tools: Vec<Tool> = serde_json::from_value(tools.clone())
                    .unwrap_or_else(|err| panic!("fixture line {}: tools: {err}", index + 1));
                request.tools = Some(tools);
            }
            Labelled {
                line: index + 1,
                kind: serde_json::from_value(field("kind"))
                    .unwrap_or_else(|err| panic!("fixture line {}: kind: {err}", index + 1)),
                complexity: serde_json::from_value(field("complexity"))
                    .unwrap_or_else(|err| panic!("fixture line {}: complexity: {err}", index + 1)),
                language: value
                    .get("language")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                request,
            }
        })
        .collect()
}

/// The first words of the last user message, for the report.
fn excerpt(request: &ChatRequest) -> String {
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

fn percent(hits: usize, total: usize) -> f64 {
    if total == 0 {
        100.0
    } else {
        100.0 * hits as f64 / total as f64
    }
}

#[test]
fn fixture_is_large_and_varied_enough() {
    let labelled = fixture();
    assert!(labelled.len() >= 200, "{} prompts", labelled.len());
    for kind in TaskKind::ALL {
        let count = labelled.iter().filter(|item| item.kind == kind).count();
        assert!(count >= 15, "{kind}: only {count} prompts");
    }
    let foreign = labelled
        .iter()
        .filter(|item| item.language.as_deref().is_some_and(|code| code != "en"))
        .count();
    assert!(foreign >= 25, "only {foreign} non-English prompts");
    let multi_turn = labelled
        .iter()
        .filter(|item| {
            item.request
                .messages
                .iter()
                .filter(|m| m.role == Role::User)
                .count()
                >= 2
        })
        .count();
    assert!(
        multi_turn >= 20,
        "only {multi_turn} multi-turn conversations"
    );
}

/// Accuracy on the labelled fixture: kind (overall and per kind), language and complexity,
/// printed as a table with every miss, so a regression shows which prompts moved.
#[test]
fn accuracy_on_the_labelled_fixture() {
    let analyzer = TaskAnalyzer::new();
    let labelled = fixture();
    let mut per_kind = [(0usize, 0usize); TaskKind::COUNT];
    let (mut kind_hits, mut language_hits, mut language_total) = (0, 0, 0);
    let (mut complexity_hits, mut complexity_near) = (0, 0);
    let mut misses = String::new();
    // `ANALYZER_DUMP=1` prints every profile, to study the rules against the labels.
    let dump = std::env::var_os("ANALYZER_DUMP").is_some();
    for item in &labelled {
        let profile = analyzer.analyze(&item.request);
        if dump {
            let (evidence, _) = analyzer.gather(&item.request);
            eprintln!("{evidence:?}");
            eprintln!(
                "line {:>3} {:<16} {:<6} | {:<16} {:.2} {:<6} {:>5} tok {:?} {}",
                item.line,
                item.kind.as_str(),
                item.complexity,
                profile.kind.as_str(),
                profile.confidence,
                profile.complexity,
                profile.input_tokens,
                profile.complexity_signals,
                excerpt(&item.request)
            );
        }
        let slot = &mut per_kind[item.kind as usize];
        slot.1 += 1;
        if profile.kind == item.kind {
            slot.0 += 1;
            kind_hits += 1;
        } else {
            let _ = writeln!(
                misses,
                "  kind  line {:>3}: want {:<16} got {:<16} ({:.2}) {}",
                item.line,
                item.kind.as_str(),
                profile.kind.as_str(),
                profile.confidence,
                excerpt(&item.request)
            );
        }
        if let Some(code) = &item.language {
            language_total += 1;
            if profile.language.code() == code {
                language_hits += 1;
            } else {
                let _ = writeln!(
                    misses,
                    "  lang  line {:>3}: want {code:<3} got {:<3} {}",
                    item.line,
                    profile.language,
                    excerpt(&item.request)
                );
            }
        }
        if profile.complexity == item.complexity {
            complexity_hits += 1;
        } else {
            let _ = writeln!(
                misses,
                "  cplx  line {:>3}: want {:<6} got {:<6} {:?}",
                item.line, item.complexity, profile.complexity, profile.complexity_signals
            );
        }
        if (profile.complexity as i32 - item.complexity as i32).abs() <= 1 {
            complexity_near += 1;
        }
    }
    let total = labelled.len();
    let mut report = String::from("\ntask analyzer accuracy on the labelled fixture\n");
    let _ = writeln!(
        report,
        "  {:<18} {:>5} {:>7} {:>8}",
        "kind", "right", "of", "accuracy"
    );
    for kind in TaskKind::ALL {
        let (hits, count) = per_kind[kind as usize];
        let _ = writeln!(
            report,
            "  {:<18} {hits:>5} {count:>7} {:>7.1}%",
            kind.as_str(),
            percent(hits, count)
        );
    }
    let overall = percent(kind_hits, total);
    let language = percent(language_hits, language_total);
    let complexity = percent(complexity_hits, total);
    let _ = writeln!(
        report,
        "  {:<18} {kind_hits:>5} {total:>7} {overall:>7.1}%",
        "overall kind"
    );
    let _ = writeln!(
        report,
        "  {:<18} {language_hits:>5} {language_total:>7} {language:>7.1}%",
        "language"
    );
    let _ = writeln!(
        report,
        "  {:<18} {complexity_hits:>5} {total:>7} {complexity:>7.1}%  (within one level: {:.1}%)",
        "complexity",
        percent(complexity_near, total)
    );
    eprintln!("{report}\nmisses:\n{misses}");
    assert!(overall >= 85.0, "kind accuracy {overall:.1}% is below 85%");
    assert!(
        language >= 85.0,
        "language accuracy {language:.1}% is below 85%"
    );
    assert!(
        complexity >= 60.0,
        "complexity accuracy {complexity:.1}% is below 60%"
    );
}
