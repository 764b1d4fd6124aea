//! The command line: which command to run and with which flags.
//!
//! The parser is hand-written because xtask takes a handful of flags; it rejects anything it does not
//! know by name, so a typo like `--keepgoing` fails loudly instead of being ignored.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

#[cfg(test)]
mod tests;

/// The usage text printed by `cargo xtask help` and after a command-line error.
pub(crate) const USAGE: &str = "\
Usage: cargo xtask <command> [flags]

Commands:
  ci [--keep-going]          Run every CI step in order: fmt, clippy, test, analyzer-model, openai-python,
                             doctest, doc, bench-smoke, tidy.
                             Prints each step's wall time and a summary; exits non-zero if a step failed.
      --keep-going           Run the remaining steps after a failure and report every failed step at the end.
  tidy                       Check every workspace member: `[lints] workspace = true`, a description,
                             a README.md, a crate root opening with `//!` docs, folder named like the package.
  bench [crate] [-- <args>]  Run the criterion benches of one crate (the whole workspace without a crate),
                             passing <args> after `--` to criterion, e.g. `-- --save-baseline main`.
  load-mock [--seconds N] [--connections N]
                             Load-test orkestra-mock's `serve` example (release) with wrk, then a bare
                             hyper baseline; print requests/s and latency percentiles for both and fail
                             below 20,000 requests/s. Defaults: 10 seconds, 64 connections.
  load-gateway [--seconds N] [--no-litellm] [--against PATH]
                             Load-test the gateway (`orkestra serve`, release) in front of the simulator
                             with `loadgen`, beside calling the simulator directly and LiteLLM's proxy:
                             added latency at concurrency 1, 10,000 requests/s, memory, a burst of 50.
                             Prints a markdown table (also target/load-gateway/report.md) and fails if
                             the gateway misses a bar. Default: 10 seconds per phase (LiteLLM: 5).
      --no-litellm           Skip LiteLLM (otherwise it must be installed: pip install 'litellm[proxy]').
      --against PATH         Also run PATH, another `orkestra` executable (an earlier build, or a script
                             that starts one with other settings), in the same rounds: c=1 added latency,
                             CPU per request, and 3 alternating closed loops on 64 connections. The
                             CPU bars (at least a third below PATH's) are checked only with it.
  train-analyzer [--check] [--folds N]
                             Train the task analyzer's kind model from the tuning fixture
                             (crates/orkestra-models/tests/fixtures/analyzer/prompts.jsonl) into
                             crates/orkestra-models/src/analyzer/model.bin.
      --check                Train, and fail if the result differs from the shipped model.
      --folds N              First print the accuracy of N-fold cross-validation on the tuning set.
  analyzer-eval [--misses] FILE...
                             Print the task analyzer's kind (per kind, with confusions), complexity
                             and language accuracy on labelled JSONL files in the fixture's format.
      --misses               Also list every miss, prompt by prompt.
  help                       Print this text (also `-h`, `--help`).

Environment:
  ORKESTRA_TEST_POSTGRES_URL PostgreSQL URL for the tests that need a server; without it they report
                             themselves as not run. `.ci/run` starts a local server and sets it.
";

/// A command read from the command line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// Print the usage text.
    Help,
    /// Run every CI step.
    Ci {
        /// Run the remaining steps after a failure instead of stopping.
        keep_going: bool,
    },
    /// Check workspace conventions.
    Tidy,
    /// Run criterion benches.
    Bench {
        /// The package whose benches to run; `None` runs the whole workspace.
        package: Option<String>,
        /// Arguments after `--`, passed through to criterion.
        criterion_args: Vec<String>,
    },
    /// Load-test the simulator with wrk against a baseline.
    LoadMock {
        /// How long each wrk run lasts.
        seconds: u32,
        /// Open connections.
        connections: u32,
    },
    /// Load-test the gateway against the simulator directly and LiteLLM.
    LoadGateway {
        /// How long each measured phase lasts.
        seconds: u32,
        /// Measure LiteLLM's proxy too.
        litellm: bool,
        /// Another `orkestra` executable to measure beside this build's, in the same rounds.
        against: Option<PathBuf>,
    },
    /// Train the task analyzer's kind model.
    TrainAnalyzer {
        /// Fail if the trained model differs from the shipped one, instead of writing it.
        check: bool,
        /// Report this many folds of cross-validation first.
        folds: Option<u32>,
    },
    /// The task analyzer's accuracy on labelled files.
    AnalyzerEval {
        /// The labelled JSONL files.
        files: Vec<PathBuf>,
        /// List every miss.
        misses: bool,
    },
}

