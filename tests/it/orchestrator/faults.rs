//! Every fault scenario of `ANCHORS.md` through the orchestrator: answered by a fallback, or
//! failed with the right class; the answering model and its usage reported; failed attempts
//! never billed, and a stream cut after its first token billed once for what it streamed.
//!
//! The table runs each row on its own chain, plain and streamed, all rows at once against one
//! simulator: `p` (16k context, the faulty primary), `s` (8k, same provider), `b` (32k, another
//! provider spoken to over the Anthropic wire format). So a context-length error skips `s`, an
//! auth error skips `s` too (same key), and everything else falls back to `s`.

use std::time::Instant;

use orkestra::config::ContentFilterAction;
use orkestra_core::ErrorCategory;
use orkestra_mock::{Fault, Trigger};
use orkestra_models::spec::LatencyProfile;
use orkestra_models::store::Store;
use orkestra_resilience::breaker::State;
use orkestra_resilience::bulkhead::BulkheadConfig;
use orkestra_resilience::rate_limit::RateLimitConfig;

use super::*;

/// What a row's call must come to.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Answered by the last of these attempts (`p`, `s` or `b`, and the outcome).
    Answered(&'static [(&'static str, &'static str)]),
    /// Failed with this class after these attempts.
    Failed(ErrorCategory, &'static [(&'static str, &'static str)]),
    /// The stream began on `p`, then ended with an error item of this class.
    Broken(ErrorCategory),
}

/// One row of the table.
struct Row {
    name: &'static str,
    fault: Fault,
    when: Trigger,
    plain: Expect,
    stream: Expect,
}

fn row(name: &'static str, fault: Fault, when: Trigger, plain: Expect, stream: Expect) -> Row {
    Row {
        name,
        fault,
        when,
        plain,
        stream,
    }
}

/// The table: one line per scenario.
// Kept unformatted so each row stays on one line: the table reads down its columns.
#[rustfmt::skip]
fn table() -> Vec<Row> {
    use ErrorCategory::{Internal, InvalidRequest, Network, Timeout};
    use Expect::{Answered, Broken, Failed};
    let status = |code: u16| Fault::Status { code };
    let beyond = Duration::from_secs(2);
    let to_s: &[_] = &[("p", "overloaded"), ("s", "ok")];
    vec![
        row("rate_limited_persistent", Fault::RateLimited { retry_after: None, as_date: false }, Trigger::Always, Answered(&[("p", "rate_limited"), ("s", "ok")]), Answered(&[("p", "rate_limited"), ("s", "ok")])),
        row("internal_once", status(500), Trigger::Requests(vec![1]), Answered(&[("p", "internal"), ("p", "ok")]), Answered(&[("p", "internal"), ("p", "ok")])),
        row("overloaded_persistent", status(503), Trigger::Always, Answered(to_s), Answered(to_s)),
        row("reset", Fault::Reset, Trigger::Always, Answered(&[("p", "network"), ("p", "network"), ("s", "ok")]), Answered(&[("p", "network"), ("p", "network"), ("s", "ok")])),
        row("no_response", Fault::NoResponse, Trigger::Always, Answered(&[("p", "timeout"), ("p", "timeout"), ("s", "ok")]), Answered(&[("p", "timeout"), ("p", "timeout"), ("s", "ok")])),
        row("slow_first_token", Fault::SlowFirstToken { delay: beyond }, Trigger::Always, Answered(&[("p", "timeout"), ("p", "timeout"), ("s", "ok")]), Answered(&[("p", "timeout"), ("p", "timeout"), ("s", "ok")])),
        row("cut_before_first_token", Fault::CutStream { after_chunks: 0 }, Trigger::Always, Answered(&[("p", "network"), ("p", "network"), ("s", "ok")]), Answered(&[("p", "network"), ("p", "network"), ("s", "ok")])),
        row("cut_mid_stream", Fault::CutStream { after_chunks: 3 }, Trigger::Always, Answered(&[("p", "network"), ("p", "network"), ("s", "ok")]), Broken(Network)),
        row("stall", Fault::Stall { after_chunks: 3, duration: beyond }, Trigger::Always, Answered(&[("p", "timeout"), ("p", "timeout"), ("s", "ok")]), Broken(Timeout)),
        row("malformed_chunk", Fault::MalformedChunk { after_chunks: 3 }, Trigger::Always, Answered(&[("p", "internal"), ("p", "internal"), ("s", "ok")]), Broken(Internal)),
        // Streamed, every chunk and the finish reason arrive; only `[DONE]` is missing: whole.
        row("missing_done", Fault::MissingTerminator, Trigger::Always, Answered(&[("p", "internal"), ("p", "internal"), ("s", "ok")]), Answered(&[("p", "ok")])),
        row("context_length", Fault::ContextLength, Trigger::Always, Answered(&[("p", "context_length"), ("b", "ok")]), Answered(&[("p", "context_length"), ("b", "ok")])),
        row("content_filter", Fault::ContentFilter, Trigger::Always, Answered(&[("p", "content_filter"), ("s", "ok")]), Answered(&[("p", "content_filter"), ("s", "ok")])),
        row("unauthorized", status(401), Trigger::Always, Answered(&[("p", "auth"), ("b", "ok")]), Answered(&[("p", "auth"), ("b", "ok")])),
        row("invalid_request", status(400), Trigger::Always, Failed(InvalidRequest, &[("p", "invalid_request")]), Failed(InvalidRequest, &[("p", "invalid_request")])),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// The model id of `role` (`p`, `s`, `b`) in the chain of `row` in `mode`.
fn model_id(row: &str, mode: Mode, role: &str) -> String {
    let endpoint = if role == "b" { "alt" } else { "sim" };
    format!("{endpoint}/{}", upstream(row, mode, role))
}

/// The simulator's name for the model of `role` in the chain of `row` in `mode`.
fn upstream(row: &str, mode: Mode, role: &str) -> String {
    format!("{row}-{}-{role}", mode.as_str())
}

/// Every fault scenario, plain and streamed, each on its own chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_scenario_is_answered_by_a_fallback_or_fails_with_its_class() {
    let rows = table();
    let mut behaviours = Vec::new();
    let mut specs = Vec::new();
    let mut builder = builder().routing(routing());
    for row in &rows {
        for mode in [Mode::Plain, Mode::Stream] {
            behaviours.push(
                fixed(&upstream(row.name, mode, "p"))
                    .with_fault(row.fault.clone(), row.when.clone()),
            );
            behaviours.push(fixed(&upstream(row.name, mode, "s")));
            behaviours.push(fixed(&upstream(row.name, mode, "b")));
            specs.push(spec(&model_id(row.name, mode, "p"), 16_384));
            specs.push(spec(&model_id(row.name, mode, "s"), 8_192));
            specs.push(spec(&model_id(row.name, mode, "b"), 32_768));
            builder = builder.fallbacks(
                model_id(row.name, mode, "p"),
                vec![model_id(row.name, mode, "s"), model_id(row.name, mode, "b")],
            );
        }
    }
    let mock = simulator(behaviours).await;
    let orchestrator = builder
        .models(specs)
        .backend("sim", openai("sim", &mock))
        .backend("alt", anthropic("alt", &mock))
        .build()
        .unwrap();

    let runs = rows.iter().flat_map(|row| {
        [Mode::Plain, Mode::Stream].map(|mode| check(&orchestrator, &mock, row, mode))
    });
    let problems: Vec<String> = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert!(
        problems.is_empty(),
        "{} mismatch(es) in the fault table:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Runs one row in one mode; returns what did not match.
#[allow(
    clippy::too_many_lines,
    reason = "one match over the kinds of expectation reads best beside the table"
)]
async fn check(
    orchestrator: &Orchestrator,
    mock: &MockServer,
    row: &Row,
    mode: Mode,
) -> Vec<String> {
    let name = format!("{} {}", row.name, mode.as_str());
    let id = |role: &str| model_id(row.name, mode, role);
    let expected = match mode {
        Mode::Plain => row.plain,
        Mode::Stream => row.stream,
    };
    let request = ask(&id("p"), "Tell me something.");
    let mut problems = Vec::new();
    let mut problem = |what: String| problems.push(format!("{name}: {what}"));
    let with_ids = |list: &[(&str, &'static str)]| -> Vec<(String, &'static str)> {
        list.iter()
            .map(|(role, outcome)| (id(role), *outcome))
            .collect()
    };
    // Which model should be billed once, if any.
    let mut answered_by = None;
    match (mode, expected) {
        (Mode::Plain, Expect::Answered(list)) => match complete(orchestrator, &request).await {
            Ok(completion) => {
                let want = with_ids(list);
                let answerer = want.last().unwrap().0.clone();
                if attempts(&completion.report) != want {
                    problem(format!(
                        "attempts {:?}, expected {want:?}",
                        attempts(&completion.report)
                    ));
                }
                if completion.response.model != answerer {
                    problem(format!(
                        "answered by {}, expected {answerer}",
                        completion.response.model
                    ));
                }
                if completion.response.text() != ANSWER {
                    problem(format!("answer {:?}", completion.response.text()));
                }
                if completion.response.usage.is_none() {
                    problem("no usage".to_owned());
                }
                answered_by = Some(answerer);
            }
            Err(error) => problem(format!(
                "failed: {error}; attempts {:?}",
                attempts(&error.report)
            )),
        },
        (Mode::Stream, Expect::Answered(list)) => match stream(orchestrator, &request).await {
            Streamed::Clean {
                text,
                model,
                usage,
                finished,
                report,
            } => {
                let want = with_ids(list);
                let answerer = want.last().unwrap().0.clone();
                if attempts(&report) != want {
                    problem(format!(
                        "attempts {:?}, expected {want:?}",
                        attempts(&report)
                    ));
                }
                if model.as_deref() != Some(answerer.as_str()) {
                    problem(format!("stream named {model:?}, expected {answerer}"));
                }
                if text != ANSWER || !finished {
                    problem(format!("text {text:?}, finished {finished}"));
                }
                if usage.is_none() {
                    problem("no usage event".to_owned());
                }
                answered_by = Some(answerer);
            }
            other => problem(format!("{other:?}")),
        },
        (_, Expect::Failed(category, list)) => {
            let error = match mode {
                Mode::Plain => complete(orchestrator, &request).await.err(),
                Mode::Stream => match stream(orchestrator, &request).await {
                    Streamed::Refused(error) => Some(error),
                    other => {
                        problem(format!("{other:?}"));
                        None
                    }
                },
            };
            match error {
                Some(error) => {
                    if error.error.class.category != category {
                        problem(format!("failed with {error}, expected {category}"));
                    }
                    if attempts(&error.report) != with_ids(list) {
                        problem(format!(
                            "attempts {:?}, expected {:?}",
                            attempts(&error.report),
                            with_ids(list)
                        ));
                    }
                }
                None if mode == Mode::Plain => problem("answered".to_owned()),
                None => {}
            }
        }
        (Mode::Stream, Expect::Broken(category)) => match stream(orchestrator, &request).await {
            Streamed::Broken {
                text,
                error,
                report,
            } => {
                if error.class.category != category {
                    problem(format!("error item {error}, expected {category}"));
                }
                if attempts(&report) != with_ids(&[("p", "ok")]) {
                    problem(format!("attempts {:?}", attempts(&report)));
                }
                // What came before the error is the answer's beginning.
                if text.is_empty() || !ANSWER.starts_with(&text) {
                    problem(format!(
                        "text before the error {text:?}: expected the answer's beginning"
                    ));
                }
                // The provider charges for what it streamed, so the stream is billed.
                answered_by = Some(id("p"));
            }
            other => problem(format!(
                "{other:?}: expected an error item after the first token"
            )),
        },
        (Mode::Plain, Expect::Broken(_)) => {
            problem("a plain call cannot break mid-stream".to_owned());
        }
    }
    // Only the model that answered is billed, once (a broken stream for what it streamed);
    // failed attempts never.
    for role in ["p", "s", "b"] {
        let model = id(role);
        let charges = billed_models(orchestrator)
            .into_iter()
            .find(|(billed, _)| *billed == model)
            .map_or(0, |(_, requests)| requests);
        let want = u64::from(answered_by.as_deref() == Some(model.as_str()));
        if charges != want {
            problem(format!("{model} billed {charges} time(s), expected {want}"));
        }
    }
    // The fallbacks no rule reached were never called.
    let called: Vec<(String, &'static str)> = match expected {
        Expect::Answered(list) | Expect::Failed(_, list) => with_ids(list),
        Expect::Broken(_) => with_ids(&[("p", "ok")]),
    };
    for role in ["s", "b"] {
        let reached = called.iter().any(|(model, _)| *model == id(role));
        let calls = upstream_calls(mock, &upstream(row.name, mode, role));
        if !reached && calls != 0 {
            problem(format!(
                "{} called {calls} time(s) though skipped",
                id(role)
            ));
        }
    }
    problems
}

/// A spec whose model is expected to take a minute: waiting out a short `Retry-After` on the
/// primary beats moving to it.
fn slow_spec(id: &str) -> ModelSpec {
    ModelSpec {
        latency: LatencyProfile {
            ttft: Duration::from_mins(1),
            tokens_per_second: 1.0,
        },
        ..spec(id, 32_768)
    }
}

/// 429 with `Retry-After`: moves on at once when a fallback is expected to answer sooner than
/// the wait; waits and retries the primary when there is no fallback, or only a slower one.
///
/// The one-second wait is real: `Retry-After` crosses HTTP in whole seconds, and tokio's paused
/// time cannot drive the simulator's sockets. The same rule runs on paused time, on scripted
/// backends, in the facade's own tests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_waited_out_or_beaten_by_a_faster_fallback() {
    let limited = |name: &str, retry_after: u64, when: Trigger| {
        fixed(name).with_fault(
            Fault::RateLimited {
                retry_after: Some(Duration::from_secs(retry_after)),
                as_date: false,
            },
            when,
        )
    };
    let mock = simulator(vec![
        limited("hurried", 5, Trigger::Always),
        fixed("quick"),
        limited("alone", 1, Trigger::First(1)),
        limited("patient", 1, Trigger::First(1)),
        fixed("sluggish"),
    ])
    .await;
    let orchestrator = builder()
        .models([
            spec("sim/hurried", 32_768),
            spec("sim/quick", 32_768),
            spec("sim/alone", 32_768),
            spec("sim/patient", 32_768),
            slow_spec("sim/sluggish"),
        ])
        .backend("sim", openai("sim", &mock))
        .fallbacks("sim/hurried", vec!["sim/quick".to_owned()])
        .fallbacks("sim/patient", vec!["sim/sluggish".to_owned()])
        .build()
        .unwrap();

    let timed = |model: &'static str| {
        let orchestrator = orchestrator.clone();
        async move {
            let started = Instant::now();
            let completion = complete(&orchestrator, &ask(model, "Hi")).await.unwrap();
            (completion, started.elapsed())
        }
    };
    let ((hurried, _), (alone, alone_took), (patient, patient_took)) = tokio::join!(
        timed("sim/hurried"),
        timed("sim/alone"),
        timed("sim/patient")
    );

    assert_eq!(
        attempts(&hurried.report),
        expect(&[("sim/hurried", "rate_limited"), ("sim/quick", "ok")])
    );
    assert_eq!(
        hurried.report.waited,
        Duration::ZERO,
        "no wait: it moved on"
    );
    assert_eq!(
        hurried.report.attempts[0].error.unwrap().retry_after,
        Some(Duration::from_secs(5))
    );

    for (completion, took, model) in [
        (alone, alone_took, "sim/alone"),
        (patient, patient_took, "sim/patient"),
    ] {
        assert_eq!(
            attempts(&completion.report),
            expect(&[(model, "rate_limited"), (model, "ok")])
        );
        assert!(
            completion.report.waited >= Duration::from_secs(1),
            "{model}: {:?}",
            completion.report
        );
        // The server's one second, once: bounded by what the walk decided to wait, not by how
        // long a loaded machine took to get there.
        assert!(took >= Duration::from_secs(1), "{model}: {took:?}");
        assert!(
            completion.report.waited < Duration::from_secs(2),
            "{model}: {:?}",
            completion.report
        );
    }
    assert_eq!(upstream_calls(&mock, "sluggish"), 0);
    assert_eq!(
        billed_models(&orchestrator),
        vec![
            ("sim/alone".to_owned(), 1),
            ("sim/patient".to_owned(), 1),
            ("sim/quick".to_owned(), 1),
        ]
    );
}

/// A primary down for a while: the fallback answers, the primary's breaker opens (no more
/// calls reach it), and once it is healthy and the breaker half-opens, the primary answers
/// again. The breaker's open time passes on its manual clock, and the primary comes back when
/// the test says so: nothing waits on the wall clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_primary_is_used_again_once_healthy() {
    let clock = ManualClock::new();
    let mock = simulator(vec![
        fixed("flappy").with_fault(Fault::Status { code: 503 }, Trigger::Always),
        fixed("steady"),
    ])
    .await;
    let orchestrator = builder_on(&clock)
        .models([spec("sim/flappy", 32_768), spec("sim/steady", 32_768)])
        .backend("sim", openai("sim", &mock))
        .fallbacks("sim/flappy", vec!["sim/steady".to_owned()])
        .build()
        .unwrap();
    let call = || async {
        complete(&orchestrator, &ask("sim/flappy", "Hi"))
            .await
            .unwrap()
    };
    let flappy_breaker = || {
        orchestrator
            .breakers()
            .iter()
            .find(|(model, _)| model.as_str() == "sim/flappy")
            .map(|(_, state)| *state)
    };

    for n in 0..2 {
        let completion = call().await;
        assert_eq!(
            attempts(&completion.report),
            expect(&[("sim/flappy", "overloaded"), ("sim/steady", "ok")]),
            "call {n}: {:?}",
            mock.requests()
        );
    }
    assert_eq!(flappy_breaker(), Some(State::Open));
    // Refused by the open breaker: the primary is skipped without a call.
    let completion = call().await;
    assert_eq!(
        attempts(&completion.report),
        expect(&[("sim/flappy", "overloaded"), ("sim/steady", "ok")])
    );
    assert!(completion.report.attempts[0].skipped());
    assert_eq!(completion.report.attempts[0].status, None);
    assert_eq!(upstream_calls(&mock, "flappy"), 2);

    // Healthy again, and the breaker's open time is over.
    mock.set_model(fixed("flappy"));
    clock.advance(OPEN);
    for _ in 0..2 {
        let completion = call().await;
        assert_eq!(
            attempts(&completion.report),
            expect(&[("sim/flappy", "ok")])
        );
        assert_eq!(completion.response.model, "sim/flappy");
    }
    assert_eq!(flappy_breaker(), Some(State::Closed));
    assert_eq!(
        billed_models(&orchestrator),
        vec![("sim/flappy".to_owned(), 2), ("sim/steady".to_owned(), 3)]
    );
}

