use orkestra_core::{Classify, ErrorCategory};

use super::*;

const KEY: &str = "sk-test-0123456789abcdef";

#[test]
fn debug_display_and_serialize_hide_the_value() {
    let secret = Secret::new(KEY);
    for printed in [
        format!("{secret:?}"),
        format!("{secret}"),
        format!("{secret:#?}"),
        serde_json::to_string(&secret).unwrap(),
    ] {
        assert!(!printed.contains(KEY), "{printed}");
        assert!(printed.contains(REDACTED), "{printed}");
    }
    assert_eq!(secret.expose(), KEY);
}

#[test]
fn from_env_names_the_variable_and_never_a_value() {
    // Variable names unique to this test, so parallel tests never race on them.
    let unset = "ORKESTRA_PROVIDERS_TEST_SECRET_UNSET_91";
    let error = Secret::from_env(unset).unwrap_err();
    assert_eq!(error.class().category, ErrorCategory::Auth);
    assert!(error.message.contains(unset), "{error}");
    assert!(error.message.contains("not set"), "{error}");

    for value in ["", "  "] {
        let error = Secret::from_lookup("MY_KEY", Ok(value.to_owned())).unwrap_err();
        assert_eq!(error.class().category, ErrorCategory::Auth);
        assert!(error.message.contains("MY_KEY is empty"), "{error}");
    }
    let secret = Secret::from_lookup("MY_KEY", Ok(KEY.to_owned())).unwrap();
    assert_eq!(secret.expose(), KEY);
}

#[test]
fn redact_replaces_every_occurrence_of_long_secrets_only() {
    let secret = Secret::new(KEY);
    let message = format!("Incorrect API key provided: {KEY}. You passed {KEY}.");
    let redacted = secret.redact(&message);
    assert!(!redacted.contains(KEY));
    assert_eq!(redacted.matches(REDACTED).count(), 2);

    let short = Secret::new("abc");
    assert_eq!(short.redact("abcdef"), "abcdef");
}
