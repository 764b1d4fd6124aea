#![expect(
    clippy::float_cmp,
    reason = "round trips must keep floats exactly, so they are compared exactly"
)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::money::TokenPrice;
use crate::spec::{Capabilities, Capability, Deployment, LatencyProfile, ModelId, QualityScores};
use crate::task::TaskKind;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/catalog")
        .join(name)
}

/// A directory of this test's own under the system's temp dir, created if missing.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("orkestra-catalog-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn spec(id: &str, context_window: u32) -> ModelSpec {
    ModelSpec::new(ModelId::new(id).unwrap(), context_window)
}

/// A catalog that sets every field at least once, with ids that need care in both formats.
fn every_field() -> Catalog {
    let mut full = spec("openrouter/meta-llama/llama-3.1-8b-instruct", 131_072);
    full.endpoint = Some("openrouter-eu".into());
    full.aliases = vec!["llama-8b".into(), "meta-llama/llama-3.1-8b-instruct".into()];
    full.max_output_tokens = 8_192;
    // $0.0375 per million is a fraction of a nano-dollar per token.
    full.input_price = TokenPrice::from_usd_per_million(0.0375).unwrap();
    full.output_price = TokenPrice::from_millinanos_per_token(123_457);
    full.latency = LatencyProfile {
        ttft: Duration::from_millis(1_250),
        tokens_per_second: 87.5,
    };
    let scores = [0.05, 0.14, 0.23, 0.32, 0.41, 0.5, 0.59, 0.68, 0.77, 0.86];
    full.quality = TaskKind::ALL
        .into_iter()
        .zip(scores)
        .fold(QualityScores::uniform(0.61), |q, (kind, score)| {
            q.with(kind, score)
        });
    full.capabilities = Capabilities::of(&Capability::ALL);
    full.memory_gb = Some(12.75);
    full.tags = vec!["small".into(), "fast".into(), "long-context".into()];

    let mut local = spec("ollama/llama3.1:8b", 8_192);
    local.deployment = Deployment::Local;
    local.memory_gb = Some(4.9);
    local.quality = QualityScores::uniform(0.55).with(TaskKind::CodeGeneration, 0.45);
    local.capabilities = Capabilities::of(&[Capability::Streaming]);
    local.latency.ttft = Duration::from_secs(2);

    // Everything else left at its default.
    let plain = spec("anthropic/claude-3-5-haiku-20241022", 200_000);
    Catalog {
        models: vec![full, local, plain],
    }
}

#[track_caller]
fn check_round_trip(catalog: &Catalog) {
    let json = catalog.to_json();
    let from_json = Catalog::from_json(&json).unwrap();
    assert_eq!(&from_json, catalog, "JSON export then import");
    assert_eq!(from_json.to_json(), json, "JSON export is stable");

    let toml = catalog.to_toml().unwrap();
    let from_toml = Catalog::from_toml(&toml).unwrap();
    assert_eq!(&from_toml, catalog, "TOML export then import:\n{toml}");
    assert_eq!(from_toml.to_toml().unwrap(), toml, "TOML export is stable");

    let across = Catalog::from_toml(&from_json.to_toml().unwrap()).unwrap();
    assert_eq!(&across, catalog, "JSON to TOML");
    let back = Catalog::from_json(&from_toml.to_json()).unwrap();
    assert_eq!(&back, catalog, "TOML to JSON");
}

#[test]
fn catalogs_round_trip_through_json_and_toml() {
    check_round_trip(&Catalog::builtin());
    check_round_trip(&every_field());
    check_round_trip(&Catalog::default());
}

/// Floats whose shortest spelling needs 17 digits, as arithmetic produces them.
fn awkward_floats() -> Catalog {
    let mut catalog = every_field();
    let model = &mut catalog.models[0];
    model.memory_gb = Some(0.1 + 0.2);
    model.quality = model.quality.with(TaskKind::Debugging, 0.05 + 0.09 * 2.0);
    model.latency.tokens_per_second = 100.0 / 3.0;
    catalog
}

#[test]
fn toml_keeps_every_float_bit() {
    let catalog = awkward_floats();
    let toml = catalog.to_toml().unwrap();
    assert!(toml.contains("memory_gb = 0.30000000000000004\n"), "{toml}");
    assert_eq!(Catalog::from_toml(&toml).unwrap(), catalog);
}

#[test]
fn json_keeps_every_float_bit() {
    let catalog = awkward_floats();
    assert_eq!(Catalog::from_json(&catalog.to_json()).unwrap(), catalog);
}

