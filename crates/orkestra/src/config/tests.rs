use super::*;

#[track_caller]
fn check_error(text: &str, expected: &[&str]) {
    let error = Config::from_toml_str(text, "orkestra.toml")
        .expect_err("the configuration should be refused")
        .to_string();
    for part in expected {
        assert!(error.contains(part), "`{error}` should contain `{part}`");
    }
}

const PROVIDER: &str =
    "[providers.local]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n";

#[test]
fn an_empty_file_is_every_default() {
    let config = Config::from_toml_str("", "orkestra.toml").expect("empty is valid");
    assert_eq!(config, Config::default());
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.server.body_limit, 2 * 1024 * 1024);
    assert_eq!(config.routing.max_models, 4);
    assert_eq!(config.models.catalog, "builtin");
}

#[test]
fn unknown_keys_name_the_line_and_the_key() {
    check_error(
        "[server]\nlisten = \"127.0.0.1:1\"\nlisen = \"x\"\n",
        &["orkestra.toml: line 3", "unknown field `lisen`", "listen"],
    );
    check_error(
        &format!("{PROVIDER}api_key = \"sk-secret\"\n"),
        &["line 4", "unknown field `api_key`", "api_key_env"],
    );
}

#[test]
fn wrong_types_say_what_was_expected() {
    check_error("[server]\nlisten = 8080\n", &["line 2", "socket address"]);
    check_error(
        "[routing]\nstrategy = \"cheapest\"\n",
        &["line 2", "cheapest"],
    );
    check_error(
        "[providers.x]\nkind = \"grpc\"\n",
        &["line 2", "unknown variant `grpc`", "openai"],
    );
}

#[test]
fn values_out_of_range_name_the_key_and_its_line() {
    check_error(
        &format!("{PROVIDER}[providers.local.resilience.retry]\nmax_attempts = 0\n"),
        &[
            "line 5",
            "providers.local.resilience.retry.max_attempts",
            "at least 1",
        ],
    );
    check_error(
        "[routing]\nmax_models = 0\n",
        &["line 2", "routing.max_models"],
    );
    check_error(
        "[providers.local]\nkind = \"openai\"\nbase_url = \"127.0.0.1:9\"\n",
        &["line 3", "providers.local.base_url", "http://"],
    );
}

#[test]
fn a_model_must_be_served_by_a_configured_provider() {
    check_error(
        "[[models.list]]\nid = \"nowhere/m\"\ncontext_window = 8192\nmax_output_tokens = 1024\n",
        &["models.list[0]", "`nowhere`", "[providers.nowhere]"],
    );
    let config = Config::from_toml_str(
        &format!("{PROVIDER}[[models.list]]\nid = \"local/m\"\ncontext_window = 8192\nmax_output_tokens = 1024\n"),
        "orkestra.toml",
    )
    .expect("a served model is valid");
    assert_eq!(config.models.list[0].id.as_str(), "local/m");
}

#[test]
fn model_specs_are_validated_by_field() {
    check_error(
        &format!(
            "{PROVIDER}[[models.list]]\nid = \"local/m\"\ncontext_window = 0\nmax_output_tokens = 1024\n"
        ),
        &["models.list[0].context_window"],
    );
}

#[test]
fn the_configuration_round_trips_through_toml() {
    let text = format!(
        "{PROVIDER}api_key_env = \"LOCAL_KEY\"\n[providers.local.resilience.timeout]\nduration = \"5s\"\n\
         [routing]\nstrategy = \"cost\"\nmax_models = 2\n[models]\ncatalog = \"none\"\n\
         fallbacks = {{ \"local/a\" = [\"local/b\"] }}\n"
    );
    let config = Config::from_toml_str(&text, "orkestra.toml").expect("valid");
    let again = Config::from_toml_str(&config.to_toml().expect("serializes"), "again")
        .expect("what we write, we read");
    assert_eq!(again, config);
    assert_eq!(again.routing.strategy, Strategy::Cost);
    assert_eq!(
        again.providers["local"]
            .resilience
            .timeout
            .as_ref()
            .map(|t| t.duration),
        Some(Duration::from_secs(5))
    );
}

#[test]
fn a_file_that_cannot_be_read_is_named() {
    let error = Config::load("/nonexistent/orkestra.toml").expect_err("missing file");
    assert!(
        error.to_string().contains("/nonexistent/orkestra.toml"),
        "{error}"
    );
}

#[test]
fn the_deadline_and_the_pending_bound_must_be_positive() {
    check_error(
        "[routing]\ndeadline = \"0s\"\n",
        &["line 2", "routing.deadline", "above zero"],
    );
    check_error(
        "[storage]\nmax_pending = 0\n",
        &["line 2", "storage.max_pending", "at least 1"],
    );
    let config = Config::from_toml_str(
        "[routing]\ndeadline = \"30s\"\n[storage]\nmax_pending = 10\n",
        "orkestra.toml",
    )
    .expect("positive values are valid");
    assert_eq!(config.routing.deadline, Duration::from_secs(30));
    assert_eq!(config.storage.max_pending, 10);
}
