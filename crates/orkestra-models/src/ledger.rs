//! The cost ledger: what every call cost, per principal, model and day, against budgets.
//!
//! Budgets hold under concurrency: [`CostLedger::reserve`] sets the estimated cost aside
//! atomically before the call, so ten concurrent calls cannot each see the same headroom and
//! together overspend it; [`Reservation::settle`] charges the actual cost afterwards and a dropped
//! reservation (a failed call) releases its hold without billing anything.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::money::Nanodollars;
use crate::spec::ModelId;
use crate::time::{Day, Month, UnixMillis};

/// Spend limits for one principal; `None` means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Budget {
    /// Most spend per UTC day.
    pub daily: Option<Nanodollars>,
    /// Most spend per UTC calendar month.
    pub monthly: Option<Nanodollars>,
}

impl Budget {
    /// No limit.
    pub const UNLIMITED: Self = Self {
        daily: None,
        monthly: None,
    };
}

/// The period a budget covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetPeriod {
    /// A UTC day.
    Day,
    /// A UTC calendar month.
    Month,
}

/// One billed call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    /// When the call ended.
    pub at: UnixMillis,
    /// Who pays: an API key id, a team, a user.
    pub principal: String,
    /// The model that answered.
    pub model: ModelId,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// What it cost.
    pub cost: Nanodollars,
    /// The request it belongs to, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Whether the token counts are estimated (the upstream did not report them, or the
    /// answer was cut before it did), so reports can tell a count from a guess.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
}

/// Totals of a group of charges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Calls charged.
    pub requests: u64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Money.
    pub cost: Nanodollars,
}

impl Totals {
    fn add(&mut self, charge: &Charge) {
        self.requests += 1;
        self.input_tokens = self.input_tokens.saturating_add(charge.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(charge.output_tokens);
        self.cost += charge.cost;
    }

    fn merge(&mut self, other: &Self) {
        self.requests += other.requests;
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cost += other.cost;
    }
}

/// One row of a spend report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportRow {
    /// The principal or model id.
    pub key: String,
    /// Its totals over the reported days.
    pub totals: Totals,
}

type Principal = Arc<str>;

#[derive(Debug, Default)]
struct State {
    default_budget: Budget,
    budgets: FxHashMap<Principal, Budget>,
    // Spend per (principal, model, day): the finest grain, from which reports are built.
    by_day: BTreeMap<(Day, Principal, ModelId), Totals>,
    // Running sums checked on every reservation, so a check never scans history.
    principal_day: FxHashMap<(Principal, Day), Nanodollars>,
    principal_month: FxHashMap<(Principal, Month), Nanodollars>,
    held_day: FxHashMap<(Principal, Day), Nanodollars>,
    held_month: FxHashMap<(Principal, Month), Nanodollars>,
}

impl State {
    fn principal(&self, name: &str) -> Principal {
        self.budgets
            .get_key_value(name)
            .map_or_else(|| Arc::from(name), |(key, _)| Arc::clone(key))
    }

    fn budget(&self, principal: &str) -> Budget {
        self.budgets
            .get(principal)
            .copied()
            .unwrap_or(self.default_budget)
    }

    fn check(&self, principal: &Principal, day: Day, requested: Nanodollars) -> Result<(), Error> {
        let budget = self.budget(principal);
        let month = day.month();
        let get = |map: &FxHashMap<(Principal, Day), Nanodollars>| {
            map.get(&(Arc::clone(principal), day))
                .copied()
                .unwrap_or_default()
        };
        let get_month = |map: &FxHashMap<(Principal, Month), Nanodollars>| {
            map.get(&(Arc::clone(principal), month))
                .copied()
                .unwrap_or_default()
        };
        let periods = [
            (
                BudgetPeriod::Day,
                budget.daily,
                get(&self.principal_day),
                get(&self.held_day),
            ),
            (
                BudgetPeriod::Month,
                budget.monthly,
                get_month(&self.principal_month),
                get_month(&self.held_month),
            ),
        ];
        for (period, limit, spent, held) in periods {
            if let Some(limit) = limit
                && spent + held + requested > limit
            {
                return Err(Error::BudgetExceeded {
                    principal: principal.to_string(),
                    period,
                    limit,
                    spent,
                    held,
                    requested,
                });
            }
        }
        Ok(())
    }

