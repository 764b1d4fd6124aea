//! The fault table: every fault of the simulator's catalogue, what a client must make of it
//! (the `ErrorClass` a resilience policy acts on), plain and streamed, for every wire format.
//!
//! Each row runs on its own model (one per row and mode), so the rows run concurrently against
//! one simulator and their request counts and flapping clocks do not mix. Every mismatch is
//! collected, so one run reports the whole table.

use std::time::Duration;

use orkestra_core::{ChatRequest, ErrorCategory, Message};
use orkestra_mock::{Fault, ModelBehaviour, Output, Trigger};
use tokio::time::Instant;

use super::{FIRST_BYTE_TIMEOUT, IDLE_TIMEOUT, Streamed, Subject, Target, Wire, stream_chat};

/// What every fault model answers when it answers: several words, so a stream has a dozen
/// chunks and the mid-stream faults (after three chunks) strike in the middle.
const ANSWER: &str = "Twelve chunks of four characters each make a stream.";

/// How a timeout error names the first-byte timeout (`super::FIRST_BYTE_TIMEOUT`).
const FIRST_BYTE: &str = "first_byte_timeout";
/// How a timeout error names the idle timeout (`super::IDLE_TIMEOUT`).
const IDLE: &str = "idle_timeout";

/// One row of the table.
pub(super) struct Case {
    name: &'static str,
    fault: Fault,
    when: Trigger,
    plain: Vec<Step>,
    stream: Vec<Step>,
    /// Only for this format (a fault only one provider sends); `None` for all.
    only: Option<Wire>,
}

/// What happens in order on a row's model.
#[derive(Debug, Clone)]
enum Step {
    /// A call that must succeed with the whole answer.
    Succeeds,
    /// A call that must fail with this class.
    Fails {
        category: ErrorCategory,
        retryable: bool,
        retry_after: After,
        /// Words the message must contain (which timeout fired); `None` for any message.
        says: Option<&'static str>,
    },
    /// Wait until this long after the model's behaviour was set (the flapping clock).
    WaitSinceSet(Duration),
}

/// What a failure must say about when to call again.
#[derive(Debug, Clone, Copy)]
enum After {
    /// Whatever the client found.
    Unchecked,
    /// Nothing: the server did not say.
    Absent,
    /// Between these bounds, inclusive.
    Within(Duration, Duration),
}

fn fails(category: ErrorCategory, retryable: bool) -> Step {
    Step::Fails {
        category,
        retryable,
        retry_after: After::Unchecked,
        says: None,
    }
}

fn rate_limited(retry_after: After) -> Step {
    Step::Fails {
        category: ErrorCategory::RateLimited,
        retryable: true,
        retry_after,
        says: None,
    }
}

/// A retryable timeout, naming the timeout that fired (its configuration name).
fn timed_out(timeout: &'static str) -> Step {
    Step::Fails {
        category: ErrorCategory::Timeout,
        retryable: true,
        retry_after: After::Absent,
        says: Some(timeout),
    }
}

/// A row whose steps are the same plain and streamed.
fn case(name: &'static str, fault: Fault, when: Trigger, steps: Vec<Step>) -> Case {
    Case {
        name,
        fault,
        when,
        plain: steps.clone(),
        stream: steps,
        only: None,
    }
}

impl Case {
    /// The same row with other steps when streamed.
    fn streamed(mut self, steps: Vec<Step>) -> Self {
        self.stream = steps;
        self
    }

    /// The same row, for one format only.
    fn only(mut self, wire: Wire) -> Self {
        self.only = Some(wire);
        self
    }
}

