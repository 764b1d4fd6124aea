use std::time::{Duration, SystemTime};

use orkestra_core::{Classify, ErrorCategory as C, Resource, UpstreamDetails};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::*;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

/// Classifies `status` + `body` and checks the category, retryability and a message fragment.
#[track_caller]
fn check(status: u16, body: &str, category: C, retryable: bool, message: &str) {
    let error = from_status(status, &HeaderMap::new(), body.as_bytes());
    let class = error.class();
    assert_eq!(class.category, category, "{status} {body}: {error}");
    assert_eq!(class.retryable, retryable, "{status} {body}: {error}");
    assert_eq!(error.status, Some(status));
    assert!(
        error.message.contains(message),
        "{status} {body}: message {:?} lacks {message:?}",
        error.message
    );
}

#[test]
fn every_status_without_a_body_maps_by_the_table() {
    let quota = C::ResourceExhausted(Resource::Quota);
    for (status, category, retryable) in [
        (400, C::InvalidRequest, false),
        (401, C::Auth, false),
        (402, quota, false),
        (403, C::Auth, false),
        (404, C::NotFound, false),
        (408, C::Timeout, true),
        (409, C::Internal, true),
        (413, C::InvalidRequest, false),
        (422, C::InvalidRequest, false),
        (429, C::RateLimited, true),
        (500, C::Internal, true),
        (502, C::Internal, true),
        (503, C::Overloaded, true),
        (504, C::Timeout, true),
        (529, C::Overloaded, true),
        (418, C::InvalidRequest, false),
        (599, C::Internal, true),
    ] {
        check(status, "", category, retryable, "empty error body");
    }
}

const OPENAI_CONTEXT: &str = r#"{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
const OPENAI_RATE: &str = r#"{"error":{"message":"Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Used 30000.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}"#;
const OPENAI_QUOTA: &str = r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
const OPENAI_FILTER: &str = r#"{"error":{"message":"Your request was rejected as a result of our safety system.","type":"invalid_request_error","param":null,"code":"content_policy_violation"}}"#;
const AZURE_FILTER: &str = r#"{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400}}"#;
const OPENAI_KEY: &str = r#"{"error":{"message":"Incorrect API key provided: sk-abc***xyz.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
const OPENAI_MODEL: &str = r#"{"error":{"message":"The model `gpt-9` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#;
const ANTHROPIC_CONTEXT: &str = r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#;
const ANTHROPIC_OVERLOADED: &str =
    r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
const ANTHROPIC_RATE: &str = r#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#;
const ANTHROPIC_AUTH: &str =
    r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#;
const ANTHROPIC_CREDIT: &str = r#"{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API."}}"#;
const OLLAMA_CONTEXT: &str = r#"{"error":"the input length exceeds the context length"}"#;
const OLLAMA_MODEL: &str = r#"{"error":"model \"llama9\" not found, try pulling it first"}"#;
const VLLM_CONTEXT: &str = r#"{"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4000 in the messages, 1000 in the completion).","type":"BadRequestError","param":null,"code":400}"#;
const LLAMA_CPP_CONTEXT: &str = r#"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error","n_prompt_tokens":5000,"n_ctx":4096}}"#;
const WINDOW_CONTEXT: &str =
    r#"{"error":{"message":"Input exceeds the context window of this model","code":null}}"#;

/// Status, body, expected category, retryable, and a fragment of the message.
const BODY_CASES: &[(u16, &str, C, bool, &str)] = &[
    (
        400,
        OPENAI_CONTEXT,
        C::ContextLength,
        false,
        "This model's maximum context length",
    ),
    (429, OPENAI_RATE, C::RateLimited, true, "Rate limit reached"),
    // OpenAI sends quota exhaustion as a 429; retrying cannot help.
    (
        429,
        OPENAI_QUOTA,
        QUOTA,
        false,
        "exceeded your current quota",
    ),
    (
        400,
        OPENAI_FILTER,
        C::ContentFilter,
        false,
        "rejected as a result of our safety system",
    ),
    (
        400,
        AZURE_FILTER,
        C::ContentFilter,
        false,
        "content management policy",
    ),
    (
        401,
        OPENAI_KEY,
        C::Auth,
        false,
        "Incorrect API key provided",
    ),
    (404, OPENAI_MODEL, C::NotFound, false, "does not exist"),
    (
        400,
        ANTHROPIC_CONTEXT,
        C::ContextLength,
        false,
        "prompt is too long",
    ),
    (529, ANTHROPIC_OVERLOADED, C::Overloaded, true, "Overloaded"),
    (
        429,
        ANTHROPIC_RATE,
        C::RateLimited,
        true,
        "per-minute rate limit",
    ),
    (401, ANTHROPIC_AUTH, C::Auth, false, "invalid x-api-key"),
    (400, ANTHROPIC_CREDIT, QUOTA, false, "credit balance"),
    (
        400,
        OLLAMA_CONTEXT,
        C::ContextLength,
        false,
        "context length",
    ),
    (
        500,
        OLLAMA_CONTEXT,
        C::ContextLength,
        false,
        "context length",
    ),
    (404, OLLAMA_MODEL, C::NotFound, false, "try pulling it"),
    (
        400,
        VLLM_CONTEXT,
        C::ContextLength,
        false,
        "maximum context length",
    ),
    (
        400,
        LLAMA_CPP_CONTEXT,
        C::ContextLength,
        false,
        "available context size",
    ),
    (
        400,
        WINDOW_CONTEXT,
        C::ContextLength,
        false,
        "context window",
    ),
    (
        422,
        r#"{"detail":"field required"}"#,
        C::InvalidRequest,
        false,
        "field required",
    ),
    (
        502,
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
        C::Internal,
        true,
        "non-JSON error body (no content type): <html><body><h1>502 Bad Gateway",
    ),
    (503, "\u{0}\u{1}garbage", C::Overloaded, true, "non-JSON"),
    (
        500,
        r#"{"unexpected":true}"#,
        C::Internal,
        true,
        r#"{"unexpected":true}"#,
    ),
];

