//! Routes a prompt over the built-in catalog and prints the ranking and why.
//!
//! ```sh
//! cargo run -p orkestra-models --example route -- "Write a Rust function that reverses a list"
//! cargo run -p orkestra-models --example route -- --strategy cost "Summarize this paragraph: ..."
//! ```
//!
//! Strategies: quality, cost, speed, balanced (the default), local.

use std::process::ExitCode;

use orkestra_core::{ChatRequest, Message};
use orkestra_models::{Catalog, Policy, Scorer, Strategy, TaskAnalyzer};

fn main() -> ExitCode {
    let mut strategy = Strategy::Balanced;
    let mut prompt = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--strategy" {
            let Some(name) = args.next() else {
                eprintln!("error: --strategy needs a value: quality, cost, speed, balanced, local");
                return ExitCode::from(2);
            };
            match name.parse() {
                Ok(parsed) => strategy = parsed,
                Err(error) => {
                    eprintln!("error: {error}");
                    return ExitCode::from(2);
                }
            }
        } else {
            prompt.push(arg);
        }
    }
    let prompt = if prompt.is_empty() {
        "Write a Rust function that merges two sorted vectors, with tests.".to_owned()
    } else {
        prompt.join(" ")
    };
    let registry = match Catalog::builtin().into_registry() {
        Ok(registry) => registry,
        Err(error) => {
            eprintln!("error: the built-in catalog is invalid: {error}");
            return ExitCode::FAILURE;
        }
    };
    let request = ChatRequest::new("auto", vec![Message::user(prompt.as_str())]);
    let profile = TaskAnalyzer::new().analyze(&request);
    let selection =
        Scorer::default().rank(&registry.snapshot(), &profile, &Policy::new(strategy), &());
    let out = format!(
        "prompt: {prompt:?}\nprofile: {} (confidence {:.2}), {} complexity, ~{} tokens in, ~{} out, language {}\n\n{}",
        profile.kind,
        profile.confidence,
        profile.complexity,
        profile.input_tokens,
        profile.expected_output_tokens,
        profile.language,
        selection.explain(),
    );
    #[expect(clippy::print_stdout, reason = "an example binary reports on stdout")]
    {
        print!("{out}");
    }
    ExitCode::SUCCESS
}
