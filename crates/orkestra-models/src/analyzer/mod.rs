//! The task analyzer: a chat request in, a [`TaskProfile`] out.
//!
//! The analyzer reads the messages once, with one keyword automaton and one pass over the
//! bytes, and turns what it found into a profile. Complexity, tokens, needs and language are
//! documented rules; the kind is decided by a small linear model (trained from the labelled
//! fixture by `cargo xtask train-analyzer` and shipped as `model.bin`) that reads the rules'
//! evidence per kind, the shape of the request and, when that evidence is not decisive, the
//! words of the request. [`TaskAnalyzer`] says how it decides, and [`labelled`] measures it.

mod cues;
pub mod labelled;
mod learned;
mod script;
mod table;
mod tokens;

use std::ops::Range;

use orkestra_core::{ChatRequest, Content, ContentPart, Role};
use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::spec::{Capabilities, Capability};
use crate::task::{Complexity, ComplexitySignal, Language, Needs, TaskKind, TaskProfile};
use cues::{Cue, GROUPS, LATIN};
use script::{SCRIPTS, Script, UNITS_PER_TOKEN};
use table::{Spelling, Table};

#[doc(hidden)]
pub use learned::{BUCKETS, DENSE, encode_model};

/// Builds [`TaskProfile`]s; build one and share it, construction compiles the keyword tables.
///
/// # How it decides
///
/// **Kind.** Each message is searched for keywords (in a dozen languages) that are evidence
/// for a kind: "summarize", "translate", "classify", "prove", "poem", "extract" and so on.
/// A hit counts more in the last user message (4x) than in earlier user turns (2x), the
/// system prompt or assistant turns (1x). Within the last user message, the opening
/// instruction (up to 160 bytes, ending at the first blank line or code fence) counts 3x
/// again and a short closing paragraph 2x; the middle, usually pasted data, counts 1x and at
/// most twice per kind, so the words of an article or a log do not outvote the request about
/// it. Inside code fences only code syntax and strong failure markers count. A few rules
/// combine evidence:
/// - a verb that produces (write, implement, create) plus a code noun or a programming
///   language is code generation; without them it leans to creative writing;
/// - "translate" with a programming language and no natural language is code generation
///   ("translate this Python to Rust"), otherwise translation;
/// - review words (review, idiomatic, refactor) count only when there is code to review;
/// - failure markers (Traceback, panicked at, error[E, segfault, undefined is not) count for
///   debugging wherever they appear, so "summarize this error log" is debugging; weaker
///   symptoms (error, wrong, fix, why does) count only next to code or a marker.
///
/// This evidence per kind is the main input of a learned linear model, which decides: each
/// kind's evidence and share in logarithmic levels, the evidence's winner, the combined
/// features above, and the request's shape (code fence, code syntax, system prompt, user
/// turns, `response_format` and a JSON schema, tools, an image, JSON asked for in words, steps,
/// maths, constraints, the length of the last user message). When the winner does not lead
/// the runner-up two to one, the model also reads words: the words and word pairs of the last
/// user message's opening paragraph (up to 96 bytes) and of a closing paragraph, its first two
/// words, the character trigrams of its first 32 bytes, and the first words of the system
/// prompt and of earlier user turns; each Chinese, Japanese or Korean character is a word.
/// Words are hashed as they are read (FxHash-like, no allocation) into 4,096 slots. The model
/// is an averaged perceptron trained by `cargo xtask train-analyzer` from the tuning split of
/// the fixture (integer arithmetic and a seeded order, so `--check` can demand the same
/// bytes), with byte weights for the hashed words and 16-bit weights for the few hundred
/// dense features; `model.bin` is 78 KB, read in place. The kind with the highest score wins;
/// its confidence is its probability against the runner-up, a logistic function of its lead
/// at the model's temperature. Without any cue and with a confidence under 0.75, or with no
/// user text (an empty request, only a system
/// message, only an image), the kind is [`TaskKind::Chat`] with confidence 0.2. A build whose
/// `model.bin` does not fit its features falls back to the rules alone: the kind with the
/// most evidence, ties to the earlier kind in the order debugging, code review, code
/// generation, translation, classification, extraction, summarization, reasoning, creative
/// writing, chat.
///
/// **Complexity.** Points for a long prompt (one to three, at lengths that depend on the kind:
/// 60, 200 and 600 estimated tokens for code; 35, 150, 500 for reasoning, writing and chat;
/// 75, 250, 400 for translation, extraction and classification; 160, 400, 500 for
/// summarization, whose input is mostly the text to condense), two or more code blocks,
/// step markers (numbered lists, "step by step"), stated constraints (must, at most, without),
/// hard vocabulary (prove, concurrency, optimize, production), mathematical notation, four or
/// more user turns, and an output limit of 8192 tokens or more. One point makes it medium,
/// three make it high; every observation that scored is kept as a [`ComplexitySignal`].
///
/// **Tokens.** Input: about 4 characters per token for Latin script, 3 for Cyrillic, Greek,
/// Hebrew and Arabic, 2 for Indic scripts and Thai, one token per Chinese, Japanese or Korean
/// character, 2 per emoji; plus 4 per message, 765 per image (85 at `detail: low`) and the
/// size of tool definitions and calls. Output: the request's `max_completion_tokens` or
/// `max_tokens` when set, else a figure by kind and complexity (classification 10 tokens,
/// high-complexity code generation 1500); translation expects about the length of the text.
///
/// **Needs.** JSON when `response_format` asks for it; tools when the request has tools;
/// vision when a message has an image; long context above 8192 tokens of input plus output.
/// These are stated by the request, so the scorer requires them. A prompt that says "as
/// JSON", "valid JSON", "JSON only" and the like only prefers JSON mode
/// ([`Needs::preferred`]): words are a guess, and a model without JSON mode can still answer.
///
/// **Language.** Chinese, Japanese, Korean, Russian, Ukrainian, Arabic, Hindi, Greek, Hebrew
/// and Thai by their characters; English, Spanish, French, German, Italian, Portuguese, Dutch
/// and Polish by their common short words and accented letters in the first 240 bytes of each
/// user message, before any code fence and outside inline code. User messages only, the last
/// one weighted most; [`Language::UNDETERMINED`] when nothing tells.
///
/// Long messages are searched in their first 6 KiB and last 2 KiB; tokens are counted over
/// the whole text.
#[derive(Debug, Clone)]
pub struct TaskAnalyzer {
    /// Every literal that is evidence of a kind, of code, of complexity or of needs.
    keywords: Table,
    /// Stopwords and letters of Latin-script languages, searched only at the start of user
    /// messages: a few hundred bytes tell the language, and these words are frequent enough
    /// that finding all of them would cost more than the rest of the analysis.
    stopwords: Table,
    /// The learned kind model, when one fitting this build's features is shipped.
    model: Option<learned::Model>,
}