/// `content_filter = "fail"`: the refusal reaches the caller at once, no fallback tried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_filter_fail_returns_the_refusal() {
    let mock = simulator(vec![
        fixed("strict").with_fault(Fault::ContentFilter, Trigger::Always),
        fixed("lenient"),
    ])
    .await;
    let orchestrator = builder()
        .routing(RoutingConfig {
            content_filter: ContentFilterAction::Fail,
            ..routing()
        })
        .models([spec("sim/strict", 32_768), spec("sim/lenient", 32_768)])
        .backend("sim", openai("sim", &mock))
        .fallbacks("sim/strict", vec!["sim/lenient".to_owned()])
        .build()
        .unwrap();

    let error = complete(&orchestrator, &ask("sim/strict", "Something edgy"))
        .await
        .unwrap_err();

    assert_category(&error, ErrorCategory::ContentFilter);
    assert_eq!(
        attempts(&error.report),
        expect(&[("sim/strict", "content_filter")])
    );
    assert_eq!(error.report.attempts[0].status, Some(400));
    assert_eq!(upstream_calls(&mock, "lenient"), 0);
    assert!(billed(&orchestrator).is_empty());
}

/// A context-length error with only smaller or equal windows left fails with that class, and
/// none of them is called.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_length_without_a_larger_model_fails_with_its_class() {
    let mock = simulator(vec![
        fixed("big").with_fault(Fault::ContextLength, Trigger::Always),
        fixed("same"),
        fixed("smaller"),
    ])
    .await;
    let orchestrator = builder()
        .routing(routing())
        .models([
            spec("sim/big", 32_768),
            spec("sim/same", 32_768),
            spec("sim/smaller", 8_192),
        ])
        .backend("sim", openai("sim", &mock))
        .fallbacks(
            "sim/big",
            vec!["sim/same".to_owned(), "sim/smaller".to_owned()],
        )
        .build()
        .unwrap();

    let error = complete(&orchestrator, &ask("sim/big", "A very long prompt"))
        .await
        .unwrap_err();

    assert_category(&error, ErrorCategory::ContextLength);
    assert_eq!(
        attempts(&error.report),
        expect(&[("sim/big", "context_length")])
    );
    assert_eq!(
        upstream_calls(&mock, "same") + upstream_calls(&mock, "smaller"),
        0
    );
}