    fn hold(&mut self, principal: &Principal, day: Day, amount: Nanodollars) {
        *self
            .held_day
            .entry((Arc::clone(principal), day))
            .or_default() += amount;
        *self
            .held_month
            .entry((Arc::clone(principal), day.month()))
            .or_default() += amount;
    }

    fn release(&mut self, principal: &Principal, day: Day, amount: Nanodollars) {
        fn take<K: std::hash::Hash + Eq>(
            map: &mut FxHashMap<K, Nanodollars>,
            key: &K,
            amount: Nanodollars,
        ) {
            if let Some(held) = map.get_mut(key) {
                *held = held.saturating_sub(amount);
                if *held == Nanodollars::ZERO {
                    map.remove(key);
                }
            }
        }
        take(&mut self.held_day, &(Arc::clone(principal), day), amount);
        take(
            &mut self.held_month,
            &(Arc::clone(principal), day.month()),
            amount,
        );
    }

    fn charge(&mut self, charge: &Charge) {
        let principal = self.principal(&charge.principal);
        let day = charge.at.day();
        self.by_day
            .entry((day, Arc::clone(&principal), charge.model.clone()))
            .or_default()
            .add(charge);
        *self
            .principal_day
            .entry((Arc::clone(&principal), day))
            .or_default() += charge.cost;
        *self
            .principal_month
            .entry((principal, day.month()))
            .or_default() += charge.cost;
    }
}

/// Spend per principal, model and day, with budgets.
///
/// ```
/// use orkestra_models::{ModelId, Nanodollars, UnixMillis};
/// use orkestra_models::ledger::{Budget, Charge, CostLedger};
///
/// let ledger = CostLedger::new();
/// ledger.set_budget("team-a", Budget { daily: Some(Nanodollars(1_000_000)), monthly: None });
/// let now = UnixMillis(1_795_262_400_000);
/// let hold = ledger.reserve("team-a", Nanodollars(600_000), now)?;
/// assert!(ledger.reserve("team-a", Nanodollars(600_000), now).is_err(), "the hold counts");
/// hold.settle(&Charge {
///     at: now,
///     principal: "team-a".into(),
///     model: ModelId::new("openai/gpt-4o-mini")?,
///     input_tokens: 1_000,
///     output_tokens: 500,
///     cost: Nanodollars(450_000),
///     request_id: None,
///     estimated: false,
/// });
/// assert_eq!(ledger.spent_today("team-a", now), Nanodollars(450_000));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct CostLedger {
    state: Mutex<State>,
}

impl CostLedger {
    /// An empty ledger with no budgets.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the budget of `principal`.
    pub fn set_budget(&self, principal: &str, budget: Budget) {
        self.state().budgets.insert(Arc::from(principal), budget);
    }

    /// Sets the budget of principals without their own.
    pub fn set_default_budget(&self, budget: Budget) {
        self.state().default_budget = budget;
    }

    /// The budget that applies to `principal`.
    pub fn budget(&self, principal: &str) -> Budget {
        self.state().budget(principal)
    }

    /// Every principal with its own budget, sorted.
    pub fn budgets(&self) -> Vec<(String, Budget)> {
        let mut all: Vec<(String, Budget)> = self
            .state()
            .budgets
            .iter()
            .map(|(p, b)| (p.to_string(), *b))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Whether a call estimated at `estimate` fits the budgets of `principal` now, without
    /// holding anything (for explanations; calls use [`Self::reserve`]).
    pub fn check(
        &self,
        principal: &str,
        estimate: Nanodollars,
        now: UnixMillis,
    ) -> Result<(), Error> {
        let state = self.state();
        state.check(&state.principal(principal), now.day(), estimate)
    }

    /// Holds `estimate` against the budgets of `principal` until the call ends.
    pub fn reserve(
        &self,
        principal: &str,
        estimate: Nanodollars,
        now: UnixMillis,
    ) -> Result<Reservation<'_>, Error> {
        let mut state = self.state();
        let principal = state.principal(principal);
        let day = now.day();
        state.check(&principal, day, estimate)?;
        state.hold(&principal, day, estimate);
        Ok(Reservation {
            ledger: self,
            principal,
            day,
            amount: estimate,
            open: true,
        })
    }

