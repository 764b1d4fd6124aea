use std::path::Path;

use clap::{CommandFactory as _, Parser as _};
use orkestra::Config;
use orkestra::config::ProviderKind;
use orkestra::models::Catalog;

use crate::cli::{CatalogFormat, Cli, Command, StrategyArg};
use crate::failure::Failure;
use crate::setup::{self, Source};

#[track_caller]
fn parse(args: &[&str]) -> Command {
    let mut command_line = vec!["orkestra"];
    command_line.extend_from_slice(args);
    Cli::try_parse_from(command_line)
        .unwrap_or_else(|error| panic!("{args:?} did not parse: {error}"))
        .command
}

#[test]
fn command_line_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn route_takes_a_prompt_and_a_strategy() {
    let Command::Route(args) = parse(&["route", "write a python function", "--strategy", "cost"])
    else {
        panic!("not a route command");
    };
    assert_eq!(args.prompt, "write a python function");
    assert_eq!(args.strategy, Some(StrategyArg::Cost));
    assert!(!args.json);
}

#[test]
fn chat_asks_for_auto_unless_told() {
    let Command::Chat(args) = parse(&["chat", "hi"]) else {
        panic!("not a chat command");
    };
    assert_eq!(args.model, "auto");
    let Command::Chat(args) = parse(&["chat", "--model", "echo/echo", "--stream", "hi"]) else {
        panic!("not a chat command");
    };
    assert_eq!((args.model.as_str(), args.stream), ("echo/echo", true));
}

#[test]
fn serve_listen_must_be_an_address() {
    let error = Cli::try_parse_from(["orkestra", "serve", "--listen", "8080"]).unwrap_err();
    // clap's usage errors exit with 2, the code documented for usage errors.
    assert_eq!(error.exit_code(), 2);
}

#[test]
fn unknown_strategy_is_a_usage_error() {
    let error =
        Cli::try_parse_from(["orkestra", "route", "x", "--strategy", "cheapest"]).unwrap_err();
    assert_eq!(error.exit_code(), 2);
}

#[test]
fn help_documents_the_exit_codes() {
    let help = Cli::command().render_long_help().to_string();
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(help.contains("2  usage or configuration error"), "{help}");
}

#[test]
fn demo_config_parses_and_its_simulated_models_are_simulated() {
    let config = Config::from_toml_str(setup::DEMO, "demo.toml").unwrap();
    let sim = &config.providers["sim"];
    assert_eq!(sim.kind(), ProviderKind::Simulator);
    let mock = setup::simulator_config("sim", sim, &Source::Demo).unwrap();
    // Every model the demo lists under `sim` must exist in the simulator, or it would 404.
    let listed: Vec<&str> = config
        .models
        .list
        .iter()
        .filter(|spec| spec.endpoint() == "sim")
        .map(|spec| spec.id.model())
        .collect();
    let simulated: Vec<&str> = mock
        .models
        .iter()
        .map(|model| model.name.as_str())
        .collect();
    assert_eq!(listed, ["small", "medium", "large"]);
    assert_eq!(simulated, listed);
    assert!(
        config
            .models
            .list
            .iter()
            .any(|spec| spec.id.as_str() == "echo/echo")
    );
}

#[test]
fn demo_config_builds_an_orchestrator_without_network() {
    let mut config = Config::from_toml_str(setup::DEMO, "demo.toml").unwrap();
    setup::without_simulators(&mut config, &Source::Demo).unwrap();
    let orchestrator = setup::orchestrator_without_store(&config, &Source::Demo).unwrap();
    assert_eq!(orchestrator.registry().snapshot().len(), 4);
}

