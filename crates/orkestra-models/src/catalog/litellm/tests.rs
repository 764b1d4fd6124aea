use super::*;
use crate::spec::{LatencyProfile, QualityScores};

/// 29 entries in the shape of LiteLLM's file: `sample_spec`, 16 chat models, 10 entries of
/// other modes, a chat entry without `max_input_tokens`, and `ollama_chat/llama3.1`, which
/// maps to the same id as `ollama/llama3.1`.
const EXCERPT: &str = include_str!("../../../tests/fixtures/litellm/model_prices_excerpt.json");

fn excerpt() -> LiteLlmImport {
    import(EXCERPT).unwrap()
}

#[test]
fn the_excerpt_imports_its_chat_models_and_accounts_for_the_rest() {
    let imported = excerpt();
    assert_eq!(imported.models.len(), 16);
    let by_mode: Vec<(&str, usize)> = imported
        .skipped
        .by_mode
        .iter()
        .map(|(mode, n)| (mode.as_str(), *n))
        .collect();
    assert_eq!(
        by_mode,
        [
            ("audio_speech", 1),
            ("audio_transcription", 1),
            ("completion", 2),
            ("embedding", 2),
            ("image_generation", 1),
            ("moderation", 1),
            ("rerank", 1),
            ("responses", 1),
        ]
    );
    let unusable: Vec<String> = imported
        .skipped
        .unusable
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        unusable,
        [
            "`ollama_chat/llama3.1`: maps to `ollama/llama3.1`, already imported from \
             `ollama/llama3.1`",
            "`openrouter/meta-llama/codellama-34b-instruct`: no usable context window: \
             `max_input_tokens` is missing or zero",
        ]
    );
    let entries = serde_json::from_str::<Map<String, Value>>(EXCERPT)
        .unwrap()
        .len();
    assert_eq!(
        imported.models.len() + imported.skipped.total() + 1,
        entries,
        "every entry but sample_spec is imported or skipped"
    );
}

/// What one imported model should look like.
struct Expected<'a> {
    id: &'a str,
    /// Input and output prices in thousandths of a nano-dollar per token.
    millinanos: (u64, u64),
    window: (u32, u32),
    capabilities: &'a [Capability],
    deployment: Deployment,
    aliases: &'a [&'a str],
}

#[track_caller]
fn check_model(imported: &LiteLlmImport, expected: &Expected<'_>) {
    let Some(model) = imported
        .models
        .iter()
        .find(|m| m.id.as_str() == expected.id)
    else {
        panic!("`{}` was not imported", expected.id);
    };
    let id = expected.id;
    assert_eq!(
        (
            model.input_price.millinanos_per_token(),
            model.output_price.millinanos_per_token()
        ),
        expected.millinanos,
        "{id}: prices"
    );
    assert_eq!(
        (model.context_window, model.max_output_tokens),
        expected.window,
        "{id}: window"
    );
    assert_eq!(
        model.capabilities,
        Capabilities::of(expected.capabilities),
        "{id}"
    );
    assert_eq!(model.deployment, expected.deployment, "{id}");
    assert_eq!(model.aliases, expected.aliases, "{id}: aliases");
    assert_eq!(
        model.quality,
        QualityScores::default(),
        "{id}: LiteLLM has no quality"
    );
    assert_eq!(model.latency, LatencyProfile::default(), "{id}");
}

