//! `cargo xtask ci`: every step CI runs, in order, with timings and a summary.
//!
//! The steps are a table ([`STEPS`]): a later check (client tests, load runs) is one more row.
//! A step that needs a tool which is not installed fails with the command that installs it;
//! nothing is ever skipped silently.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::bail;
use xshell::{Shell, cmd};

#[cfg(test)]
mod tests;

/// The environment variable that points PostgreSQL-backed tests at a server.
const POSTGRES_URL_VAR: &str = "ORKESTRA_TEST_POSTGRES_URL";

/// What every step runs with: a shell rooted at the workspace.
pub(crate) struct Context {
    sh: Shell,
    root: PathBuf,
}

/// One CI step: a name for the headers and the summary, and how to run it.
pub(crate) struct Step<C> {
    /// The name shown in headers and in the summary.
    pub(crate) name: &'static str,
    /// Runs the step; an error fails it.
    pub(crate) run: fn(&C) -> anyhow::Result<()>,
}

/// The CI steps in the order they run.
/// Cheap checks come first so a formatting slip fails in seconds, not after the test suite.
const STEPS: &[Step<Context>] = &[
    Step {
        name: "fmt",
        run: fmt,
    },
    Step {
        name: "clippy",
        run: clippy,
    },
    Step {
        name: "test",
        run: test,
    },
    Step {
        name: "analyzer-model",
        run: analyzer_model,
    },
    Step {
        name: "openai-python",
        run: openai_python,
    },
    Step {
        name: "doctest",
        run: doctest,
    },
    Step {
        name: "doc",
        run: doc,
    },
    Step {
        name: "bench-smoke",
        run: bench_smoke,
    },
    Step {
        name: "tidy",
        run: tidy,
    },
];

/// A tool a step cannot run without, how to tell whether it is installed and how to install it.
struct Tool {
    /// The command as a person would type it.
    command: &'static str,
    /// Arguments to `cargo` that succeed only when the tool is installed.
    probe: &'static [&'static str],
    /// The command that installs it.
    install: &'static str,
}

const RUSTFMT: Tool = Tool {
    command: "cargo fmt",
    probe: &["fmt", "--version"],
    install: "rustup component add rustfmt",
};

const CLIPPY: Tool = Tool {
    command: "cargo clippy",
    probe: &["clippy", "--version"],
    install: "rustup component add clippy",
};

const NEXTEST: Tool = Tool {
    command: "cargo nextest",
    probe: &["nextest", "--version"],
    install: "cargo install cargo-nextest --locked",
};

/// Runs every CI step and fails if any step failed.
pub(crate) fn run(root: &Path, keep_going: bool) -> anyhow::Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    let context = Context {
        sh,
        root: root.to_path_buf(),
    };

    if std::env::var_os(POSTGRES_URL_VAR).is_none_or(|url| url.is_empty()) {
        print!("{}", postgres_banner());
    }

    let started = Instant::now();
    let outcomes = run_steps(STEPS, &context, keep_going);
    let total = started.elapsed();
    print!("\n{}", summary(&outcomes, total));

    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|outcome| matches!(outcome.status, Status::Failed))
        .map(|outcome| outcome.name)
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        bail!(
            "{} of {} CI steps failed: {}",
            failed.len(),
            STEPS.len(),
            failed.join(", ")
        )
    }
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// The step succeeded.
    Ok,
    /// The step failed; its error was printed when it ended.
    Failed,
    /// The step did not run because an earlier one failed and `--keep-going` was not given.
    NotRun,
}

/// The result of one step, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// The step's name.
    pub(crate) name: &'static str,
    /// How it ended.
    pub(crate) status: Status,
    /// Its wall time; zero when it did not run.
    pub(crate) elapsed: Duration,
}

/// Runs `steps` in order, printing a header before each and its wall time after.
/// Without `keep_going` the steps after the first failure are reported as not run.
pub(crate) fn run_steps<C>(steps: &[Step<C>], context: &C, keep_going: bool) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(steps.len());
    let mut stopped = false;
    for (index, step) in steps.iter().enumerate() {
        if stopped {
            outcomes.push(Outcome {
                name: step.name,
                status: Status::NotRun,
                elapsed: Duration::ZERO,
            });
            continue;
        }
        println!("\n==> [{}/{}] {}", index + 1, steps.len(), step.name);
        let started = Instant::now();
        let result = (step.run)(context);
        let elapsed = started.elapsed();
        let seconds = elapsed.as_secs_f64();
        let status = match result {
            Ok(()) => {
                println!("<== {} ok in {seconds:.1} s", step.name);
                Status::Ok
            }
            Err(error) => {
                println!("<== {} FAILED in {seconds:.1} s: {error:#}", step.name);
                stopped = !keep_going;
                Status::Failed
            }
        };
        outcomes.push(Outcome {
            name: step.name,
            status,
            elapsed,
        });
    }
    outcomes
}