/// Why a command line could not be understood.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum UsageError {
    /// No command was given.
    NoCommand,
    /// The first argument is not a known command.
    UnknownCommand(String),
    /// A flag the command does not take.
    UnknownFlag {
        /// The command the flag was given to.
        command: &'static str,
        /// The flag as typed.
        flag: String,
    },
    /// A positional argument the command does not take.
    UnexpectedArgument {
        /// The command the argument was given to.
        command: &'static str,
        /// The argument as typed.
        argument: String,
    },
    /// An argument that is not valid Unicode; every argument xtask knows is.
    NotUnicode(OsString),
    /// A flag that needs a value got none, or another flag.
    MissingValue {
        /// The flag.
        flag: &'static str,
        /// What followed it, if anything.
        value: Option<String>,
    },
    /// A flag that needs a positive number got something else.
    BadNumber {
        /// The flag.
        flag: &'static str,
        /// What was given, if anything.
        value: Option<String>,
    },
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoCommand => f.write_str("no command given"),
            Self::UnknownCommand(command) => write!(f, "unknown command `{command}`"),
            Self::UnknownFlag { command, flag } => {
                write!(f, "unknown flag `{flag}` for `cargo xtask {command}`")
            }
            Self::UnexpectedArgument { command, argument } => {
                write!(
                    f,
                    "unexpected argument `{argument}` for `cargo xtask {command}`"
                )
            }
            Self::NotUnicode(argument) => {
                write!(f, "argument `{}` is not valid Unicode", argument.display())
            }
            Self::MissingValue { flag, value: None } => write!(f, "`{flag}` needs a value"),
            Self::MissingValue {
                flag,
                value: Some(value),
            } => write!(f, "`{flag}` needs a value, not the flag `{value}`"),
            Self::BadNumber { flag, value: None } => {
                write!(f, "`{flag}` needs a positive number")
            }
            Self::BadNumber {
                flag,
                value: Some(value),
            } => write!(f, "`{flag}` needs a positive number, not `{value}`"),
        }
    }
}

/// Parses the arguments after the program name, as the operating system passed them.
pub(crate) fn parse_os(args: impl IntoIterator<Item = OsString>) -> Result<Command, UsageError> {
    let args = args
        .into_iter()
        .map(|arg| arg.into_string().map_err(UsageError::NotUnicode))
        .collect::<Result<Vec<_>, _>>()?;
    parse(args)
}

/// Parses the arguments after the program name.
pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, UsageError> {
    let mut args = args.into_iter();
    let Some(command) = args.next() else {
        return Err(UsageError::NoCommand);
    };
    match command.as_str() {
        "help" | "-h" | "--help" => {
            reject_all("help", args)?;
            Ok(Command::Help)
        }
        "ci" => {
            let mut keep_going = false;
            for arg in args {
                match arg.as_str() {
                    "--keep-going" => keep_going = true,
                    "-h" | "--help" => return Ok(Command::Help),
                    _ => return Err(unexpected("ci", arg)),
                }
            }
            Ok(Command::Ci { keep_going })
        }
        "tidy" => {
            if let Some(arg) = args.next() {
                return if is_help(&arg) {
                    Ok(Command::Help)
                } else {
                    Err(unexpected("tidy", arg))
                };
            }
            Ok(Command::Tidy)
        }
        "bench" => parse_bench(args),
        "load-mock" => parse_load_mock(args),
        "load-gateway" => parse_load_gateway(args),
        "train-analyzer" => parse_train_analyzer(args),
        "analyzer-eval" => parse_analyzer_eval(args),
        _ if command.starts_with('-') => Err(UsageError::UnknownFlag {
            command: "<command>",
            flag: command,
        }),
        _ => Err(UsageError::UnknownCommand(command)),
    }
}