/// How much a message's words count, by who wrote it and where it sits.
#[derive(Debug, Clone, Copy)]
struct Source {
    /// Multiplier of every cue found in the message.
    weight: u64,
    /// Written by the user: counts for language and complexity.
    user: bool,
    /// The last user message: its head and tail count double.
    last_user: bool,
    /// Written by the application (system or developer): counts for JSON demands.
    system: bool,
}

impl Source {
    const LAST_USER: Self = Self {
        weight: 4,
        user: true,
        last_user: true,
        system: false,
    };

    fn of(role: Role, last_user: bool) -> Self {
        match role {
            Role::User if last_user => Self::LAST_USER,
            Role::User => Self {
                weight: 2,
                user: true,
                last_user: false,
                system: false,
            },
            Role::System | Role::Developer => Self {
                weight: 1,
                user: false,
                last_user: false,
                system: true,
            },
            Role::Assistant => Self {
                weight: 1,
                user: false,
                last_user: false,
                system: false,
            },
            // Tool results are data the model reads, not instructions about the task.
            Role::Tool => Self {
                weight: 0,
                user: false,
                last_user: false,
                system: false,
            },
        }
    }
}

/// Where instructions sit in the last user message: its first [`HEAD_ZONE`] bytes (up to the
/// first blank line or code fence, where pasted material usually starts), and a
/// closing paragraph of at most [`TAIL_ZONE`] bytes set apart by a blank line ("...pasted
/// text...\n\nTranslate the above into French."). Cues there count [`HEAD_WEIGHT`] and
/// [`TAIL_WEIGHT`] times; cues in between, often pasted data, count once and at most
/// [`MIDDLE_CAP`] times per kind. The tail counts less than the head: a short last paragraph is
/// as often the end of the data as an instruction.
const HEAD_ZONE: usize = 160;
const TAIL_ZONE: usize = 200;
const HEAD_WEIGHT: u64 = 3;
const TAIL_WEIGHT: u64 = 2;
/// Bytes at the start of a user message searched for stopwords.
const LANGUAGE_SPAN: usize = 240;
/// Points of a stopword for each of the languages it belongs to, by how many they are: 12
/// split evenly, rounded down.
const STOPWORD_SHARES: [u64; 9] = [0, 12, 6, 4, 3, 2, 2, 1, 1];
/// Longer messages are searched in their first [`SCAN_HEAD`] and last [`SCAN_TAIL`] bytes.
const SCAN_HEAD: usize = 6 * 1024;
const SCAN_TAIL: usize = 2 * 1024;

/// Tokens every message costs besides its content (role and separators).
const MESSAGE_OVERHEAD: u64 = 4;
/// Tokens that prime the answer.
const REPLY_OVERHEAD: u64 = 3;
/// Tokens of an image at `detail: low`, and otherwise (a 1024x1024 picture at high detail).
const IMAGE_LOW_DETAIL: u64 = 85;
const IMAGE_DEFAULT: u64 = 765;
/// Tokens of a tool definition or call besides its names, description and arguments.
const TOOL_OVERHEAD: u64 = 10;
/// Above this many tokens of input plus output a request needs a long-context model.
const LONG_CONTEXT: u64 = 8 * 1024;

/// Evidence of a confident kind is shrunk by this much, so a single weak hit does not claim
/// certainty: the equivalent of two weak hits in the last user message's instructions.
const EVIDENCE_PRIOR: u64 = 16;
/// The confidence of [`TaskKind::Chat`] chosen for lack of any evidence.
const NO_EVIDENCE_CONFIDENCE: f64 = 0.2;
/// Below this confidence (a lead over the runner-up of about one temperature) a learned verdict
/// with no cue behind it is not trusted.
const UNSURE: f64 = 0.75;

