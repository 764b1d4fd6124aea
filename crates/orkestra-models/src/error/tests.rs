use std::path::PathBuf;

use orkestra_core::{Classify, ErrorCategory, Resource};

use super::*;
use crate::scorer::Exclusion;
use crate::spec::ModelId;

#[track_caller]
fn check(error: Error, category: ErrorCategory, retryable: bool) {
    let class = error.class();
    assert_eq!(class.category, category, "{error}");
    assert_eq!(error.is_retryable(), retryable, "{error}");
    assert_eq!(class.retryable, retryable, "{error}");
    let backend = orkestra_core::Error::from(error);
    assert_eq!(backend.class, class);
}

#[test]
fn every_error_classifies_itself() {
    check(
        ModelId::new("gpt-4o").unwrap_err(),
        ErrorCategory::InvalidRequest,
        false,
    );
    check(
        Error::UnknownModel {
            id: "a/b".to_owned(),
        },
        ErrorCategory::NotFound,
        false,
    );
    check(
        Error::Read {
            path: PathBuf::from("models.toml"),
            source: io::Error::from(io::ErrorKind::NotFound),
        },
        ErrorCategory::NotFound,
        false,
    );
    check(
        Error::BudgetExceeded {
            principal: "alice".to_owned(),
            period: BudgetPeriod::Day,
            limit: Nanodollars(1),
            spent: Nanodollars(1),
            held: Nanodollars(0),
            requested: Nanodollars(1),
        },
        ErrorCategory::ResourceExhausted(Resource::Quota),
        false,
    );
    let small = ModelId::new("sim/small").unwrap();
    check(
        Error::Unserved(NoCandidate::new(vec![(
            small.clone(),
            Exclusion::BreakerOpen,
        )])),
        ErrorCategory::Overloaded,
        true,
    );
    check(
        Error::Unserved(NoCandidate::new(vec![(small, Exclusion::Denied)])),
        ErrorCategory::Overloaded,
        false,
    );
}

#[test]
fn a_backend_error_keeps_the_message() {
    let error = Error::UnknownStrategy {
        name: "cheapest".to_owned(),
    };
    let message = error.to_string();
    let backend = orkestra_core::Error::from(error);
    assert_eq!(backend.message, message);
    assert!(message.contains("cheapest"), "{message}");
}
