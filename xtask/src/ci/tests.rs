use std::cell::RefCell;
use std::time::Duration;

use anyhow::bail;

use super::{Outcome, STEPS, Status, Step, run_steps, summary};

/// A fake context: records the steps that ran and fails the ones listed.
struct Fake {
    ran: RefCell<Vec<&'static str>>,
    failing: &'static [&'static str],
}

impl Fake {
    fn step(&self, name: &'static str) -> anyhow::Result<()> {
        self.ran.borrow_mut().push(name);
        if self.failing.contains(&name) {
            bail!("{name} broke");
        }
        Ok(())
    }
}

fn a(fake: &Fake) -> anyhow::Result<()> {
    fake.step("a")
}

fn b(fake: &Fake) -> anyhow::Result<()> {
    fake.step("b")
}

fn c(fake: &Fake) -> anyhow::Result<()> {
    fake.step("c")
}

fn d(fake: &Fake) -> anyhow::Result<()> {
    fake.step("d")
}

const FAKE_STEPS: &[Step<Fake>] = &[
    Step { name: "a", run: a },
    Step { name: "b", run: b },
    Step { name: "c", run: c },
    Step { name: "d", run: d },
];

#[track_caller]
fn check(keep_going: bool, expected_ran: &[&str], expected_statuses: &[Status]) {
    let fake = Fake {
        ran: RefCell::default(),
        failing: &["b", "d"],
    };
    let outcomes = run_steps(FAKE_STEPS, &fake, keep_going);
    assert_eq!(fake.ran.into_inner(), expected_ran, "steps that ran");
    let statuses: Vec<Status> = outcomes.iter().map(|outcome| outcome.status).collect();
    assert_eq!(statuses, expected_statuses, "statuses");
    let names: Vec<&str> = outcomes.iter().map(|outcome| outcome.name).collect();
    assert_eq!(
        names,
        ["a", "b", "c", "d"],
        "every step appears in the summary"
    );
}

#[test]
fn stops_at_the_first_failure_and_reports_the_rest_as_not_run() {
    check(
        false,
        &["a", "b"],
        &[Status::Ok, Status::Failed, Status::NotRun, Status::NotRun],
    );
}

#[test]
fn keep_going_runs_every_step_and_collects_every_failure() {
    check(
        true,
        &["a", "b", "c", "d"],
        &[Status::Ok, Status::Failed, Status::Ok, Status::Failed],
    );
}

#[test]
fn ci_runs_the_documented_steps_in_order() {
    let names: Vec<&str> = STEPS.iter().map(|step| step.name).collect();
    assert_eq!(
        names,
        [
            "fmt",
            "clippy",
            "test",
            "analyzer-model",
            "openai-python",
            "doctest",
            "doc",
            "bench-smoke",
            "tidy"
        ]
    );
}

#[test]
fn summary_lists_each_step_result_and_seconds_then_the_total() {
    let outcomes = [
        Outcome {
            name: "fmt",
            status: Status::Ok,
            elapsed: Duration::from_millis(400),
        },
        Outcome {
            name: "bench-smoke",
            status: Status::Failed,
            elapsed: Duration::from_millis(12_340),
        },
        Outcome {
            name: "tidy",
            status: Status::NotRun,
            elapsed: Duration::ZERO,
        },
    ];
    assert_eq!(
        summary(&outcomes, Duration::from_millis(12_800)),
        "\
step         result    seconds
fmt          ok            0.4
bench-smoke  FAILED       12.3
tidy         not run         -
total                     12.8
"
    );
}