#[test]
fn exports_are_byte_identical_and_laid_out_per_model() {
    let catalog = every_field();
    assert_eq!(catalog.to_json(), catalog.clone().to_json());
    let toml = catalog.to_toml().unwrap();
    assert_eq!(toml, catalog.to_toml().unwrap());
    assert_eq!(toml.matches("[[models]]\n").count(), 3);
    assert!(
        toml.starts_with(
            "[[models]]\nid = \"openrouter/meta-llama/llama-3.1-8b-instruct\"\n\
             endpoint = \"openrouter-eu\"\n"
        ),
        "fields in spec order:\n{toml}"
    );
    assert!(
        toml.contains("latency = { ttft = \"1s 250ms\", tokens_per_second = 87.5 }\n"),
        "inline latency:\n{toml}"
    );
    assert!(
        toml.contains("quality = { default = 0.55, code_generation = 0.45 }\n"),
        "inline quality, default first:\n{toml}"
    );
}

#[test]
fn every_field_survives_the_trip_exactly() {
    let catalog = Catalog::from_toml(&every_field().to_toml().unwrap()).unwrap();
    let full = &catalog.models[0];
    assert_eq!(full.input_price.millinanos_per_token(), 37_500);
    assert_eq!(full.output_price.millinanos_per_token(), 123_457);
    assert_eq!(full.memory_gb, Some(12.75));
    assert_eq!(full.quality.get(TaskKind::Chat), 0.86);
    assert_eq!(full.endpoint(), "openrouter-eu");
    assert_eq!(full.id.model(), "meta-llama/llama-3.1-8b-instruct");
}

#[test]
fn builtin_catalog_parses_and_registers() {
    // `builtin()` falls back to an empty catalog, so parse the text itself to see any error.
    let catalog = Catalog::from_toml(BUILTIN_TOML).unwrap();
    assert_eq!(catalog, Catalog::builtin());
    let registry = catalog.clone().into_registry().unwrap();
    let snapshot = registry.snapshot();
    assert_eq!(snapshot.len(), 19);

    for (id, memory_gb, context_window) in [
        ("ollama/codellama:34b", 20.0, 16_384),
        ("ollama/qwen2.5:32b", 19.0, 32_768),
        ("ollama/llama3.1:8b", 4.9, 8_192),
    ] {
        let model = snapshot.get(id).unwrap();
        assert_eq!(model.memory_gb, Some(memory_gb), "{id}");
        assert_eq!(model.context_window, context_window, "{id}");
        assert!(model.is_local() && model.input_price.is_free(), "{id}");
    }
    let codellama = snapshot.get("codellama").unwrap();
    assert!(
        codellama.quality.get(TaskKind::CodeGeneration) > codellama.quality.get(TaskKind::Chat)
    );

    let mini = snapshot.get("gpt-4o-mini").unwrap();
    assert_eq!(mini.id.as_str(), "openai/gpt-4o-mini");
    assert_eq!(mini.input_price.millinanos_per_token(), 150_000);
    assert_eq!(mini.output_price.millinanos_per_token(), 600_000);
    let haiku = snapshot.get("claude-3-5-haiku").unwrap();
    assert_eq!(haiku.id.as_str(), "anthropic/claude-3-5-haiku-20241022");
    assert_eq!(
        (haiku.context_window, haiku.max_output_tokens),
        (200_000, 8_192)
    );
    let flash = snapshot.get("google/gemini-2.0-flash").unwrap();
    assert_eq!(flash.context_window, 1_048_576);
    // A 1,000-token prompt and 500-token answer on gpt-4o: $0.0025 + $0.005.
    assert_eq!(
        snapshot.get("gpt-4o").unwrap().cost(1_000, 500).0,
        7_500_000
    );

    for model in snapshot.models() {
        assert_eq!(
            model.is_local(),
            model.input_price.is_free() && model.output_price.is_free(),
            "{}: local models are free, cloud models are not",
            model.id
        );
        assert_eq!(model.is_local(), model.memory_gb.is_some(), "{}", model.id);
        assert!(
            !model.aliases.is_empty() && !model.tags.is_empty(),
            "{}",
            model.id
        );
        assert!(
            model.capabilities.has(Capability::Streaming),
            "{}",
            model.id
        );
    }
}

#[test]
fn a_registry_snapshot_becomes_a_sorted_catalog() {
    let catalog = every_field();
    let registry = catalog.clone().into_registry().unwrap();
    let exported = Catalog::from_registry(&registry.snapshot());
    let mut sorted = catalog.models;
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(exported.models, sorted);
}

