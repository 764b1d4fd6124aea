use std::time::Duration;

use orkestra_core::{Classify, ErrorCategory};

use super::*;
use crate::TokenPrice;
use crate::registry::ModelRegistry;
use crate::spec::{Capability, Deployment, ModelId, QualityScores};
use crate::stats::Signals;
use crate::task::{Complexity, Needs, TaskKind};

use Capability::{JsonMode, Streaming, Tools, Vision};
use TaskKind::{Chat, CodeGeneration, Summarization};

struct Model {
    id: &'static str,
    window: u32,
    prices: (f64, f64),
    quality: QualityScores,
    ttft_ms: u64,
    tps: f64,
    caps: &'static [Capability],
}

fn code(default: f64, code: f64) -> QualityScores {
    QualityScores::uniform(default)
        .with(CodeGeneration, code)
        .with(TaskKind::Debugging, code)
        .with(TaskKind::CodeReview, code)
}

/// A small world of models like the built-in catalog's, fixed here so catalog edits do not
/// move these tests.
fn registry() -> ModelRegistry {
    let models = [
        Model {
            id: "ollama/llama3.1:8b",
            window: 8_192,
            prices: (0.0, 0.0),
            quality: code(0.55, 0.45),
            ttft_ms: 200,
            tps: 40.0,
            caps: &[Streaming],
        },
        Model {
            id: "ollama/codellama:34b",
            window: 16_384,
            prices: (0.0, 0.0),
            quality: code(0.40, 0.80),
            ttft_ms: 400,
            tps: 15.0,
            caps: &[Streaming],
        },
        Model {
            id: "ollama/qwen2.5:32b",
            window: 32_768,
            prices: (0.0, 0.0),
            quality: code(0.72, 0.78),
            ttft_ms: 400,
            tps: 18.0,
            caps: &[Streaming, Tools],
        },
        Model {
            id: "openai/gpt-4o-mini",
            window: 128_000,
            prices: (0.15, 0.60),
            quality: code(0.72, 0.70),
            ttft_ms: 350,
            tps: 90.0,
            caps: &[Streaming, Tools, JsonMode, Vision],
        },
        Model {
            id: "openai/gpt-4o",
            window: 128_000,
            prices: (2.50, 10.0),
            quality: code(0.88, 0.88),
            ttft_ms: 450,
            tps: 80.0,
            caps: &[Streaming, Tools, JsonMode, Vision],
        },
        Model {
            id: "anthropic/claude-3-5-haiku",
            window: 200_000,
            prices: (0.80, 4.0),
            quality: code(0.75, 0.75),
            ttft_ms: 500,
            tps: 60.0,
            caps: &[Streaming, Tools, Vision],
        },
        Model {
            id: "anthropic/claude-sonnet-4",
            window: 200_000,
            prices: (3.0, 15.0),
            quality: code(0.92, 0.95),
            ttft_ms: 800,
            tps: 55.0,
            caps: &[Streaming, Tools, Vision],
        },
        Model {
            id: "groq/llama-3.1-8b-instant",
            window: 131_072,
            prices: (0.05, 0.08),
            quality: code(0.55, 0.45),
            ttft_ms: 150,
            tps: 700.0,
            caps: &[Streaming, Tools, JsonMode],
        },
    ];
    ModelRegistry::from_specs(models.into_iter().map(|m| {
        let mut spec = ModelSpec::new(ModelId::new(m.id).unwrap(), m.window);
        spec.max_output_tokens = 8_192.min(m.window / 2);
        spec.input_price = TokenPrice::from_usd_per_million(m.prices.0).unwrap();
        spec.output_price = TokenPrice::from_usd_per_million(m.prices.1).unwrap();
        spec.quality = m.quality;
        spec.latency.ttft = Duration::from_millis(m.ttft_ms);
        spec.latency.tokens_per_second = m.tps;
        spec.capabilities = Capabilities::of(m.caps);
        if m.id.starts_with("ollama/") {
            spec.deployment = Deployment::Local;
        }
        spec
    }))
    .unwrap()
}

fn profile(kind: TaskKind, complexity: Complexity, input: u32, output: u32) -> TaskProfile {
    let mut p = TaskProfile::new(kind, input, output);
    p.complexity = complexity;
    p
}

