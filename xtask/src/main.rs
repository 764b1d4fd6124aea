//! Project automation for orkestra, run as `cargo xtask <command>`.
//!
//! Everything CI does lives here, in Rust, so a contributor runs exactly what CI runs with one command:
//!
//! - `cargo xtask ci [--keep-going]` runs every CI step in order (format, lints, tests, the
//!   analyzer model check, the OpenAI client tests, doctests, docs, bench smoke runs, tidy), prints
//!   each step's wall time and a summary, and fails if any step failed;
//! - `cargo xtask tidy` checks the workspace conventions every member package must follow;
//! - `cargo xtask bench [crate] [-- <criterion args>]` runs criterion benches;
//! - `cargo xtask load-mock [--seconds N] [--connections N]` load-tests the simulator with wrk;
//! - `cargo xtask load-gateway [--seconds N] [--no-litellm] [--against PATH]` measures the gateway's added latency,
//!   throughput, memory and burst time against the simulator directly, a bare HTTP hop and
//!   LiteLLM's proxy;
//! - `cargo xtask train-analyzer [--check] [--folds N]` trains the task analyzer's kind model from
//!   the tuning fixture (`--check`: fails if it differs from the shipped one);
//! - `cargo xtask analyzer-eval [--misses] FILE...` prints the task analyzer's accuracy on
//!   labelled files;
//! - `cargo xtask help` prints the usage text.
//!
//! Commands are spawned with `xshell`'s `cmd!`, which never splits arguments through a shell,
//! and the command line is read by a small hand-written parser because a parser crate would cost more
//! build time than the handful of flags is worth.

// A command-line tool reports to its user on standard output, so printing is the point here.
#![allow(clippy::print_stdout)]

mod bench;
mod ci;
mod flags;
mod load_gateway;
mod load_mock;
mod openai_client;
mod tidy;
mod train_analyzer;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use crate::flags::Command;

fn main() -> ExitCode {
    let command = match flags::parse_os(std::env::args_os().skip(1)) {
        Ok(command) => command,
        Err(error) => {
            eprintln!("error: {error}\n\n{}", flags::USAGE);
            // Exit code 2 is the convention for a command line that could not be understood.
            return ExitCode::from(2);
        }
    };
    match run(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    let root = project_root()?;
    match command {
        Command::Help => {
            print!("{}", flags::USAGE);
            Ok(())
        }
        Command::Ci { keep_going } => ci::run(&root, keep_going),
        Command::Tidy => tidy::run(&root),
        Command::Bench {
            package,
            criterion_args,
        } => bench::run(&root, package.as_deref(), &criterion_args),
        Command::LoadMock {
            seconds,
            connections,
        } => load_mock::run(&root, seconds, connections),
        Command::LoadGateway {
            seconds,
            litellm,
            against,
        } => load_gateway::run(&root, seconds, litellm, against.as_deref()),
        Command::TrainAnalyzer { check, folds } => train_analyzer::run(&root, check, folds),
        Command::AnalyzerEval { files, misses } => train_analyzer::eval(&files, misses),
    }
}

/// The workspace root, found from where this crate was compiled rather than from the current
/// directory, so `cargo xtask` behaves the same from any folder of the workspace.
fn project_root() -> anyhow::Result<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .context("the xtask manifest folder has no parent folder")
}