/// A per-model rate limit refuses the second call without calling the model; the fallback
/// answers, and the refusal is neither billed nor counted as the model's failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_refusal_falls_back() {
    let mock = simulator(vec![fixed("limited"), fixed("spare")]).await;
    let orchestrator = builder()
        .models([spec("sim/limited", 32_768), spec("sim/spare", 32_768)])
        .backend("sim", openai("sim", &mock))
        .model_resilience(
            "sim/limited",
            PipelineConfig {
                rate_limit: Some(RateLimitConfig {
                    requests: 1,
                    per: Duration::from_mins(1),
                    burst: Some(1),
                }),
                ..PipelineConfig::default()
            },
        )
        .fallbacks("sim/limited", vec!["sim/spare".to_owned()])
        .build()
        .unwrap();

    let first = complete(&orchestrator, &ask("sim/limited", "Hi"))
        .await
        .unwrap();
    let second = complete(&orchestrator, &ask("sim/limited", "Hi"))
        .await
        .unwrap();

    assert_eq!(attempts(&first.report), expect(&[("sim/limited", "ok")]));
    assert_eq!(
        attempts(&second.report),
        expect(&[("sim/limited", "rate_limited"), ("sim/spare", "ok")])
    );
    assert_eq!(second.report.attempts[0].status, None);
    assert_eq!(upstream_calls(&mock, "limited"), 1);
    assert_eq!(outcomes(&orchestrator, "sim/limited"), (1, 0));
    assert_eq!(
        billed_models(&orchestrator),
        vec![("sim/limited".to_owned(), 1), ("sim/spare".to_owned(), 1)]
    );
}