/// The summary table: one row per step with its result and seconds, then the total.
pub(crate) fn summary(outcomes: &[Outcome], total: Duration) -> String {
    let width = outcomes
        .iter()
        .map(|outcome| outcome.name.len())
        .chain(["total".len()])
        .max()
        .unwrap_or(0);
    let mut table = format!("{:<width$}  {:<7}  {:>8}\n", "step", "result", "seconds");
    for outcome in outcomes {
        let (result, seconds) = match outcome.status {
            Status::Ok => ("ok", format!("{:.1}", outcome.elapsed.as_secs_f64())),
            Status::Failed => ("FAILED", format!("{:.1}", outcome.elapsed.as_secs_f64())),
            Status::NotRun => ("not run", "-".to_owned()),
        };
        // Writing to a String cannot fail.
        let _ = writeln!(table, "{:<width$}  {result:<7}  {seconds:>8}", outcome.name);
    }
    let _ = writeln!(
        table,
        "{:<width$}  {:<7}  {:>8.1}",
        "total",
        "",
        total.as_secs_f64()
    );
    table
}

/// The warning printed when PostgreSQL-backed tests have no server to talk to.
fn postgres_banner() -> String {
    let rule = "!".repeat(78);
    format!(
        "{rule}\n\
         !! {POSTGRES_URL_VAR} is not set.\n\
         !! Tests that need PostgreSQL will report themselves as NOT RUN.\n\
         !! Run `.ci/run` to start a local server, or set {POSTGRES_URL_VAR}=postgres://...\n\
         {rule}\n"
    )
}

/// Fails with the install command when `tool` is missing.
fn require(sh: &Shell, tool: &Tool) -> anyhow::Result<()> {
    if is_installed(sh, tool) {
        Ok(())
    } else {
        bail!(
            "`{}` is not installed; install it with `{}`",
            tool.command,
            tool.install
        )
    }
}

fn is_installed(sh: &Shell, tool: &Tool) -> bool {
    let probe = tool.probe;
    cmd!(sh, "cargo {probe...}")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_ok()
}

fn fmt(cx: &Context) -> anyhow::Result<()> {
    let sh = &cx.sh;
    require(sh, &RUSTFMT)?;
    cmd!(sh, "cargo fmt --all -- --check").run()?;
    Ok(())
}

fn clippy(cx: &Context) -> anyhow::Result<()> {
    let sh = &cx.sh;
    require(sh, &CLIPPY)?;
    cmd!(
        sh,
        "cargo clippy --workspace --all-targets --locked -- -D warnings"
    )
    .run()?;
    // Features only ever switched on elsewhere must still build switched off: orkestra-models
    // without its store is the registry, analyzer and scorer with no database driver.
    cmd!(
        sh,
        "cargo clippy -p orkestra-models --no-default-features --all-targets --locked -- -D warnings"
    )
    .run()?;
    Ok(())
}

fn test(cx: &Context) -> anyhow::Result<()> {
    let sh = &cx.sh;
    if is_installed(sh, &NEXTEST) {
        println!("running tests with cargo-nextest");
        cmd!(sh, "cargo nextest run --workspace --locked --no-fail-fast").run()?;
    } else {
        // nextest is faster and reports better, but `cargo test` runs the same tests,
        // so its absence is a slower run rather than a failure.
        println!(
            "cargo-nextest is not installed, running tests with `cargo test`; install nextest with `{}`",
            NEXTEST.install
        );
        cmd!(sh, "cargo test --workspace --locked --no-fail-fast").run()?;
    }
    // The crate's tests without its store: everything but persistence must pass alone.
    cmd!(
        sh,
        "cargo test -p orkestra-models --no-default-features --locked --no-fail-fast"
    )
    .run()?;
    Ok(())
}

/// The official `openai` Python client against a running gateway.
fn openai_python(cx: &Context) -> anyhow::Result<()> {
    crate::openai_client::run(&cx.sh, &cx.root)
}

/// nextest does not run doctests, so they get their own step.
fn doctest(cx: &Context) -> anyhow::Result<()> {
    let sh = &cx.sh;
    cmd!(sh, "cargo test --workspace --doc --locked").run()?;
    Ok(())
}

fn doc(cx: &Context) -> anyhow::Result<()> {
    let sh = &cx.sh;
    cmd!(sh, "cargo doc --workspace --no-deps --locked")
        .env("RUSTDOCFLAGS", "-Dwarnings")
        .run()?;
    Ok(())
}

/// Compiles every criterion bench and runs each benchmark once in test mode; timings never gate CI.
fn bench_smoke(cx: &Context) -> anyhow::Result<()> {
    let sh = &cx.sh;
    cmd!(sh, "cargo test --workspace --benches --locked").run()?;
    Ok(())
}

/// Retrains the task analyzer's kind model and fails if the shipped one differs (under a
/// second), so `model.bin` is always what the tuning fixture trains.
fn analyzer_model(cx: &Context) -> anyhow::Result<()> {
    crate::train_analyzer::run(&cx.root, true, None)
}

fn tidy(cx: &Context) -> anyhow::Result<()> {
    crate::tidy::run(&cx.root)
}