    /// Records a call's actual cost (also used to replay persisted charges).
    pub fn charge(&self, charge: &Charge) {
        self.state().charge(charge);
    }

    /// Adds pre-summed totals, as a store restores them (`GROUP BY` day, principal and model)
    /// instead of replaying every charge.
    pub fn restore_totals(&self, day: Day, principal: &str, model: &ModelId, totals: Totals) {
        let mut state = self.state();
        let principal = state.principal(principal);
        state
            .by_day
            .entry((day, Arc::clone(&principal), model.clone()))
            .or_default()
            .merge(&totals);
        *state
            .principal_day
            .entry((Arc::clone(&principal), day))
            .or_default() += totals.cost;
        *state
            .principal_month
            .entry((principal, day.month()))
            .or_default() += totals.cost;
    }

    /// Spent by `principal` on the UTC day of `now`.
    pub fn spent_today(&self, principal: &str, now: UnixMillis) -> Nanodollars {
        self.spent(principal, BudgetPeriod::Day, now)
    }

    /// Spent by `principal` in the day or month of `now`.
    pub fn spent(&self, principal: &str, period: BudgetPeriod, now: UnixMillis) -> Nanodollars {
        let state = self.state();
        let principal = state.principal(principal);
        let day = now.day();
        match period {
            BudgetPeriod::Day => state.principal_day.get(&(principal, day)),
            BudgetPeriod::Month => state.principal_month.get(&(principal, day.month())),
        }
        .copied()
        .unwrap_or_default()
    }

    /// Spend per principal over the days `from..=to`, most expensive first.
    pub fn report_by_principal(&self, from: Day, to: Day) -> Vec<ReportRow> {
        self.report(from, to, |(_, principal, _)| principal.to_string())
    }

    /// Spend per model over the days `from..=to`, most expensive first.
    pub fn report_by_model(&self, from: Day, to: Day) -> Vec<ReportRow> {
        self.report(from, to, |(_, _, model)| model.to_string())
    }

    /// Spend per day over `from..=to`, oldest first.
    pub fn report_by_day(&self, from: Day, to: Day) -> Vec<ReportRow> {
        let mut rows = self.report(from, to, |(day, _, _)| day.to_string());
        rows.sort_by(|a, b| a.key.cmp(&b.key));
        rows
    }

    fn report(
        &self,
        from: Day,
        to: Day,
        key: impl Fn(&(Day, Principal, ModelId)) -> String,
    ) -> Vec<ReportRow> {
        let state = self.state();
        let mut groups: BTreeMap<String, Totals> = BTreeMap::new();
        // Reports are rare; a scan of the bounded day map is simpler than a tuple range.
        for (k, totals) in state
            .by_day
            .iter()
            .filter(|(k, _)| (from..=to).contains(&k.0))
        {
            groups.entry(key(k)).or_default().merge(totals);
        }
        let mut rows: Vec<ReportRow> = groups
            .into_iter()
            .map(|(key, totals)| ReportRow { key, totals })
            .collect();
        // Stable sort on cost keeps the key order (alphabetical) among equal costs.
        rows.sort_by_key(|row| std::cmp::Reverse(row.totals.cost));
        rows
    }
}

/// Money held against a principal's budgets for a call in flight.
///
/// [`Self::settle`] charges the call's actual cost and releases the hold; dropping the
/// reservation (the call failed, nothing is billed) releases it too.
#[derive(Debug)]
#[must_use = "dropping a reservation releases it at once"]
pub struct Reservation<'a> {
    ledger: &'a CostLedger,
    principal: Principal,
    day: Day,
    amount: Nanodollars,
    open: bool,
}

impl Reservation<'_> {
    /// The amount held.
    pub fn amount(&self) -> Nanodollars {
        self.amount
    }

    /// Releases the hold and records the actual charge.
    pub fn settle(mut self, charge: &Charge) {
        let mut state = self.ledger.state();
        state.release(&self.principal, self.day, self.amount);
        state.charge(charge);
        self.open = false;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.open {
            self.ledger
                .state()
                .release(&self.principal, self.day, self.amount);
        }
    }
}

#[cfg(test)]
mod tests;
