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

/// The whole message, `FILE:LINE:COLUMN: KEY: what was expected`.
#[track_caller]
fn check_message(text: &str, expected: &str) {
    let error = Config::from_toml_str(text, "orkestra.toml")
        .expect_err("the configuration should be refused");
    assert_eq!(error.to_string(), expected);
}

#[test]
fn unknown_keys_name_the_line_and_the_key() {
    check_message(
        "[server]\nlisten = \"127.0.0.1:1\"\nlisen = \"x\"\n",
        "orkestra.toml:3:1: server.lisen: unknown key `lisen` (did you mean `listen`?); expected one of \
         `listen`, `body_limit`, `shutdown_grace`, `header_read_timeout`, `body_read_timeout`, \
         `idle_timeout`, `max_connections`, `workers`",
    );
}

#[cfg(feature = "providers")]
#[test]
fn a_key_the_kinds_client_does_not_have_is_refused_naming_file_line_and_key() {
    // A secret in the file, where a key variable was meant.
    check_error(
        &format!("{PROVIDER}api_key = \"sk-secret\"\n"),
        &[
            "orkestra.toml:4:1: providers.local.api_key: not a key of kind `openai`",
            "`api_key_env`",
        ],
    );
    // A key of another kind's client, which used to be dropped without a word.
    check_error(
        "[providers.local]\nkind = \"ollama\"\nbase_url = \"http://127.0.0.1:9\"\norganization = \"org-1\"\n",
        &["orkestra.toml:4:1: providers.local.organization: not a key of kind `ollama`"],
    );
    check_error(
        "[providers.claude]\nkind = \"anthropic\"\nstream_usage = false\n",
        &["orkestra.toml:3:1: providers.claude.stream_usage: not a key of kind `anthropic`"],
    );
    check_error(
        "[providers.echo]\nkind = \"echo\"\nbase_url = \"http://127.0.0.1:9\"\n",
        &["orkestra.toml:3:1: providers.echo.base_url: not a key of kind `echo`"],
    );
    check_error(
        &format!("{PROVIDER}[providers.local.simulator]\nseed = 1\n"),
        &["orkestra.toml:4:18: providers.local.simulator: not a key of kind `openai`"],
    );
    check_error(
        &format!("{PROVIDER}name = \"other\"\n"),
        &["providers.local.name: a provider's name is its table's name"],
    );
    // Inside a client's own tables, the key path and the line of the value.
    check_error(
        &format!("{PROVIDER}[providers.local.http]\nconnect_timeout = 5\n"),
        &["orkestra.toml:5:19: providers.local.http.connect_timeout: expected a duration"],
    );
    check_error(
        &format!("{PROVIDER}[providers.local.http]\nconect_timeout = \"5s\"\n"),
        &[
            "orkestra.toml:5:1: providers.local.http.conect_timeout: unknown key `conect_timeout` \
             (did you mean `connect_timeout`?)",
        ],
    );
}

#[cfg(feature = "providers")]
#[test]
fn each_kinds_client_settings_are_reachable_from_the_file() {
    let config = Config::from_toml_str(
        "[providers.openai]\nkind = \"openai\"\norganization = \"org-42\"\nstream_usage = false\n\
         [providers.openai.http]\nconnect_timeout = \"2s\"\nfirst_byte_timeout = \"20s\"\nidle_timeout = \"15s\"\n\
         total_timeout = \"3m\"\npool_idle_timeout = \"30s\"\npool_max_idle_per_host = 64\n\
         [providers.claude]\nkind = \"anthropic\"\nanthropic_version = \"2024-01-01\"\ndefault_max_tokens = 1000\n\
         [providers.ollama]\nkind = \"ollama\"\nbase_url = \"https://ollama.example\"\napi_key_env = \"OLLAMA_KEY\"\n\
         headers = { \"X-Team\" = \"ml\" }\n",
        "orkestra.toml",
    )
    .expect("valid");
    let ClientConfig::Openai(openai) = &config.providers["openai"].client else {
        panic!("an openai client");
    };
    assert_eq!(openai.organization.as_deref(), Some("org-42"));
    assert!(!openai.stream_usage);
    assert_eq!(
        openai.api_key_env.as_deref(),
        Some("OPENAI_API_KEY"),
        "the public API's key"
    );
    assert_eq!(openai.http.connect_timeout, Duration::from_secs(2));
    assert_eq!(openai.http.first_byte_timeout, Duration::from_secs(20));
    assert_eq!(openai.http.idle_timeout, Duration::from_secs(15));
    assert_eq!(openai.http.total_timeout, Duration::from_mins(3));
    assert_eq!(openai.http.pool_idle_timeout, Duration::from_secs(30));
    assert_eq!(openai.http.pool_max_idle_per_host, 64);
    let ClientConfig::Anthropic(claude) = &config.providers["claude"].client else {
        panic!("an anthropic client");
    };
    assert_eq!(claude.anthropic_version, "2024-01-01");
    assert_eq!(claude.default_max_tokens, 1000);
    let ClientConfig::Ollama(ollama) = &config.providers["ollama"].client else {
        panic!("an ollama client");
    };
    assert_eq!(ollama.api_key_env.as_deref(), Some("OLLAMA_KEY"));
    assert_eq!(ollama.headers["X-Team"], "ml");
    let again = Config::from_toml_str(&config.to_toml().expect("serializes"), "again")
        .expect("what we write, we read");
    assert_eq!(again, config);
    // A provider made in code starts from its client's documented defaults.
    let made = ProviderConfig::new(ProviderKind::Ollama);
    assert_eq!(made.kind(), ProviderKind::Ollama);
    assert_eq!(made.base_url(), Some("http://127.0.0.1:11434"));
}