fn parse_bench(mut args: impl Iterator<Item = String>) -> Result<Command, UsageError> {
    let mut package = None;
    let mut criterion_args = Vec::new();
    while let Some(arg) = args.next() {
        if arg == "--" {
            criterion_args.extend(args);
            break;
        }
        if is_help(&arg) {
            return Ok(Command::Help);
        }
        if arg.starts_with('-') || package.is_some() {
            return Err(unexpected("bench", arg));
        }
        package = Some(arg);
    }
    Ok(Command::Bench {
        package,
        criterion_args,
    })
}

fn parse_load_mock(mut args: impl Iterator<Item = String>) -> Result<Command, UsageError> {
    let mut seconds = 10;
    let mut connections = 64;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => seconds = positive("--seconds", args.next())?,
            "--connections" => connections = positive("--connections", args.next())?,
            "-h" | "--help" => return Ok(Command::Help),
            _ => return Err(unexpected("load-mock", arg)),
        }
    }
    Ok(Command::LoadMock {
        seconds,
        connections,
    })
}

fn parse_load_gateway(mut args: impl Iterator<Item = String>) -> Result<Command, UsageError> {
    let mut seconds = 10;
    let mut litellm = true;
    let mut against = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => seconds = positive("--seconds", args.next())?,
            "--no-litellm" => litellm = false,
            "--against" => match args.next() {
                Some(path) if !path.starts_with('-') => against = Some(PathBuf::from(path)),
                value => {
                    return Err(UsageError::MissingValue {
                        flag: "--against",
                        value,
                    });
                }
            },
            "-h" | "--help" => return Ok(Command::Help),
            _ => return Err(unexpected("load-gateway", arg)),
        }
    }
    Ok(Command::LoadGateway {
        seconds,
        litellm,
        against,
    })
}

fn parse_train_analyzer(mut args: impl Iterator<Item = String>) -> Result<Command, UsageError> {
    let mut check = false;
    let mut folds = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--folds" => folds = Some(positive("--folds", args.next())?),
            "-h" | "--help" => return Ok(Command::Help),
            _ => return Err(unexpected("train-analyzer", arg)),
        }
    }
    Ok(Command::TrainAnalyzer { check, folds })
}

fn parse_analyzer_eval(args: impl Iterator<Item = String>) -> Result<Command, UsageError> {
    let mut files = Vec::new();
    let mut misses = false;
    for arg in args {
        match arg.as_str() {
            "--misses" => misses = true,
            "-h" | "--help" => return Ok(Command::Help),
            _ if arg.starts_with('-') => return Err(unexpected("analyzer-eval", arg)),
            _ => files.push(PathBuf::from(arg)),
        }
    }
    if files.is_empty() {
        return Err(UsageError::MissingValue {
            flag: "FILE",
            value: None,
        });
    }
    Ok(Command::AnalyzerEval { files, misses })
}

fn positive(flag: &'static str, value: Option<String>) -> Result<u32, UsageError> {
    match value.as_deref().map(str::parse::<u32>) {
        Some(Ok(number)) if number > 0 => Ok(number),
        _ => Err(UsageError::BadNumber { flag, value }),
    }
}

fn reject_all(
    command: &'static str,
    mut args: impl Iterator<Item = String>,
) -> Result<(), UsageError> {
    match args.next() {
        Some(arg) => Err(unexpected(command, arg)),
        None => Ok(()),
    }
}

fn is_help(arg: &str) -> bool {
    arg == "-h" || arg == "--help"
}

fn unexpected(command: &'static str, arg: String) -> UsageError {
    if arg.starts_with('-') {
        UsageError::UnknownFlag { command, flag: arg }
    } else {
        UsageError::UnexpectedArgument {
            command,
            argument: arg,
        }
    }
}
