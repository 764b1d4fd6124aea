use super::{Command, UsageError, parse};

#[track_caller]
fn check(args: &[&str], expected: &Result<Command, UsageError>) {
    let parsed = parse(args.iter().map(|arg| (*arg).to_owned()));
    assert_eq!(&parsed, expected, "parsing {args:?}");
}

fn bench(package: Option<&str>, criterion_args: &[&str]) -> Command {
    Command::Bench {
        package: package.map(str::to_owned),
        criterion_args: criterion_args.iter().map(|arg| (*arg).to_owned()).collect(),
    }
}

#[test]
fn ci_stops_at_first_failure_unless_asked_to_keep_going() {
    check(&["ci"], &Ok(Command::Ci { keep_going: false }));
    check(
        &["ci", "--keep-going"],
        &Ok(Command::Ci { keep_going: true }),
    );
}

#[test]
fn help_is_a_command_and_a_flag_of_every_command() {
    check(&["help"], &Ok(Command::Help));
    check(&["--help"], &Ok(Command::Help));
    check(&["-h"], &Ok(Command::Help));
    check(&["ci", "--help"], &Ok(Command::Help));
    check(&["tidy", "-h"], &Ok(Command::Help));
    check(&["bench", "--help"], &Ok(Command::Help));
}

#[test]
fn unknown_flags_are_errors_naming_the_flag() {
    check(
        &["ci", "--keepgoing"],
        &Err(UsageError::UnknownFlag {
            command: "ci",
            flag: "--keepgoing".to_owned(),
        }),
    );
    check(
        &["tidy", "--fix"],
        &Err(UsageError::UnknownFlag {
            command: "tidy",
            flag: "--fix".to_owned(),
        }),
    );
    check(
        &["bench", "--release"],
        &Err(UsageError::UnknownFlag {
            command: "bench",
            flag: "--release".to_owned(),
        }),
    );
    check(
        &["--verbose"],
        &Err(UsageError::UnknownFlag {
            command: "<command>",
            flag: "--verbose".to_owned(),
        }),
    );
}

#[test]
fn unknown_flag_message_names_the_flag_and_the_command() {
    let error = parse(["ci".to_owned(), "--keepgoing".to_owned()]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown flag `--keepgoing` for `cargo xtask ci`"
    );
}

#[test]
fn unknown_or_missing_commands_are_errors() {
    check(&[], &Err(UsageError::NoCommand));
    check(
        &["lint"],
        &Err(UsageError::UnknownCommand("lint".to_owned())),
    );
    check(
        &["ci", "extra"],
        &Err(UsageError::UnexpectedArgument {
            command: "ci",
            argument: "extra".to_owned(),
        }),
    );
    check(
        &["help", "ci"],
        &Err(UsageError::UnexpectedArgument {
            command: "help",
            argument: "ci".to_owned(),
        }),
    );
}

#[test]
fn bench_takes_an_optional_crate_and_passes_everything_after_double_dash() {
    check(&["bench"], &Ok(bench(None, &[])));
    check(
        &["bench", "orkestra-resilience"],
        &Ok(bench(Some("orkestra-resilience"), &[])),
    );
    check(
        &["bench", "--", "--save-baseline", "main"],
        &Ok(bench(None, &["--save-baseline", "main"])),
    );
    // After `--` nothing is interpreted, not even xtask's own flags.
    check(
        &["bench", "orkestra-resilience", "--", "breaker", "--help"],
        &Ok(bench(Some("orkestra-resilience"), &["breaker", "--help"])),
    );
    check(
        &["bench", "a", "b"],
        &Err(UsageError::UnexpectedArgument {
            command: "bench",
            argument: "b".to_owned(),
        }),
    );
}

#[test]
fn load_mock_takes_seconds_and_connections() {
    check(
        &["load-mock"],
        &Ok(Command::LoadMock {
            seconds: 10,
            connections: 64,
        }),
    );
    check(
        &["load-mock", "--connections", "32", "--seconds", "3"],
        &Ok(Command::LoadMock {
            seconds: 3,
            connections: 32,
        }),
    );
    check(
        &["load-mock", "--seconds", "0"],
        &Err(UsageError::BadNumber {
            flag: "--seconds",
            value: Some("0".into()),
        }),
    );
    check(
        &["load-mock", "--connections"],
        &Err(UsageError::BadNumber {
            flag: "--connections",
            value: None,
        }),
    );
}

#[test]
fn load_gateway_takes_seconds_and_can_skip_litellm() {
    check(
        &["load-gateway"],
        &Ok(Command::LoadGateway {
            seconds: 10,
            litellm: true,
            against: None,
        }),
    );
    check(
        &["load-gateway", "--no-litellm", "--seconds", "3"],
        &Ok(Command::LoadGateway {
            seconds: 3,
            litellm: false,
            against: None,
        }),
    );
    check(
        &["load-gateway", "--against", "target/previous/orkestra"],
        &Ok(Command::LoadGateway {
            seconds: 10,
            litellm: true,
            against: Some("target/previous/orkestra".into()),
        }),
    );
    check(
        &["load-gateway", "--against", "--no-litellm"],
        &Err(UsageError::MissingValue {
            flag: "--against",
            value: Some("--no-litellm".into()),
        }),
    );
    check(
        &["load-gateway", "--seconds", "-1"],
        &Err(UsageError::BadNumber {
            flag: "--seconds",
            value: Some("-1".into()),
        }),
    );
    check(
        &["load-gateway", "--connections", "8"],
        &Err(UsageError::UnknownFlag {
            command: "load-gateway",
            flag: "--connections".to_owned(),
        }),
    );
    check(&["load-gateway", "--help"], &Ok(Command::Help));
}
