use orkestra_core::{ChatRequest, Content, ContentPart, ImageUrl, Message};
use proptest::prelude::*;
use serde_json::json;

use super::labelled::{Labelled, Report, excerpt};
use super::*;

/// One analyzer for all tests: building it compiles the automaton.
fn analyzer() -> &'static TaskAnalyzer {
    static ANALYZER: std::sync::LazyLock<TaskAnalyzer> =
        std::sync::LazyLock::new(TaskAnalyzer::new);
    &ANALYZER
}

// ---------------------------------------------------------------------------------------------
// The labelled fixture.
// ---------------------------------------------------------------------------------------------

/// The tuning split: what the cues were written against and the learned model is trained on.
const FIXTURE: &str = include_str!("../../tests/fixtures/analyzer/prompts.jsonl");
/// The untouched split: never trained or tuned on; only its overall figures are looked at.
const UNTOUCHED: &str = include_str!("../../tests/fixtures/analyzer/untouched.jsonl");
/// The prompts of the tuning split written before the split existed, which the cues were
/// written against; every later prompt went to one split or the other by [`in_untouched_split`].
const PRE_SPLIT: usize = 252;

fn fixture() -> Vec<Labelled> {
    labelled::parse(FIXTURE).unwrap_or_else(|err| panic!("prompts.jsonl:{err}"))
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
    let analyzer = analyzer();
    // `ANALYZER_DUMP=1` prints every profile and its evidence, to study the rules.
    let dump = std::env::var_os("ANALYZER_DUMP").is_some();
    let mut report = Report::with_misses();
    for item in &fixture() {
        let profile = analyzer.analyze(&item.request);
        if dump {
            let (evidence, _) = analyzer.gather(&item.request);
            eprintln!(
                "line {:>3} {:<16} {:<6} | {:<16} {:.2} {:<6} {:>5} tok {:?} {}\n  {evidence:?}",
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
        report.add(item, &profile);
    }
    eprintln!("\ntask analyzer accuracy on the labelled fixture\n{report}");
    let (kind, language, complexity) = (
        report.kind_accuracy(),
        report.language_accuracy(),
        report.complexity_accuracy(),
    );
    assert!(kind >= 85.0, "kind accuracy {kind:.1}% is below 85%");
    assert!(
        language >= 85.0,
        "language accuracy {language:.1}% is below 85%"
    );
    assert!(
        complexity >= 60.0,
        "complexity accuracy {complexity:.1}% is below 60%"
    );
}

/// Whether a prompt written after the split was decided belongs to the untouched split: FNV-1a
/// (64 bits) of a seed and the line's bytes, below 40 in 100.
fn in_untouched_split(line: &str) -> bool {
    let hash = b"orkestra analyzer split 1\n"
        .iter()
        .chain(line.as_bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, &byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    hash % 100 < 40
}

#[test]
fn the_split_is_the_documented_one() {
    let tuning: Vec<&str> = FIXTURE
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let untouched: Vec<&str> = UNTOUCHED
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    for (index, line) in tuning.iter().enumerate().skip(PRE_SPLIT) {
        assert!(
            !in_untouched_split(line),
            "prompts.jsonl line {} belongs to the untouched split",
            index + 1
        );
    }
    for (index, line) in untouched.iter().enumerate() {
        assert!(
            in_untouched_split(line),
            "untouched.jsonl line {} belongs to the tuning split",
            index + 1
        );
        assert!(
            !tuning.contains(line),
            "untouched.jsonl line {} is also in prompts.jsonl",
            index + 1
        );
    }
    assert!(
        untouched.len() >= 250,
        "only {} untouched prompts",
        untouched.len()
    );
}

/// Accuracy on the untouched split, the figure that says how the analyzer generalises. Only
/// the totals are printed: looking at its misses one by one would be tuning on it.
///
/// Issue 14's bar is 85%; this build reaches 78.4% (254 of 324), so the test guards that figure
/// against regressions instead of claiming the bar: see `docs/performance.md` for what is left.
#[test]
fn accuracy_on_the_untouched_split() {
    let labelled = labelled::parse(UNTOUCHED).unwrap_or_else(|err| panic!("untouched.jsonl:{err}"));
    let mut report = Report::default();
    report.score(analyzer(), &labelled);
    eprintln!("\ntask analyzer accuracy on the untouched split\n{report}");
    let kind = report.kind_accuracy();
    assert!(
        kind >= UNTOUCHED_FLOOR,
        "kind accuracy {kind:.1}% is below {UNTOUCHED_FLOOR}% (the issue's bar is 85%)"
    );
}

/// The untouched split's kind accuracy this build reaches, rounded down.
const UNTOUCHED_FLOOR: f64 = 78.0;

// ---------------------------------------------------------------------------------------------
// Focused behaviour.
// ---------------------------------------------------------------------------------------------

/// Tokens every single-message request costs besides its text: the message and the reply
/// priming.
const OVERHEAD: u32 = 7;

fn user(text: &str) -> ChatRequest {
    ChatRequest::new("auto", vec![Message::user(text)])
}

fn image_part(detail: Option<&str>) -> ContentPart {
    ContentPart::ImageUrl {
        image_url: ImageUrl {
            url: "https://example.com/cat.png".to_owned(),
            detail: detail.map(str::to_owned),
        },
    }
}

#[track_caller]
fn check_kind(prompt: &str, expected: TaskKind) {
    let profile = analyzer().analyze_text(prompt);
    assert_eq!(profile.kind, expected, "{prompt:?}: {profile:?}");
}

#[test]
fn kinds_of_the_documented_hard_cases() {
    check_kind(
        "Translate this Python to Rust:\n```python\ndef add(a, b):\n    return a + b\n```",
        TaskKind::CodeGeneration,
    );
    check_kind(
        "Summarize this error log:\n```\nERROR worker 3 panicked at 'index out of bounds', src/main.rs:9:5\n```",
        TaskKind::Debugging,
    );
    check_kind(
        "Translate into German: good morning, everyone.",
        TaskKind::Translation,
    );
    check_kind("Write a haiku about the sea.", TaskKind::CreativeWriting);
    check_kind(
        "Write a Go function that reverses a slice.",
        TaskKind::CodeGeneration,
    );
    check_kind(
        "Classify this review as positive or negative: great!",
        TaskKind::Classification,
    );
    check_kind(
        "Extract every email address from this text as JSON: mail bo@example.com",
        TaskKind::Extraction,
    );
    check_kind(
        "Prove that there are infinitely many primes.",
        TaskKind::Reasoning,
    );
    check_kind("What is the tallest mountain in Europe?", TaskKind::Chat);
}

#[test]
fn instructions_outweigh_the_words_of_pasted_data() {
    // The pasted notes mention failures, categories and questions; the instruction decides.
    let notes = "- login fails on Safari, fix in review?\n- error rate fine\n- which category?\n";
    let prompt = format!(
        "Summarize these notes in two sentences:\n\n{}",
        notes.repeat(6)
    );
    check_kind(&prompt, TaskKind::Summarization);
}

#[test]
fn long_messages_are_searched_at_both_ends() {
    let filler = "The committee met on Tuesday and reviewed the budget for the coming year. ";
    let mut prompt = filler.repeat(200);
    prompt.push_str("\n\nTranslate all of the above into French.");
    let profile = analyzer().analyze_text(&prompt);
    assert_eq!(profile.kind, TaskKind::Translation);
    assert_eq!(profile.complexity, Complexity::High, "{profile:?}");
    assert!(
        profile
            .complexity_signals
            .iter()
            .any(|signal| matches!(signal, ComplexitySignal::LongPrompt(_)))
    );
}

#[test]
fn no_evidence_means_chat_with_the_floor_confidence() {
    let profile = analyzer().analyze_text("zebra lantern");
    assert_eq!(profile.kind, TaskKind::Chat);
    assert!((profile.confidence - NO_EVIDENCE_CONFIDENCE).abs() < f64::EPSILON);
    let strong = analyzer().analyze_text("Translate into Spanish: the train leaves at noon.");
    assert!(strong.confidence > 0.5, "{strong:?}");
}

#[track_caller]
fn check_needs(request: &ChatRequest, expected: Needs) {
    let profile = analyzer().analyze(request);
    assert_eq!(profile.needs, expected, "{profile:?}");
}

#[test]
fn needs_are_detected() {
    let none = Needs::default();
    check_needs(&user("Tell me a joke about penguins."), none);

    let mut formatted = user("List three colours.");
    formatted.response_format = Some(json!({"type": "json_object"}));
    check_needs(&formatted, Needs { json: true, ..none });
    // Asked for in words, JSON is a preference: the request does not require JSON mode.
    check_needs(
        &user("List three colours and return the result as JSON."),
        Needs {
            preferred: Capabilities::of(&[Capability::JsonMode]),
            ..none
        },
    );
    // Asked for both ways, it is required, and not also listed as a preference.
    formatted.messages = vec![Message::user("Return the three colours as JSON.")];
    check_needs(&formatted, Needs { json: true, ..none });

    let mut with_tools = user("What's the weather in Oslo?");
    with_tools.tools = Some(vec![
        serde_json::from_value(json!({
            "type": "function",
            "function": {"name": "get_weather", "parameters": {"type": "object"}}
        }))
        .unwrap(),
    ]);
    check_needs(
        &with_tools,
        Needs {
            tools: true,
            ..none
        },
    );

    let mut picture = Message::user("");
    picture.content = Some(Content::Parts(vec![
        ContentPart::Text {
            text: "What is in this picture?".to_owned(),
        },
        image_part(None),
    ]));
    check_needs(
        &ChatRequest::new("auto", vec![picture]),
        Needs {
            vision: true,
            ..none
        },
    );

    let long = "All work and no play makes Jack a dull boy. ".repeat(800);
    check_needs(
        &user(&long),
        Needs {
            long_context: true,
            ..none
        },
    );
    // A small prompt with a huge answer needs a long context too.
    let mut big_answer = user("Write a novel.");
    big_answer.max_tokens = Some(9_000);
    check_needs(
        &big_answer,
        Needs {
            long_context: true,
            ..none
        },
    );
}

#[track_caller]
fn check_tokens(text: &str, reference: f64) {
    let profile = analyzer().analyze_text(text);
    let estimate = f64::from(profile.input_tokens - OVERHEAD);
    let error = (estimate - reference).abs() / reference;
    assert!(
        error <= 0.25,
        "estimated {estimate} tokens, reference {reference}, off by {:.0}%",
        error * 100.0
    );
}

#[test]
fn token_estimates_are_within_a_quarter() {
    // 120 words of ordinary English prose; OpenAI's rule of thumb is 100 tokens per 75 words.
    let english = "When the river froze early that winter, the village decided to hold the market on \
        the ice instead of the square. Children dragged sleds loaded with apples, bread and jars of \
        honey, while their parents argued about how thick the ice had to be before it was safe. \
        The blacksmith, who had lived there longer than anyone, walked out first and stamped his \
        boots twice. Nothing cracked, so the stalls went up in a long crooked line from the mill to \
        the old stone bridge. By noon the smell of roasted chestnuts drifted over the whole valley, \
        and travellers who had planned to pass through stopped to warm their hands and \
        stayed for the music. Nobody remembered a busier day.";
    let words = english.split_whitespace().count();
    assert_eq!(words, 120);
    check_tokens(english, words as f64 * 100.0 / 75.0);
    // Chinese: about one token per character.
    let chinese = "今天早上下了一场大雨，街道上到处都是积水。孩子们穿着雨靴在水坑里跳来跳去，\
        大人们则撑着伞匆匆赶路。雨停以后，天空出现了一道彩虹，很多人停下脚步拿出手机拍照。";
    let characters = chinese.chars().filter(|c| !c.is_ascii_whitespace()).count();
    check_tokens(chinese, characters as f64);
}

#[test]
fn image_tokens_depend_on_detail() {
    let request = |detail| {
        let mut message = Message::user("");
        message.content = Some(Content::Parts(vec![image_part(detail)]));
        ChatRequest::new("auto", vec![message])
    };
    let analyzer = analyzer();
    let low = analyzer.analyze(&request(Some("low"))).input_tokens;
    let high = analyzer.analyze(&request(None)).input_tokens;
    assert_eq!(u64::from(high - low), IMAGE_DEFAULT - IMAGE_LOW_DETAIL);
}

#[test]
fn expected_output_honours_the_request_limit() {
    let analyzer = analyzer();
    let mut request = user("Write a Rust function that parses a date.");
    let estimated = analyzer.analyze(&request).expected_output_tokens;
    assert!((300..=1500).contains(&estimated), "{estimated}");
    request.max_tokens = Some(64);
    assert_eq!(analyzer.analyze(&request).expected_output_tokens, 64);
    request.max_completion_tokens = Some(128);
    assert_eq!(
        analyzer.analyze(&request).expected_output_tokens,
        128,
        "max_completion_tokens wins"
    );
}

#[test]
fn expected_output_by_kind_and_complexity() {
    let analyzer = analyzer();
    let label = analyzer.analyze_text("Classify the sentiment as positive or negative: meh.");
    assert_eq!(
        (label.kind, label.expected_output_tokens),
        (TaskKind::Classification, 10)
    );
    assert_eq!(
        expected_output(TaskKind::CodeGeneration, Complexity::High, 0),
        1500
    );
    // A translation is about as long as what it translates.
    let text = "The quick brown fox jumps over the lazy dog. ".repeat(20);
    let translation = analyzer.analyze_text(&format!("Translate into Italian:\n{text}"));
    assert_eq!(translation.kind, TaskKind::Translation);
    let source = translation.input_tokens - OVERHEAD;
    assert!(
        translation.expected_output_tokens >= source
            && translation.expected_output_tokens <= source * 3 / 2,
        "{translation:?}"
    );
}

#[test]
fn turns_count_user_messages() {
    let request = ChatRequest::new(
        "auto",
        vec![
            Message::system("You are terse."),
            Message::user("Hi"),
            Message::assistant("Hello."),
            Message::user("What's 2 + 2?"),
            Message::assistant("4."),
            Message::user("And times 3?"),
        ],
    );
    assert_eq!(analyzer().analyze(&request).turns, 3);
}

#[test]
fn the_last_user_message_decides_the_kind() {
    let request = ChatRequest::new(
        "auto",
        vec![
            Message::user("Write a poem about autumn."),
            Message::assistant("Leaves fall, slow and gold..."),
            Message::user("Now translate it into French."),
        ],
    );
    assert_eq!(analyzer().analyze(&request).kind, TaskKind::Translation);
}

#[test]
fn analysis_is_deterministic() {
    let request = ChatRequest::new(
        "auto",
        vec![
            Message::system("You review code."),
            Message::user(
                "Is this idiomatic?\n```rust\nfn f(v: &Vec<i32>) -> i32 { v.iter().sum() }\n```",
            ),
        ],
    );
    // A second analyzer built from the same tables answers the same.
    let first = TaskAnalyzer::new().analyze(&request);
    let analyzer = analyzer();
    for _ in 0..3 {
        assert_eq!(analyzer.analyze(&request), first);
    }
}

#[track_caller]
fn check_degenerate(request: &ChatRequest) -> TaskProfile {
    let profile = analyzer().analyze(request);
    assert_eq!(profile.kind, TaskKind::Chat, "{profile:?}");
    assert_eq!(profile.complexity, Complexity::Low, "{profile:?}");
    assert!(profile.complexity_signals.is_empty());
    profile
}

#[test]
fn degenerate_requests_are_low_complexity_chat() {
    let empty = check_degenerate(&ChatRequest::default());
    assert_eq!(empty.turns, 0);
    check_degenerate(&user(""));
    check_degenerate(&user("   \n "));
    let system = check_degenerate(&ChatRequest::new(
        "auto",
        vec![Message::system(
            "You classify support tickets. Reply with one label.",
        )],
    ));
    assert!(system.input_tokens > OVERHEAD);
    let mut image_only = Message::user("");
    image_only.content = Some(Content::Parts(vec![image_part(None)]));
    let image = check_degenerate(&ChatRequest::new("auto", vec![image_only]));
    assert!(image.needs.vision);
    let mut no_content = Message::assistant("");
    no_content.content = None;
    check_degenerate(&ChatRequest::new("auto", vec![no_content]));
}

#[track_caller]
fn check_language(prompt: &str, expected: &str) {
    let profile = analyzer().analyze_text(prompt);
    assert_eq!(profile.language.code(), expected, "{prompt:?}");
}

#[test]
fn languages_are_told_apart() {
    check_language("Could you tell me how the tides work?", "en");
    check_language("¿Puedes explicarme cómo funcionan las mareas?", "es");
    check_language(
        "Peux-tu m'expliquer comment fonctionnent les marées ?",
        "fr",
    );
    check_language(
        "Kannst du mir erklären, wie die Gezeiten funktionieren?",
        "de",
    );
    check_language("Puoi spiegarmi come funzionano le maree?", "it");
    check_language("Você pode me explicar como funcionam as marés?", "pt");
    check_language("Объясни, пожалуйста, как работают приливы.", "ru");
    check_language("Поясни, будь ласка, як працюють припливи і відпливи.", "uk");
    check_language("请解释一下潮汐是怎么形成的。", "zh");
    check_language("潮の満ち引きの仕組みを説明してください。", "ja");
    check_language("조수가 어떻게 작동하는지 설명해 주세요.", "ko");
    check_language("اشرح لي كيف يحدث المد والجزر.", "ar");
    check_language("कृपया बताइए कि ज्वार-भाटा कैसे काम करता है।", "hi");
    check_language("Εξήγησέ μου πώς λειτουργεί η παλίρροια.", "el");
    check_language("```\nfn main() {}\n```", "und");
    check_language("🙂🙂🙂", "und");
    // The instruction's language, not the code's or the quoted text's.
    check_language(
        "¿Por qué falla esta función?\n```python\ndef total(items):\n    return sum(items) # the total of the items\n```",
        "es",
    );
}

#[test]
fn keyword_tables_are_well_formed() {
    let mut seen: FxHashMap<String, (bool, bool, bool)> = FxHashMap::default();
    for group in cues::GROUPS {
        assert!(!group.words.is_empty());
        for &spec in group.words {
            let spelling = Spelling::parse(spec);
            assert!(!spelling.literal.is_empty(), "{spec:?}");
            assert_eq!(
                spelling.literal.trim_matches('*'),
                spelling.literal,
                "{spec:?}"
            );
            let flags = (
                spelling.exact_case,
                spelling.check_start,
                spelling.check_end,
            );
            let key = spelling.literal.to_ascii_lowercase();
            if let Some(previous) = seen.insert(key, flags) {
                assert_eq!(previous, flags, "{spec:?} is spelled differently elsewhere");
            }
        }
    }
    // Building compiles every literal into one of the two automata, some into both.
    let analyzer = analyzer();
    let compiled = analyzer.keywords.len() + analyzer.stopwords.len();
    assert!(compiled >= seen.len(), "{compiled} of {}", seen.len());
}

// ---------------------------------------------------------------------------------------------
// Robustness.
// ---------------------------------------------------------------------------------------------

/// Text made of pieces that stress boundaries: multibyte characters, emoji, fences, long
/// repetitions that cross the search windows.
fn awkward_text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "é",
        "😀",
        "中",
        "ー",
        "я",
        "`",
        "```",
        "~~~",
        "a",
        " ",
        "\n",
        "{",
        ";",
        "error",
        "?",
        "translate",
        "Ω",
        "\u{200d}",
        "ß",
        "👩‍👩‍👧",
    ]);
    prop_oneof![
        any::<String>(),
        "\\PC{0,400}",
        prop::collection::vec(piece.clone(), 0..400).prop_map(|pieces| pieces.concat()),
        (piece, 1usize..12_000).prop_map(|(piece, count)| piece.repeat(count)),
    ]
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics_and_confidence_stays_in_range(text in awkward_text()) {
        let analyzer = analyzer();
        let profile = analyzer.analyze_text(&text);
        prop_assert!((0.0..=1.0).contains(&profile.confidence), "{}", profile.confidence);
        prop_assert!(profile.input_tokens >= OVERHEAD);
        let request = ChatRequest::new(
            "auto",
            vec![Message::system(text.clone()), Message::user(text.clone()), Message::assistant(text)],
        );
        let profile = analyzer.analyze(&request);
        prop_assert!((0.0..=1.0).contains(&profile.confidence), "{}", profile.confidence);
        prop_assert_eq!(profile.turns, 1);
    }
}

