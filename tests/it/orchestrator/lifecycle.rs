//! One request's life through the facade, routing by cost and quality, fallback chains,
//! invalid inputs, network errors, concurrency, the task flows, consensus and streams.

use std::time::Instant;

use orkestra::config::Config;
use orkestra::consensus::{ConsensusConfig, Voting};
use orkestra::{CallContext, Target};
use orkestra_core::{ErrorCategory, Message};
use orkestra_mock::{Fault, FixedUsage, Latency, Trigger, WireFormat};
use orkestra_models::ledger::BudgetPeriod;
use orkestra_models::{QualityScores, Strategy, TaskKind, TokenPrice};
use orkestra_resilience::breaker::State;

use super::*;

/// A price in dollars per million tokens.
fn usd_per_mtok(usd: f64) -> TokenPrice {
    TokenPrice::from_usd_per_million(usd).unwrap()
}

/// 1. The whole life of one request: routed, called, answered by the model named in the
/// response, its usage reported, one charge to the caller, one success in the statistics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_routed_answered_billed_and_recorded() {
    let mock = simulator(vec![ModelBehaviour {
        usage: Some(FixedUsage {
            prompt_tokens: 1_000,
            completion_tokens: 2_000,
        }),
        ..fixed("solo")
    }])
    .await;
    let solo = ModelSpec {
        input_price: usd_per_mtok(3.0),
        output_price: usd_per_mtok(15.0),
        ..spec("sim/solo", 32_768)
    };
    let orchestrator = builder()
        .model(solo.clone())
        .backend("sim", openai("sim", &mock))
        .build()
        .unwrap();
    let context = CallContext {
        principal: "alice".to_owned(),
        request_id: Some("req-1".to_owned()),
        deadline: None,
    };

    let completion = orchestrator
        .complete(&ask("auto", "What is the capital of France?"), &context)
        .await
        .unwrap();

    assert_eq!(completion.response.model, "sim/solo");
    assert_eq!(completion.response.text(), ANSWER);
    let usage = completion.response.usage.unwrap();
    assert_eq!(
        (usage.prompt_tokens, usage.completion_tokens),
        (1_000, 2_000)
    );
    assert_eq!(completion.report.strategy, Some(Strategy::Balanced));
    assert_eq!(attempts(&completion.report), expect(&[("sim/solo", "ok")]));
    assert_eq!(
        completion.report.model().map(ModelId::as_str),
        Some("sim/solo")
    );
    // 1,000 tokens at $3/M plus 2,000 at $15/M: $0.033.
    let cost = solo.cost(1_000, 2_000);
    assert_eq!(cost.0, 33_000_000);
    assert_eq!(
        billed(&orchestrator),
        vec![("sim/solo".to_owned(), 1, 1_000, 2_000, cost.0)]
    );
    let now = UnixMillis::now();
    assert_eq!(
        orchestrator.ledger().spent("alice", BudgetPeriod::Day, now),
        cost
    );
    assert_eq!(
        orchestrator.ledger().spent("bob", BudgetPeriod::Day, now).0,
        0
    );
    assert_eq!(outcomes(&orchestrator, "sim/solo"), (1, 0));
    assert_eq!(upstream_calls(&mock, "solo"), 1);
    assert_eq!(mock.requests()[0].format, WireFormat::OpenAi);
}