#[test]
fn init_config_parses_and_builds() {
    let config = Config::from_toml_str(crate::init::EXAMPLE, "init.toml").unwrap();
    assert_eq!(config, {
        // The example writes the defaults out; only its own provider and model differ.
        let defaults = Config::default();
        Config {
            providers: config.providers.clone(),
            resilience: config.resilience.clone(),
            models: orkestra::config::ModelsConfig {
                list: config.models.list.clone(),
                ..defaults.models
            },
            ..defaults
        }
    });
    assert_eq!(
        config.resilience,
        orkestra::resilience::PipelineConfig::recommended(),
        "the example's resilience sections must show the recommended defaults"
    );
    setup::orchestrator_without_store(&config, &Source::Demo).unwrap();
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orkestra.toml");
    std::fs::write(&path, "# mine\n").unwrap();
    let failure = crate::init::write(&path, false).unwrap_err();
    assert_eq!(failure.code, Failure::USAGE);
    assert!(failure.to_string().contains("--force"), "{failure}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");

    crate::init::write(&path, true).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        crate::init::EXAMPLE
    );
}

#[test]
fn init_writes_a_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.toml");
    crate::init::write(&path, false).unwrap();
    Config::load(&path).unwrap();
}

#[test]
fn models_export_round_trips_in_both_formats() {
    let mut config = Config::from_toml_str(setup::DEMO, "demo.toml").unwrap();
    setup::without_simulators(&mut config, &Source::Demo).unwrap();
    let orchestrator = setup::orchestrator_without_store(&config, &Source::Demo).unwrap();
    let catalog = Catalog::from_registry(&orchestrator.registry().snapshot());
    assert_eq!(catalog.models.len(), 4);
    let json = crate::models::render(&catalog, CatalogFormat::Json).unwrap();
    assert_eq!(Catalog::from_json(&json).unwrap(), catalog);
    let toml = crate::models::render(&catalog, CatalogFormat::Toml).unwrap();
    assert_eq!(Catalog::from_toml(&toml).unwrap(), catalog);
}

#[test]
fn models_table_has_one_row_per_model() {
    let catalog = Catalog::from_toml(
        "[[models]]\nid = \"sim/small\"\ncontext_window = 16384\nmax_output_tokens = 4096\ninput_usd_per_mtok = 0.1\n",
    )
    .unwrap();
    let table = crate::models::table(&catalog);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(lines[1].starts_with("sim/small"), "{table}");
    assert!(
        lines[1].contains("16384") && lines[1].contains("0.10"),
        "{table}"
    );
}

#[test]
fn an_invalid_simulator_table_names_the_provider() {
    let text = "[providers.sim]\nkind = \"simulator\"\n[providers.sim.simulator]\nseeds = 1\n";
    let config = Config::from_toml_str(text, "bad.toml").unwrap();
    let failure = setup::simulator_config(
        "sim",
        &config.providers["sim"],
        &Source::File {
            path: "bad.toml".into(),
            text: text.to_owned(),
        },
    )
    .unwrap_err();
    assert_eq!(failure.code, Failure::USAGE);
    let message = failure.to_string();
    assert!(
        message.starts_with("bad.toml:4:1: providers.sim.simulator.seeds: unknown key `seeds`"),
        "{message}"
    );
}

#[test]
fn a_missing_config_file_is_a_usage_error() {
    let failure = setup::load(Some(Path::new("/nonexistent/orkestra.toml"))).unwrap_err();
    assert_eq!(failure.code, Failure::USAGE);
}

#[test]
fn storage_passwords_are_not_printed() {
    #[track_caller]
    fn check(url: &str, expected: &str) {
        assert_eq!(setup::redact_url(url), expected);
    }
    check(
        "postgres://app:s3cret@db.internal:5432/orkestra",
        "postgres://app:*****@db.internal:5432/orkestra",
    );
    check("postgres://app@db/orkestra", "postgres://app@db/orkestra");
    check(
        "sqlite://orkestra.db?mode=rwc",
        "sqlite://orkestra.db?mode=rwc",
    );
    check("sqlite::memory:", "sqlite::memory:");
}

#[test]
fn every_example_in_the_configuration_guide_parses() {
    let guide = include_str!("../../../docs/configuration.md");
    let examples: Vec<&str> = guide
        .split("```toml\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .collect();
    assert!(examples.len() >= 10, "found {} examples", examples.len());
    for (index, example) in examples.iter().enumerate() {
        if let Err(error) = Config::from_toml_str(example, "configuration.md") {
            panic!("example {index} of docs/configuration.md: {error}\n{example}");
        }
    }
}