/// The table: one line per fault.
// Kept unformatted so each row stays on one line: the table reads down its columns.
#[rustfmt::skip]
pub(super) fn table() -> Vec<Case> {
    use ErrorCategory::{
        Auth, ContentFilter, ContextLength, Internal, Network, Overloaded, RateLimited,
    };
    use Step::{Succeeds, WaitSinceSet};
    let secs = Duration::from_secs;
    let millis = Duration::from_millis;
    let rate_limit = |retry_after: Option<Duration>, as_date: bool| Fault::RateLimited {
        retry_after,
        as_date,
    };
    let status = |code: u16| Fault::Status { code };
    // An HTTP date has whole seconds and the clock moves on before the client reads it.
    let date_bounds = After::Within(secs(28), secs(30));

    vec![
        case("rate_limited_seconds", rate_limit(Some(secs(7)), false), Trigger::Always, vec![rate_limited(After::Within(secs(7), secs(7)))]),
        case("rate_limited_date", rate_limit(Some(secs(30)), true), Trigger::Always, vec![rate_limited(date_bounds)]),
        case("rate_limited_bare", rate_limit(None, false), Trigger::Always, vec![rate_limited(After::Absent)]),
        case("rate_limited_persistent", rate_limit(None, false), Trigger::Always, vec![fails(RateLimited, true); 3]),
        case("internal_once", status(500), Trigger::Requests(vec![1]), vec![fails(Internal, true), Succeeds]),
        case("overloaded_persistent", status(503), Trigger::Always, vec![fails(Overloaded, true); 3]),
        case("overloaded_529", status(529), Trigger::Always, vec![fails(Overloaded, true)]).only(Wire::Anthropic),
        case("unauthorized", status(401), Trigger::Always, vec![fails(Auth, false)]),
        case("reset", Fault::Reset, Trigger::Always, vec![fails(Network, true)]),
        case("no_response", Fault::NoResponse, Trigger::Always, vec![timed_out(FIRST_BYTE)]),
        // Plain, the headers come late (first-byte timeout); streamed, the first chunk does (idle).
        case("slow_first_token_beyond", Fault::SlowFirstToken { delay: FIRST_BYTE_TIMEOUT * 2 }, Trigger::Always, vec![timed_out(FIRST_BYTE)]).streamed(vec![timed_out(IDLE)]),
        case("slow_first_token_within", Fault::SlowFirstToken { delay: millis(50) }, Trigger::Always, vec![Succeeds]),
        case("cut_stream", Fault::CutStream { after_chunks: 3 }, Trigger::Always, vec![fails(Network, true)]),
        case("stall", Fault::Stall { after_chunks: 3, duration: IDLE_TIMEOUT * 4 }, Trigger::Always, vec![timed_out(IDLE)]),
        case("malformed_chunk", Fault::MalformedChunk { after_chunks: 3 }, Trigger::Always, vec![fails(Internal, true)]),
        // Plain, the body is JSON without its closing brace. Streamed, the answer came whole with
        // its finish reason (`OpenAI`'s `finish_reason`, Anthropic's `stop_reason`), only the
        // terminator is missing, so it is complete; Ollama's terminator is its last object, the
        // one with `done: true` and the finish reason, so without it the stream is cut.
        case("missing_terminator", Fault::MissingTerminator, Trigger::Always, vec![fails(Internal, true)]).streamed(vec![Succeeds]).only(Wire::OpenAi),
        case("missing_terminator", Fault::MissingTerminator, Trigger::Always, vec![fails(Internal, true)]).streamed(vec![Succeeds]).only(Wire::Anthropic),
        case("missing_terminator", Fault::MissingTerminator, Trigger::Always, vec![fails(Internal, true)]).streamed(vec![fails(Network, true)]).only(Wire::Ollama),
        case("context_length", Fault::ContextLength, Trigger::Always, vec![fails(ContextLength, false)]),
        case("content_filter", Fault::ContentFilter, Trigger::Always, vec![fails(ContentFilter, false)]),
        case("flapping", status(503), Trigger::Flapping { down: millis(600), up: None }, vec![fails(Overloaded, true), WaitSinceSet(millis(700)), Succeeds]),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Plain,
    Stream,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Stream => "stream",
        }
    }
}