/// The same lifecycle through the Anthropic and Ollama wire clients, plain and streamed, each
/// endpoint serving its own models from one simulator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_wire_format_serves_behind_one_orchestrator() {
    let mock = simulator(vec![fixed("o-model"), fixed("a-model"), fixed("l-model")]).await;
    let orchestrator = builder()
        .models([
            spec("oa/o-model", 32_768),
            spec("an/a-model", 32_768),
            spec("ol/l-model", 32_768),
        ])
        .backend("oa", openai("oa", &mock))
        .backend("an", anthropic("an", &mock))
        .backend("ol", ollama("ol", &mock))
        .build()
        .unwrap();

    for (id, upstream, format) in [
        ("oa/o-model", "o-model", WireFormat::OpenAi),
        ("an/a-model", "a-model", WireFormat::Anthropic),
        ("ol/l-model", "l-model", WireFormat::Ollama),
    ] {
        let completion = complete(&orchestrator, &ask(id, "Hello there"))
            .await
            .unwrap();
        assert_eq!(completion.response.model, id);
        assert_eq!(completion.response.text(), ANSWER, "{id}");
        assert!(completion.response.usage.is_some(), "{id}: no usage");
        match stream(&orchestrator, &ask(id, "Hello there")).await {
            Streamed::Clean {
                text,
                model,
                finished,
                ..
            } => {
                assert_eq!(text, ANSWER, "{id}");
                assert_eq!(model.as_deref(), Some(id));
                assert!(finished, "{id}: no finish event");
            }
            other => panic!("{id}: {other:?}"),
        }
        let logged: Vec<_> = mock
            .requests()
            .into_iter()
            .filter(|request| request.model == upstream)
            .map(|request| (request.format, request.stream))
            .collect();
        assert_eq!(logged, vec![(format, false), (format, true)], "{id}");
    }
    assert_eq!(
        billed_models(&orchestrator),
        vec![
            ("an/a-model".to_owned(), 2),
            ("oa/o-model".to_owned(), 2),
            ("ol/l-model".to_owned(), 2),
        ]
    );
}

/// 2. `auto:cost` picks the cheapest model the request fits, `auto:quality` the best one; the
/// simulator's log shows which was called.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_and_quality_strategies_pick_different_models() {
    let mock = simulator(vec![fixed("tiny"), fixed("cheap"), fixed("premium")]).await;
    let orchestrator = builder()
        .models([
            // The cheapest, but the prompt below does not fit its window.
            ModelSpec {
                input_price: usd_per_mtok(0.01),
                output_price: usd_per_mtok(0.02),
                max_output_tokens: 64,
                quality: QualityScores::uniform(0.5),
                ..spec("sim/tiny", 256)
            },
            ModelSpec {
                input_price: usd_per_mtok(0.15),
                output_price: usd_per_mtok(0.6),
                quality: QualityScores::uniform(0.6),
                ..spec("sim/cheap", 128_000)
            },
            ModelSpec {
                input_price: usd_per_mtok(5.0),
                output_price: usd_per_mtok(20.0),
                quality: QualityScores::uniform(0.95),
                ..spec("sim/premium", 128_000)
            },
        ])
        .backend("sim", openai("sim", &mock))
        .build()
        .unwrap();
    let long = "Summarize the following notes about the quarterly planning meeting. ".repeat(40);

    let cheap = complete(&orchestrator, &ask("auto:cost", &long))
        .await
        .unwrap();
    let best = complete(&orchestrator, &ask("auto:quality", &long))
        .await
        .unwrap();

    assert_eq!(cheap.response.model, "sim/cheap");
    assert_eq!(cheap.report.strategy, Some(Strategy::Cost));
    assert_eq!(best.response.model, "sim/premium");
    assert_eq!(best.report.strategy, Some(Strategy::Quality));
    let called: Vec<String> = mock.requests().into_iter().map(|r| r.model).collect();
    assert_eq!(called, vec!["cheap", "premium"]);
    // The route explains itself without calling anything.
    let route = orchestrator.route(&ask("auto:cost", &long)).unwrap();
    assert_eq!(route.chain[0].id.as_str(), "sim/cheap");
    assert!(
        route
            .chain
            .iter()
            .all(|spec| spec.id.as_str() != "sim/tiny"),
        "a model too small for the prompt is in the chain"
    );
    assert_eq!(mock.requests().len(), 2);
}

