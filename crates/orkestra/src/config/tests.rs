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
        &["orkestra.toml:5:19: providers.local.http.connect_timeout: "],
    );
    check_error(
        &format!("{PROVIDER}[providers.local.http]\nconect_timeout = \"5s\"\n"),
        &[
            "orkestra.toml:5:1: providers.local.http.conect_timeout: unknown field `conect_timeout`",
            "connect_timeout",
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
