use std::sync::Arc;
use std::thread;

use super::*;

const NOON: UnixMillis = UnixMillis(1_795_262_400_000); // 2026-11-21T12:00:00Z
const DAY: u64 = 86_400_000;

fn charge(principal: &str, model: &str, cost: u64, at: UnixMillis) -> Charge {
    Charge {
        at,
        principal: principal.into(),
        model: ModelId::new(model).unwrap(),
        input_tokens: 100,
        output_tokens: 50,
        cost: Nanodollars(cost),
        request_id: None,
        estimated: false,
    }
}

fn daily(limit: u64) -> Budget {
    Budget {
        daily: Some(Nanodollars(limit)),
        monthly: None,
    }
}

#[test]
fn reservations_hold_budget_and_failed_calls_are_not_billed() {
    let ledger = CostLedger::new();
    ledger.set_budget("alice", daily(1_000));
    let first = ledger.reserve("alice", Nanodollars(600), NOON).unwrap();
    let refused = ledger.reserve("alice", Nanodollars(600), NOON).unwrap_err();
    assert!(
        matches!(
            refused,
            crate::Error::BudgetExceeded {
                period: BudgetPeriod::Day,
                held: Nanodollars(600),
                spent: Nanodollars(0),
                ..
            }
        ),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("alice"), "{refused}");
    drop(first); // the call failed: nothing billed, hold released
    assert_eq!(ledger.spent_today("alice", NOON), Nanodollars::ZERO);
    let second = ledger.reserve("alice", Nanodollars(600), NOON).unwrap();
    second.settle(&charge("alice", "openai/gpt-4o", 700, NOON));
    assert_eq!(ledger.spent_today("alice", NOON), Nanodollars(700));
    assert!(ledger.check("alice", Nanodollars(301), NOON).is_err());
    ledger.check("alice", Nanodollars(300), NOON).unwrap();
}

#[test]
fn daily_budgets_reset_at_utc_midnight_and_monthly_ones_at_the_month() {
    let ledger = CostLedger::new();
    ledger.set_default_budget(Budget {
        daily: Some(Nanodollars(500)),
        monthly: Some(Nanodollars(1_200)),
    });
    let mut at = NOON;
    for _ in 0..3 {
        ledger
            .reserve("bob", Nanodollars(400), at)
            .unwrap()
            .settle(&charge("bob", "a/b", 400, at));
        assert!(
            ledger.check("bob", Nanodollars(101), at).is_err(),
            "daily limit"
        );
        at = UnixMillis(at.0 + DAY);
    }
    let err = ledger.check("bob", Nanodollars(1), at).unwrap_err();
    assert!(
        matches!(
            err,
            crate::Error::BudgetExceeded {
                period: BudgetPeriod::Month,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        ledger.spent("bob", BudgetPeriod::Month, at),
        Nanodollars(1_200)
    );
    let next_month = UnixMillis::at_day(Day::from_ymd(2026, 12, 1).unwrap());
    ledger.check("bob", Nanodollars(500), next_month).unwrap();
}

#[test]
fn unlimited_principals_are_never_refused() {
    let ledger = CostLedger::new();
    ledger
        .reserve("carol", Nanodollars::MAX, NOON)
        .unwrap()
        .settle(&charge("carol", "a/b", u64::MAX, NOON));
    let _hold = ledger.reserve("carol", Nanodollars::MAX, NOON).unwrap();
    assert_eq!(ledger.budget("carol"), Budget::UNLIMITED);
}

#[test]
fn concurrent_reservations_never_overspend() {
    let ledger = Arc::new(CostLedger::new());
    ledger.set_budget("team", daily(10_000));
    let admitted: u64 = (0..8)
        .map(|_| {
            let ledger = Arc::clone(&ledger);
            thread::spawn(move || {
                let mut admitted = 0;
                for _ in 0..100 {
                    if let Ok(hold) = ledger.reserve("team", Nanodollars(100), NOON) {
                        hold.settle(&charge("team", "a/b", 100, NOON));
                        admitted += 1;
                    }
                }
                admitted
            })
        })
        .map(|t| t.join().unwrap())
        .sum();
    assert_eq!(admitted, 100, "exactly the budget's worth of calls");
    assert_eq!(ledger.spent_today("team", NOON), Nanodollars(10_000));
}

#[test]
fn reports_group_by_principal_model_and_day() {
    let ledger = CostLedger::new();
    let yesterday = UnixMillis(NOON.0 - DAY);
    ledger.charge(&charge("alice", "openai/gpt-4o", 300, NOON));
    ledger.charge(&charge("alice", "ollama/llama3.1:8b", 0, NOON));
    ledger.charge(&charge("bob", "openai/gpt-4o", 500, NOON));
    ledger.charge(&charge("bob", "openai/gpt-4o", 100, yesterday));
    let today = NOON.day();
    let by_principal = ledger.report_by_principal(today, today);
    let keys: Vec<_> = by_principal
        .iter()
        .map(|r| (r.key.as_str(), r.totals.cost.0, r.totals.requests))
        .collect();
    assert_eq!(keys, [("bob", 500, 1), ("alice", 300, 2)]);
    let by_model = ledger.report_by_model(yesterday.day(), today);
    let keys: Vec<_> = by_model
        .iter()
        .map(|r| (r.key.as_str(), r.totals.cost.0))
        .collect();
    assert_eq!(keys, [("openai/gpt-4o", 900), ("ollama/llama3.1:8b", 0)]);
    assert_eq!(by_model[0].totals.input_tokens, 300);
    let by_day = ledger.report_by_day(yesterday.day(), today);
    let keys: Vec<_> = by_day
        .iter()
        .map(|r| (r.key.as_str(), r.totals.cost.0))
        .collect();
    assert_eq!(keys, [("2026-11-20", 100), ("2026-11-21", 800)]);
}

#[test]
fn restored_totals_count_like_the_charges_they_sum() {
    let replayed = CostLedger::new();
    replayed.charge(&charge("alice", "a/b", 300, NOON));
    replayed.charge(&charge("alice", "a/b", 200, NOON));
    let restored = CostLedger::new();
    let totals = Totals {
        requests: 2,
        input_tokens: 200,
        output_tokens: 100,
        cost: Nanodollars(500),
    };
    restored.restore_totals(NOON.day(), "alice", &ModelId::new("a/b").unwrap(), totals);
    let day = NOON.day();
    assert_eq!(
        restored.report_by_model(day, day),
        replayed.report_by_model(day, day)
    );
    assert_eq!(
        restored.spent("alice", BudgetPeriod::Month, NOON),
        Nanodollars(500)
    );
}
