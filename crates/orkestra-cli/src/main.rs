//! `orkestra`: one command to serve, inspect and try the orchestrator.
//!
//! # Tour
//!
//! - `orkestra serve` runs the OpenAI-compatible gateway (`orkestra-server`); providers of kind
//!   `simulator` are started in-process (`orkestra-mock`) and labelled "simulated".
//! - `orkestra route "<prompt>"` prints the ranking and why; `orkestra chat "<prompt>"` answers
//!   through the orchestrator in this process, no server needed.
//! - `orkestra models list | export | import` reads and writes model catalogs, including
//!   LiteLLM's price file.
//! - `orkestra mock` runs the simulator alone; `orkestra init` writes a commented
//!   configuration.
//!
//! Every command takes `--config FILE`; without it `./orkestra.toml` is read if it exists,
//! else the built-in demo (`src/demo.toml`: three simulated models and an echo model), so the
//! first `orkestra serve` on a fresh machine needs no network and no key.
//!
//! # Example
//!
//! ```sh
//! orkestra serve &
//! curl -i http://127.0.0.1:8080/v1/chat/completions -H 'content-type: application/json' \
//!   -d '{"model":"auto","messages":[{"role":"user","content":"hello"}]}'
//! orkestra route "write a python function" --strategy cost
//! ```
//!
//! # Exit codes
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | runtime failure: no model answered, a port or database could not be opened, I/O |
//! | 2 | usage or configuration error: bad arguments, an invalid file (`FILE:LINE:COLUMN: KEY: what was expected`), an unknown model, a file `init` would overwrite |

// A command-line program reports to its user on standard output.
#![allow(clippy::print_stdout)]

mod chat;
mod cli;
mod failure;
mod init;
mod mock;
mod models;
mod route;
mod serve;
mod setup;

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, Command};
use crate::failure::Failure;

fn main() -> ExitCode {
    // clap prints help and version with exit 0 and a usage error with exit 2.
    let cli = Cli::parse();
    setup::init_logging(match cli.command {
        Command::Serve(_) | Command::Mock(_) => "info",
        _ => "warn",
    });
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            failure.exit_code()
        }
    }
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Route(args) => route::run(&args),
        Command::Models(command) => models::run(&command),
        Command::Init(args) => init::run(&args),
        Command::Serve(args) => runtime()?.block_on(serve::run(args)),
        Command::Chat(args) => runtime()?.block_on(chat::run(args)),
        Command::Mock(args) => runtime()?.block_on(mock::run(args)),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure::runtime(anyhow::Error::new(error).context("cannot start tokio")))
}

#[cfg(test)]
mod tests;
