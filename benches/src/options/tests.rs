use super::*;

const URL: &str = "http://127.0.0.1:4000/v1/chat/completions";

#[track_caller]
fn check(args: &[&str], expected: &Result<Options, OptionsError>) {
    assert_eq!(
        &Options::parse(args.iter().copied()),
        expected,
        "parsing {args:?}"
    );
}

fn options(change: impl FnOnce(&mut Options)) -> Options {
    let mut options = Options {
        url: URL.to_owned(),
        ..Options::default()
    };
    change(&mut options);
    options
}

#[test]
fn a_url_alone_is_a_one_connection_closed_loop() {
    check(&["--url", URL], &Ok(options(|_| {})));
}

#[test]
fn the_rate_makes_an_open_loop() {
    check(
        &[
            "--url",
            URL,
            "--rate",
            "10000",
            "--connections",
            "32",
            "--seconds",
            "2.5",
            "--warmup",
            "0",
        ],
        &Ok(options(|options| {
            options.mode = Mode::Open { rate: 10_000.0 };
            options.connections = 32;
            options.seconds = Duration::from_millis(2_500);
            options.warmup = Duration::ZERO;
        })),
    );
}

#[test]
fn a_burst_opens_one_connection_per_request() {
    check(
        &[
            "--burst", "50", "--url", URL, "--repeat", "3", "--model", "sim/slow",
        ],
        &Ok(options(|options| {
            options.mode = Mode::Burst { requests: 50 };
            options.connections = 50;
            options.repeat = 3;
            options.model = "sim/slow".to_owned();
        })),
    );
}

#[test]
fn headers_repeat_and_are_trimmed() {
    check(
        &[
            "--url",
            URL,
            "--header",
            "Authorization: Bearer sk-x",
            "--header",
            "x-a:b",
        ],
        &Ok(options(|options| {
            options.headers = vec![
                ("Authorization".to_owned(), "Bearer sk-x".to_owned()),
                ("x-a".to_owned(), "b".to_owned()),
            ];
        })),
    );
}

#[test]
fn mistakes_name_the_flag_and_what_it_takes() {
    check(&["--rate", "5"], &Err(OptionsError::MissingUrl));
    check(&["--url"], &Err(OptionsError::MissingValue("--url")));
    check(
        &["--url", "https://x:1/"],
        &Err(OptionsError::BadValue {
            flag: "--url",
            expected: "an http:// URL",
            value: "https://x:1/".to_owned(),
        }),
    );
    check(
        &["--url", URL, "--connections", "0"],
        &Err(OptionsError::BadValue {
            flag: "--connections",
            expected: "a positive whole number",
            value: "0".to_owned(),
        }),
    );
    check(
        &["--url", URL, "--seconds", "0"],
        &Err(OptionsError::BadValue {
            flag: "--seconds",
            expected: "a positive number of seconds",
            value: "0".to_owned(),
        }),
    );
    check(
        &["--url", URL, "--rate", "-1"],
        &Err(OptionsError::BadValue {
            flag: "--rate",
            expected: "a positive number of requests per second",
            value: "-1".to_owned(),
        }),
    );
    check(
        &["--url", URL, "--header", "no colon"],
        &Err(OptionsError::BadValue {
            flag: "--header",
            expected: "`NAME: VALUE`",
            value: "no colon".to_owned(),
        }),
    );
    check(
        &["--url", URL, "--rate", "1", "--burst", "2"],
        &Err(OptionsError::RateAndBurst),
    );
    check(
        &["--url", URL, "--verbose"],
        &Err(OptionsError::Unknown("--verbose".to_owned())),
    );
    check(&["--url", URL, "--help"], &Err(OptionsError::Help));
}
