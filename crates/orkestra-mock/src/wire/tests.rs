use super::*;

#[track_caller]
fn check(format: WireFormat, body: &str, expected: &ChatInput<'_>) {
    let parsed = parse(format, body.as_bytes()).expect("the request parses");
    assert_eq!(&parsed, expected);
}

#[test]
fn each_format_reads_only_what_it_needs() {
    check(
        WireFormat::OpenAi,
        r#"{"model":"m","messages":[{"role":"user","content":"a\"b"},{"role":"tool","content":null,"tool_call_id":"x"}],"stream":true,"stream_options":{"include_usage":true},"max_completion_tokens":9,"tools":[{"type":"function"}]}"#,
        &ChatInput {
            model: "m".into(),
            last_user: "a\"b".into(),
            chars: 3,
            stream: true,
            include_usage: true,
            max_tokens: Some(9),
        },
    );
    check(
        WireFormat::Anthropic,
        r#"{"model":"c","max_tokens":5,"system":[{"type":"text","text":"sys"}],"messages":[{"role":"user","content":[{"type":"image","source":{}},{"type":"text","text":"hi"}]}]}"#,
        &ChatInput {
            model: "c".into(),
            last_user: "hi".into(),
            chars: 5,
            stream: false,
            include_usage: false,
            max_tokens: Some(5),
        },
    );
    check(
        WireFormat::Ollama,
        r#"{"model":"o","messages":[{"role":"user","content":"x","images":[]}],"options":{"num_predict":-1}}"#,
        &ChatInput {
            model: "o".into(),
            last_user: "x".into(),
            chars: 1,
            stream: true,
            include_usage: false,
            max_tokens: None,
        },
    );
}

#[test]
fn unreadable_requests_say_what_was_wrong() {
    let error =
        parse(WireFormat::Anthropic, br#"{"model":"c","messages":[]}"#).expect_err("no max_tokens");
    assert_eq!(
        error,
        ApiError::Invalid("max_tokens: field required".into())
    );
    let ApiError::Invalid(message) =
        parse(WireFormat::OpenAi, br#"{"model":"m","messages":{}}"#).expect_err("not a list")
    else {
        panic!("an invalid request");
    };
    assert!(message.contains("expected a sequence"), "{message}");
}

#[test]
fn rfc3339_formats_known_instants() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
    // 2024-02-29T12:34:56.5Z, a leap day.
    assert_eq!(
        rfc3339(1_709_210_096_500_000_000),
        "2024-02-29T12:34:56.500000000Z"
    );
}