// ---------------------------------------------------------------------------------------------
// The fast keyword walk against a plain one.
// ---------------------------------------------------------------------------------------------

/// Both tables find the same ASCII hits in `window` of `text` as the plain reference walk.
#[track_caller]
fn check_walk(text: &str, window: Range<usize>) {
    let analyzer = analyzer();
    for table in [&analyzer.keywords, &analyzer.stopwords] {
        let (fast, reference) = table.ascii_hits_both_ways(text, window.clone());
        assert_eq!(fast, reference, "{text:?} in {window:?}");
    }
}

/// Windows that start and end at the edges, inside words and at odd places.
fn windows(len: usize) -> Vec<Range<usize>> {
    let mut windows = vec![0..len, 0..len.min(LANGUAGE_SPAN), 1.min(len)..len];
    for (start, end) in [(3, 70), (7, 64), (64, 128), (63, 129), (100, 1000), (0, 1)] {
        windows.push(start.min(len)..end.min(len).max(start.min(len)));
    }
    windows
}

#[test]
fn keyword_walk_matches_the_reference_on_the_fixture() {
    for item in &fixture() {
        for message in &item.request.messages {
            let text = message.text();
            for window in windows(text.len()) {
                if text.is_char_boundary(window.start) && text.is_char_boundary(window.end) {
                    check_walk(&text, window);
                }
            }
        }
    }
}