/// Kinds in the order that breaks ties, as the fixture's labelling rule orders them.
const TIE_ORDER: [TaskKind; TaskKind::COUNT] = [
    TaskKind::Debugging,
    TaskKind::CodeReview,
    TaskKind::CodeGeneration,
    TaskKind::Translation,
    TaskKind::Classification,
    TaskKind::Extraction,
    TaskKind::Summarization,
    TaskKind::Reasoning,
    TaskKind::CreativeWriting,
    TaskKind::Chat,
];

/// Evidence that is not a kind by itself; [`choose_kind`] combines it.
#[derive(Debug, Clone, Copy)]
enum Feature {
    Produce,
    CodeNoun,
    ProgLang,
    NaturalLang,
    Translate,
    Review,
    /// An unmistakable failure marker: a stack trace, an error code, a crash.
    Failure,
    /// A word that describes a failure but also much else: wrong, fix, why does, slower.
    Symptom,
}

impl Feature {
    const COUNT: usize = 8;
}

/// Kind and feature hits in the middle of the last user message count this many times at
/// most per kind or feature: the middle is often pasted data, whose words ("fix", "error",
/// "categories") must not outvote the instruction around it.
const MIDDLE_CAP: u8 = 2;

/// Everything gathered from the messages before the profile is decided.
#[derive(Debug, Default)]
struct Evidence {
    /// Weighted instruction evidence per kind.
    kinds: [u64; TaskKind::COUNT],
    /// Weighted evidence that rules combine into kinds, indexed by [`Feature`].
    features: [u64; Feature::COUNT],
    /// Code syntax hits (keywords, operators, lines ending in a brace or semicolon) and fence
    /// markers, in any message.
    syntax: u32,
    fences: u32,
    /// Complexity markers in user messages, outside code fences.
    hard: u32,
    steps: u32,
    constraints: u32,
    math: u32,
    /// Whether a user or system message asks for JSON.
    json_demand: bool,
    /// Weighted stopword points per [`LATIN`] language, user messages only.
    latin: [u64; LATIN.len()],
    /// Weighted characters per [`Script`], user messages only.
    scripts: [u64; SCRIPTS],
    ukrainian: u64,
    /// Estimated input, in twelfths of a token, and whole tokens (overheads, images, tools).
    units: u64,
    tokens: u64,
    /// Units of the last user message, for the translation output estimate.
    last_user_units: u64,
    /// User messages, and whether any of them has text.
    turns: u32,
    user_text: bool,
    vision: bool,
}

impl Default for TaskAnalyzer {
    fn default() -> Self {
        Self::new()
    }
}

impl TaskAnalyzer {
    /// An analyzer with the built-in keyword tables.
    ///
    /// # Panics
    ///
    /// Only if the built-in tables could not be compiled, which the crate's tests rule out: they
    /// are constants, not input.
    pub fn new() -> Self {
        let mut by_literal: FxHashMap<String, usize> = FxHashMap::default();
        let mut literals: Vec<(Spelling, Vec<Cue>)> = Vec::new();
        for group in GROUPS {
            for &spec in group.words {
                let spelling = Spelling::parse(spec);
                let key = spelling.literal.to_ascii_lowercase();
                let index = *by_literal.entry(key).or_insert_with(|| {
                    literals.push((spelling, Vec::new()));
                    literals.len() - 1
                });
                literals[index].1.extend_from_slice(group.cues);
            }
        }
        let language_cue = |cue: &Cue| matches!(cue, Cue::Stopword(_) | Cue::InlineCode);
        let split = |keep: &dyn Fn(&Cue) -> bool| -> Vec<(Spelling, Vec<Cue>)> {
            literals
                .iter()
                .map(|(spelling, cues)| (*spelling, cues.iter().copied().filter(keep).collect()))
                .filter(|(_, cues): &(Spelling, Vec<Cue>)| !cues.is_empty())
                .collect()
        };
        // An empty cue list is a mask: a phrase that hides a word ("error handling").
        let keywords: Vec<(Spelling, Vec<Cue>)> = literals
            .iter()
            .filter(|(_, cues)| cues.is_empty() || cues.iter().any(|cue| !language_cue(cue)))
            .map(|(spelling, cues)| {
                let cues = cues
                    .iter()
                    .copied()
                    .filter(|cue| !language_cue(cue))
                    .collect();
                (*spelling, cues)
            })
            .collect();
        Self {
            keywords: Table::build(&keywords),
            stopwords: Table::build(&split(&language_cue)),
            model: learned::Model::builtin(),
        }
    }

    /// Profiles a request.
    pub fn analyze(&self, request: &ChatRequest) -> TaskProfile {
        self.with_input(request, |input| {
            decide(
                input.evidence,
                self.kind(input),
                request.output_limit(),
                request.wants_json(),
                input.tools,
            )
        })
    }

