use std::time::Duration;

use axum::http::StatusCode;
use orkestra_core::{Error, ErrorCategory, ErrorClass, Resource, UpstreamDetails};

use super::{ApiError, classify, retry_after_seconds};

#[track_caller]
fn check(category: ErrorCategory, status: u16, kind: &str, code: &str) {
    let (got_status, got_kind, got_code) = classify(&ErrorClass::new(category));
    assert_eq!(
        (got_status.as_u16(), got_kind, got_code),
        (status, kind, code),
        "{category}"
    );
}

#[test]
fn every_class_has_the_documented_status() {
    check(
        ErrorCategory::InvalidRequest,
        400,
        "invalid_request_error",
        "invalid_request",
    );
    check(
        ErrorCategory::ContextLength,
        400,
        "invalid_request_error",
        "context_length_exceeded",
    );
    check(
        ErrorCategory::ContentFilter,
        400,
        "invalid_request_error",
        "content_filter",
    );
    check(
        ErrorCategory::Cancelled,
        400,
        "invalid_request_error",
        "cancelled",
    );
    check(
        ErrorCategory::NotFound,
        404,
        "invalid_request_error",
        "model_not_found",
    );
    check(
        ErrorCategory::ResourceExhausted(Resource::Quota),
        402,
        "insufficient_quota",
        "insufficient_quota",
    );
    check(
        ErrorCategory::ResourceExhausted(Resource::Memory),
        503,
        "server_error",
        "resource_exhausted",
    );
    check(
        ErrorCategory::RateLimited,
        429,
        "rate_limit_error",
        "rate_limit_exceeded",
    );
    check(ErrorCategory::Overloaded, 503, "server_error", "overloaded");
    check(
        ErrorCategory::Timeout,
        504,
        "server_error",
        "upstream_timeout",
    );
    check(
        ErrorCategory::Auth,
        502,
        "upstream_error",
        "upstream_auth_failed",
    );
    check(
        ErrorCategory::Network,
        502,
        "upstream_error",
        "upstream_unreachable",
    );
    check(
        ErrorCategory::Internal,
        502,
        "upstream_error",
        "upstream_failed",
    );
}

#[test]
fn no_upstream_failure_looks_like_the_callers_credentials() {
    for category in ErrorCategory::ALL {
        let (status, _, _) = classify(&ErrorClass::new(category));
        assert!(
            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
            "{category} answered {status}"
        );
    }
}

fn body_of(error: &Error) -> serde_json::Value {
    serde_json::from_slice(&ApiError::from_error(error).body()).expect("the body is JSON")
}

#[test]
fn body_has_the_openai_shape() {
    let error = Error::new(ErrorCategory::RateLimited, "slow down").with_status(429);
    assert_eq!(
        body_of(&error),
        serde_json::json!({"error": {
            "message": "slow down",
            "type": "rate_limit_error",
            "code": "rate_limit_exceeded",
            "param": null,
        }})
    );
}

#[test]
fn upstream_errors_keep_their_message_type_code_and_param() {
    let error = Error::new(
        ErrorCategory::ContextLength,
        "This model's maximum context length is 16385 tokens.",
    )
    .with_status(400)
    .with_model("sim/small")
    .with_upstream(UpstreamDetails::new(
        Some("invalid_request_error".to_owned()),
        Some("context_length_exceeded".to_owned()),
        Some("messages".to_owned()),
    ));
    assert_eq!(
        body_of(&error),
        serde_json::json!({"error": {
            "message": "This model's maximum context length is 16385 tokens.",
            "type": "invalid_request_error",
            "code": "context_length_exceeded",
            "param": "messages",
            "model": "sim/small",
        }})
    );
}

#[test]
fn upstream_fields_it_did_not_send_come_from_the_class_table_and_the_status_is_ours() {
    // Anthropic's error bodies have a type and no code.
    let error = Error::new(ErrorCategory::Auth, "invalid x-api-key")
        .with_status(401)
        .with_upstream(UpstreamDetails::new(
            Some("authentication_error".to_owned()),
            None,
            None,
        ));
    let answer = ApiError::from_error(&error);
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        body_of(&error),
        serde_json::json!({"error": {
            "message": "invalid x-api-key",
            "type": "authentication_error",
            "code": "upstream_auth_failed",
            "param": null,
        }})
    );
}

#[test]
fn retry_after_is_kept_only_where_it_means_something() {
    let class =
        ErrorClass::new(ErrorCategory::RateLimited).with_retry_after(Duration::from_millis(1_500));
    let limited = ApiError::from_error(&Error::with_class(class, "slow down"));
    assert_eq!(limited.retry_after, Some(Duration::from_millis(1_500)));
    let class = ErrorClass::new(ErrorCategory::Internal).with_retry_after(Duration::from_secs(1));
    let internal = ApiError::from_error(&Error::with_class(class, "boom"));
    assert_eq!(internal.retry_after, None);
}

#[test]
fn retry_after_rounds_up_to_whole_seconds() {
    assert_eq!(retry_after_seconds(Duration::from_millis(1_500)), 2);
    assert_eq!(retry_after_seconds(Duration::from_secs(3)), 3);
    assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
}