/// A sample of the excerpt's chat models, one per mapping rule.
const EXPECTED: [Expected<'static>; 12] = {
    use Capability::{JsonMode, Streaming, Tools, Vision};
    [
        Expected {
            id: "openai/gpt-4o",
            millinanos: (2_500_000, 10_000_000),
            window: (128_000, 16_384),
            capabilities: &[Tools, Vision, JsonMode, Streaming],
            deployment: Deployment::Cloud,
            aliases: &["gpt-4o"],
        },
        Expected {
            id: "openai/gpt-4o-mini",
            millinanos: (150_000, 600_000),
            window: (128_000, 16_384),
            capabilities: &[Tools, Vision, JsonMode, Streaming],
            deployment: Deployment::Cloud,
            aliases: &["gpt-4o-mini"],
        },
        Expected {
            id: "openai/o3-mini",
            millinanos: (1_100_000, 4_400_000),
            window: (200_000, 100_000),
            capabilities: &[Tools, JsonMode, Streaming],
            deployment: Deployment::Cloud,
            aliases: &["o3-mini"],
        },
        Expected {
            id: "anthropic/claude-3-5-haiku-20241022",
            millinanos: (800_000, 4_000_000),
            window: (200_000, 8_192),
            capabilities: &[Tools, Vision, JsonMode, Streaming],
            deployment: Deployment::Cloud,
            aliases: &["claude-3-5-haiku-20241022"],
        },
        Expected {
            id: "ollama/llama3.1",
            millinanos: (0, 0),
            window: (8_192, 8_192),
            capabilities: &[Tools, Streaming],
            deployment: Deployment::Local,
            aliases: &[],
        },
        Expected {
            id: "groq/llama-3.1-8b-instant",
            millinanos: (50_000, 80_000),
            window: (128_000, 8_192),
            capabilities: &[Tools, JsonMode, Streaming],
            deployment: Deployment::Cloud,
            aliases: &[],
        },
        Expected {
            id: "google/gemini-2.0-flash",
            millinanos: (100_000, 400_000),
            window: (1_048_576, 8_192),
            capabilities: &[Tools, Vision, JsonMode, Streaming],
            deployment: Deployment::Cloud,
            aliases: &["gemini/gemini-2.0-flash"],
        },
        Expected {
            id: "vertex_ai/claude-3-5-haiku@20241022",
            millinanos: (1_000_000, 5_000_000),
            window: (200_000, 8_192),
            capabilities: &[Tools, Streaming],
            deployment: Deployment::Cloud,
            aliases: &[],
        },
        Expected {
            id: "bedrock/anthropic.claude-3-5-haiku-20241022-v1:0",
            millinanos: (800_000, 4_000_000),
            window: (200_000, 8_192),
            capabilities: &[Tools, JsonMode, Streaming],
            deployment: Deployment::Cloud,
            aliases: &["anthropic.claude-3-5-haiku-20241022-v1:0"],
        },
        Expected {
            id: "openrouter/anthropic/claude-3.5-sonnet",
            millinanos: (3_000_000, 15_000_000),
            window: (200_000, 8_192),
            capabilities: &[Tools, Vision, Streaming],
            deployment: Deployment::Cloud,
            aliases: &[],
        },
        Expected {
            id: "mistral/mistral-small-latest",
            millinanos: (100_000, 300_000),
            window: (32_000, 8_191),
            capabilities: &[Tools, JsonMode, Streaming],
            deployment: Deployment::Cloud,
            aliases: &[],
        },
        Expected {
            id: "deepseek/deepseek-chat",
            millinanos: (270_000, 1_100_000),
            window: (65_536, 8_192),
            capabilities: &[Tools, Streaming],
            deployment: Deployment::Cloud,
            aliases: &[],
        },
    ]
};

#[test]
fn excerpt_entries_map_to_ids_prices_limits_and_capabilities() {
    let imported = excerpt();
    for expected in &EXPECTED {
        check_model(&imported, expected);
    }

    let o3_mini = imported
        .models
        .iter()
        .find(|m| m.id.as_str() == "openai/o3-mini")
        .unwrap();
    assert_eq!(o3_mini.tags, ["reasoning"]);
    let openrouter = imported
        .models
        .iter()
        .find(|m| m.id.provider() == "openrouter")
        .unwrap();
    assert_eq!(openrouter.id.model(), "anthropic/claude-3.5-sonnet");
}

#[test]
fn the_import_registers_and_resolves_litellm_names() {
    let registry = excerpt().into_catalog().into_registry().unwrap();
    assert_eq!(registry.snapshot().len(), 16);
    assert_eq!(
        registry.get("gemini/gemini-2.0-flash").unwrap().id.as_str(),
        "google/gemini-2.0-flash"
    );
    assert_eq!(
        registry.get("gpt-4o-mini").unwrap().id.as_str(),
        "openai/gpt-4o-mini"
    );
}

/// Imports a file holding one entry under `key`.
#[track_caller]
fn import_one(key: &str, entry: &str) -> Result<ModelSpec, SkipReason> {
    let imported = import(&format!("{{\"{key}\": {entry}}}")).unwrap();
    match (
        imported.models.as_slice(),
        imported.skipped.unusable.as_slice(),
    ) {
        ([model], []) => Ok(model.clone()),
        ([], [unusable]) => Err(unusable.reason.clone()),
        _ => panic!("expected one model or one unusable entry: {imported:?}"),
    }
}

#[track_caller]
fn check_limits(entry: &str, window_and_output: (u32, u32)) {
    let model = import_one("m", entry).unwrap();
    assert_eq!(
        (model.context_window, model.max_output_tokens),
        window_and_output
    );
}

