use std::sync::Mutex;

use orkestra_core::ErrorCategory::{self, Auth, ContextLength, Internal, Overloaded, Timeout};

use super::*;

/// Records which alternatives ran, in order.
type Log = Arc<Mutex<Vec<&'static str>>>;

/// An alternative for `check`: its name, the categories it handles, and what it returns.
type Spec = (
    &'static str,
    &'static [ErrorCategory],
    Result<u32, ErrorCategory>,
);

fn fallback(alternatives: &[Spec], log: &Log) -> Fallback<u32, ErrorClass> {
    alternatives
        .iter()
        .fold(Fallback::new(), |fallback, &(name, handles, outcome)| {
            let log = Arc::clone(log);
            fallback.or_else(name, CategorySet::of(handles), move || {
                log.lock().unwrap().push(name);
                async move { outcome.map_err(ErrorClass::new) }
            })
        })
}

fn failures(expected: &[(&str, ErrorCategory)]) -> Vec<Failure> {
    expected
        .iter()
        .map(|&(name, category)| (Arc::from(name), ErrorClass::new(category)))
        .collect()
}

/// Runs a primary returning `primary` through alternatives built from `alternatives`, and
/// checks the answer (`Ok((served_by, value))` or the last error's category), the failures
/// reported, and which alternatives ran.
#[track_caller]
fn check(
    primary: Result<u32, ErrorCategory>,
    alternatives: &[Spec],
    expected: Result<(Option<&str>, u32), ErrorCategory>,
    expected_failures: &[(&str, ErrorCategory)],
    expected_ran: &[&str],
) {
    let log = Log::default();
    let fallback = fallback(alternatives, &log);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let outcome = runtime.block_on(fallback.call(async move { primary.map_err(ErrorClass::new) }));
    match (outcome, expected) {
        (Ok(recovered), Ok((served_by, value))) => {
            assert_eq!(recovered.value, value);
            assert_eq!(recovered.served_by.as_deref(), served_by);
            assert_eq!(recovered.failures, failures(expected_failures));
        }
        (Err(error), Err(category)) => {
            assert_eq!(error.error.category, category);
            assert_eq!(error.class().category, category);
            assert_eq!(error.failures, failures(expected_failures));
        }
        (outcome, expected) => panic!("got {outcome:?}, expected {expected:?}"),
    }
    assert_eq!(*log.lock().unwrap(), expected_ran);
}

#[test]
fn a_successful_primary_is_served_by_the_primary_with_no_failures() {
    check(
        Ok(1),
        &[("backup", &[Overloaded], Ok(2))],
        Ok((None, 1)),
        &[],
        &[],
    );
}

#[test]
fn a_failure_is_recovered_by_the_alternative_for_its_class() {
    check(
        Err(ContextLength),
        &[
            ("other-provider", &[Overloaded], Ok(2)),
            ("bigger-context", &[ContextLength], Ok(3)),
        ],
        Ok((Some("bigger-context"), 3)),
        &[("primary", ContextLength)],
        &["bigger-context"],
    );
}

#[test]
fn the_first_matching_alternative_in_order_is_tried_first() {
    check(
        Err(Overloaded),
        &[
            ("first", &[Overloaded, Timeout], Ok(2)),
            ("second", &[Overloaded], Ok(3)),
        ],
        Ok((Some("first"), 2)),
        &[("primary", Overloaded)],
        &["first"],
    );
}

#[test]
fn after_an_alternative_fails_the_walk_continues_after_it_by_the_new_class() {
    // "a" fails with a timeout; "b" handles only overload and is skipped; "c" handles
    // timeouts. "a" handles timeouts too but never runs twice.
    check(
        Err(Overloaded),
        &[
            ("a", &[Overloaded, Timeout], Err(Timeout)),
            ("b", &[Overloaded], Ok(2)),
            ("c", &[Timeout], Ok(3)),
        ],
        Ok((Some("c"), 3)),
        &[("primary", Overloaded), ("a", Timeout)],
        &["a", "c"],
    );
}

#[test]
fn a_class_no_alternative_handles_fails_at_once() {
    check(
        Err(Auth),
        &[
            ("backup", &[Overloaded, Timeout], Ok(2)),
            ("cache", &[Internal], Ok(3)),
        ],
        Err(Auth),
        &[("primary", Auth)],
        &[],
    );
}

#[test]
fn when_every_alternative_fails_the_last_error_and_the_whole_chain_are_reported() {
    check(
        Err(Overloaded),
        &[
            ("backup", &[Overloaded], Err(Overloaded)),
            ("cache", &[Overloaded], Err(Internal)),
            ("never", &[Overloaded], Ok(9)),
        ],
        Err(Internal),
        &[
            ("primary", Overloaded),
            ("backup", Overloaded),
            ("cache", Internal),
        ],
        &["backup", "cache"],
    );
}

#[test]
fn with_no_alternatives_the_error_passes_through() {
    check(
        Err(Timeout),
        &[],
        Err(Timeout),
        &[("primary", Timeout)],
        &[],
    );
}

#[tokio::test]
async fn a_named_primary_appears_in_failures_and_display_names_every_attempt() {
    let fallback = Fallback::<u32, ErrorClass>::new()
        .with_primary_name("gpt-4o")
        .or_else("claude", CategorySet::of(&[Overloaded]), || async {
            Err(ErrorClass::new(Overloaded))
        });
    assert_eq!(fallback.primary_name(), "gpt-4o");
    assert_eq!(
        fallback.alternatives().collect::<Vec<_>>(),
        [("claude", CategorySet::of(&[Overloaded]))]
    );
    let error = fallback
        .call(async { Err(ErrorClass::new(Overloaded)) })
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{} (tried gpt-4o: overloaded, claude: overloaded)",
            ErrorClass::new(Overloaded)
        )
    );
    let single = Fallback::<u32, ErrorClass>::new()
        .call(async { Err(ErrorClass::new(Auth)) })
        .await
        .unwrap_err();
    assert_eq!(single.to_string(), ErrorClass::new(Auth).to_string());
}

#[test]
fn the_call_future_is_send_so_it_can_be_spawned() {
    fn assert_send<F: Send>(_: &F) {}
    let fallback = Fallback::<u32, ErrorClass>::new();
    let call = fallback.call(async { Ok(1) });
    assert_send(&call);
}
