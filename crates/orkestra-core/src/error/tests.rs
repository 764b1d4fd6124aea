use std::io;
use std::time::Duration;

use super::*;

#[track_caller]
fn check(error: &impl Classify, category: ErrorCategory, retryable: bool, severity: Severity) {
    let class = error.class();
    assert_eq!(class.category, category, "category of {class}");
    assert_eq!(class.retryable, retryable, "retryable of {class}");
    assert_eq!(class.severity, severity, "severity of {class}");
}

#[test]
fn network_errors_are_retryable_and_high() {
    for kind in [
        io::ErrorKind::ConnectionRefused,
        io::ErrorKind::ConnectionReset,
        io::ErrorKind::ConnectionAborted,
        io::ErrorKind::BrokenPipe,
        io::ErrorKind::UnexpectedEof,
    ] {
        check(
            &io::Error::from(kind),
            ErrorCategory::Network,
            true,
            Severity::High,
        );
    }
    check(
        &io::Error::from(io::ErrorKind::TimedOut),
        ErrorCategory::Timeout,
        true,
        Severity::High,
    );
}

#[test]
fn memory_errors_are_critical_and_not_retryable() {
    check(
        &io::Error::from(io::ErrorKind::OutOfMemory),
        ErrorCategory::ResourceExhausted(Resource::Memory),
        false,
        Severity::Critical,
    );
    check(
        &ErrorClass::new(ErrorCategory::ResourceExhausted(Resource::Quota)),
        ErrorCategory::ResourceExhausted(Resource::Quota),
        false,
        Severity::Critical,
    );
}

#[test]
fn validation_errors_are_medium_and_not_retryable() {
    check(
        &io::Error::from(io::ErrorKind::InvalidInput),
        ErrorCategory::InvalidRequest,
        false,
        Severity::Medium,
    );
    let bad_json = serde_json::from_str::<serde_json::Value>("{\"model\": ").unwrap_err();
    check(
        &bad_json,
        ErrorCategory::InvalidRequest,
        false,
        Severity::Medium,
    );
}

#[test]
fn auth_is_critical() {
    check(
        &io::Error::from(io::ErrorKind::PermissionDenied),
        ErrorCategory::Auth,
        false,
        Severity::Critical,
    );
}

#[test]
fn severity_table_matches_the_documented_rules() {
    let expected = |category: ErrorCategory| match category {
        ErrorCategory::Auth | ErrorCategory::ResourceExhausted(_) => Severity::Critical,
        ErrorCategory::Network | ErrorCategory::Timeout | ErrorCategory::Internal => Severity::High,
        ErrorCategory::ContentFilter => Severity::Low,
        ErrorCategory::Cancelled => Severity::Info,
        _ => Severity::Medium,
    };
    for category in ErrorCategory::ALL {
        assert_eq!(
            category.default_severity(),
            expected(category),
            "{category}"
        );
    }
    assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
}

#[test]
fn exactly_the_transient_categories_are_retryable() {
    let retryable: Vec<_> = ErrorCategory::ALL
        .into_iter()
        .filter(|category| ErrorClass::new(*category).retryable)
        .map(ErrorCategory::as_str)
        .collect();
    assert_eq!(
        retryable,
        [
            "network",
            "timeout",
            "rate_limited",
            "overloaded",
            "internal"
        ]
    );
}

#[test]
fn class_serializes_with_snake_case_names_and_millis() {
    let class =
        ErrorClass::new(ErrorCategory::RateLimited).with_retry_after(Duration::from_millis(1500));
    let json = serde_json::to_value(class).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"category": "rate_limited", "retryable": true, "retry_after": 1500, "severity": "medium"})
    );
    assert_eq!(serde_json::from_value::<ErrorClass>(json).unwrap(), class);
    let memory = serde_json::to_value(ErrorCategory::ResourceExhausted(Resource::Memory)).unwrap();
    assert_eq!(memory, serde_json::json!({"resource_exhausted": "memory"}));
}

#[test]
fn overrides_keep_the_other_fields() {
    let class = ErrorClass::new(ErrorCategory::Internal)
        .with_retryable(false)
        .with_severity(Severity::Critical);
    assert_eq!(class.category, ErrorCategory::Internal);
    assert!(!class.retryable);
    assert_eq!(class.severity, Severity::Critical);
    assert_eq!(class.to_string(), "internal (Critical, not retryable)");
}