/// 3. A named model with fallbacks: the primary's persistent 503 moves to the fallback, both
/// attempts are reported, only the fallback is billed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fallback_chain_answers_with_the_fallback_and_bills_only_it() {
    let mock = simulator(vec![
        fixed("primary").with_fault(Fault::Status { code: 503 }, Trigger::Always),
        fixed("backup"),
    ])
    .await;
    let orchestrator = builder()
        .models([spec("sim/primary", 32_768), spec("sim/backup", 32_768)])
        .backend("sim", openai("sim", &mock))
        .fallbacks("sim/primary", vec!["sim/backup".to_owned()])
        .build()
        .unwrap();

    let completion = complete(&orchestrator, &ask("sim/primary", "Hi"))
        .await
        .unwrap();

    assert_eq!(completion.response.model, "sim/backup");
    assert_eq!(
        attempts(&completion.report),
        expect(&[("sim/primary", "overloaded"), ("sim/backup", "ok")])
    );
    assert_eq!(completion.report.strategy, None);
    assert_eq!(completion.report.attempts[0].status, Some(503));
    assert_eq!(&*completion.report.attempts[0].endpoint, "sim");
    assert_eq!(
        billed_models(&orchestrator),
        vec![("sim/backup".to_owned(), 1)]
    );
    assert_eq!(outcomes(&orchestrator, "sim/primary"), (0, 1));
    assert_eq!(outcomes(&orchestrator, "sim/backup"), (1, 0));
}

/// The same kind of chain from `orkestra.toml`: providers, models, fallbacks and resilience.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orchestrator_from_configuration_falls_back_as_configured() {
    let mock = simulator(vec![
        fixed("primary").with_fault(Fault::Status { code: 500 }, Trigger::Always),
        fixed("backup"),
    ])
    .await;
    let text = format!(
        r#"
        [routing]
        strategy = "cost"

        [resilience.retry]
        max_attempts = 3
        backoff = {{ initial = "1ms", max = "2ms" }}

        [resilience.timeout]
        duration = "500ms"

        [providers.sim]
        kind = "openai"
        base_url = "{}/v1"

        [models]
        catalog = "none"
        fallbacks = {{ "sim/primary" = ["backup"] }}

        [[models.list]]
        id = "sim/primary"
        context_window = 32768
        max_output_tokens = 4096

        [[models.list]]
        id = "sim/backup"
        aliases = ["backup"]
        context_window = 32768
        max_output_tokens = 4096

        [models.resilience."sim/primary".retry]
        max_attempts = 2
        backoff = {{ initial = "1ms", max = "2ms" }}
        "#,
        mock.base_url()
    );
    let config = Config::from_toml_str(&text, "orkestra.toml").unwrap();
    let orchestrator = OrchestratorBuilder::from_config(&config)
        .unwrap()
        .build()
        .unwrap();

    let completion = complete(&orchestrator, &ask("sim/primary", "Hi"))
        .await
        .unwrap();

    // The per-model retry (2 attempts) wins over the default (3).
    assert_eq!(
        attempts(&completion.report),
        expect(&[
            ("sim/primary", "internal"),
            ("sim/primary", "internal"),
            ("sim/backup", "ok"),
        ])
    );
    assert_eq!(completion.response.model, "sim/backup");
    assert_eq!(upstream_calls(&mock, "primary"), 2);
    assert_eq!(orchestrator.routing().strategy, Strategy::Cost);
}

/// 6. Fifty concurrent calls to a model answering in 200 ms all succeed, together in about
/// the time of one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_calls_all_succeed_together() {
    let mock = simulator(vec![ModelBehaviour {
        ttft: Latency::Fixed(Duration::from_millis(200)),
        ..fixed("slow")
    }])
    .await;
    let orchestrator = builder()
        .model(spec("sim/slow", 32_768))
        .backend("sim", openai("sim", &mock))
        .build()
        .unwrap();

    let started = Instant::now();
    let calls = (0..50).map(|n| {
        let orchestrator = orchestrator.clone();
        tokio::spawn(async move {
            complete(&orchestrator, &ask("auto", &format!("Question {n}")))
                .await
                .map(|completion| completion.report.attempts.len())
        })
    });
    let results = futures_util::future::join_all(calls).await;
    let elapsed = started.elapsed();

    for result in results {
        assert_eq!(result.unwrap().unwrap(), 1);
    }
    assert_eq!(upstream_calls(&mock, "slow"), 50);
    assert_eq!(
        billed_models(&orchestrator),
        vec![("sim/slow".to_owned(), 50)]
    );
    assert_eq!(outcomes(&orchestrator, "sim/slow"), (50, 0));
    // Serially this would take 10 s; the strict 250 ms bar is measured by the load run.
    assert!(elapsed < Duration::from_millis(1_500), "took {elapsed:?}");
}

