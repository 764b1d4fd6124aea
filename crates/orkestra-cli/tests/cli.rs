//! The built `orkestra` binary, run end to end on the built-in demo configuration.
//!
//! Each test runs in an empty temporary folder, so no `orkestra.toml` is picked up and the
//! demo's SQLite file lands there.

use std::path::Path;
use std::process::{Command, Output};

#[track_caller]
fn orkestra(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orkestra"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .unwrap_or_else(|error| panic!("cannot run orkestra {args:?}: {error}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A folder whose `orkestra.toml` has one echo model, `echo/only`, with a 1,000-token window.
fn echo_only() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("no temporary folder: {error}"));
    std::fs::write(
        dir.path().join("orkestra.toml"),
        "[providers.echo]\nkind = \"echo\"\n[models]\ncatalog = \"none\"\n\
         [[models.list]]\nid = \"echo/only\"\ncontext_window = 1000\nmax_output_tokens = 100\n",
    )
    .unwrap_or_else(|error| panic!("cannot write orkestra.toml: {error}"));
    dir
}

#[test]
fn route_prints_a_ranking_for_the_cost_strategy() {
    let dir = tempfile::tempdir().unwrap();
    let output = orkestra(
        dir.path(),
        &["route", "write a python function", "--strategy", "cost"],
    );
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("code_generation"), "{stdout}");
    assert!(stdout.contains("strategy cost"), "{stdout}");
    // The cheapest simulated model leads a cost ranking, and the reason is printed.
    assert!(stdout.contains(" 1. sim/small"), "{stdout}");
    assert!(
        stdout.contains("echo/echo") && stdout.contains("deny list"),
        "{stdout}"
    );
    assert!(stdout.contains("chain: sim/small -> "), "{stdout}");
    // Routing calls no model and opens no store.
    assert!(!dir.path().join("orkestra.db").exists());
}

