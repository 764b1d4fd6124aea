use super::*;

#[track_caller]
fn check(toml_text: &str, expected: &MockConfig) {
    let parsed: MockConfig = toml::from_str(toml_text).expect("the example parses");
    assert_eq!(&parsed, expected);
    let json = serde_json::to_string(&parsed).expect("a config serializes");
    let back: MockConfig = serde_json::from_str(&json).expect("its JSON parses");
    assert_eq!(&back, expected);
}

#[test]
fn the_documented_example_parses_and_round_trips() {
    let expected = MockConfig {
        seed: 7,
        models: vec![ModelBehaviour {
            name: "gpt-4o-mini".into(),
            ttft: Latency::Fixed(Duration::from_millis(20)),
            per_token: Latency::LogNormal {
                median: Duration::from_millis(2),
                sigma: 0.5,
            },
            output: Output::Generated { tokens: 200 },
            preface: "[Simulated: filler words follow.] ".into(),
            usage: None,
            faults: vec![
                FaultRule {
                    fault: Fault::RateLimited {
                        retry_after: Some(Duration::from_secs(2)),
                        as_date: false,
                    },
                    when: Trigger::Rate(0.1),
                },
                FaultRule {
                    fault: Fault::Status { code: 503 },
                    when: Trigger::Flapping {
                        down: Duration::from_mins(1),
                        up: Some(Duration::from_mins(1)),
                    },
                },
            ],
        }],
        default_model: None,
    };
    check(
        r#"
        seed = 7

        [[models]]
        name = "gpt-4o-mini"
        ttft = { fixed = "20ms" }
        per_token = { log_normal = { median = "2ms", sigma = 0.5 } }
        output = { generated = { tokens = 200 } }
        preface = "[Simulated: filler words follow.] "

        [[models.faults]]
        fault = { rate_limited = { retry_after = "2s" } }
        when = { rate = 0.1 }

        [[models.faults]]
        fault = { status = { code = 503 } }
        when = { flapping = { down = "60s", up = "60s" } }
        "#,
        &expected,
    );
}

#[test]
fn unknown_keys_are_refused() {
    let error =
        toml::from_str::<MockConfig>("[[models]]\nname = \"m\"\nttf = { fixed = \"1ms\" }\n")
            .expect_err("a misspelt key is an error");
    assert!(error.to_string().contains("ttf"), "{error}");
}

#[test]
fn validation_names_the_file_the_value_and_what_was_expected() {
    let error = MockConfig::from_toml_str(
        "[[models]]\nname = \"m\"\n[[models.faults]]\nfault = \"reset\"\nwhen = { rate = 2.0 }\n",
        "mock.toml",
    )
    .expect_err("a rate above 1");
    assert_eq!(
        error.to_string(),
        "mock.toml: models[0].faults[0].when.rate: 2 is not a probability (expected 0 to 1)"
    );
    let error =
        MockConfig::from_json_str(r#"{"models": [{"name": "m"}, {"name": "m"}]}"#, "mock.json")
            .expect_err("a duplicate");
    assert_eq!(
        error.to_string(),
        "mock.json: models[1].name: model `m` is listed twice"
    );
    // A value checked without a file names its key alone.
    let error = ModelBehaviour {
        ttft: Latency::LogNormal {
            median: Duration::from_millis(5),
            sigma: -1.0,
        },
        ..ModelBehaviour::echo("m")
    }
    .validate()
    .expect_err("a negative sigma");
    assert_eq!(
        error.to_string(),
        "model.ttft.log_normal.sigma: -1 is not a finite, non-negative number"
    );
}

#[track_caller]
fn check_message(error: &ConfigError, expected: &str) {
    assert_eq!(error.to_string(), expected);
}

#[test]
fn parse_errors_are_placed_in_one_format_in_plain_words() {
    let check = check_message;
    check(
        &MockConfig::from_toml_str("seed = \"x\"\n", "mock.toml").expect_err("a string seed"),
        "mock.toml:1:8: seed: expected a whole number, 0 or more, got the string \"x\"",
    );
    check(
        &MockConfig::from_toml_str(
            "[[models]]\nname = \"a\"\nttft = { fixed = \"5 parsecs\" }\n",
            "mock.toml",
        )
        .expect_err("a bad duration"),
        "mock.toml:3:18: models[0].ttft.fixed: expected a duration such as \"250ms\", \"30s\" or \"5m\", \
         got the string \"5 parsecs\"",
    );
    check(
        &MockConfig::from_toml_str("seeds = 1\n", "mock.toml").expect_err("a misspelt key"),
        "mock.toml:1:1: seeds: unknown key `seeds` (did you mean `seed`?); expected one of `seed`, \
         `models`, `default_model`",
    );
    check(
        &MockConfig::from_json_str(r#"{"models": [{"name": "m",}]}"#, "mock.json")
            .expect_err("bad JSON"),
        "mock.json:1:26: models[0]: trailing comma",
    );
    check(
        &MockConfig::from_json_str(r#"{"seed": -1}"#, "mock.json").expect_err("a negative seed"),
        "mock.json:1:11: seed: expected a whole number, 0 or more, got the number -1",
    );
}