/// 7. A model that hangs does not slow the calls to another: each healthy call answers in
/// one attempt, well within the sick model's timeout, and the healthy breaker stays closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_model_does_not_slow_another() {
    let mock = simulator(vec![
        fixed("sick").with_fault(Fault::NoResponse, Trigger::Always),
        fixed("well"),
    ])
    .await;
    let orchestrator = builder()
        .models([spec("sim/sick", 32_768), spec("sim/well", 32_768)])
        .backend("sim", openai("sim", &mock))
        .build()
        .unwrap();

    let sick = (0..10).map(|_| {
        let orchestrator = orchestrator.clone();
        tokio::spawn(async move { complete(&orchestrator, &ask("sim/sick", "Hi")).await })
    });
    let well = (0..30).map(|_| {
        let orchestrator = orchestrator.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let completion = complete(&orchestrator, &ask("sim/well", "Hi")).await;
            (completion, started.elapsed())
        })
    });
    let (sick, well) = tokio::join!(
        futures_util::future::join_all(sick),
        futures_util::future::join_all(well)
    );

    for result in sick {
        let error = result.unwrap().unwrap_err();
        assert!(
            matches!(
                error.error.class.category,
                ErrorCategory::Timeout | ErrorCategory::Overloaded
            ),
            "{error}"
        );
    }
    for result in well {
        let (completion, latency) = result.unwrap();
        let completion = completion.unwrap();
        assert_eq!(attempts(&completion.report), expect(&[("sim/well", "ok")]));
        // Each healthy call answers before a sick one could even time out.
        assert!(latency < TIMEOUT, "a healthy call took {latency:?}");
    }
    let breakers = orchestrator.breakers();
    assert!(
        breakers
            .iter()
            .any(|(model, state)| model.as_str() == "sim/well" && *state == State::Closed),
        "{breakers:?}"
    );
    assert_eq!(outcomes(&orchestrator, "sim/well"), (30, 0));
    assert_eq!(
        billed_models(&orchestrator),
        vec![("sim/well".to_owned(), 30)]
    );
}

/// 8. Invalid inputs fail before any model is called, with the class a client can act on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_inputs_fail_before_any_call() {
    let mock = simulator(vec![fixed("only")]).await;
    let orchestrator = builder()
        .model(spec("sim/only", 32_768))
        .backend("sim", openai("sim", &mock))
        .build()
        .unwrap();

    let unknown = complete(&orchestrator, &ask("sim/nothing", "Hi"))
        .await
        .unwrap_err();
    assert_category(&unknown, ErrorCategory::NotFound);
    assert!(unknown.error.message.contains("sim/nothing"), "{unknown}");
    assert!(unknown.report.attempts.is_empty());

    let nonsense = complete(&orchestrator, &ask("auto:nonsense", "Hi"))
        .await
        .unwrap_err();
    assert_category(&nonsense, ErrorCategory::InvalidRequest);
    for strategy in [
        "nonsense",
        "auto:cost",
        "auto:quality",
        "auto:speed",
        "auto:balanced",
        "auto:local",
    ] {
        assert!(nonsense.error.message.contains(strategy), "{nonsense}");
    }
    assert!(matches!(
        orchestrator.target("auto:local"),
        Ok(Target::Auto(Strategy::LocalFirst))
    ));

    // A request without messages is the caller's mistake: refused before routing, never
    // sent to a model (which would answer an empty prompt or refuse it in its own way).
    let empty = complete(
        &orchestrator,
        &ChatRequest::new("auto", Vec::<Message>::new()),
    )
    .await
    .unwrap_err();
    assert_category(&empty, ErrorCategory::InvalidRequest);
    assert!(empty.report.attempts.is_empty());
    let empty = match stream(&orchestrator, &ChatRequest::new("sim/only", Vec::new())).await {
        Streamed::Refused(error) => error,
        other => panic!("{other:?}"),
    };
    assert_category(&empty, ErrorCategory::InvalidRequest);

    assert!(mock.requests().is_empty(), "{:?}", mock.requests());
    assert!(billed(&orchestrator).is_empty());
}