const QUOTA: C = C::ResourceExhausted(Resource::Quota);

#[test]
fn error_bodies_in_every_shape_are_recognised() {
    for &(status, body, category, retryable, message) in BODY_CASES {
        check(status, body, category, retryable, message);
    }
}

#[test]
fn error_body_fields_are_read_from_each_shape() {
    let openai = ErrorBody::parse(OPENAI_CONTEXT.as_bytes()).unwrap();
    assert_eq!(openai.code.as_deref(), Some("context_length_exceeded"));
    assert_eq!(openai.kind.as_deref(), Some("invalid_request_error"));
    assert_eq!(openai.param.as_deref(), Some("messages"));
    let anthropic = ErrorBody::parse(ANTHROPIC_OVERLOADED.as_bytes()).unwrap();
    assert_eq!(anthropic.kind.as_deref(), Some("overloaded_error"));
    assert_eq!(anthropic.message.as_deref(), Some("Overloaded"));
    let ollama = ErrorBody::parse(OLLAMA_MODEL.as_bytes()).unwrap();
    assert!(ollama.message.unwrap().contains("llama9"));
    let llama = ErrorBody::parse(LLAMA_CPP_CONTEXT.as_bytes()).unwrap();
    assert_eq!(llama.code.as_deref(), Some("400"));
    assert_eq!(ErrorBody::parse(b"not json"), None);
    assert_eq!(ErrorBody::parse(b"[1,2]"), None);
}

#[test]
fn retry_after_reads_seconds_dates_milliseconds_and_reset_headers() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
    let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
    for (pairs, rate_limited, expected) in [
        (
            vec![("retry-after", "7")],
            false,
            Some(Duration::from_secs(7)),
        ),
        (
            vec![("retry-after", "1.5")],
            false,
            Some(Duration::from_millis(1500)),
        ),
        (
            vec![("retry-after", date.as_str())],
            false,
            Some(Duration::from_secs(30)),
        ),
        (
            vec![("retry-after", past.as_str())],
            false,
            Some(Duration::ZERO),
        ),
        (
            vec![("retry-after-ms", "250"), ("retry-after", "9")],
            false,
            Some(Duration::from_millis(250)),
        ),
        (vec![("retry-after", "soon")], false, None),
        (vec![("retry-after", "-3")], false, None),
        (
            vec![
                ("x-ratelimit-reset-requests", "1s"),
                ("x-ratelimit-reset-tokens", "6m0s"),
            ],
            true,
            Some(Duration::from_mins(6)),
        ),
        (
            vec![("x-ratelimit-reset-tokens", "20ms")],
            true,
            Some(Duration::from_millis(20)),
        ),
        (vec![("x-ratelimit-reset-tokens", "1s")], false, None),
        (vec![("x-ratelimit-reset-tokens", "1 sec")], true, None),
        (vec![], true, None),
    ] {
        let map = headers(&pairs);
        assert_eq!(
            retry_after_at(&map, now, rate_limited),
            expected,
            "{pairs:?}"
        );
    }
}

#[test]
fn retry_after_lands_on_the_class_of_any_status() {
    let now = SystemTime::now();
    let error = from_status_at(429, &headers(&[("retry-after", "2")]), b"", now);
    assert_eq!(error.class().retry_after, Some(Duration::from_secs(2)));
    let error = from_status_at(503, &headers(&[("retry-after", "5")]), b"", now);
    assert_eq!(error.class().category, C::Overloaded);
    assert_eq!(error.class().retry_after, Some(Duration::from_secs(5)));
    let error = from_status_at(
        429,
        &headers(&[("x-ratelimit-reset-requests", "2m")]),
        OPENAI_RATE.as_bytes(),
        now,
    );
    assert_eq!(error.class().retry_after, Some(Duration::from_mins(2)));
}