/// A backend that holds every call at a gate until the test opens it.
struct Gated {
    inner: Arc<dyn ChatBackend>,
    entered: tokio::sync::Notify,
    open: tokio::sync::Notify,
}

#[async_trait]
impl ChatBackend for Gated {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        self.entered.notify_one();
        self.open.notified().await;
        self.inner.chat(request).await
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        self.inner.stream(request).await
    }
}

/// A full bulkhead refuses a second concurrent call; the fallback answers it. The first call
/// holds the only slot at a gate until the second has been answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_bulkhead_falls_back() {
    let mock = simulator(vec![fixed("narrow"), fixed("wide")]).await;
    let gate = Arc::new(Gated {
        inner: openai("gate", &mock),
        entered: tokio::sync::Notify::new(),
        open: tokio::sync::Notify::new(),
    });
    let orchestrator = builder()
        .models([spec("gate/narrow", 32_768), spec("sim/wide", 32_768)])
        .backend("gate", Arc::clone(&gate) as Arc<dyn ChatBackend>)
        .backend("sim", openai("sim", &mock))
        .model_resilience(
            "gate/narrow",
            PipelineConfig {
                bulkhead: Some(BulkheadConfig {
                    max_concurrent: 1,
                    max_wait: None,
                }),
                ..PipelineConfig::default()
            },
        )
        .fallbacks("gate/narrow", vec!["sim/wide".to_owned()])
        .build()
        .unwrap();

    let request = ask("gate/narrow", "Hi");
    let first = tokio::spawn({
        let (orchestrator, request) = (orchestrator.clone(), request.clone());
        async move { complete(&orchestrator, &request).await }
    });
    gate.entered.notified().await;
    let second = complete(&orchestrator, &request).await;
    gate.open.notify_one();
    let first = first.await.unwrap();

    assert_eq!(
        attempts(&first.unwrap().report),
        expect(&[("gate/narrow", "ok")])
    );
    let second = second.unwrap();
    assert_eq!(
        attempts(&second.report),
        expect(&[("gate/narrow", "overloaded"), ("sim/wide", "ok")])
    );
    assert!(second.report.attempts[0].skipped());
    assert_eq!(upstream_calls(&mock, "narrow"), 1);
}

