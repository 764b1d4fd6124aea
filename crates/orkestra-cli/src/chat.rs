//! `orkestra chat`: one prompt through the orchestrator in this process.

use std::io::Write as _;

use anyhow::anyhow;
use futures_util::StreamExt as _;
use orkestra::core::{ChatRequest, ErrorCategory, Message, StreamEvent};
use orkestra::{CallContext, CallError, Orchestrator, RouteReport};

use crate::cli::ChatArgs;
use crate::failure::Failure;
use crate::setup;

/// Sends `args.prompt`, prints the answer on standard output and the attempts on standard
/// error.
pub(crate) async fn run(args: ChatArgs) -> Result<(), Failure> {
    let setup::Loaded { mut config, source } = setup::load(args.config.config.as_deref())?;
    let simulators = setup::start_simulators(&mut config, &source).await?;
    let orchestrator = setup::orchestrator(&config, &source).await?;
    let mut request = ChatRequest::new(args.model, vec![Message::user(args.prompt)]);
    let result = if args.stream {
        request.stream = Some(true);
        stream(&orchestrator, &request).await
    } else {
        complete(&orchestrator, &request).await
    };
    // Charges and statistics are written whether or not the call succeeded.
    orchestrator.shutdown().await;
    simulators.shutdown().await;
    result
}

async fn complete(orchestrator: &Orchestrator, request: &ChatRequest) -> Result<(), Failure> {
    let completion = orchestrator
        .complete(request, &CallContext::default())
        .await
        .map_err(|error| call_failure(&error))?;
    println!("{}", completion.response.text());
    report(&completion.report);
    Ok(())
}

async fn stream(orchestrator: &Orchestrator, request: &ChatRequest) -> Result<(), Failure> {
    let routed = orchestrator
        .complete_stream(request, &CallContext::default())
        .await
        .map_err(|error| call_failure(&error))?;
    let mut events = routed.stream;
    let mut stdout = std::io::stdout();
    while let Some(event) = events.next().await {
        match event {
            Ok(StreamEvent::Delta(delta)) => {
                if let Some(content) = delta.content {
                    stdout.write_all(content.as_bytes())?;
                    stdout.flush()?;
                }
            }
            Ok(_) => {}
            Err(error) => {
                writeln!(stdout)?;
                report(&routed.report);
                return Err(Failure::runtime(anyhow!(
                    "the stream broke after the first token: {error}"
                )));
            }
        }
    }
    writeln!(stdout)?;
    report(&routed.report);
    Ok(())
}

/// `model: sim/small`, then one line per attempt.
fn report(report: &RouteReport) {
    if let Some(model) = report.model() {
        eprintln!("model: {model}");
    }
    let attempts: Vec<String> = report.attempts.iter().map(ToString::to_string).collect();
    eprintln!("attempts: {}", attempts.join(", "));
}

/// A request nobody could route is the caller's mistake (exit 2); a failed call is not.
fn call_failure(error: &CallError) -> Failure {
    if !error.report.attempts.is_empty() {
        report(&error.report);
    }
    let callers = error.report.attempts.is_empty()
        && matches!(
            error.error.class.category,
            ErrorCategory::NotFound | ErrorCategory::InvalidRequest
        );
    if callers {
        Failure::usage(anyhow!("{error}"))
    } else {
        Failure::runtime(anyhow!("{error}"))
    }
}