#[test]
fn output_limits_fall_back_and_stay_within_the_window() {
    let chat = r#""mode": "chat", "litellm_provider": "ollama""#;
    check_limits(
        &format!(r#"{{{chat}, "max_input_tokens": 8192, "max_output_tokens": 2048}}"#),
        (8_192, 2_048),
    );
    check_limits(
        &format!(r#"{{{chat}, "max_input_tokens": 8192, "max_tokens": 1000}}"#),
        (8_192, 1_000),
    );
    check_limits(
        &format!(
            r#"{{{chat}, "max_input_tokens": 8192, "max_output_tokens": 0, "max_tokens": 512}}"#
        ),
        (8_192, 512),
    );
    check_limits(
        &format!(r#"{{{chat}, "max_input_tokens": 200000}}"#),
        (200_000, 4_096),
    );
    check_limits(
        &format!(r#"{{{chat}, "max_input_tokens": 2048, "max_tokens": 100000}}"#),
        (2_048, 2_048),
    );
    check_limits(
        &format!(r#"{{{chat}, "max_input_tokens": 1e5, "max_output_tokens": 4096.0}}"#),
        (100_000, 4_096),
    );
    check_limits(
        &format!(r#"{{{chat}, "max_input_tokens": 99999999999}}"#),
        (u32::MAX, 4_096),
    );
}

#[track_caller]
fn check_skipped(key: &str, entry: &str, expected: &str) {
    let reason = import_one(key, entry).unwrap_err();
    assert_eq!(reason.to_string(), expected);
}

#[test]
fn unusable_entries_are_skipped_with_the_reason() {
    check_skipped("m", "[1, 2]", "the entry is not an object");
    check_skipped(
        "m",
        r#"{"litellm_provider": "openai", "max_input_tokens": 10}"#,
        "no `mode`; only `chat` entries are imported",
    );
    check_skipped(
        "m",
        r#"{"mode": "chat", "max_input_tokens": 10}"#,
        "no `litellm_provider`",
    );
    check_skipped(
        "m",
        r#"{"mode": "chat", "litellm_provider": "openai", "max_input_tokens": 0,
            "input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6}"#,
        "no usable context window: `max_input_tokens` is missing or zero",
    );
    check_skipped(
        "m",
        r#"{"mode": "chat", "litellm_provider": "openai", "max_input_tokens": "lots"}"#,
        "`max_input_tokens` is \"lots\", expected a whole number of tokens",
    );
    check_skipped(
        "m",
        r#"{"mode": "chat", "litellm_provider": "openai", "max_input_tokens": 10,
            "output_cost_per_token": 1e-6}"#,
        "no `input_cost_per_token` for a cloud model",
    );
    check_skipped(
        "m",
        r#"{"mode": "chat", "litellm_provider": "openai", "max_input_tokens": 10,
            "input_cost_per_token": -1e-6, "output_cost_per_token": 1e-6}"#,
        "`input_cost_per_token` is -1e-6, expected a non-negative number of dollars per token",
    );
    check_skipped(
        "m",
        r#"{"mode": "chat", "litellm_provider": "ollama", "max_input_tokens": 10,
            "supports_vision": "yes"}"#,
        "`supports_vision` is \"yes\", expected true or false",
    );
    check_skipped(
        "my model",
        r#"{"mode": "chat", "litellm_provider": "ollama", "max_input_tokens": 10}"#,
        "invalid model id `ollama/my model`: whitespace and control characters are not allowed",
    );
}

#[test]
fn locality_follows_the_provider() {
    let entry = |provider: &str| {
        format!(
            r#"{{"mode": "chat", "litellm_provider": "{provider}", "max_input_tokens": 4096,
                "input_cost_per_token": 0.0, "output_cost_per_token": 0.0}}"#
        )
    };
    for (provider, local) in [
        ("ollama", true),
        ("ollama_chat", true),
        ("lm_studio", true),
        ("hosted_vllm", false),
        ("openai", false),
    ] {
        let model = import_one("m", &entry(provider)).unwrap();
        assert_eq!(model.is_local(), local, "{provider}");
    }
    // A local model needs no price; a cloud model does (checked above).
    let free = import_one(
        "m",
        r#"{"mode": "chat", "litellm_provider": "lm_studio", "max_input_tokens": 4096}"#,
    )
    .unwrap();
    assert!(free.input_price.is_free() && free.output_price.is_free());
}

#[test]
fn capabilities_follow_the_supports_flags() {
    use Capability::{JsonMode, Streaming, Tools, Vision};
    let model = |flags: &str| {
        import_one(
            "m",
            &format!(
                r#"{{"mode": "chat", "litellm_provider": "ollama", "max_input_tokens": 4096
                    {flags}}}"#
            ),
        )
        .unwrap()
        .capabilities
    };
    assert_eq!(model(""), Capabilities::of(&[Streaming]));
    assert_eq!(
        model(r#", "supports_native_streaming": false"#),
        Capabilities::NONE
    );
    assert_eq!(
        model(r#", "supports_tool_choice": true, "supports_function_calling": null"#),
        Capabilities::of(&[Tools, Streaming])
    );
    assert_eq!(
        model(
            r#", "supports_vision": true, "supports_response_schema": true,
                "supports_function_calling": false"#
        ),
        Capabilities::of(&[Vision, JsonMode, Streaming])
    );
}

#[test]
fn ids_keep_provider_prefixes_and_keys_become_aliases_when_free() {
    let imported = import(
        r#"{
            "openai/gpt-x": {"mode": "chat", "litellm_provider": "azure",
                             "max_input_tokens": 10, "input_cost_per_token": 1e-6,
                             "output_cost_per_token": 1e-6},
            "gpt-x": {"mode": "chat", "litellm_provider": "openai", "max_input_tokens": 10,
                      "input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6},
            "ollama_chat/qwen2.5": {"mode": "chat", "litellm_provider": "ollama_chat",
                                    "max_input_tokens": 10},
            "text-completion-codestral/codestral-2405": {"mode": "chat",
                "litellm_provider": "text-completion-codestral", "max_input_tokens": 10,
                "input_cost_per_token": 0, "output_cost_per_token": 0}
        }"#,
    )
    .unwrap();
    let names: Vec<(&str, Vec<&str>)> = imported
        .models
        .iter()
        .map(|m| {
            (
                m.id.as_str(),
                m.aliases.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            // The key does not start with `azure/`, so it is prefixed; as an alias it would
            // take the id of the next entry, so it is left out.
            ("azure/openai/gpt-x", vec![]),
            ("openai/gpt-x", vec!["gpt-x"]),
            ("ollama/qwen2.5", vec!["ollama_chat/qwen2.5"]),
            (
                "codestral/codestral-2405",
                vec!["text-completion-codestral/codestral-2405"]
            ),
        ]
    );
    imported.into_catalog().into_registry().unwrap();
}

#[test]
fn providers_are_normalised_to_their_endpoint() {
    for (litellm, ours) in [
        ("ollama_chat", "ollama"),
        ("gemini", "google"),
        ("vertex_ai-language-models", "vertex_ai"),
        ("vertex_ai-anthropic_models", "vertex_ai"),
        ("bedrock_converse", "bedrock"),
        ("text-completion-openai", "openai"),
        ("openai", "openai"),
        ("groq", "groq"),
    ] {
        assert_eq!(normalise_provider(litellm), ours, "{litellm}");
    }
}

#[test]
fn a_file_that_is_not_an_object_is_an_error_with_a_location() {
    let error = import("\n  [1, 2]").unwrap_err();
    assert_eq!(
        error.to_string(),
        "(JSON text):2:3: expected a JSON object keyed by model name"
    );
    let error = import("{\"gpt-4o\": {\"mode\": \"chat\",,}}").unwrap_err();
    assert_eq!(
        error.to_string(),
        "(JSON text):1:28: not valid JSON: an object's key must be a string in double quotes"
    );
    assert!(import("{}").unwrap().models.is_empty());
}

#[test]
fn files_import_like_text_and_errors_name_them() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let from_file = import_file(fixtures.join("litellm/model_prices_excerpt.json")).unwrap();
    assert_eq!(from_file, excerpt());
    // A catalog is not a price file: its top level holds `models`, which is not a model entry.
    let catalog = fixtures.join("catalog/negative_price.json");
    let imported = import_file(&catalog).unwrap();
    assert_eq!(imported.skipped.unusable.len(), 1);
    let not_json = fixtures.join("catalog/malformed_id.toml");
    assert_eq!(
        import_file(&not_json).unwrap_err().to_string(),
        format!(
            "{}:1:1: not valid JSON: expected a value (an object, a list, a string, a number, \
             true, false or null)",
            not_json.display()
        )
    );
}

#[test]
fn an_empty_or_sample_only_file_imports_nothing() {
    let imported = import(r#"{"sample_spec": {"mode": "one of: chat, embedding"}}"#).unwrap();
    assert!(imported.models.is_empty());
    assert_eq!(imported.skipped, Skipped::default());
}
