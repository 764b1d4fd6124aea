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
fn validation_names_the_value_and_what_was_expected() {
    let error = MockConfig::from_toml_str(
        "[[models]]\nname = \"m\"\n[[models.faults]]\nfault = \"reset\"\nwhen = { rate = 2.0 }\n",
        "mock.toml",
    )
    .expect_err("a rate above 1");
    assert_eq!(
        error.to_string(),
        "models[0].faults[0].when.rate: 2 is not a probability (expected 0 to 1)"
    );
    let error =
        MockConfig::from_json_str(r#"{"models": [{"name": "m"}, {"name": "m"}]}"#, "mock.json")
            .expect_err("a duplicate");
    assert_eq!(
        error.to_string(),
        "models[1].name: model `m` is listed twice"
    );
    let error = MockConfig::from_json_str(r#"{"models": [{"name": "m",}]}"#, "mock.json")
        .expect_err("bad JSON");
    assert!(error.to_string().starts_with("mock.json: "), "{error}");
    assert!(error.to_string().contains("line 1 column"), "{error}");
}