fn rank_with(profile: &TaskProfile, policy: &Policy, live: &dyn LiveSignals) -> Selection {
    Scorer::default().rank(&registry().snapshot(), profile, policy, live)
}

fn rank(profile: &TaskProfile, policy: &Policy) -> Selection {
    rank_with(profile, policy, &())
}

fn strategy(strategy: Strategy) -> Policy {
    Policy::new(strategy)
}

fn cloud_only(strategy: Strategy) -> Policy {
    let mut policy = Policy::new(strategy);
    policy.constraints.deny.push("ollama/*".into());
    policy
}

/// The ids in the order they would be tried, checked against the expected prefix.
#[track_caller]
fn check_head(selection: &Selection, expected: &[&str]) {
    let ids = selection.ids();
    assert_eq!(
        &ids[..expected.len().min(ids.len())],
        expected,
        "\n{}",
        selection.explain()
    );
}

#[test]
fn cost_picks_the_cheapest_adequate_model() {
    let easy = profile(Summarization, Complexity::Low, 1_000, 300);
    check_head(
        &rank(&easy, &cloud_only(Strategy::Cost)),
        &["groq/llama-3.1-8b-instant"],
    );
    // A hard task raises the quality floor: the cheapest model is no longer adequate.
    let hard = profile(Summarization, Complexity::High, 1_000, 300);
    check_head(
        &rank(&hard, &cloud_only(Strategy::Cost)),
        &["openai/gpt-4o-mini"],
    );
    // Free local models are the cheapest of all; the better one of them wins.
    check_head(
        &rank(&easy, &strategy(Strategy::Cost)),
        &["ollama/qwen2.5:32b"],
    );
}

#[test]
fn quality_sends_code_to_a_code_strong_model() {
    let task = profile(CodeGeneration, Complexity::Medium, 500, 800);
    check_head(
        &rank(&task, &strategy(Strategy::Quality)),
        &["anthropic/claude-sonnet-4"],
    );
    let mut local = strategy(Strategy::Quality);
    local.constraints.local_only = true;
    check_head(
        &rank(&task, &local),
        &["ollama/codellama:34b", "ollama/qwen2.5:32b"],
    );
    // The same local models for a chat task: the code specialist drops to last.
    let chat = profile(Chat, Complexity::Low, 100, 200);
    assert_eq!(
        rank(&chat, &local).ids(),
        [
            "ollama/qwen2.5:32b",
            "ollama/llama3.1:8b",
            "ollama/codellama:34b"
        ]
    );
}

#[test]
fn a_20k_prompt_never_goes_to_an_8k_model() {
    let long = profile(Summarization, Complexity::Medium, 20_000, 500);
    for s in [
        Strategy::Quality,
        Strategy::Cost,
        Strategy::Speed,
        Strategy::Balanced,
        Strategy::LocalFirst,
    ] {
        let selection = rank(&long, &strategy(s));
        assert!(!selection.ids().contains(&"ollama/llama3.1:8b"), "{s}");
        assert!(!selection.ids().contains(&"ollama/codellama:34b"), "{s}");
        assert_eq!(
            selection.exclusion("ollama/llama3.1:8b"),
            Some(&Exclusion::ContextWindow {
                needed: 20_500,
                window: 8_192
            })
        );
    }
}

#[test]
fn local_first_stays_local_while_a_local_model_qualifies() {
    let task = profile(Chat, Complexity::Low, 300, 200);
    let balanced = rank(&task, &strategy(Strategy::Balanced));
    assert!(
        !balanced.best().unwrap().model.is_local(),
        "balanced prefers a fast cloud model here\n{}",
        balanced.explain()
    );
    let local = rank(&task, &strategy(Strategy::LocalFirst));
    check_head(
        &local,
        &[
            "ollama/qwen2.5:32b",
            "ollama/llama3.1:8b",
            "ollama/codellama:34b",
        ],
    );
    // Only qwen holds 20K tokens: still local.
    let long = profile(Chat, Complexity::Low, 20_000, 200);
    check_head(
        &rank(&long, &strategy(Strategy::LocalFirst)),
        &["ollama/qwen2.5:32b"],
    );
    // No local model takes images: the cloud takes over.
    let mut vision = task.clone();
    vision.needs = Needs {
        vision: true,
        ..Needs::default()
    };
    let selection = rank(&vision, &strategy(Strategy::LocalFirst));
    assert!(selection.ranked().all(|c| !c.model.is_local()));
    assert_eq!(
        selection.exclusion("ollama/qwen2.5:32b"),
        Some(&Exclusion::MissingCapability { capability: Vision })
    );
}