/// An upstream answering 200 with a body that is not JSON: a classified `internal` error
/// (retried once, as a server fault), not a panic nor a success with an empty answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_json_from_upstream_is_a_classified_error() {
    let mock =
        simulator(vec![fixed("garbled").with_fault(
            Fault::MalformedChunk { after_chunks: 0 },
            Trigger::Always,
        )])
        .await;
    let orchestrator = builder()
        .model(spec("sim/garbled", 32_768))
        .backend("sim", openai("sim", &mock))
        .build()
        .unwrap();

    let error = complete(&orchestrator, &ask("sim/garbled", "Hi"))
        .await
        .unwrap_err();

    assert_category(&error, ErrorCategory::Internal);
    assert_eq!(
        attempts(&error.report),
        expect(&[("sim/garbled", "internal"), ("sim/garbled", "internal")])
    );
    assert!(billed(&orchestrator).is_empty());
    assert_eq!(outcomes(&orchestrator, "sim/garbled"), (0, 2));
}

/// A `Retry-After` longer than `routing.max_retry_wait` with nowhere else to go: the caller
/// gets the rate limit at once, with the server's wait, rather than hanging for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_beyond_the_longest_wait_fails_at_once() {
    let mock = simulator(vec![fixed("busy").with_fault(
        Fault::RateLimited {
            retry_after: Some(Duration::from_secs(30)),
            as_date: false,
        },
        Trigger::Always,
    )])
    .await;
    let orchestrator = builder()
        .model(spec("sim/busy", 32_768))
        .backend("sim", openai("sim", &mock))
        .build()
        .unwrap();

    let started = Instant::now();
    let error = complete(&orchestrator, &ask("sim/busy", "Hi"))
        .await
        .unwrap_err();

    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_category(&error, ErrorCategory::RateLimited);
    assert_eq!(error.error.class.retry_after, Some(Duration::from_secs(30)));
    assert_eq!(
        attempts(&error.report),
        expect(&[("sim/busy", "rate_limited")])
    );
    assert_eq!(error.report.waited, Duration::ZERO);
}