    /// The slots and values of the learned model's features of `request`, in order, for
    /// training it.
    #[doc(hidden)]
    pub fn kind_features(&self, request: &ChatRequest, features: &mut Vec<(u32, i32)>) {
        self.with_input(request, |input| {
            learned::for_each_feature(input, &mut |slot, value| features.push((slot, value)));
        });
    }

    /// Gathers the evidence of `request` and hands it, with what the learned model reads, to
    /// `then`.
    fn with_input<R>(
        &self,
        request: &ChatRequest,
        then: impl FnOnce(&learned::Input<'_>) -> R,
    ) -> R {
        let (evidence, tools) = self.gather(request);
        let cues = cue_scores(&evidence);
        let visit = |visit: &mut dyn FnMut(Role, &str)| {
            for message in &request.messages {
                visit(message.role, first_text(message));
            }
        };
        then(&learned::Input {
            messages: &visit,
            evidence: &evidence,
            cues: &cues,
            response_format: request.response_format.is_some(),
            schema: request.wants_json(),
            tools,
        })
    }

    /// The kind and the confidence in it: the learned model's verdict when one is shipped,
    /// else the cues'.
    fn kind(&self, input: &learned::Input<'_>) -> (TaskKind, f64) {
        let evidence = input.evidence;
        if !evidence.user_text {
            return (TaskKind::Chat, NO_EVIDENCE_CONFIDENCE);
        }
        let Some(model) = self.model else {
            return cue_choice(input.cues);
        };
        let (kind, confidence) = model.decide(&model.scores(input));
        // Without a single cue the model reads only n-grams; an unsure verdict then falls back
        // to chat, the kind of everything else, as the cues alone would.
        if input.cues.iter().all(|&score| score == 0) && confidence < UNSURE {
            return (TaskKind::Chat, NO_EVIDENCE_CONFIDENCE);
        }
        (kind, confidence)
    }

    /// Reads every message and tool of a request; returns the evidence and whether the
    /// request has tools.
    fn gather(&self, request: &ChatRequest) -> (Evidence, bool) {
        let last_user = request
            .messages
            .iter()
            .rposition(|message| message.role == Role::User);
        let mut evidence = Evidence::default();
        for (index, message) in request.messages.iter().enumerate() {
            let source = Source::of(message.role, Some(index) == last_user);
            let (tokens, units) = tokens::frame(message);
            evidence.tokens += tokens;
            evidence.units += units;
            if message.role == Role::User {
                evidence.turns += 1;
            }
            match &message.content {
                None => {}
                Some(Content::Text(text)) => self.scan(text, source, &mut evidence),
                Some(Content::Parts(parts)) => {
                    for part in parts {
                        match part {
                            ContentPart::Text { text } => self.scan(text, source, &mut evidence),
                            ContentPart::ImageUrl { image_url } => {
                                evidence.vision = true;
                                evidence.tokens += tokens::image(image_url);
                            }
                            // Audio and files have no size we can see without decoding them.
                            _ => {}
                        }
                    }
                }
            }
        }
        let tools = request.tools.as_deref().unwrap_or_default();
        let (tokens, units) = tokens::tool_definitions(tools);
        evidence.tokens += tokens;
        evidence.units += units;
        (evidence, !tools.is_empty())
    }

    /// Profiles a single user message, as [`Self::analyze`] would a request holding only it.
    pub fn analyze_text(&self, prompt: &str) -> TaskProfile {
        let mut evidence = Evidence {
            tokens: MESSAGE_OVERHEAD,
            turns: 1,
            ..Evidence::default()
        };
        self.scan(prompt, Source::LAST_USER, &mut evidence);
        let cues = cue_scores(&evidence);
        let visit = |visit: &mut dyn FnMut(Role, &str)| visit(Role::User, prompt);
        let input = learned::Input {
            messages: &visit,
            evidence: &evidence,
            cues: &cues,
            response_format: false,
            schema: false,
            tools: false,
        };
        decide(&evidence, self.kind(&input), None, false, false)
    }

    /// Gathers the evidence of one text.
    fn scan(&self, text: &str, source: Source, evidence: &mut Evidence) {
        let stats = script::text_stats(text);
        evidence.units += stats.units;
        if source.last_user {
            evidence.last_user_units += stats.units;
        }
        if source.user {
            if !text.trim().is_empty() {
                evidence.user_text = true;
            }
            for (total, count) in evidence.scripts.iter_mut().zip(stats.scripts.counts) {
                *total += u64::from(count) * source.weight;
            }
            evidence.ukrainian += u64::from(stats.scripts.ukrainian) * source.weight;
        }
        if source.weight == 0 {
            return;
        }
        if source.user {
            self.scan_language(text, source.weight, evidence);
        }
        let head = head_paragraph(text);
        let tail = tail_paragraph(text);
        if text.len() <= SCAN_HEAD + SCAN_TAIL {
            self.scan_window(text, 0..text.len(), head..tail, source, false, evidence);
        } else {
            let head_end = floor_boundary(text, SCAN_HEAD);
            let tail_start = floor_boundary(text, text.len() - SCAN_TAIL);
            let in_fence = self.scan_window(text, 0..head_end, head..tail, source, false, evidence);
            // Carry the fence state over the skipped middle by counting its fences.
            let skipped = text.get(head_end..tail_start).unwrap_or_default();
            let flips = skipped.matches("```").count() + skipped.matches("~~~").count();
            self.scan_window(
                text,
                tail_start..text.len(),
                head..tail,
                source,
                in_fence ^ (flips % 2 == 1),
                evidence,
            );
        }
    }

    /// Counts the stopwords of the first [`LANGUAGE_SPAN`] bytes of a user message, up to its
    /// first code fence, outside inline code.
    fn scan_language(&self, text: &str, weight: u64, evidence: &mut Evidence) {
        let mut end = floor_boundary(text, LANGUAGE_SPAN);
        if let Some(fence) = text.get(..end).and_then(|head| find(head, b"```")) {
            end = fence;
        }
        let mut in_inline_code = false;
        self.stopwords.for_each_hit(text, 0..end, |_, cues| {
            for &cue in cues {
                match cue {
                    Cue::InlineCode => in_inline_code = !in_inline_code,
                    Cue::Stopword(mask) if !in_inline_code => {
                        // A word shared by several languages is evidence for each of them,
                        // split evenly: 12 points in all. The shares come from a table, not a
                        // division, and are added without a branch per language.
                        let share = STOPWORD_SHARES
                            .get(mask.count_ones() as usize)
                            .copied()
                            .unwrap_or(0);
                        let points = share * weight;
                        for (bit, total) in evidence.latin.iter_mut().enumerate() {
                            *total += points * u64::from(mask >> bit & 1);
                        }
                    }
                    _ => {}
                }
            }
        });
    }

    /// Searches `window` of `text` for keywords; returns whether the window ends inside a
    /// code fence.
    fn scan_window(
        &self,
        text: &str,
        window: Range<usize>,
        middle: Range<usize>,
        source: Source,
        in_fence: bool,
        evidence: &mut Evidence,
    ) -> bool {
        let mut state = WindowState {
            in_fence,
            ..WindowState::default()
        };
        self.keywords.for_each_hit(text, window, |start, cues| {
            let head = start < middle.start;
            let instruction = head || start >= middle.end;
            let place = Place {
                source,
                zone: match (source.last_user, head, instruction) {
                    (true, true, _) => HEAD_WEIGHT,
                    (true, false, true) => TAIL_WEIGHT,
                    _ => 1,
                },
                middle: source.last_user && !instruction,
            };
            for &cue in cues {
                evidence.record(cue, place, &mut state);
            }
        });
        evidence.kinds[TaskKind::Chat as usize] += state.question;
        state.in_fence
    }
}

/// Where a hit sits: whose message, and which part of it.
#[derive(Debug, Clone, Copy)]
struct Place {
    source: Source,
    /// The multiplier of the part: head, tail or elsewhere.
    zone: u64,
    /// In the middle of the last user message, where hits are capped.
    middle: bool,
}

/// What a search keeps from one hit to the next in a window.
#[derive(Debug, Default)]
struct WindowState {
    in_fence: bool,
    /// The strongest question mark seen: a question counts once, however many marks it has.
    question: u64,
    /// Kind and feature hits so far in the middle of the last user message.
    middle_hits: [u8; TaskKind::COUNT + Feature::COUNT],
}

impl WindowState {
    /// Whether a hit for `slot` (a kind, or [`TaskKind::COUNT`] plus a feature) counts: always,
    /// except past [`MIDDLE_CAP`] hits in the middle of the last user message.
    fn admit(&mut self, slot: usize, place: Place) -> bool {
        if !place.middle || self.in_fence {
            return true;
        }
        let hits = &mut self.middle_hits[slot];
        *hits = hits.saturating_add(1);
        *hits <= MIDDLE_CAP
    }
}

impl Evidence {
    /// Adds what one cue of a hit means.
    fn record(&mut self, cue: Cue, place: Place, state: &mut WindowState) {
        let Place { source, zone, .. } = place;
        let weight = source.weight;
        match cue {
            Cue::Fence => {
                state.in_fence = !state.in_fence;
                self.fences = self.fences.saturating_add(1);
            }
            Cue::Syntax => self.syntax = self.syntax.saturating_add(1),
            // In code, only unmistakable markers count: `error` there is often a type. A stack
            // trace or a panic in pasted output is the subject of the request and counts as
            // much as an instruction.
            Cue::Failure(points) if state.in_fence => {
                if points >= 4 {
                    self.features[Feature::Failure as usize] +=
                        u64::from(points) * weight * HEAD_WEIGHT;
                }
            }
            Cue::Failure(points) => {
                let feature = if points >= 4 {
                    Feature::Failure
                } else {
                    Feature::Symptom
                };
                if state.admit(TaskKind::COUNT + feature as usize, place) {
                    self.features[feature as usize] += u64::from(points) * weight * zone;
                }
            }
            _ if state.in_fence => {}
            Cue::Question => state.question = state.question.max(weight * zone),
            Cue::Kind(kind, points) => {
                if state.admit(kind as usize, place) {
                    self.kinds[kind as usize] += u64::from(points) * weight * zone;
                }
            }
            Cue::Produce
            | Cue::CodeNoun
            | Cue::ProgLang
            | Cue::NaturalLang
            | Cue::Translate
            | Cue::Review => {
                let feature = match cue {
                    Cue::Produce => Feature::Produce,
                    Cue::CodeNoun => Feature::CodeNoun,
                    Cue::ProgLang => Feature::ProgLang,
                    Cue::NaturalLang => Feature::NaturalLang,
                    Cue::Translate => Feature::Translate,
                    _ => Feature::Review,
                };
                if state.admit(TaskKind::COUNT + feature as usize, place) {
                    self.features[feature as usize] += weight * zone;
                }
            }
            Cue::Hard if source.user => self.hard = self.hard.saturating_add(1),
            Cue::Step if source.user => self.steps = self.steps.saturating_add(1),
            Cue::Constraint if source.user => {
                self.constraints = self.constraints.saturating_add(1);
            }
            Cue::Math if source.user => self.math = self.math.saturating_add(1),
            Cue::JsonDemand if source.user || source.system => self.json_demand = true,
            Cue::Stopword(_)
            | Cue::InlineCode
            | Cue::Hard
            | Cue::Step
            | Cue::Constraint
            | Cue::Math
            | Cue::JsonDemand => {}
        }
    }
}

/// Turns the evidence into a profile.
fn decide(
    evidence: &Evidence,
    (kind, confidence): (TaskKind, f64),
    output_limit: Option<u32>,
    wants_json: bool,
    tools: bool,
) -> TaskProfile {
    let input_tokens = tokens::input((evidence.tokens, evidence.units));
    let mut complexity_signals = Vec::new();
    let complexity = if evidence.user_text {
        complexity(
            evidence,
            kind,
            input_tokens,
            output_limit,
            &mut complexity_signals,
        )
    } else {
        Complexity::Low
    };
    let last_user_tokens =
        u32::try_from(evidence.last_user_units.div_ceil(UNITS_PER_TOKEN)).unwrap_or(u32::MAX);
    let expected_output_tokens =
        output_limit.unwrap_or_else(|| expected_output(kind, complexity, last_user_tokens));
    // JSON asked for in words is a preference: only `response_format` requires JSON mode.
    let json_in_words = evidence.json_demand && !wants_json;
    let needs = Needs {
        json: wants_json,
        tools,
        vision: evidence.vision,
        long_context: u64::from(input_tokens) + u64::from(expected_output_tokens) > LONG_CONTEXT,
        preferred: if json_in_words {
            Capabilities::of(&[Capability::JsonMode])
        } else {
            Capabilities::NONE
        },
    };
    TaskProfile {
        kind,
        confidence,
        complexity,
        complexity_signals,
        input_tokens,
        expected_output_tokens,
        needs,
        language: language(evidence),
        turns: evidence.turns,
    }
}

/// The cues' evidence per kind, after the rules that combine features into kinds.
fn cue_scores(evidence: &Evidence) -> [u64; TaskKind::COUNT] {
    let mut scores = evidence.kinds;
    let feature = |feature: Feature| evidence.features[feature as usize];
    let slot = |kind: TaskKind| kind as usize;
    let code_present = evidence.fences > 0 || evidence.syntax >= 3;
    let produce = feature(Feature::Produce);
    let prog_lang = feature(Feature::ProgLang);
    let natural_lang = feature(Feature::NaturalLang);
    let translate = feature(Feature::Translate);
    let review = feature(Feature::Review);
    let code_context = feature(Feature::CodeNoun) + prog_lang;
    if produce > 0 {
        if code_context > 0 {
            scores[slot(TaskKind::CodeGeneration)] += produce * 2 + code_context;
        } else if code_present {
            // "Implement the missing parts of this code."
            scores[slot(TaskKind::CodeGeneration)] += produce;
        } else {
            scores[slot(TaskKind::CreativeWriting)] += produce;
        }
    } else if !code_present {
        // "bash one-liner to ...": naming the artifact is a request for it, weakly.
        scores[slot(TaskKind::CodeGeneration)] += code_context / 2;
    }
    if translate > 0 {
        if prog_lang > 0 && natural_lang == 0 {
            scores[slot(TaskKind::CodeGeneration)] += translate * 3 + prog_lang;
        } else {
            scores[slot(TaskKind::Translation)] += translate * 3 + natural_lang;
        }
    } else {
        // "What's 'see you tomorrow' in Italian?": naming a language leans to translation.
        scores[slot(TaskKind::Translation)] += natural_lang;
    }
    if review > 0 && code_present {
        scores[slot(TaskKind::CodeReview)] += review * 5;
    }
    // Symptoms ("wrong", "why does", "fix") are about software only next to code or a real
    // failure marker; elsewhere they are puzzles, reviews of an app, meeting notes.
    let failure = feature(Feature::Failure);
    let symptom = feature(Feature::Symptom);
    scores[slot(TaskKind::Debugging)] += failure;
    if failure > 0 || code_present || code_context > 0 {
        scores[slot(TaskKind::Debugging)] += symptom;
    }
    scores
}

/// Picks the kind with the most cue evidence and the confidence in it.
fn cue_choice(scores: &[u64; TaskKind::COUNT]) -> (TaskKind, f64) {
    let slot = |kind: TaskKind| kind as usize;
    let total: u64 = scores.iter().sum();
    if total == 0 {
        return (TaskKind::Chat, NO_EVIDENCE_CONFIDENCE);
    }
    let mut best = TIE_ORDER[0];
    for kind in TIE_ORDER {
        if scores[slot(kind)] > scores[slot(best)] {
            best = kind;
        }
    }
    // Evidence totals stay far below 2^52, so the conversions are exact.
    let confidence = scores[slot(best)] as f64 / (total + EVIDENCE_PRIOR) as f64;
    (best, confidence.clamp(0.0, 1.0))
}

/// Prompt lengths, in estimated tokens, that score one, two and three complexity points. A
/// long prompt is hard in itself when it states a problem; when it carries a text to condense,
/// translate, label or mine, most of it is data, and it takes much more to be hard.
fn length_tiers(kind: TaskKind) -> [u32; 3] {
    match kind {
        TaskKind::CodeGeneration | TaskKind::Debugging | TaskKind::CodeReview => [60, 200, 600],
        TaskKind::Reasoning | TaskKind::CreativeWriting | TaskKind::Chat => [35, 150, 500],
        TaskKind::Translation | TaskKind::Extraction | TaskKind::Classification => [75, 250, 400],
        TaskKind::Summarization => [160, 400, 500],
    }
}

/// Scores the complexity of a request of `kind` and records what scored: no point is low,
/// one or two are medium, three or more are high.
fn complexity(
    evidence: &Evidence,
    kind: TaskKind,
    input_tokens: u32,
    output_limit: Option<u32>,
    signals: &mut Vec<ComplexitySignal>,
) -> Complexity {
    let mut points = 0;
    let mut score = |gained: u32, signal: ComplexitySignal| {
        if gained > 0 {
            points += gained;
            signals.push(signal);
        }
    };
    let tiers = length_tiers(kind);
    score(
        tiers
            .iter()
            .map(|&tier| u32::from(input_tokens >= tier))
            .sum(),
        ComplexitySignal::LongPrompt(input_tokens),
    );
    // One snippet is what most code questions carry; several make a bigger task.
    let blocks = if evidence.fences > 0 {
        evidence.fences.div_ceil(2)
    } else {
        u32::from(evidence.syntax >= 3)
    };
    score(tiered(blocks, 2, 4), ComplexitySignal::CodeBlocks(blocks));
    score(
        tiered(evidence.steps, 3, 6),
        ComplexitySignal::MultiStep(evidence.steps),
    );
    score(
        tiered(evidence.constraints, 3, 6),
        ComplexitySignal::Constraints(evidence.constraints),
    );
    score(
        tiered(evidence.hard, 1, 3),
        ComplexitySignal::HardVocabulary(evidence.hard),
    );
    score(
        u32::from(evidence.math >= 3),
        ComplexitySignal::Math(evidence.math),
    );
    score(
        u32::from(evidence.turns >= 4),
        ComplexitySignal::ManyTurns(evidence.turns),
    );
    let limit = output_limit.unwrap_or(0);
    score(
        u32::from(limit >= 8192),
        ComplexitySignal::LongOutput(limit),
    );
    match points {
        0 => Complexity::Low,
        1..=2 => Complexity::Medium,
        _ => Complexity::High,
    }
}

/// One point from `low` hits on, two from `high` on.
fn tiered(count: u32, low: u32, high: u32) -> u32 {
    u32::from(count >= low) + u32::from(count >= high)
}

/// Expected answer tokens when the request sets no limit.
fn expected_output(kind: TaskKind, complexity: Complexity, last_user_tokens: u32) -> u32 {
    let by_complexity = |low, medium, high| match complexity {
        Complexity::Low => low,
        Complexity::Medium => medium,
        Complexity::High => high,
    };
    match kind {
        TaskKind::CodeGeneration => by_complexity(300, 800, 1500),
        TaskKind::Debugging => by_complexity(250, 500, 900),
        TaskKind::CodeReview => by_complexity(300, 600, 1000),
        TaskKind::Reasoning => by_complexity(200, 500, 1000),
        TaskKind::Summarization => by_complexity(80, 200, 400),
        // A translation is about as long as its source.
        TaskKind::Translation => last_user_tokens.saturating_mul(11) / 10 + 20,
        TaskKind::CreativeWriting => by_complexity(200, 500, 1500),
        TaskKind::Extraction => by_complexity(100, 250, 600),
        TaskKind::Classification => by_complexity(10, 30, 80),
        TaskKind::Chat => by_complexity(150, 350, 700),
    }
}

/// The language of the user's words.
fn language(evidence: &Evidence) -> Language {
    // A character of a script written without spaces is worth about a word, a letter of an
    // alphabet a fraction of one; a distinctive stopword scores 12.
    let script_points = |script: Script| {
        let per_char = match script {
            Script::Han | Script::Kana | Script::Hangul => 4,
            _ => 2,
        };
        evidence.scripts[script as usize] * per_char
    };
    let mut best = Language::UNDETERMINED;
    let mut best_points: u64 = 11;
    let han = script_points(Script::Han);
    let kana = script_points(Script::Kana);
    // Japanese mixes kana with Chinese characters; Chinese has no kana.
    let (cjk_language, cjk_points) = if kana > 0 && kana * 8 >= han {
        ("ja", han + kana)
    } else {
        ("zh", han)
    };
    let candidates = [
        (cjk_language, cjk_points),
        ("ko", script_points(Script::Hangul)),
        (
            if evidence.ukrainian > 0 { "uk" } else { "ru" },
            script_points(Script::Cyrillic),
        ),
        ("ar", script_points(Script::Arabic)),
        ("hi", script_points(Script::Devanagari)),
        ("el", script_points(Script::Greek)),
        ("he", script_points(Script::Hebrew)),
        ("th", script_points(Script::Thai)),
    ];
    let latin = LATIN.iter().copied().zip(evidence.latin);
    for (code, points) in candidates.into_iter().chain(latin) {
        if points > best_points {
            best = Language(code);
            best_points = points;
        }
    }
    best
}

/// Where the opening instruction of `text` ends: at the first blank line or code fence within
/// its first [`HEAD_ZONE`] bytes, else after them.
fn head_paragraph(text: &str) -> usize {
    let end = floor_boundary(text, HEAD_ZONE);
    let head = text.get(..end).unwrap_or_default();
    let blank = find(head, b"\n\n").unwrap_or(end);
    let fence = find(head, b"```").unwrap_or(end);
    blank.min(fence)
}

/// Where the closing instruction paragraph of `text` starts: after the last blank line within
/// its last [`TAIL_ZONE`] bytes; the length of `text` when there is no such paragraph.
fn tail_paragraph(text: &str) -> usize {
    let from = floor_boundary(text, text.len().saturating_sub(TAIL_ZONE));
    text.get(from..)
        .and_then(|end| {
            let bytes = end.trim_end().as_bytes();
            let mut at = bytes.len();
            while let Some(found) = rfind_byte(bytes.get(..at)?, b'\n') {
                if found > 0 && bytes.get(found - 1) == Some(&b'\n') {
                    return Some(found - 1);
                }
                at = found;
            }
            None
        })
        .map_or(text.len(), |at| from + at + 2)
}

/// Where `needle` first occurs in `text`. The texts searched are a few hundred bytes, where a
/// walk eight bytes at a time beats setting up a substring searcher.
fn find(text: &str, needle: &[u8]) -> Option<usize> {
    let bytes = text.as_bytes();
    let (&first, rest) = needle.split_first()?;
    let matches_at = |at: usize| bytes.get(at + 1..at + needle.len()) == Some(rest);
    let mut chunks = bytes.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut hits = byte_mask(chunk, first);
        while hits != 0 {
            let at = base + hits.trailing_zeros() as usize / 8;
            if matches_at(at) {
                return Some(at);
            }
            hits &= hits - 1;
        }
        base += 8;
    }
    let tail = chunks.remainder();
    tail.iter()
        .enumerate()
        .find(|&(offset, &byte)| byte == first && matches_at(base + offset))
        .map(|(offset, _)| base + offset)
}