/// Runs every row of the table for `target`'s format, plain and streamed, concurrently, and
/// fails with every mismatch found.
pub(super) async fn battery(target: Target) {
    let Target::Wire(wire) = target else {
        panic!("the fault table needs the simulator");
    };
    let subject = target.start(Vec::new()).await;
    let cases: Vec<Case> = table()
        .into_iter()
        .filter(|case| case.only.is_none_or(|only| only == wire))
        .collect();
    let runs = cases
        .iter()
        .flat_map(|case| [Mode::Plain, Mode::Stream].map(|mode| run(&subject, case, mode)));
    let problems: Vec<String> = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert!(
        problems.is_empty(),
        "{wire:?}: {} mismatch(es) in the fault table:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Runs one row in one mode on its own model; returns what went wrong.
async fn run(subject: &Subject, case: &Case, mode: Mode) -> Vec<String> {
    let (server, _) = subject.mock.as_ref().expect("a wire target");
    let model = format!("{}-{}", case.name, mode.as_str());
    let steps = match mode {
        Mode::Plain => &case.plain,
        Mode::Stream => &case.stream,
    };
    let set_at = Instant::now();
    server.set_model(
        ModelBehaviour {
            output: Output::Fixed(ANSWER.to_owned()),
            ..ModelBehaviour::echo(&model)
        }
        .with_fault(case.fault.clone(), case.when.clone()),
    );
    let request = ChatRequest::new(model.clone(), vec![Message::user("Say something.")]);

    let mut problems = Vec::new();
    let mut calls = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        if let Step::WaitSinceSet(after) = step {
            tokio::time::sleep_until(set_at + *after).await;
            continue;
        }
        let outcome = match mode {
            Mode::Plain => match subject.backend.chat(&request).await {
                Ok(response) => Streamed::Complete {
                    response,
                    text_deltas: 0,
                },
                Err(error) => Streamed::Failed(error),
            },
            Mode::Stream => stream_chat(subject.backend.as_ref(), &request).await,
        };
        if let Some(problem) = check(step, &outcome, &model) {
            problems.push(format!("{model}, step {index}: {problem}"));
        }
        calls.push(step);
    }

    // One request reached the server per call (a client never retries on its own), and the
    // fault struck every call that was to fail: the failure is the fault's, not another's.
    let log: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|entry| entry.model == model)
        .collect();
    if log.len() == calls.len() {
        for (entry, step) in log.iter().zip(&calls) {
            if matches!(step, Step::Fails { .. }) && entry.fault.is_none() {
                problems.push(format!(
                    "{model}: request {} was to fail, yet the server applied no fault",
                    entry.request_number
                ));
            }
        }
    } else {
        problems.push(format!(
            "{model}: {} calls made {} requests",
            calls.len(),
            log.len()
        ));
    }
    problems
}

/// Whether one call's outcome is what the step expects; `Some` says how it is not.
fn check(step: &Step, outcome: &Streamed, model: &str) -> Option<String> {
    match (step, outcome) {
        (Step::Succeeds, Streamed::Complete { response, .. }) => {
            (response.text() != ANSWER || response.finish_reason().is_none()).then(|| {
                format!(
                    "expected the whole answer, got {:?} (finish {:?})",
                    response.text(),
                    response.finish_reason()
                )
            })
        }
        (
            Step::Fails {
                category,
                retryable,
                retry_after,
                says,
            },
            Streamed::Failed(error),
        ) => {
            let class = error.class;
            let mut wrong = Vec::new();
            if class.category != *category {
                wrong.push(format!("category {} (expected {category})", class.category));
            }
            if class.retryable != *retryable {
                wrong.push(format!(
                    "retryable {} (expected {retryable})",
                    class.retryable
                ));
            }
            match (retry_after, class.retry_after) {
                (After::Unchecked, _) | (After::Absent, None) => {}
                (After::Within(low, high), Some(after)) if (*low..=*high).contains(&after) => {}
                (expected, found) => {
                    wrong.push(format!("retry_after {found:?} (expected {expected:?})"));
                }
            }
            if let Some(words) = says
                && !error.message.contains(words)
            {
                wrong.push(format!("message without {words:?}"));
            }
            if error.provider.is_none() || error.model.as_deref() != Some(model) {
                wrong.push(format!(
                    "names provider {:?} and model {:?}",
                    error.provider, error.model
                ));
            }
            (!wrong.is_empty()).then(|| format!("{}: {error}", wrong.join(", ")))
        }
        (_, Streamed::Truncated(text)) => Some(format!(
            "a truncated success: the stream ended cleanly without a finish after {text:?}"
        )),
        (Step::Succeeds, Streamed::Failed(error)) => {
            Some(format!("expected success, failed: {error}"))
        }
        (Step::Fails { category, .. }, Streamed::Complete { response, .. }) => Some(format!(
            "expected {category}, succeeded with {:?}",
            response.text()
        )),
        (Step::WaitSinceSet(_), _) => None,
    }
}
