use super::*;

fn spec(id: &str) -> ModelSpec {
    ModelSpec::new(ModelId::new(id).unwrap(), 8_192)
}

#[test]
fn ids_split_at_the_first_slash() {
    let id = ModelId::new("openrouter/meta-llama/llama-3.1-8b-instruct").unwrap();
    assert_eq!(id.provider(), "openrouter");
    assert_eq!(id.model(), "meta-llama/llama-3.1-8b-instruct");
    assert_eq!(
        ModelId::new("ollama/llama3.1:8b").unwrap().model(),
        "llama3.1:8b"
    );
}

#[test]
fn malformed_ids_say_what_is_expected() {
    for bad in ["gpt-4o", "/gpt-4o", "openai/", "openai/gpt 4o", ""] {
        let err = ModelId::new(bad).unwrap_err();
        assert!(
            matches!(&err, crate::Error::InvalidModelId { id, .. } if id == bad),
            "{err:?}"
        );
        assert!(err.to_string().contains(bad), "{err}");
    }
    let err = serde_json::from_str::<ModelId>("\"gpt-4o\"").unwrap_err();
    assert!(err.to_string().contains("provider/model"), "{err}");
}

#[test]
fn capabilities_are_a_set_spelled_as_a_list() {
    let caps = Capabilities::of(&[Capability::Tools, Capability::Streaming]);
    assert!(caps.has(Capability::Tools) && !caps.has(Capability::Vision));
    let json = serde_json::to_string(&caps).unwrap();
    assert_eq!(json, r#"["tools","streaming"]"#);
    assert_eq!(serde_json::from_str::<Capabilities>(&json).unwrap(), caps);
    let need = Capabilities::of(&[Capability::Vision, Capability::Tools]);
    assert_eq!(caps.first_missing(need), Some(Capability::Vision));
    assert!(caps.contains(Capabilities::of(&[Capability::Tools])));
}

#[test]
fn quality_overrides_fall_back_to_the_default_and_round_trip() {
    let q = QualityScores::uniform(0.6).with(TaskKind::CodeGeneration, 0.9);
    assert!((q.get(TaskKind::CodeGeneration) - 0.9).abs() < f64::EPSILON);
    assert!((q.get(TaskKind::Chat) - 0.6).abs() < f64::EPSILON);
    let json = serde_json::to_string(&q).unwrap();
    assert_eq!(json, r#"{"default":0.6,"code_generation":0.9}"#);
    assert_eq!(serde_json::from_str::<QualityScores>(&json).unwrap(), q);
    let err = serde_json::from_str::<QualityScores>(r#"{"cooking":0.9}"#).unwrap_err();
    assert!(err.to_string().contains("cooking"), "{err}");
}

#[test]
fn cost_adds_both_directions_and_rounds_up() {
    let mut s = spec("openai/gpt-4o-mini");
    s.input_price = TokenPrice::from_usd_per_million(0.15).unwrap();
    s.output_price = TokenPrice::from_usd_per_million(0.60).unwrap();
    // 1,000 * 150 + 500 * 600 nano-dollars.
    assert_eq!(s.cost(1_000, 500), Nanodollars(450_000));
    s.input_price = TokenPrice::from_usd_per_million(0.0375).unwrap();
    assert_eq!(s.cost(1, 0), Nanodollars(38));
}

#[track_caller]
fn check_invalid(edit: impl FnOnce(&mut ModelSpec), field: &str) {
    let mut s = spec("ollama/llama3.1:8b");
    s.validate().unwrap();
    edit(&mut s);
    let err = s.validate().unwrap_err();
    assert!(
        matches!(&err, crate::Error::InvalidSpec { field: f, .. } if *f == field),
        "{err:?}"
    );
    assert!(err.to_string().contains("ollama/llama3.1:8b"), "{err}");
}

#[test]
fn validation_names_the_field() {
    check_invalid(|s| s.context_window = 0, "context_window");
    check_invalid(|s| s.max_output_tokens = 0, "max_output_tokens");
    check_invalid(|s| s.max_output_tokens = 9_000, "max_output_tokens");
    check_invalid(
        |s| s.latency.tokens_per_second = 0.0,
        "latency.tokens_per_second",
    );
    check_invalid(|s| s.quality = QualityScores::uniform(1.5), "quality");
    check_invalid(|s| s.memory_gb = Some(f64::NAN), "memory_gb");
    check_invalid(|s| s.aliases.push("has space".into()), "aliases");
    check_invalid(|s| s.aliases.push("ollama/llama3.1:8b".into()), "aliases");
    check_invalid(|s| s.endpoint = Some(String::new()), "endpoint");
}

#[test]
fn unknown_fields_and_negative_prices_are_refused_by_name() {
    let bad = r#"{"id":"a/b","context_window":10,"max_output_tokens":5,"colour":"red"}"#;
    let err = serde_json::from_str::<ModelSpec>(bad).unwrap_err();
    assert!(err.to_string().contains("colour"), "{err}");
    let bad = r#"{"id":"a/b","context_window":10,"max_output_tokens":5,"input_usd_per_mtok":-1}"#;
    let err = serde_json::from_str::<ModelSpec>(bad).unwrap_err();
    assert!(err.to_string().contains("non-negative"), "{err}");
}

#[test]
fn the_endpoint_defaults_to_the_provider() {
    let mut s = spec("ollama/qwen2.5:32b");
    assert_eq!(s.endpoint(), "ollama");
    s.endpoint = Some("gpu-box".into());
    assert_eq!(s.endpoint(), "gpu-box");
}