#[test]
fn route_json_is_machine_readable() {
    let dir = tempfile::tempdir().unwrap();
    let output = orkestra(dir.path(), &["route", "hello", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["selection"]["strategy"], "balanced");
    assert_eq!(json["chain"].as_array().map(Vec::len), Some(3), "{json}");
}

#[test]
fn route_explains_a_prompt_no_model_can_serve() {
    let dir = echo_only();
    // About 1,500 tokens, for a 1,000-token window.
    let prompt = "word ".repeat(1_200);
    let output = orkestra(dir.path(), &["route", &prompt]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        stdout.contains("echo/only") && stdout.contains("context window is 1000"),
        "{stdout}"
    );
    assert!(stdout.contains("refused: context_length: "), "{stdout}");
    let output = orkestra(dir.path(), &["route", &prompt, "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["refusal"]["category"], "context_length", "{json}");
    assert_eq!(json["excluded"][0]["model"], "echo/only", "{json}");
}

#[test]
fn chat_with_the_echo_model_prints_the_prompt_back() {
    let dir = tempfile::tempdir().unwrap();
    let output = orkestra(dir.path(), &["chat", "--model", "echo/echo", "hi"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(text(&output.stdout).trim(), "hi");
    assert!(stderr.contains("model: echo/echo"), "{stderr}");
    assert!(stderr.contains("attempts: echo/echo ok"), "{stderr}");
}

#[test]
fn chat_streams_through_a_simulated_model() {
    let dir = tempfile::tempdir().unwrap();
    let output = orkestra(
        dir.path(),
        &[
            "chat",
            "--stream",
            "--model",
            "sim/small",
            "stream this back",
        ],
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let stdout = text(&output.stdout);
    assert!(stdout.trim_end().ends_with("stream this back"), "{stdout}");
    assert!(stderr.contains("model: sim/small"), "{stderr}");
}

#[test]
fn the_demo_models_say_their_answers_are_simulated_and_by_which_model() {
    let dir = tempfile::tempdir().unwrap();
    for model in ["sim/small", "sim/medium", "sim/large"] {
        let output = orkestra(dir.path(), &["chat", "--model", model, "What is a router?"]);
        let stdout = text(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        assert!(
            stdout.starts_with(&format!("[Simulated answer by {model}: ")),
            "{model}: {stdout}"
        );
        assert!(stdout.contains("no language model"), "{model}: {stdout}");
    }
}

#[test]
fn chat_with_an_unknown_model_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = orkestra(dir.path(), &["chat", "--model", "nope/nope", "hi"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("`nope/nope` does not exist"));
}

/// Whether `line` is `error: FILE:LINE:COLUMN: KEY: message`, the one format of a problem in a
/// user's file.
fn is_located(line: &str, file: &str) -> bool {
    let Some(rest) = line.strip_prefix(&format!("error: {file}:")) else {
        return false;
    };
    let mut parts = rest.splitn(4, ": ");
    let position = parts.next().unwrap_or_default();
    let key = parts.next().unwrap_or_default();
    let numbers: Vec<&str> = position.split(':').collect();
    numbers.len() == 2
        && numbers
            .iter()
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        && !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._[]\"/-".contains(c))
        && parts.next().is_some_and(|message| !message.is_empty())
}

#[test]
fn an_invalid_config_exits_2_naming_the_file_line_column_and_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "# a comment\n[server]\nlisten = 8080\n",
    )
    .unwrap();
    for command in [
        &["route", "hi"][..],
        &["chat", "hi"],
        &["serve"],
        &["models", "list"],
        &["models", "export"],
    ] {
        let mut args = command.to_vec();
        args.extend(["--config", "bad.toml"]);
        let output = orkestra(dir.path(), &args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(
            stderr,
            "error: bad.toml:3:10: server.listen: expected an address such as 127.0.0.1:8080, got the number 8080\n",
            "{args:?}"
        );
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn a_wrong_typed_key_is_named_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[routing]\nmax_models = \"four\"\n",
    )
    .unwrap();
    let output = orkestra(dir.path(), &["route", "hi", "--config", "bad.toml"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "error: bad.toml:2:14: routing.max_models: expected a whole number, 0 or more, got the string \"four\"\n"
    );
}

#[test]
fn a_missing_config_file_gives_its_reason_once() {
    let dir = tempfile::tempdir().unwrap();
    for command in [&["route", "hi"][..], &["serve"], &["models", "list"]] {
        let mut args = command.to_vec();
        args.extend(["--config", "nope.toml"]);
        let output = orkestra(dir.path(), &args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: nope.toml: cannot read the file: "),
            "{args:?}: {stderr}"
        );
        assert_eq!(stderr.matches("os error").count(), 1, "{args:?}: {stderr}");
    }
}

#[test]
fn every_entry_point_reports_a_bad_file_in_one_format() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("syntax.toml", "[server\n"),
        ("unknown.toml", "[server]\nlisen = \"127.0.0.1:1\"\n"),
        ("range.toml", "[routing]\nmax_models = 0\n"),
        (
            "simulator.toml",
            "[providers.sim]\nkind = \"simulator\"\n[providers.sim.simulator]\nseeds = 1\n",
        ),
        (
            "simulated_rate.toml",
            "[providers.sim]\nkind = \"simulator\"\n[[providers.sim.simulator.models]]\nname = \"m\"\n\
             [[providers.sim.simulator.models.faults]]\nfault = \"reset\"\nwhen = { rate = 2.0 }\n",
        ),
    ];
    for (file, contents) in files {
        std::fs::write(dir.path().join(file), contents).unwrap();
        for command in [
            &["route", "hi"][..],
            &["chat", "hi"],
            &["serve"],
            &["models", "list"],
        ] {
            let mut args = command.to_vec();
            args.extend(["--config", file]);
            let output = orkestra(dir.path(), &args);
            let stderr = text(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
            let line = stderr.trim_end();
            // A syntax error names no key; everything else names one.
            let located = if file == "syntax.toml" {
                line.starts_with("error: syntax.toml:1:8: ")
            } else {
                is_located(line, file)
            };
            assert!(located, "{args:?}: {stderr}");
            assert!(!line.contains('\n'), "one line: {stderr}");
        }
    }
    let output = orkestra(dir.path(), &["route", "hi", "--config", "simulator.toml"]);
    assert_eq!(
        text(&output.stderr),
        "error: simulator.toml:4:1: providers.sim.simulator.seeds: unknown key `seeds` \
         (did you mean `seed`?); expected one of `seed`, `models`, `default_model`\n"
    );
    let output = orkestra(
        dir.path(),
        &["route", "hi", "--config", "simulated_rate.toml"],
    );
    assert_eq!(
        text(&output.stderr),
        "error: simulated_rate.toml:7:10: providers.sim.simulator.models[0].faults[0].when.rate: \
         2 is not a probability (expected 0 to 1)\n"
    );

    // `orkestra mock` reads the simulator's own files in the same format.
    std::fs::write(
        dir.path().join("mock.toml"),
        "[[models]]\nname = \"a\"\nttft = { fixed = \"5 parsecs\" }\n",
    )
    .unwrap();
    let output = orkestra(dir.path(), &["mock", "--config", "mock.toml"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(is_located(stderr.trim_end(), "mock.toml"), "{stderr}");
    assert!(
        stderr.contains("models[0].ttft.fixed: expected a duration"),
        "{stderr}"
    );
    std::fs::write(dir.path().join("mock.json"), r#"{"seed": "x"}"#).unwrap();
    let output = orkestra(dir.path(), &["mock", "--config", "mock.json"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(is_located(stderr.trim_end(), "mock.json"), "{stderr}");
    let output = orkestra(dir.path(), &["mock", "--config", "absent.toml"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: absent.toml: cannot read the file: "),
        "{stderr}"
    );
    assert_eq!(stderr.matches("os error").count(), 1, "{stderr}");
}

#[test]
fn an_empty_prompt_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["route", ""][..],
        &["route", "   "],
        &["chat", ""],
        &["chat", "--model", "echo/echo", " \n"],
    ] {
        let output = orkestra(dir.path(), args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("the prompt is empty"), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn init_into_a_missing_folder_says_why_once() {
    let dir = tempfile::tempdir().unwrap();
    let output = orkestra(
        dir.path(),
        &["init", "--output", "no/such/folder/orkestra.toml"],
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: cannot write no/such/folder/orkestra.toml: "),
        "{stderr}"
    );
    assert_eq!(stderr.matches("os error").count(), 1, "{stderr}");
}

#[test]
fn a_local_orkestra_toml_is_read_without_config() {
    let dir = echo_only();
    let output = orkestra(dir.path(), &["models", "list"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(stdout.contains("echo/only"), "{stdout}");
    assert!(!stdout.contains("sim/"), "{stdout}");
}

#[test]
fn init_then_init_again_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = orkestra(dir.path(), &["init"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let second = orkestra(dir.path(), &["init"]);
    assert_eq!(second.status.code(), Some(2));
    assert!(text(&second.stderr).contains("--force"));
    // The written file is a valid configuration.
    let listed = orkestra(dir.path(), &["models", "list"]);
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed.stderr));
    assert!(text(&listed.stdout).contains("echo/echo"));
}

#[test]
fn models_export_then_import_keeps_every_model() {
    let dir = tempfile::tempdir().unwrap();
    let export = orkestra(dir.path(), &["models", "export", "--output", "models.toml"]);
    assert_eq!(export.status.code(), Some(0), "{}", text(&export.stderr));
    let import = orkestra(
        dir.path(),
        &["models", "import", "models.toml", "--output", "models.json"],
    );
    let stderr = text(&import.stderr);
    assert_eq!(import.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("models.toml: 4 models, valid"), "{stderr}");
    let json = std::fs::read_to_string(dir.path().join("models.json")).unwrap();
    assert!(json.contains("\"sim/large\""), "{json}");
}

#[test]
fn models_import_converts_litellm_prices() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("prices.json"),
        r#"{
          "sample_spec": {"mode": "chat"},
          "gpt-4o-mini": {"litellm_provider": "openai", "mode": "chat", "max_input_tokens": 128000,
                          "max_output_tokens": 16384, "input_cost_per_token": 1.5e-7,
                          "output_cost_per_token": 6e-7},
          "text-embedding-3-small": {"litellm_provider": "openai", "mode": "embedding",
                                     "max_input_tokens": 8191, "input_cost_per_token": 2e-8},
          "mystery": {"litellm_provider": "openai", "mode": "chat"}
        }"#,
    )
    .unwrap();
    let output = orkestra(
        dir.path(),
        &["models", "import", "--litellm", "prices.json"],
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("imported 1 chat models, skipped 2 entries"),
        "{stderr}"
    );
    assert!(stderr.contains("1 `embedding` entries"), "{stderr}");
    assert!(stderr.contains("skipped mystery: "), "{stderr}");
    assert!(text(&output.stdout).contains("id = \"openai/gpt-4o-mini\""));
}

#[test]
fn help_lists_every_command_and_the_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let output = orkestra(dir.path(), &["--help"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0));
    for command in [
        "serve",
        "route",
        "chat",
        "models",
        "mock",
        "init",
        "Exit codes:",
    ] {
        assert!(
            stdout.contains(command),
            "{command} missing from:\n{stdout}"
        );
    }
}