#[test]
fn an_error_inside_a_stream_is_classified_by_its_body() {
    let value: serde_json::Value = serde_json::from_str(ANTHROPIC_OVERLOADED).unwrap();
    let error = from_stream_error(&value);
    assert_eq!(error.class().category, C::Overloaded);
    assert_eq!(error.message, "Overloaded");
    assert_eq!(
        error.upstream.as_deref(),
        Some(&UpstreamDetails::new(
            Some("overloaded_error".to_owned()),
            None,
            None
        ))
    );
    let unknown = from_stream_error(&serde_json::json!({"error": {"message": "boom"}}));
    assert_eq!(unknown.class().category, C::Internal);
    assert!(unknown.message.contains("boom"));
}

#[test]
fn malformed_json_names_the_position_and_nearby_text() {
    let body = b"{\"id\": \"x\",\n \"choices\": [oops]}";
    let failure = serde_json::from_slice::<serde_json::Value>(body).unwrap_err();
    let error = malformed_json("chat completion", failure, body);
    assert_eq!(error.class().category, C::Internal);
    assert!(error.message.contains("line 2 column"), "{}", error.message);
    assert!(error.message.contains("oops"), "{}", error.message);

    let cut = b"{\"id\": \"x\", \"choi";
    let failure = serde_json::from_slice::<serde_json::Value>(cut).unwrap_err();
    let error = malformed_json("chat completion", failure, cut);
    assert!(error.message.contains("ends early"), "{}", error.message);
}

#[test]
fn the_other_failures_have_their_documented_class() {
    let cut = stream_cut("data: [DONE]");
    assert_eq!(cut.class().category, C::Network);
    assert!(cut.class().retryable);
    assert!(cut.message.contains("[DONE]"));

    let large = body_too_large(1024);
    assert_eq!(large.class().category, C::Internal);
    assert!(!large.class().retryable);
    assert!(large.message.contains("1024-byte"));

    for (kind, name) in [
        (TimeoutKind::Connect, "connect_timeout"),
        (TimeoutKind::FirstByte, "first_byte_timeout"),
        (TimeoutKind::Idle, "idle_timeout"),
        (TimeoutKind::Total, "total_timeout"),
    ] {
        let error = timeout(kind, Duration::from_secs(3));
        assert_eq!(error.class().category, C::Timeout);
        assert!(error.message.contains(name), "{}", error.message);
        assert!(error.message.contains("3s"), "{}", error.message);
    }

    let html = unexpected_content_type("application/json", Some("text/html"), b"<html>hi");
    assert_eq!(html.class().category, C::Internal);
    assert!(html.message.contains("got text/html: <html>hi"));
}

#[test]
fn upstream_messages_are_kept_verbatim_with_type_code_and_param_beside_them() {
    // The upstream's message, exactly; nothing added before or after it.
    let error = from_status(400, &HeaderMap::new(), OPENAI_CONTEXT.as_bytes());
    assert_eq!(
        error.message,
        "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens."
    );
    assert_eq!(
        error.upstream.as_deref(),
        Some(&UpstreamDetails::new(
            Some("invalid_request_error".to_owned()),
            Some("context_length_exceeded".to_owned()),
            Some("messages".to_owned()),
        ))
    );
    // A numeric code is kept as text; a message of several lines is not folded.
    let body = format!(
        r#"{{"error":{{"message":"line one\nline two {}","code":400}}}}"#,
        "y".repeat(2000)
    );
    let error = from_status(400, &HeaderMap::new(), body.as_bytes());
    assert_eq!(
        error.message,
        format!("line one\nline two {}", "y".repeat(2000))
    );
    assert_eq!(
        error.upstream.and_then(|details| details.code).as_deref(),
        Some("400")
    );
    // Ollama's shape has a message only: nothing to keep beside it.
    let error = from_status(404, &HeaderMap::new(), OLLAMA_MODEL.as_bytes());
    assert_eq!(
        error.message,
        r#"model "llama9" not found, try pulling it first"#
    );
    assert!(error.upstream.is_none());
    // A body with a code and no message says so, naming the code.
    let error = from_status(
        429,
        &HeaderMap::new(),
        br#"{"error":{"code":"rate_limit_exceeded"}}"#,
    );
    assert_eq!(error.class().category, C::RateLimited);
    assert_eq!(
        error.message,
        "rate_limit_exceeded (the error body has no message)"
    );
}