/// 9. A provider nobody listens for fails with a network error, and the chain moves on to
/// another provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_a_network_error_and_another_provider_answers() {
    let mock = simulator(vec![fixed("backup")]).await;
    // A port that was free a moment ago and that nothing listens on now.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let orchestrator = builder()
        .models([spec("gone/model", 32_768), spec("sim/backup", 32_768)])
        .backend("gone", openai_at("gone", &format!("http://{closed}/v1")))
        .backend("sim", openai("sim", &mock))
        .fallbacks("gone/model", vec!["sim/backup".to_owned()])
        .build()
        .unwrap();

    let completion = complete(&orchestrator, &ask("gone/model", "Hi"))
        .await
        .unwrap();
    assert_eq!(
        attempts(&completion.report),
        expect(&[
            ("gone/model", "network"),
            ("gone/model", "network"),
            ("sim/backup", "ok"),
        ])
    );
    assert_eq!(
        billed_models(&orchestrator),
        vec![("sim/backup".to_owned(), 1)]
    );

    // Without a fallback the network error reaches the caller.
    let orchestrator = builder()
        .model(spec("gone/model", 32_768))
        .backend("gone", openai_at("gone", &format!("http://{closed}/v1")))
        .build()
        .unwrap();
    let error = complete(&orchestrator, &ask("gone/model", "Hi"))
        .await
        .unwrap_err();
    assert_category(&error, ErrorCategory::Network);
    assert!(error.error.class.retryable);
}

/// Two models good at different things: `coder` writes and debugs code best, `writer` is
/// better at everything else.
fn specialists() -> [ModelSpec; 2] {
    [
        ModelSpec {
            quality: QualityScores::uniform(0.6)
                .with(TaskKind::CodeGeneration, 0.97)
                .with(TaskKind::Debugging, 0.97),
            ..spec("sim/coder", 128_000)
        },
        ModelSpec {
            quality: QualityScores::uniform(0.9)
                .with(TaskKind::CodeGeneration, 0.4)
                .with(TaskKind::Debugging, 0.4),
            ..spec("sim/writer", 128_000)
        },
    ]
}

/// 10. Code generation and debugging go to the model best at code with `auto:quality`; a
/// question about something else goes to the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_and_debugging_requests_go_to_the_best_coder() {
    let mock = simulator(vec![fixed("coder"), fixed("writer")]).await;
    let orchestrator = builder()
        .models(specialists())
        .backend("sim", openai("sim", &mock))
        .build()
        .unwrap();
    let flows = [
        (
            "Write a Rust function that parses a CSV line into fields, handling quoted commas:\n```rust\nfn parse_line(line: &str) -> Vec<String> {\n    todo!()\n}\n```",
            TaskKind::CodeGeneration,
            "sim/coder",
        ),
        (
            "My program panics and I cannot find the bug. Why does this fail?\n```\nthread 'main' panicked at src/main.rs:4:5:\nindex out of bounds: the len is 3 but the index is 3\nstack backtrace:\n   0: rust_begin_unwind\n```\n```rust\nfor i in 0..=v.len() { println!(\"{}\", v[i]); }\n```",
            TaskKind::Debugging,
            "sim/coder",
        ),
        (
            "Write a short poem about the autumn sea and the light on the waves.",
            TaskKind::CreativeWriting,
            "sim/writer",
        ),
    ];
    for (prompt, kind, model) in flows {
        let request = ask("auto:quality", prompt);
        let route = orchestrator.route(&request).unwrap();
        assert_eq!(
            route.profile().map(|profile| profile.kind),
            Some(kind),
            "{prompt}"
        );
        let completion = complete(&orchestrator, &request).await.unwrap();
        assert_eq!(completion.response.model, model, "{prompt}");
        let last = mock.requests().pop().unwrap();
        assert_eq!(last.model, model.trim_start_matches("sim/"), "{prompt}");
    }
}