/// `auto` routing reads the breakers: once a model's breaker is open, requests go straight to
/// another model (one attempt), and the model no longer counts as available.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_routing_steers_around_an_open_breaker() {
    let mock = simulator(vec![
        fixed("favourite").with_fault(Fault::Status { code: 500 }, Trigger::Always),
        fixed("other"),
    ])
    .await;
    let orchestrator = builder()
        .models([
            ModelSpec {
                quality: orkestra_models::QualityScores::uniform(0.95),
                ..spec("sim/favourite", 32_768)
            },
            ModelSpec {
                quality: orkestra_models::QualityScores::uniform(0.5),
                ..spec("sim/other", 32_768)
            },
        ])
        .backend("sim", openai("sim", &mock))
        .build()
        .unwrap();
    assert_eq!(orchestrator.available_models(), 2);

    let first = complete(&orchestrator, &ask("auto:quality", "Hi"))
        .await
        .unwrap();
    assert_eq!(
        attempts(&first.report),
        expect(&[
            ("sim/favourite", "internal"),
            ("sim/favourite", "internal"),
            ("sim/other", "ok"),
        ])
    );
    assert_eq!(
        orchestrator.available_models(),
        1,
        "{:?}",
        orchestrator.breakers()
    );

    let second = complete(&orchestrator, &ask("auto:quality", "Hi"))
        .await
        .unwrap();
    assert_eq!(attempts(&second.report), expect(&[("sim/other", "ok")]));
    assert_eq!(upstream_calls(&mock, "favourite"), 2);
}

