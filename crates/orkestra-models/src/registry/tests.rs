use std::sync::Arc;
use std::thread;

use super::*;
use crate::spec::ModelId;

fn spec(id: &str, aliases: &[&str]) -> ModelSpec {
    let mut s = ModelSpec::new(ModelId::new(id).unwrap(), 8_192);
    s.aliases = aliases.iter().map(|a| (*a).to_owned()).collect();
    s
}

#[test]
fn add_update_remove_and_look_up_by_id_or_alias() {
    let registry = ModelRegistry::new();
    registry.add(spec("openai/gpt-4o-mini", &["mini"])).unwrap();
    registry.add(spec("ollama/llama3.1:8b", &[])).unwrap();
    assert_eq!(
        registry.get("mini").unwrap().id.as_str(),
        "openai/gpt-4o-mini"
    );
    let ids: Vec<_> = registry
        .snapshot()
        .models()
        .iter()
        .map(|m| m.id.to_string())
        .collect();
    assert_eq!(
        ids,
        ["ollama/llama3.1:8b", "openai/gpt-4o-mini"],
        "sorted by id"
    );

    let mut bigger = spec("openai/gpt-4o-mini", &["small"]);
    bigger.context_window = 128_000;
    let old = registry.update(bigger).unwrap();
    assert_eq!(old.context_window, 8_192);
    assert!(registry.get("mini").is_none(), "old alias dropped");
    assert_eq!(registry.get("small").unwrap().context_window, 128_000);

    registry.remove("ollama/llama3.1:8b").unwrap();
    assert_eq!(registry.snapshot().len(), 1);
    assert_eq!(registry.snapshot().version(), 4);
}

#[track_caller]
fn check_refused(
    registry: &ModelRegistry,
    result: Result<impl std::fmt::Debug, crate::Error>,
    expected: &str,
) {
    let before = registry.snapshot();
    let err = result.unwrap_err();
    assert_eq!(err.to_string(), expected);
    assert!(
        Arc::ptr_eq(&before, &registry.snapshot()),
        "registry unchanged"
    );
}

#[test]
fn clashes_and_invalid_specs_are_refused_and_leave_the_registry_unchanged() {
    let registry = ModelRegistry::new();
    registry.add(spec("openai/gpt-4o", &["smart"])).unwrap();
    check_refused(
        &registry,
        registry.add(spec("openai/gpt-4o", &[])),
        "model `openai/gpt-4o` is already registered",
    );
    check_refused(
        &registry,
        registry.add(spec("anthropic/claude-3-5-haiku", &["smart"])),
        "name `smart` already refers to model `openai/gpt-4o`",
    );
    check_refused(
        &registry,
        registry.add(spec("anthropic/claude-3-5-haiku", &["openai/gpt-4o"])),
        "name `openai/gpt-4o` already refers to model `openai/gpt-4o`",
    );
    let mut empty = spec("ollama/tiny", &[]);
    empty.context_window = 0;
    check_refused(
        &registry,
        registry.add(empty),
        "model `ollama/tiny`: `context_window` must be at least 1 token",
    );
    check_refused(
        &registry,
        registry.remove("ollama/none"),
        "no model `ollama/none` is registered",
    );
    check_refused(
        &registry,
        registry.update(spec("ollama/none", &[])),
        "no model `ollama/none` is registered",
    );
}

#[test]
fn readers_see_whole_snapshots_while_writers_change_the_registry() {
    let registry = Arc::new(ModelRegistry::new());
    let writer = {
        let registry = Arc::clone(&registry);
        thread::spawn(move || {
            for i in 0..200 {
                registry
                    .upsert(spec(&format!("p/m{}", i % 20), &[&format!("a{}", i % 20)]))
                    .unwrap();
                if i % 3 == 0 {
                    let _ = registry.remove(&format!("p/m{}", (i + 7) % 20));
                }
            }
        })
    };
    let reader = {
        let registry = Arc::clone(&registry);
        thread::spawn(move || {
            let mut last_version = 0;
            for _ in 0..2_000 {
                let snapshot = registry.snapshot();
                assert!(snapshot.version() >= last_version, "versions never go back");
                last_version = snapshot.version();
                for model in snapshot.models() {
                    // Every alias of a model in a snapshot resolves to that model in the same snapshot.
                    for alias in &model.aliases {
                        assert_eq!(snapshot.get(alias).unwrap().id, model.id);
                    }
                }
            }
        })
    };
    writer.join().unwrap();
    reader.join().unwrap();
}