/// Where `byte` last occurs in `bytes`, eight bytes at a time.
fn rfind_byte(bytes: &[u8], byte: u8) -> Option<usize> {
    let mut chunks = bytes.rchunks_exact(8);
    let mut end = bytes.len();
    for chunk in &mut chunks {
        let hits = byte_mask(chunk, byte);
        if hits != 0 {
            return Some(end - 8 + (63 - hits.leading_zeros() as usize) / 8);
        }
        end -= 8;
    }
    chunks.remainder().iter().rposition(|&found| found == byte)
}

/// Bit 7 of each byte of the eight bytes of `chunk` (little-endian) that equals `byte`, and no
/// other bit: no borrow crosses from one byte to the next.
fn byte_mask(chunk: &[u8], byte: u8) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let mut word = [0u8; 8];
    word.copy_from_slice(chunk);
    let diff = u64::from_le_bytes(word) ^ (0x0101_0101_0101_0101 * u64::from(byte));
    !(((diff & LOW7) + LOW7) | diff | LOW7)
}

/// The largest char boundary of `text` at or below `at`.
fn floor_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The text of a message the learned model reads: its content, or its first text part.
fn first_text(message: &orkestra_core::Message) -> &str {
    match &message.content {
        Some(Content::Text(text)) => text,
        Some(Content::Parts(parts)) => parts
            .iter()
            .find_map(|part| match part {
                ContentPart::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .unwrap_or_default(),
        None => "",
    }
}

/// Token units of a JSON schema: its keys and strings, without serializing it.
fn json_units(value: &Value) -> u64 {
    fn walk(value: &Value, depth: u32) -> u64 {
        if depth > 32 {
            return 0;
        }
        match value {
            Value::String(text) => script::text_stats(text).units,
            Value::Array(items) => items.iter().map(|item| walk(item, depth + 1)).sum(),
            Value::Object(map) => map
                .iter()
                .map(|(key, item)| script::text_stats(key).units + walk(item, depth + 1))
                .sum(),
            // Punctuation, numbers and literals: a token each, roughly.
            _ => UNITS_PER_TOKEN,
        }
    }
    walk(value, 0)
}

#[cfg(test)]
mod tests;
