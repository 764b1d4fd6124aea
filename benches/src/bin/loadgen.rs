//! `loadgen`: POSTs a JSON body to a URL under a closed loop, an open loop or a burst, and
//! prints one JSON object of figures (see `loadgen --help` and the `orkestra-benches` docs).

#![allow(
    clippy::print_stdout,
    reason = "a command-line program reports its figures on standard output"
)]

use std::process::ExitCode;

use orkestra_benches::options::{Options, OptionsError, USAGE};
use orkestra_benches::run::run_blocking;

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(OptionsError::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("error: {error}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run_blocking(options) {
        Ok(summary) => {
            println!("{}", summary.to_json());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {:#}", anyhow::Error::from(error));
            ExitCode::FAILURE
        }
    }
}