#[test]
fn files_load_and_save_by_extension() {
    let catalog = every_field();
    let dir = scratch_dir("save");
    for name in ["models.json", "models.toml", "MODELS.TOML"] {
        let path = dir.join(name);
        catalog.save(&path).unwrap();
        assert_eq!(Catalog::load(&path).unwrap(), catalog, "{name}");
    }
    let json = std::fs::read_to_string(dir.join("models.json")).unwrap();
    assert!(json.starts_with("{\n  \"models\": ["), "{json}");
    // Only this test's own directory, named by the process id and the test.
    assert!(dir.ends_with(format!("orkestra-catalog-{}-save", std::process::id())));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[track_caller]
fn check_error(result: Result<Catalog, crate::Error>, expected: &str) -> crate::Error {
    let error = result.unwrap_err();
    assert_eq!(error.to_string(), expected);
    error
}

#[test]
fn unknown_keys_are_errors_with_file_line_and_column() {
    let path = fixture("unknown_key.toml");
    let error = check_error(
        Catalog::load(&path),
        &format!(
            "{}:11:1: models[1].colour: unknown key `colour`, expected one of `id`, `endpoint`, \
             `aliases`, \
             `context_window`, `max_output_tokens`, `input_usd_per_mtok`, \
             `output_usd_per_mtok`, `latency`, `quality`, `capabilities`, `deployment`, \
             `memory_gb`, `tags`",
            path.display()
        ),
    );
    let at = error.located().unwrap();
    assert_eq!(at.file, path.display().to_string());
    assert_eq!(
        at.position,
        Some(orkestra_core::Position {
            line: 11,
            column: 1
        })
    );
    assert_eq!(at.key.as_deref(), Some("models[1].colour"));

    check_error(
        Catalog::from_toml(
            "[[models]]\nid = \"a/b\"\ncontext_window = 9\nmax_output_tokens = 1\n\
             quality = { default = 0.5, cooking = 1.0 }\n",
        ),
        "(TOML text):5:28: models[0].quality.cooking: unknown key `cooking`, expected one of \
         `default`, \
         `code_generation`, `debugging`, `code_review`, `reasoning`, `summarization`, \
         `translation`, `creative_writing`, `extraction`, `classification`, `chat`",
    );
    check_error(
        Catalog::from_json(r#"{"models": [], "version": 2}"#),
        "(JSON text):1:16: version: unknown key `version`, expected `models`",
    );
}

#[test]
fn negative_prices_name_the_field_and_where_it_is() {
    let path = fixture("negative_price.json");
    check_error(
        Catalog::load(&path),
        &format!(
            "{}:8:30: models[0].output_usd_per_mtok: price -0.6 is not a non-negative number of \
             dollars per million tokens",
            path.display()
        ),
    );
    check_error(
        Catalog::from_toml(
            "[[models]]\nid = \"a/b\"\ncontext_window = 9\nmax_output_tokens = 1\n\
             input_usd_per_mtok = -1.5\n",
        ),
        "(TOML text):5:22: models[0].input_usd_per_mtok: price -1.5 is not a non-negative \
         number of \
         dollars per million tokens",
    );
}

#[test]
fn malformed_values_are_errors_with_their_location() {
    let path = fixture("malformed_id.toml");
    check_error(
        Catalog::load(&path),
        &format!(
            "{}:3:6: models[0].id: invalid model id `gpt-4o-mini`: expected `provider/model`, \
             e.g. `openai/gpt-4o-mini`",
            path.display()
        ),
    );
    check_error(
        Catalog::from_toml(
            "[[models]]\nid = \"a/b\"\ncontext_window = 9\nmax_output_tokens = 1\n\
             latency = { ttft = \"soon\" }\n",
        ),
        "(TOML text):5:20: models[0].latency.ttft: expected a duration, got the text \"soon\"",
    );
    check_error(
        Catalog::from_toml(
            "[[models]]\nid = \"a/b\"\ncontext_window = 9\nmax_output_tokens = 1\n\
             capabilities = [\"tools\", \"telepathy\"]\n",
        ),
        "(TOML text):5:26: models[0].capabilities[1]: unknown value `telepathy`, expected one of \
         `tools`, `vision`, `json_mode`, `streaming`",
    );
    check_error(
        Catalog::from_json(
            "{\"models\": [{\n  \"id\": \"a/b\",\n  \"context_window\": \"big\",\n  \
             \"max_output_tokens\": 1\n}]}",
        ),
        "(JSON text):3:21: models[0].context_window: expected a whole number from 0 to \
         4294967295, got the text \"big\"",
    );
    check_error(
        Catalog::from_json(
            "{\"models\": [{\"id\": \"a b/c\", \"context_window\": 9, \"max_output_tokens\": 1}]}",
        ),
        "(JSON text):1:20: models[0].id: invalid model id `a b/c`: whitespace and control \
         characters \
         are not allowed",
    );
    check_error(
        Catalog::from_json(
            "{\"models\": [{\"id\": \"a/b\", \"context_window\": 9, \"max_output_tokens\": 1,\n\
             \"latency\": {\"ttft\": \"soon\", \"tokens_per_second\": 5}}]}",
        ),
        "(JSON text):2:21: models[0].latency.ttft: expected a duration, got the text \"soon\"",
    );
    check_error(
        Catalog::from_toml("[[models]]\nid = \"a/b\"\nmax_output_tokens = 1\n"),
        "(TOML text):1:1: models[0]: missing key `context_window`",
    );
}

#[test]
fn syntax_errors_point_at_the_text() {
    check_error(
        Catalog::from_toml("[[models]]\nid = \"a/b\ncontext_window = 9\n"),
        "(TOML text):2:10: not valid TOML: invalid basic string, expected `\"`",
    );
    check_error(
        Catalog::from_json("{\"models\": [\n  {\"id\": \"a/b\",}\n]}"),
        "(JSON text):2:16: not valid JSON: a comma before a closing bracket",
    );
}

#[test]
fn registry_checks_run_on_import_and_name_the_file() {
    let path = fixture("duplicate_id.toml");
    check_error(
        Catalog::load(&path),
        &format!(
            "{}:8:1: models[1].id: `ollama/llama3.1:8b` is already the id of models[0]",
            path.display()
        ),
    );
    let path = fixture("zero_context.toml");
    let error = check_error(
        Catalog::load(&path),
        &format!(
            "{}:3:1: models[0].context_window: must be at least 1 token",
            path.display()
        ),
    );
    assert!(matches!(error, crate::Error::Catalog { .. }));

    check_error(
        Catalog::from_json(
            r#"{"models": [
                {"id": "a/one", "context_window": 9, "max_output_tokens": 1},
                {"id": "b/two", "aliases": ["a/one"], "context_window": 9, "max_output_tokens": 1}
            ]}"#,
        ),
        "(JSON text):3:18: models[1].aliases: `a/one` already names model `a/one`",
    );
}

