use axum::http::HeaderMap;

use super::{REQUEST_ID, parse_chat, request_id};

#[track_caller]
fn check(body: &str, code: &str, message_has: &[&str], param: Option<&str>) {
    let error = parse_chat(body.as_bytes()).expect_err("the body must be refused");
    assert_eq!(error.status.as_u16(), 400);
    assert_eq!(error.code.as_deref(), Some(code));
    for part in message_has {
        assert!(
            error.message.contains(part),
            "`{}` does not mention `{part}`",
            error.message
        );
    }
    assert_eq!(error.param.as_deref(), param);
}

#[test]
fn syntax_errors_name_line_and_column() {
    check(
        "{\"model\": \"auto\",\n \"messages\": [}",
        "invalid_json",
        &["not valid JSON", "line 2, column 15", "expected value"],
        Some("messages[0]"),
    );
}

#[test]
fn a_missing_field_is_named_as_the_param() {
    check(
        r#"{"model": "auto"}"#,
        "invalid_json",
        &["the field `messages` is required", "line 1, column 17"],
        Some("messages"),
    );
}

#[test]
fn a_wrong_value_is_located_by_its_json_path() {
    check(
        r#"{"model": "auto", "messages": [{"role": "user", "content": "hi"}, {"role": "robot", "content": "x"}]}"#,
        "invalid_json",
        &["messages[1].role", "robot"],
        Some("messages[1].role"),
    );
    check(
        r#"{"model": "auto", "messages": "hello"}"#,
        "invalid_json",
        &["messages", "expected a list, got the string \"hello\""],
        Some("messages"),
    );
}

#[test]
fn empty_messages_are_refused() {
    check(
        r#"{"model": "auto", "messages": []}"#,
        "invalid_value",
        &["`messages` must be a list of at least one message"],
        Some("messages"),
    );
}

#[test]
fn a_client_request_id_is_kept_and_a_missing_one_is_made() {
    let mut headers = HeaderMap::new();
    headers.insert(REQUEST_ID, "abc-123".parse().expect("a header value"));
    assert_eq!(request_id(&headers), "abc-123");
    let first = request_id(&HeaderMap::new());
    let second = request_id(&HeaderMap::new());
    assert_ne!(first, second);
    assert!(first.to_str().expect("ascii").starts_with("req-"));
}

#[test]
fn a_value_of_the_wrong_type_is_not_called_invalid_json() {
    check(
        "{\"model\": \"auto\",\n \"messages\": [{\"role\": 7}]}",
        "invalid_json",
        &[
            "not a chat completions request",
            "messages[0].role",
            "line 2, column",
        ],
        Some("messages[0].role"),
    );
}

#[test]
fn a_parameter_out_of_its_range_is_named() {
    check(
        r#"{"model": "auto", "messages": [{"role": "user", "content": "hi"}], "temperature": 100}"#,
        "invalid_value",
        &["`temperature` must be a number from 0 to 2"],
        Some("temperature"),
    );
}

#[test]
fn rust_types_are_not_named_in_the_message() {
    check(
        r#"{"model": "auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": "lots"}"#,
        "invalid_json",
        &[
            "max_tokens",
            "expected a whole number, 0 or more, got the string \"lots\"",
        ],
        Some("max_tokens"),
    );
}