#[test]
fn wrong_types_name_the_key_and_say_what_to_write() {
    check_message(
        "[server]\nlisten = 8080\n",
        "orkestra.toml:2:10: server.listen: expected an address such as 127.0.0.1:8080, got the number 8080",
    );
    check_message(
        "[routing]\nmax_models = \"four\"\n",
        "orkestra.toml:2:14: routing.max_models: expected a whole number, 0 or more, got the string \"four\"",
    );
    check_message(
        "[server]\nshutdown_grace = \"5 parsecs\"\n",
        "orkestra.toml:2:18: server.shutdown_grace: expected a duration such as \"250ms\", \"30s\" or \"5m\", got the string \"5 parsecs\"",
    );
    check_error(
        "[routing]\nstrategy = \"cheapest\"\n",
        &["orkestra.toml:2:12: routing.strategy: ", "cheapest"],
    );
    check_message(
        "[providers.x]\nkind = \"openia\"\n",
        "orkestra.toml:2:8: providers.x.kind: unknown value `openia` (did you mean `openai`?); \
         expected one of `openai`, `anthropic`, `ollama`, `echo`, `simulator`",
    );
}

#[test]
fn a_missing_key_names_its_table() {
    check_message(
        "[providers.x]\nbase_url = \"http://127.0.0.1:1/v1\"\n",
        "orkestra.toml:1:1: providers.x: the key `kind` is required",
    );
}

#[test]
fn a_syntax_error_is_placed() {
    check_message(
        "[server\n",
        "orkestra.toml:1:8: unclosed table, expected `]`",
    );
}

#[test]
fn values_out_of_range_name_the_key_and_its_line() {
    check_message(
        &format!("{PROVIDER}[providers.local.resilience.retry]\nmax_attempts = 0\n"),
        "orkestra.toml:5:1: providers.local.resilience.retry.max_attempts: expected at least 1 \
         (the first call counts; 1 means no retry), got 0",
    );
    check_message(
        "[routing]\nmax_models = 0\n",
        "orkestra.toml:2:1: routing.max_models: expected at least 1",
    );
    check_error(
        "[providers.local]\nkind = \"openai\"\nbase_url = \"127.0.0.1:9\"\n",
        &["orkestra.toml:3:1: providers.local.base_url: ", "http://"],
    );
    // A key in an array of tables is found in its own block.
    check_error(
        &format!(
            "{PROVIDER}[[models.list]]\nid = \"local/a\"\ncontext_window = 8192\nmax_output_tokens = 1024\n\
             [[models.list]]\nid = \"local/b\"\ncontext_window = 0\nmax_output_tokens = 1024\n"
        ),
        &["orkestra.toml:10:1: models.list[1].context_window: "],
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
fn a_file_that_cannot_be_read_is_named_and_its_reason_given_once() {
    let error = Config::load("/nonexistent/orkestra.toml").expect_err("missing file");
    assert_eq!(
        error.to_string(),
        "/nonexistent/orkestra.toml: cannot read the file"
    );
    // The reason is the error's source, so a report that prints the chain says it once.
    let reason = std::error::Error::source(&error).expect("the OS error");
    assert!(reason.to_string().contains("No such file"), "{reason}");
}

#[test]
fn server_timeouts_must_be_longer_than_zero_and_the_cap_at_least_one() {
    check_error(
        "[server]\nheader_read_timeout = \"0s\"\n",
        &["server.header_read_timeout", "longer than zero"],
    );
    check_error(
        "[server]\nidle_timeout = \"0ms\"\n",
        &["server.idle_timeout", "longer than zero"],
    );
    check_error(
        "[server]\nmax_connections = 0\n",
        &["server.max_connections", "at least 1"],
    );
    let config = Config::from_toml_str(
        "[server]\nbody_read_timeout = \"1m\"\nmax_connections = 10\n",
        "orkestra.toml",
    )
    .expect("valid");
    assert_eq!(config.server.body_read_timeout, Duration::from_mins(1));
    assert_eq!(config.server.max_connections, 10);
}

#[track_caller]
fn check_position(text: &str, key: &str, expected: Option<(usize, usize)>) {
    let found = key_position(text, key).map(|position| (position.line, position.column));
    assert_eq!(found, expected, "{key}");
}

#[test]
fn keys_are_found_where_they_are_written() {
    let check = check_position;
    let text = "[models]\ncatalog = \"none\"\n[models.resilience.\"openai/gpt-4.1\".timeout]\nduration = \"5s\"\n\
                [[models.list]]\nid = \"a/b\"\n[[models.list]]\nid = \"a/c\"\n";
    check(text, "models.catalog", Some((2, 1)));
    check(
        text,
        "models.resilience.\"openai/gpt-4.1\".timeout.duration",
        Some((4, 1)),
    );
    check(text, "models.list[1].id", Some((8, 1)));
    // Only the start is written: the deepest part that is.
    check(text, "models.list[1].context_window", Some((7, 1)));
    check(text, "routing.max_models", None);
    check("not = [toml", "not", None);
}

#[test]
fn the_deadline_and_the_pending_bound_must_be_positive() {
    check_error(
        "[routing]\ndeadline = \"0s\"\n",
        &["orkestra.toml:2:1: routing.deadline: ", "above zero"],
    );
    check_error(
        "[storage]\nmax_pending = 0\n",
        &["orkestra.toml:2:1: storage.max_pending: ", "at least 1"],
    );
    let config = Config::from_toml_str(
        "[routing]\ndeadline = \"30s\"\n[storage]\nmax_pending = 10\n",
        "orkestra.toml",
    )
    .expect("positive values are valid");
    assert_eq!(config.routing.deadline, Duration::from_secs(30));
    assert_eq!(config.storage.max_pending, 10);
}