/// A stream cut after its first token and one its reader drops are billed for what they
/// streamed, marked as estimated (their usage never came); a stream that finished is billed
/// with the usage it reported, not estimated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_and_abandoned_streams_are_billed_for_what_they_streamed_as_estimates() {
    let mock = simulator(vec![
        fixed("cut").with_fault(Fault::CutStream { after_chunks: 3 }, Trigger::Always),
        fixed("left"),
        fixed("whole"),
    ])
    .await;
    let store = Store::open("sqlite::memory:").await.unwrap();
    let orchestrator = builder()
        .models([
            spec("sim/cut", 32_768),
            spec("sim/left", 32_768),
            spec("sim/whole", 32_768),
        ])
        .backend("sim", openai("sim", &mock))
        .store(store.clone(), Duration::from_hours(1))
        .build()
        .unwrap();

    let Streamed::Broken { text: cut_text, .. } =
        stream(&orchestrator, &ask("sim/cut", "Hi")).await
    else {
        panic!("the cut stream did not end with an error item");
    };
    // The reader takes the first token, then goes away.
    let routed = orchestrator
        .complete_stream(&ask("sim/left", "Hi"), &CallContext::default())
        .await
        .unwrap();
    let mut events = routed.stream;
    let mut left_text = String::new();
    while let Some(item) = events.next().await {
        if let Ok(StreamEvent::Delta(delta)) = item {
            left_text.push_str(delta.content.as_deref().unwrap_or(""));
            if !left_text.is_empty() {
                break;
            }
        }
    }
    drop(events);
    let Streamed::Clean {
        usage: Some(usage), ..
    } = stream(&orchestrator, &ask("sim/whole", "Hi")).await
    else {
        panic!("the whole stream did not end cleanly with its usage");
    };
    orchestrator.shutdown().await;

    let charges = store
        .charges(
            None,
            orkestra_models::Day(0),
            orkestra_models::Day(u32::MAX),
        )
        .await
        .unwrap();
    let only_charge_of = |model: &str| {
        let of: Vec<_> = charges
            .iter()
            .filter(|charge| charge.model.as_str() == model)
            .collect();
        assert_eq!(of.len(), 1, "{model} billed once: {charges:?}");
        of[0].clone()
    };
    let tokens = |text: &str| u64::try_from(text.len().div_ceil(4)).unwrap();
    let cut = only_charge_of("sim/cut");
    assert!(cut.estimated, "{cut:?}");
    assert!(!cut_text.is_empty());
    assert_eq!(cut.output_tokens, tokens(&cut_text), "{cut:?}");
    assert!(cut.input_tokens > 0, "the prompt is billed too: {cut:?}");
    let left = only_charge_of("sim/left");
    assert!(left.estimated, "{left:?}");
    assert!(!left_text.is_empty());
    assert_eq!(left.output_tokens, tokens(&left_text), "{left:?}");
    let whole = only_charge_of("sim/whole");
    assert!(!whole.estimated, "{whole:?}");
    assert_eq!(whole.output_tokens, u64::from(usage.completion_tokens));
    // A cut stream counts against its model; an abandoned one says nothing about it.
    assert_eq!(outcomes(&orchestrator, "sim/cut"), (0, 1));
    assert_eq!(outcomes(&orchestrator, "sim/left"), (0, 0));
}