#[test]
fn speed_picks_the_fastest_model() {
    let task = profile(Chat, Complexity::Low, 300, 400);
    check_head(
        &rank(&task, &strategy(Strategy::Speed)),
        &["groq/llama-3.1-8b-instant"],
    );
}

/// The demo configuration's simulated models (`crates/orkestra-cli/src/demo.toml`): all far
/// faster than a hosted model, 80, 160 and 325 ms for a 150-token answer.
fn demo() -> ModelRegistry {
    let models = [
        ("sim/small", 16_384, (0.10, 0.40), (0.55, 0.50), 5, 2_000.0),
        (
            "sim/medium",
            128_000,
            (0.50, 2.00),
            (0.75, 0.78),
            10,
            1_000.0,
        ),
        ("sim/large", 200_000, (5.00, 15.0), (0.92, 0.94), 25, 500.0),
    ];
    ModelRegistry::from_specs(models.into_iter().map(
        |(id, window, prices, (default, code_quality), ttft_ms, tps)| {
            let mut spec = ModelSpec::new(ModelId::new(id).unwrap(), window);
            spec.max_output_tokens = 4_096;
            spec.input_price = TokenPrice::from_usd_per_million(prices.0).unwrap();
            spec.output_price = TokenPrice::from_usd_per_million(prices.1).unwrap();
            spec.quality = code(default, code_quality);
            spec.latency.ttft = Duration::from_millis(ttft_ms);
            spec.latency.tokens_per_second = tps;
            spec.capabilities = Capabilities::of(&[Streaming]);
            spec
        },
    ))
    .unwrap()
}

#[test]
fn speed_ranks_sub_second_models_fastest_first() {
    let registry = demo();
    for task in [
        profile(Chat, Complexity::Low, 15, 150),
        profile(CodeGeneration, Complexity::Low, 19, 300),
    ] {
        let selection =
            Scorer::default().rank(&registry.snapshot(), &task, &strategy(Strategy::Speed), &());
        assert_eq!(
            selection.ids(),
            ["sim/small", "sim/medium", "sim/large"],
            "\n{}",
            selection.explain()
        );
    }
}

#[test]
fn json_asked_for_in_words_excludes_no_model() {
    // No demo model has JSON mode; a prompt that asks for JSON in words must still be served.
    let task = crate::TaskAnalyzer::new()
        .analyze_text("List three colours and return the result as JSON.");
    let selection = Scorer::default().rank(
        &demo().snapshot(),
        &task,
        &strategy(Strategy::Balanced),
        &(),
    );
    assert_eq!(selection.len(), 3, "\n{}", selection.explain());
}

#[test]
fn json_asked_for_in_words_prefers_models_with_json_mode() {
    let task = profile(Chat, Complexity::Low, 300, 200);
    let policy = cloud_only(Strategy::Quality);
    check_head(&rank(&task, &policy), &["anthropic/claude-sonnet-4"]);
    let mut in_words = task.clone();
    in_words.needs.preferred = Capabilities::of(&[JsonMode]);
    let selection = rank(&in_words, &policy);
    // Sonnet lacks JSON mode: it falls behind gpt-4o, but stays a candidate.
    check_head(&selection, &["openai/gpt-4o"]);
    assert_eq!(selection.len(), rank(&task, &policy).len());
    let sonnet = selection
        .ranked()
        .find(|c| c.model.id.as_str() == "anthropic/claude-sonnet-4")
        .unwrap();
    assert!(sonnet.breakdown().preference_penalty > 0.0);
    let text = selection.explain();
    assert!(text.contains("lacks preferred json_mode"), "{text}");
}

/// The category and message of the refusal of `task` on the demo models under `policy`.
#[track_caller]
fn refusal(task: &TaskProfile, policy: &Policy, live: &dyn LiveSignals) -> (ErrorCategory, String) {
    let selection = Scorer::default().rank(&demo().snapshot(), task, policy, live);
    assert!(selection.is_empty(), "{}", selection.explain());
    let refusal = crate::Error::Unserved(selection.refusal());
    (refusal.class().category, refusal.to_string())
}