/// 10. A multi-turn conversation reaches the model whole: every turn, in order, with its role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_reaches_the_model_whole() {
    // An echo model answers the last user message, and counts the whole prompt.
    let mock = simulator(vec![ModelBehaviour::echo("chat")]).await;
    let recording = Recording::new(openai("sim", &mock));
    let orchestrator = builder()
        .model(spec("sim/chat", 32_768))
        .backend("sim", recording.clone())
        .build()
        .unwrap();
    let conversation = vec![
        Message::system("You are a terse assistant."),
        Message::user("My name is Ada."),
        Message::assistant("Noted, Ada."),
        Message::user("What is my name?"),
    ];
    let first = complete(&orchestrator, &ask("sim/chat", "What is my name?"))
        .await
        .unwrap();
    let request = ChatRequest::new("sim/chat", conversation.clone());

    let completion = complete(&orchestrator, &request).await.unwrap();

    assert_eq!(completion.response.text(), "What is my name?");
    let seen = recording.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].messages, conversation);
    assert_eq!(seen[1].model, "chat", "the upstream name, not the id");
    // The simulator counted the longer prompt: the history reached it, not only the question.
    let prompt =
        |completion: &Completion| completion.response.usage.as_ref().unwrap().prompt_tokens;
    assert!(
        prompt(&completion) > prompt(&first),
        "{} vs {}",
        prompt(&completion),
        prompt(&first)
    );
    assert_eq!(upstream_calls(&mock, "chat"), 2);
}

/// 10. Consensus: three models, two agree; the answer carries every vote. With a quorum of
/// three there is no consensus.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consensus_takes_the_majority_and_reports_every_vote() {
    let answer = |name: &str, text: &str| ModelBehaviour {
        output: Output::Fixed(text.to_owned()),
        ..ModelBehaviour::echo(name)
    };
    let mock = simulator(vec![
        answer("one", "The answer is 42."),
        answer("two", "the answer is 42"),
        answer("three", "The answer is 41."),
    ])
    .await;
    let orchestrator = builder()
        .models([
            spec("sim/one", 32_768),
            spec("sim/two", 32_768),
            spec("sim/three", 32_768),
        ])
        .backend("sim", openai("sim", &mock))
        .build()
        .unwrap();
    let request = ask("auto", "What is six times seven?");
    let config = ConsensusConfig {
        models: vec!["sim/one".into(), "sim/two".into(), "sim/three".into()],
        quorum: 2,
        deadline: Duration::from_secs(2),
        voting: Voting::Majority,
        ..ConsensusConfig::default()
    };

    // Without an early stop every vote is in: wait for all three by asking for a quorum the
    // dissenting answer cannot break, and then check the groups.
    let answer_2 = orchestrator
        .consensus(&request, &config, &CallContext::default())
        .await
        .unwrap();
    assert_eq!(answer_2.agreed, 2);
    assert!(
        ["sim/one", "sim/two"].contains(&answer_2.response.model.as_str()),
        "{}",
        answer_2.response.model
    );
    let voters: Vec<&str> = answer_2
        .votes
        .iter()
        .map(|vote| vote.model.as_str())
        .collect();
    assert_eq!(voters, ["sim/one", "sim/two", "sim/three"]);
    let agreeing: Vec<&str> = answer_2
        .votes
        .iter()
        .filter(|vote| vote.group.is_some() && vote.group == answer_2.votes[0].group)
        .map(|vote| vote.model.as_str())
        .collect();
    assert_eq!(agreeing, ["sim/one", "sim/two"]);

    let unanimous = ConsensusConfig {
        quorum: 3,
        ..config.clone()
    };
    let error = orchestrator
        .consensus(&request, &unanimous, &CallContext::default())
        .await
        .unwrap_err();
    assert_category(&error, ErrorCategory::Internal);
    assert!(error.error.message.contains("no consensus"), "{error}");

    let impossible = ConsensusConfig {
        quorum: 4,
        ..config
    };
    let error = orchestrator
        .consensus(&request, &impossible, &CallContext::default())
        .await
        .unwrap_err();
    assert_category(&error, ErrorCategory::InvalidRequest);
}