#[test]
fn into_registry_refuses_what_was_edited_wrong() {
    let mut catalog = Catalog::builtin();
    catalog.models[0].max_output_tokens = catalog.models[0].context_window + 1;
    let error = catalog.into_registry().unwrap_err();
    assert_eq!(
        error.to_string(),
        "model `ollama/codellama:34b`: `max_output_tokens` 16385 exceeds the context window of \
         16384"
    );
}

#[test]
fn paths_must_name_a_known_format() {
    check_error(
        Catalog::load("models.yaml"),
        "`models.yaml`: unsupported catalog extension `.yaml`, expected `.json` or `.toml`",
    );
    check_error(
        Catalog::load("models"),
        "`models`: no file extension to choose a catalog format, expected `.json` or `.toml`",
    );
    // The extension is checked before anything is written.
    let error = every_field().save("models.yml").unwrap_err();
    assert!(matches!(error, crate::Error::UnsupportedFormat { .. }));

    let missing = fixture("missing.toml");
    let error = check_error(
        Catalog::load(&missing),
        &format!("cannot read catalog `{}`", missing.display()),
    );
    let source = std::error::Error::source(&error).unwrap();
    assert!(source.to_string().contains("No such file"), "{source}");
}

#[test]
fn toml_export_refuses_non_finite_numbers() {
    let mut catalog = every_field();
    catalog.models[1].memory_gb = Some(f64::NAN);
    assert_eq!(
        catalog.to_toml().unwrap_err().to_string(),
        "cannot write model `ollama/llama3.1:8b` as TOML: `memory_gb` is not a finite number"
    );
}

/// Words of serde's and Rust's that a person reading a catalog error should never meet.
const RUST_TERMS: [&str; 9] = [
    "ident",
    "u32",
    "usize",
    "sequence",
    "invalid type",
    "invalid value",
    "variant",
    "struct",
    "field `",
];

#[test]
fn a_file_that_is_not_a_catalog_is_explained_in_plain_words() {
    let dir = scratch_dir("not-a-catalog");
    for (name, text, expected) in [
        (
            "word.json",
            "nope\n",
            ":1:2: not valid JSON: expected a value (an object, a list, a string, a number, \
             true, false or null)",
        ),
        (
            "script.toml",
            "print(\"hello\")\n",
            ":1:15: not valid TOML: key with no value, expected `=`",
        ),
        (
            "list.json",
            "[1, 2]\n",
            ":1:1: expected a catalog (an object with a `models` list), got a list",
        ),
        (
            "package.json",
            "{\"name\": \"web\"}\n",
            ":1:2: name: unknown key `name`, expected `models`",
        ),
        (
            "typed.toml",
            "[[models]]\nid = \"a/b\"\ncontext_window = \"big\"\n",
            ":3:18: models[0].context_window: expected a whole number from 0 to 4294967295, \
             got the text \"big\"",
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let message = Catalog::load(&path).unwrap_err().to_string();
        assert_eq!(message, format!("{}{expected}", path.display()));
        for term in RUST_TERMS {
            assert!(!message.contains(term), "{term}: {message}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