#[test]
fn a_refusal_says_why_model_by_model_with_the_class_of_the_cause() {
    let balanced = strategy(Strategy::Balanced);
    let mut no_echo = balanced.clone();
    no_echo.constraints.deny.push("echo/*".into());

    let huge = profile(Chat, Complexity::Low, 250_000, 150);
    let (category, message) = refusal(&huge, &no_echo, &());
    assert_eq!(category, ErrorCategory::ContextLength, "{message}");
    assert!(
        message.starts_with("the request needs 250150 tokens, more than the context window"),
        "{message}"
    );
    for window in [
        "sim/small: needs 250150 tokens, context window is 16384",
        "200000",
    ] {
        assert!(message.contains(window), "{message}");
    }

    let mut picture = profile(Chat, Complexity::Low, 100, 150);
    picture.needs.vision = true;
    let (category, message) = refusal(&picture, &balanced, &());
    assert_eq!(category, ErrorCategory::InvalidRequest, "{message}");
    assert!(
        message.starts_with("the request requires vision, which no model"),
        "{message}"
    );
    assert!(message.contains("sim/medium: lacks vision"), "{message}");

    // Too long for two models, and the third lacks vision: both reasons, still the caller's.
    let mut both = profile(Chat, Complexity::Low, 150_000, 150);
    both.needs.vision = true;
    let (category, message) = refusal(&both, &balanced, &());
    assert_eq!(category, ErrorCategory::InvalidRequest, "{message}");
    assert!(message.contains("context window is 16384"), "{message}");
    assert!(message.contains("sim/large: lacks vision"), "{message}");

    let small = profile(Chat, Complexity::Low, 100, 150);
    let open = |id| (id, observed(100, 0.2, 100, BreakerStatus::Open));
    let broken = Live(vec![
        open("sim/small"),
        open("sim/medium"),
        open("sim/large"),
    ]);
    let (category, message) = refusal(&small, &balanced, &broken);
    assert_eq!(category, ErrorCategory::Overloaded, "{message}");
    assert!(
        message.contains("sim/large: circuit breaker is open"),
        "{message}"
    );

    let mut nothing = balanced.clone();
    nothing.constraints.deny.push("sim/*".into());
    let (category, message) = refusal(&small, &nothing, &());
    assert_eq!(category, ErrorCategory::Overloaded, "{message}");
    assert!(
        message.starts_with("no configured model is available to this request: sim/large: denied"),
        "{message}"
    );
}

#[test]
fn every_constraint_excludes_with_its_reason() {
    let task = profile(CodeGeneration, Complexity::Medium, 2_000, 1_000);
    let mut policy = strategy(Strategy::Balanced);
    policy.constraints.max_cost = Some(Nanodollars(5_000_000));
    policy.constraints.max_latency = Some(Duration::from_secs(30));
    policy
        .constraints
        .deny
        .push("anthropic/claude-3-5-haiku".into());
    let selection = rank(&task, &policy);
    assert_eq!(
        selection.exclusion("anthropic/claude-sonnet-4"),
        Some(&Exclusion::OverBudget {
            estimated: Nanodollars(21_000_000),
            budget: Nanodollars(5_000_000)
        })
    );
    assert!(matches!(
        selection.exclusion("ollama/codellama:34b"),
        Some(Exclusion::TooSlow {
            target_ms: 30_000,
            ..
        })
    ));
    assert_eq!(
        selection.exclusion("anthropic/claude-3-5-haiku"),
        Some(&Exclusion::Denied)
    );

    let mut only_openai = strategy(Strategy::Balanced);
    only_openai.constraints.allow.push("openai/*".into());
    let selection = rank(&task, &only_openai);
    assert!(selection.ids().iter().all(|id| id.starts_with("openai/")));
    assert_eq!(
        selection.exclusion("groq/llama-3.1-8b-instant"),
        Some(&Exclusion::NotAllowed)
    );

    let mut tools = task.clone();
    tools.needs.tools = true;
    tools.needs.json = true;
    let selection = rank(&tools, &strategy(Strategy::Balanced));
    assert_eq!(
        selection.exclusion("ollama/qwen2.5:32b"),
        Some(&Exclusion::MissingCapability {
            capability: JsonMode
        })
    );
    assert_eq!(
        selection.exclusion("ollama/llama3.1:8b"),
        Some(&Exclusion::MissingCapability { capability: Tools })
    );

    let mut bigger = strategy(Strategy::Balanced);
    bigger.constraints.min_context_window = Some(150_000);
    assert_eq!(
        rank(&task, &bigger).ids().len(),
        2,
        "only the 200K models remain"
    );

    let mut local_only = strategy(Strategy::Balanced);
    local_only.constraints.local_only = true;
    assert_eq!(
        rank(&task, &local_only).exclusion("openai/gpt-4o"),
        Some(&Exclusion::NotLocal)
    );

    let huge_output = profile(Chat, Complexity::Low, 100, 10_000);
    assert_eq!(
        rank(&huge_output, &strategy(Strategy::Balanced)).exclusion("openai/gpt-4o"),
        Some(&Exclusion::OutputLimit {
            needed: 10_000,
            max: 8_192
        })
    );
}