/// A model that fails casts no vote, even when it has a fallback for requests naming it: the
/// fallback must not vote in its name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_voter_casts_no_vote_even_with_a_fallback() {
    let answer = |name: &str, text: &str| ModelBehaviour {
        output: Output::Fixed(text.to_owned()),
        ..ModelBehaviour::echo(name)
    };
    let mock = simulator(vec![
        answer("one", "Paris").with_fault(Fault::Status { code: 503 }, Trigger::Always),
        answer("two", "Lyon"),
        answer("three", "Paris"),
    ])
    .await;
    let orchestrator = builder()
        .models([
            spec("sim/one", 32_768),
            spec("sim/two", 32_768),
            spec("sim/three", 32_768),
        ])
        .backend("sim", openai("sim", &mock))
        .fallbacks("sim/one", vec!["sim/two".to_owned()])
        .build()
        .unwrap();
    let config = ConsensusConfig {
        models: vec!["sim/one".into(), "sim/two".into(), "sim/three".into()],
        quorum: 2,
        deadline: Duration::from_secs(2),
        ..ConsensusConfig::default()
    };

    let error = orchestrator
        .consensus(
            &ask("auto", "Capital of France?"),
            &config,
            &CallContext::default(),
        )
        .await
        .unwrap_err();

    // One vote each for Paris and Lyon, and one failure: no quorum.
    assert_category(&error, ErrorCategory::Internal);
    assert!(
        error.error.message.contains("sim/one: overloaded"),
        "{error}"
    );
    assert_eq!(upstream_calls(&mock, "two"), 1, "the fallback voted twice");
}

/// 11. A stream through the orchestrator: every delta in order, the usage event, the
/// answering model in the start event; billed when it ends, with the streamed usage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_delivers_the_whole_answer_with_usage_and_model() {
    let mock = simulator(vec![fixed("streamer")]).await;
    let orchestrator = builder()
        .model(spec("sim/streamer", 32_768))
        .backend("sim", openai("sim", &mock))
        .build()
        .unwrap();

    let Streamed::Clean {
        text,
        model,
        usage,
        finished,
        report,
    } = stream(&orchestrator, &ask("auto", "Stream me something")).await
    else {
        panic!("the stream did not end cleanly");
    };

    assert_eq!(text, ANSWER);
    assert_eq!(model.as_deref(), Some("sim/streamer"));
    assert!(finished);
    let usage = usage.expect("a usage event");
    assert!(usage.completion_tokens > 0);
    assert_eq!(attempts(&report), expect(&[("sim/streamer", "ok")]));
    let charged = billed(&orchestrator);
    assert_eq!(charged.len(), 1);
    assert_eq!(
        (
            charged[0].0.as_str(),
            charged[0].1,
            charged[0].2,
            charged[0].3
        ),
        (
            "sim/streamer",
            1,
            u64::from(usage.prompt_tokens),
            u64::from(usage.completion_tokens)
        )
    );
    assert_eq!(outcomes(&orchestrator, "sim/streamer"), (1, 0));
    let logged = mock.requests();
    assert_eq!(logged.len(), 1);
    assert!(logged[0].stream);
}