/// Text built of keywords, their pieces and separators, where the walk's corner cases sit:
/// words at block edges, long words, stems, symbols that overlap words.
fn keyword_text() -> impl Strategy<Value = String> {
    let mut pieces: Vec<String> = cues::GROUPS
        .iter()
        .flat_map(|group| group.words.iter())
        .map(|spec| Spelling::parse(spec).literal.to_owned())
        .filter(|literal| literal.is_ascii())
        .collect();
    for extra in [
        " ",
        " ",
        " ",
        "\n",
        "\n\n",
        "e",
        "er",
        "error",
        "ex",
        "E",
        "_",
        "1",
        "x",
        ".",
        ",",
        ":",
        "`",
        "```",
        "(",
        ")",
        "¿",
        "¡",
        "«",
        "é",
        "\u{a0}",
        "supercalifragilisticexpialidocious",
        "abcdefgh",
        "abcdefghijklmnop",
        "summarizing",
        "error:",
        "Exception:",
        "TypeError:",
        "eerror:",
        "rror:",
        "::",
        "exceptionerror:",
        "Translated",
        "ts2",
        "TS23",
    ] {
        pieces.push(extra.to_owned());
    }
    let piece = prop::sample::select(pieces);
    let upper = any::<bool>();
    prop::collection::vec((piece, upper), 0..120).prop_map(|pieces| {
        pieces
            .into_iter()
            .map(|(piece, upper)| {
                if upper {
                    piece.to_ascii_uppercase()
                } else {
                    piece
                }
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn keyword_walk_matches_the_reference(
        text in keyword_text(),
        start in 0usize..200,
        len in 0usize..2000,
    ) {
        let mut start = start.min(text.len());
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (start + len).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        for window in windows(text.len()).into_iter().chain(std::iter::once(start..end)) {
            if text.is_char_boundary(window.start) && text.is_char_boundary(window.end) {
                check_walk(&text, window);
            }
        }
    }

    #[test]
    fn keyword_walk_matches_the_reference_on_any_ascii(text in "[ -~\n]{0,300}") {
        for window in windows(text.len()) {
            check_walk(&text, window);
        }
    }
}

proptest! {
    #[test]
    fn byte_searches_match_a_plain_walk(text in "[a\\n`b]{0,40}", needle in "[a\\n`]{1,3}") {
        let bytes = text.as_bytes();
        let plain = bytes
            .windows(needle.len())
            .position(|window| window == needle.as_bytes());
        prop_assert_eq!(find(&text, needle.as_bytes()), plain);
        let first = needle.as_bytes()[0];
        prop_assert_eq!(
            rfind_byte(bytes, first),
            bytes.iter().rposition(|&byte| byte == first)
        );
    }
}

#[test]
fn stopword_shares_split_twelve_points() {
    for (languages, &share) in STOPWORD_SHARES.iter().enumerate().skip(1) {
        assert_eq!(share, 12 / languages as u64);
    }
}
