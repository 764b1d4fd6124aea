//! What a request asks for: [`TaskProfile`], produced by the analyzer, read by the scorer.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::spec::{Capabilities, Capability};

/// The kind of work a request asks for.
///
/// The declaration order is the index into per-kind tables ([`crate::QualityScores`]);
/// add new kinds at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Write new code.
    CodeGeneration,
    /// Find and fix a bug, explain an error or a stack trace.
    Debugging,
    /// Review, critique or improve existing code.
    CodeReview,
    /// Mathematics, logic puzzles, multi-step reasoning.
    Reasoning,
    /// Condense a text.
    Summarization,
    /// Translate between natural languages.
    Translation,
    /// Stories, poems, marketing copy.
    CreativeWriting,
    /// Pull structured data (often JSON) out of text.
    Extraction,
    /// Assign a label: sentiment, topic, intent.
    Classification,
    /// General conversation and questions.
    Chat,
}

impl TaskKind {
    /// How many kinds there are.
    pub const COUNT: usize = 10;

    /// Every kind, in declaration order.
    pub const ALL: [Self; Self::COUNT] = [
        Self::CodeGeneration,
        Self::Debugging,
        Self::CodeReview,
        Self::Reasoning,
        Self::Summarization,
        Self::Translation,
        Self::CreativeWriting,
        Self::Extraction,
        Self::Classification,
        Self::Chat,
    ];

    /// The `snake_case` name used in files and explanations.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CodeGeneration => "code_generation",
            Self::Debugging => "debugging",
            Self::CodeReview => "code_review",
            Self::Reasoning => "reasoning",
            Self::Summarization => "summarization",
            Self::Translation => "translation",
            Self::CreativeWriting => "creative_writing",
            Self::Extraction => "extraction",
            Self::Classification => "classification",
            Self::Chat => "chat",
        }
    }

    /// Whether the kind is about source code.
    pub const fn is_code(self) -> bool {
        matches!(
            self,
            Self::CodeGeneration | Self::Debugging | Self::CodeReview
        )
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How hard a request is.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Complexity {
    /// A short, single-step request.
    #[default]
    Low,
    /// Some context or several requirements.
    Medium,
    /// Long context, many constraints, multi-step reasoning or large code.
    High,
}

impl Complexity {
    /// The lowercase name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

impl fmt::Display for Complexity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One observation that pushed the complexity up, kept so a selection can say why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "signal", content = "value")]
#[non_exhaustive]
pub enum ComplexitySignal {
    /// The prompt is long (estimated tokens).
    LongPrompt(u32),
    /// The prompt holds code blocks (how many).
    CodeBlocks(u32),
    /// The prompt asks for several steps (how many step markers).
    MultiStep(u32),
    /// The prompt lists explicit requirements or constraints (how many).
    Constraints(u32),
    /// The conversation is long (user turns).
    ManyTurns(u32),
    /// Words that mark hard problems: prove, optimize, architecture, concurrency (how many).
    HardVocabulary(u32),
    /// Mathematical notation or formulas (how many markers).
    Math(u32),
    /// The request expects a long answer (estimated output tokens).
    LongOutput(u32),
}

/// What a request needs from a model beyond text in, text out.
///
/// Only what the request states is required: `response_format`, `tools`, image parts and the
/// context its tokens take. What the analyzer infers from the prompt's words (an answer "as
/// JSON") is only [`Needs::preferred`]: the scorer favours models that have it and excludes
/// none for lacking it, since any model can write JSON when asked to.
#[expect(
    clippy::struct_excessive_bools,
    reason = "four independent yes/no needs read better as named fields than as a bit set"
)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Needs {
    /// A JSON answer, asked for by `response_format`.
    pub json: bool,
    /// Tool calling (`tools` in the request).
    pub tools: bool,
    /// Image input.
    pub vision: bool,
    /// More context than a small model holds (above 8K tokens in all).
    pub long_context: bool,
    /// Capabilities the prompt's words suggest without the request requiring them: JSON mode
    /// when the prompt asks for JSON output in words.
    pub preferred: Capabilities,
}

impl Needs {
    /// The capabilities the request requires: a model without one of them cannot serve it.
    pub fn required(&self) -> Capabilities {
        let mut required = Capabilities::NONE;
        for (needed, capability) in [
            (self.json, Capability::JsonMode),
            (self.tools, Capability::Tools),
            (self.vision, Capability::Vision),
        ] {
            if needed {
                required = required.with(capability);
            }
        }
        required
    }
}

/// The natural language of a prompt, as an ISO 639-1 code (`"en"`, `"es"`, `"zh"`), or
/// `"und"` when it cannot be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Language(pub &'static str);

impl Language {
    /// Undetermined (ISO 639-2 `und`).
    pub const UNDETERMINED: Self = Self("und");
    /// English.
    pub const ENGLISH: Self = Self("en");

    /// The code.
    pub const fn code(self) -> &'static str {
        self.0
    }
}

impl Default for Language {
    fn default() -> Self {
        Self::UNDETERMINED
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// What the analyzer learned about a request; the scorer's input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskProfile {
    /// The most likely kind.
    pub kind: TaskKind,
    /// How sure the analyzer is, 0 to 1.
    pub confidence: f64,
    /// How hard the request is.
    pub complexity: Complexity,
    /// The observations behind [`Self::complexity`].
    pub complexity_signals: Vec<ComplexitySignal>,
    /// Estimated prompt tokens, every message included.
    pub input_tokens: u32,
    /// Expected answer tokens: the request's `max_tokens` when set, else an estimate by kind.
    pub expected_output_tokens: u32,
    /// Capabilities the request needs.
    pub needs: Needs,
    /// The prompt's natural language.
    pub language: Language,
    /// User turns in the conversation.
    pub turns: u32,
}

impl TaskProfile {
    /// A profile for `kind` with the given token counts and nothing else: for tests, benches
    /// and callers that know what they are asking.
    pub fn new(kind: TaskKind, input_tokens: u32, expected_output_tokens: u32) -> Self {
        Self {
            kind,
            confidence: 1.0,
            complexity: Complexity::Low,
            complexity_signals: Vec::new(),
            input_tokens,
            expected_output_tokens,
            needs: Needs::default(),
            language: Language::ENGLISH,
            turns: 1,
        }
    }

    /// Prompt plus expected answer: what must fit in the context window.
    pub fn total_tokens(&self) -> u64 {
        u64::from(self.input_tokens) + u64::from(self.expected_output_tokens)
    }
}