/// Live signals from a fixed table, for the models named.
struct Live(Vec<(&'static str, Signals)>);

impl LiveSignals for Live {
    fn signals(&self, model: &ModelId) -> Option<Signals> {
        self.0
            .iter()
            .find(|(id, _)| *id == model.as_str())
            .map(|(_, s)| *s)
    }
}

fn observed(samples: u64, success_rate: f64, latency_ms: u64, breaker: BreakerStatus) -> Signals {
    let latency = Duration::from_millis(latency_ms);
    Signals {
        samples,
        success_rate,
        latency_ewma: latency,
        ttft_ewma: Duration::ZERO,
        latency_p50: latency,
        latency_p95: latency,
        latency_p99: latency,
        tokens_per_second: 0.0,
        breaker,
    }
}

#[test]
fn an_open_breaker_excludes_and_a_half_open_one_penalises() {
    let task = profile(Chat, Complexity::Low, 300, 200);
    let policy = cloud_only(Strategy::Cost);
    let baseline = rank(&task, &policy);
    check_head(&baseline, &["groq/llama-3.1-8b-instant"]);
    let open = Live(vec![(
        "groq/llama-3.1-8b-instant",
        observed(100, 0.4, 100, BreakerStatus::Open),
    )]);
    let selection = rank_with(&task, &policy, &open);
    assert_eq!(
        selection.exclusion("groq/llama-3.1-8b-instant"),
        Some(&Exclusion::BreakerOpen)
    );
    let half_open = Live(vec![(
        "groq/llama-3.1-8b-instant",
        observed(100, 0.9, 100, BreakerStatus::HalfOpen),
    )]);
    let before = baseline.best().unwrap().values.reliability;
    let after = rank_with(&task, &policy, &half_open)
        .ranked()
        .find(|c| c.model.id.as_str() == "groq/llama-3.1-8b-instant")
        .unwrap()
        .values
        .reliability;
    assert!(after < before * 0.5, "{after} vs {before}");
}

#[test]
fn live_failures_and_slowness_move_a_model_down() {
    let task = profile(Chat, Complexity::Low, 300, 200);
    let policy = cloud_only(Strategy::Speed);
    check_head(&rank(&task, &policy), &["groq/llama-3.1-8b-instant"]);
    // Measured at 5 s a call, groq loses its lead on speed.
    let slow = Live(vec![(
        "groq/llama-3.1-8b-instant",
        observed(200, 1.0, 5_000, BreakerStatus::Closed),
    )]);
    let selection = rank_with(&task, &policy, &slow);
    assert_ne!(
        selection.ids()[0],
        "groq/llama-3.1-8b-instant",
        "\n{}",
        selection.explain()
    );
    assert!(selection.ranked().any(|c| c.measured));
    // Three calls are too few to trust: the spec still rules latency.
    let anecdote = Live(vec![(
        "groq/llama-3.1-8b-instant",
        observed(3, 1.0, 5_000, BreakerStatus::Closed),
    )]);
    check_head(
        &rank_with(&task, &policy, &anecdote),
        &["groq/llama-3.1-8b-instant"],
    );
    // Failing half the time costs reliability under the quality strategy.
    let flaky = Live(vec![(
        "anthropic/claude-sonnet-4",
        observed(200, 0.5, 900, BreakerStatus::Closed),
    )]);
    let quality = rank_with(&task, &strategy(Strategy::Quality), &flaky);
    assert_ne!(
        quality.ids()[0],
        "anthropic/claude-sonnet-4",
        "\n{}",
        quality.explain()
    );
}

#[test]
fn the_chain_alternates_endpoints_among_near_equal_candidates() {
    let task = profile(CodeGeneration, Complexity::High, 1_000, 1_000);
    let selection = rank(&task, &cloud_only(Strategy::Quality));
    let endpoints: Vec<&str> = selection.chain().map(|m| m.endpoint()).collect();
    assert_eq!(endpoints[0], "anthropic");
    assert_eq!(endpoints[1], "openai", "\n{}", selection.explain());
    // Scores are still reported per candidate; the chain is not sorted by them alone.
    assert!(selection.ranked().all(|c| c.score.is_finite()));
}

#[test]
fn ties_break_by_cost_then_id_and_ranking_is_deterministic() {
    let registry =
        ModelRegistry::from_specs(["b/twin", "a/twin", "c/pricey"].into_iter().map(|id| {
            let mut spec = ModelSpec::new(ModelId::new(id).unwrap(), 8_192);
            if id == "c/pricey" {
                spec.input_price = TokenPrice::from_usd_per_million(0.000_001).unwrap();
            }
            spec
        }))
        .unwrap();
    let scorer = Scorer::new(ScorerConfig {
        diversity_margin: 0.0,
        ..ScorerConfig::default()
    });
    let weights = Weights {
        quality: 1.0,
        cost: 0.0,
        speed: 0.0,
        reliability: 0.0,
        local: 0.0,
    };
    let task = profile(Chat, Complexity::Low, 100, 100);
    let first = scorer.rank(
        &registry.snapshot(),
        &task,
        &strategy(Strategy::Custom(weights)),
        &(),
    );
    assert_eq!(first.ids(), ["a/twin", "b/twin", "c/pricey"]);
    let again = scorer.rank(
        &registry.snapshot(),
        &task,
        &strategy(Strategy::Custom(weights)),
        &(),
    );
    assert_eq!(first, again);
}

#[test]
fn breakdowns_add_up_to_the_score_and_the_explanation_names_reasons() {
    let mut task = profile(Summarization, Complexity::High, 20_000, 500);
    task.needs.preferred = Capabilities::of(&[JsonMode]);
    let selection = rank(&task, &strategy(Strategy::Balanced));
    assert!(selection.ranked().any(|c| c.preference_penalty > 0.0));
    for c in selection.ranked() {
        let b = c.breakdown();
        let sum = b.quality.contribution
            + b.cost.contribution
            + b.speed.contribution
            + b.reliability.contribution
            + b.local
            - b.adequacy_penalty
            - b.preference_penalty;
        assert!((sum - c.score).abs() < 1e-12);
        let weights = b.quality.weight + b.cost.weight + b.speed.weight + b.reliability.weight;
        assert!((weights - 1.0).abs() < 1e-12);
    }
    let text = selection.explain();
    assert!(text.contains("ollama/llama3.1:8b"), "{text}");
    assert!(
        text.contains("needs 20500 tokens, context window is 8192"),
        "{text}"
    );
    assert!(
        text.contains("summarization task, high complexity, strategy balanced"),
        "{text}"
    );
}

#[test]
fn strategies_parse_from_their_names() {
    for (name, s) in [
        ("quality", Strategy::Quality),
        ("cost", Strategy::Cost),
        ("speed", Strategy::Speed),
        ("balanced", Strategy::Balanced),
        ("local", Strategy::LocalFirst),
        ("local-first", Strategy::LocalFirst),
    ] {
        assert_eq!(name.parse::<Strategy>().unwrap(), s);
    }
    let err = "cheap".parse::<Strategy>().unwrap_err();
    assert!(err.to_string().contains("cheap"), "{err}");
    assert!(
        Weights {
            quality: -1.0,
            ..Weights::default()
        }
        .validate()
        .is_err()
    );
    assert!(
        Weights {
            quality: 0.0,
            cost: 0.0,
            speed: 0.0,
            reliability: 0.0,
            local: 1.0
        }
        .validate()
        .is_err()
    );
}
