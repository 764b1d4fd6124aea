//! Routing decisions end to end inside orkestra-models: catalog files, the analyzer feeding the
//! scorer, strategies, cost, fallback order under an outage, persistence across a restart, and
//! 100 concurrent selections.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use orkestra_core::{ChatRequest, Content, ContentPart, ImageUrl, Message, Role};
use orkestra_models::catalog::litellm;
use orkestra_models::ledger::{Budget, BudgetPeriod, Charge, CostLedger};
use orkestra_models::stats::{BreakerStatus, LiveSignals, Outcome, PerfStats, Signals};
use orkestra_models::store::Store;
use orkestra_models::{
    Capability, Catalog, ModelId, ModelRegistry, ModelSpec, Nanodollars, Policy, Scorer, Selection,
    Snapshot, Strategy, TaskAnalyzer, UnixMillis,
};

const NOON: UnixMillis = UnixMillis(1_795_262_400_000); // 2026-11-21T12:00:00Z

fn builtin() -> ModelRegistry {
    Catalog::builtin().into_registry().unwrap()
}

fn ask(text: &str) -> ChatRequest {
    ChatRequest::new("auto", vec![Message::user(text)])
}

fn route(registry: &ModelRegistry, request: &ChatRequest, strategy: Strategy) -> Selection {
    route_with(registry, request, &Policy::new(strategy), &())
}

/// One analyzer for the whole suite: building its keyword tables is the expensive part.
fn analyzer() -> &'static TaskAnalyzer {
    static ANALYZER: OnceLock<TaskAnalyzer> = OnceLock::new();
    ANALYZER.get_or_init(TaskAnalyzer::new)
}

fn route_with(
    registry: &ModelRegistry,
    request: &ChatRequest,
    policy: &Policy,
    live: &dyn LiveSignals,
) -> Selection {
    let profile = analyzer().analyze(request);
    Scorer::default().rank(&registry.snapshot(), &profile, policy, live)
}

fn specs(snapshot: &Snapshot) -> Vec<ModelSpec> {
    snapshot.models().iter().map(|m| (**m).clone()).collect()
}

const CODE_PROMPT: &str = "Write a Rust function that parses an ISO 8601 duration like \
    `PT1H30M` into a std::time::Duration, with unit tests for every unit and for bad input.";

#[test]
fn the_registry_exports_and_imports_losslessly_as_toml_json_and_from_litellm() {
    let registry = builtin();
    let dir = tempfile::tempdir().unwrap();
    for file in ["models.toml", "models.json"] {
        let path = dir.path().join(file);
        Catalog::from_registry(&registry.snapshot())
            .save(&path)
            .unwrap();
        let reloaded = Catalog::load(&path).unwrap().into_registry().unwrap();
        assert_eq!(
            specs(&reloaded.snapshot()),
            specs(&registry.snapshot()),
            "{file}"
        );
    }
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/orkestra-models/tests/fixtures/litellm/model_prices_excerpt.json"
    );
    let imported = litellm::import_file(fixture).unwrap();
    assert!(!imported.models.is_empty() && imported.skipped.total() > 0);
    let from_litellm = ModelRegistry::from_specs(imported.models).unwrap();
    let mini = from_litellm.get("openai/gpt-4o-mini").unwrap();
    assert_eq!(
        mini.input_price.millinanos_per_token(),
        150_000,
        "$0.15 per million"
    );
}

#[test]
fn the_analyzer_feeds_the_scorer() {
    let registry = builtin();
    // Code under the quality strategy goes to a model that is strong at code.
    let code = route(&registry, &ask(CODE_PROMPT), Strategy::Quality);
    assert_eq!(
        code.kind,
        orkestra_models::TaskKind::CodeGeneration,
        "{}",
        code.explain()
    );
    let best = code.best().unwrap();
    assert!(
        best.model.quality.get(code.kind) >= 0.85,
        "{}",
        code.explain()
    );

    // A 20K-token document never goes to the 8K model, under any strategy.
    let document = "The quarterly report covers revenue, churn and hiring. ".repeat(1_600);
    let long = ask(&format!(
        "Summarize this report in five bullet points:\n\n{document}"
    ));
    for strategy in [Strategy::Cost, Strategy::LocalFirst, Strategy::Speed] {
        let selection = route(&registry, &long, strategy);
        assert!(
            !selection.ids().contains(&"ollama/llama3.1:8b"),
            "{}",
            selection.explain()
        );
        assert!(selection.exclusion("ollama/llama3.1:8b").is_some());
    }

    // A JSON response format needs a JSON mode; an image needs vision.
    let mut json = ask("Extract the name and the date from: 'Ada met Charles on 5 June 1833.'");
    json.response_format = Some(serde_json::json!({"type": "json_object"}));
    let selection = route(&registry, &json, Strategy::Balanced);
    assert!(
        selection
            .chain()
            .all(|m| m.capabilities.has(Capability::JsonMode))
    );
    let mut image = Message::user("");
    image.content = Some(Content::Parts(vec![
        ContentPart::Text {
            text: "What is in this picture?".into(),
        },
        ContentPart::ImageUrl {
            image_url: ImageUrl {
                url: "https://example.com/cat.png".into(),
                detail: None,
            },
        },
    ]));
    let vision = route(
        &registry,
        &ChatRequest::new("auto", vec![image]),
        Strategy::Balanced,
    );
    assert!(!vision.is_empty());
    assert!(
        vision
            .chain()
            .all(|m| m.capabilities.has(Capability::Vision))
    );
}

#[test]
fn each_strategy_picks_by_its_own_measure() {
    let registry = builtin();
    let request = ask("Explain the difference between a mutex and a semaphore.");
    let cost = route(&registry, &request, Strategy::Cost);
    let cheapest = cost.ranked().map(|c| c.estimated_cost).min().unwrap();
    assert_eq!(
        cost.best().unwrap().estimated_cost,
        cheapest,
        "{}",
        cost.explain()
    );
    let speed = route(&registry, &request, Strategy::Speed);
    let fastest = speed.ranked().map(|c| c.estimated_latency()).min().unwrap();
    assert!(
        speed.best().unwrap().estimated_latency() <= fastest * 2,
        "{}",
        speed.explain()
    );
    let quality = route(&registry, &request, Strategy::Quality);
    let kind = quality.kind;
    let top = quality
        .ranked()
        .map(|c| c.model.quality.get(kind))
        .fold(0.0, f64::max);
    // The best candidate's own score is one of those folded, so equality is exact.
    assert!(
        quality.best().unwrap().model.quality.get(kind) >= top,
        "{}",
        quality.explain()
    );
    let local = route(&registry, &request, Strategy::LocalFirst);
    assert!(
        local.best().unwrap().model.is_local(),
        "{}",
        local.explain()
    );
}

#[test]
fn the_cost_strategy_spends_a_fraction_for_the_same_workload_and_budgets_hold() {
    let registry = builtin();
    let workload = [
        CODE_PROMPT,
        "Summarize: the meeting moved to Thursday; Ana will send the slides.",
        "Translate to French: the invoice is attached.",
        "Is this review positive or negative? 'Arrived broken, support never answered.'",
        "Write a limerick about a cat who learns Rust.",
        "What is 17% of 2,340? Show the steps.",
    ];
    let spend = |strategy: Strategy| {
        let ledger = CostLedger::new();
        for (i, prompt) in workload.iter().cycle().take(60).enumerate() {
            let selection = route(&registry, &ask(prompt), strategy);
            let best = selection.best().unwrap();
            let hold = ledger.reserve("team", best.estimated_cost, NOON).unwrap();
            hold.settle(&Charge {
                at: NOON,
                principal: "team".into(),
                model: best.model.id.clone(),
                input_tokens: 200,
                output_tokens: 300,
                cost: best.estimated_cost,
                request_id: Some(format!("req-{i}")),
                estimated: false,
            });
        }
        ledger.spent("team", BudgetPeriod::Day, NOON)
    };
    let mut cloud_cost = Policy::new(Strategy::Cost);
    cloud_cost.constraints.deny.push("ollama/*".into());
    let cheap = {
        let ledger = CostLedger::new();
        for prompt in workload.iter().cycle().take(60) {
            let selection = route_with(&registry, &ask(prompt), &cloud_cost, &());
            ledger.charge(&Charge {
                at: NOON,
                principal: "team".into(),
                model: selection.best().unwrap().model.id.clone(),
                input_tokens: 0,
                output_tokens: 0,
                cost: selection.best().unwrap().estimated_cost,
                request_id: None,
                estimated: false,
            });
        }
        ledger.spent("team", BudgetPeriod::Day, NOON)
    };
    let dear = spend(Strategy::Quality);
    assert!(dear > Nanodollars::ZERO);
    assert!(
        cheap.0 * 10 < dear.0,
        "cost strategy spent {cheap}, quality spent {dear}"
    );
    assert_eq!(
        spend(Strategy::LocalFirst),
        Nanodollars::ZERO,
        "local models are free"
    );

    let ledger = CostLedger::new();
    ledger.set_budget(
        "intern",
        Budget {
            daily: Some(Nanodollars(1_000_000)),
            monthly: None,
        },
    );
    let selection = route(&registry, &ask(CODE_PROMPT), Strategy::Quality);
    let per_call = selection.best().unwrap().estimated_cost;
    let admitted = (0..100)
        .take_while(|_| {
            ledger
                .reserve("intern", per_call, NOON)
                .map(|hold| hold.settle(&charge("intern", &selection, per_call)))
                .is_ok()
        })
        .count();
    assert_eq!(
        admitted as u64,
        1_000_000 / per_call.0,
        "exactly what the budget covers"
    );
}

fn charge(principal: &str, selection: &Selection, cost: Nanodollars) -> Charge {
    Charge {
        at: NOON,
        principal: principal.into(),
        model: selection.best().unwrap().model.id.clone(),
        input_tokens: 100,
        output_tokens: 100,
        cost,
        request_id: None,
        estimated: false,
    }
}

/// Live signals that report an open breaker for every model of one endpoint.
struct Outage<'a>(&'a str);

impl LiveSignals for Outage<'_> {
    fn signals(&self, model: &ModelId) -> Option<Signals> {
        (model.provider() == self.0).then_some(Signals {
            samples: 50,
            success_rate: 0.0,
            latency_ewma: Duration::from_secs(30),
            ttft_ewma: Duration::ZERO,
            latency_p50: Duration::from_secs(30),
            latency_p95: Duration::from_secs(30),
            latency_p99: Duration::from_secs(30),
            tokens_per_second: 0.0,
            breaker: BreakerStatus::Open,
        })
    }
}

#[test]
fn the_fallback_chain_is_diverse_and_an_outage_removes_only_its_endpoint() {
    let registry = builtin();
    let mut policy = Policy::new(Strategy::Quality);
    policy.constraints.deny.push("ollama/*".into());
    let request = ask(CODE_PROMPT);
    let healthy = route_with(&registry, &request, &policy, &());
    let head: Vec<&str> = healthy.chain().take(3).map(|m| m.endpoint()).collect();
    assert_ne!(head[0], head[1], "{}", healthy.explain());
    let down = head[0].to_owned();
    let outage = route_with(&registry, &request, &policy, &Outage(&down));
    assert!(
        outage.chain().all(|m| m.endpoint() != down),
        "{}",
        outage.explain()
    );
    assert_eq!(
        outage.ids()[0],
        healthy.ids()[1],
        "the second choice moves up"
    );
    assert!(outage.excluded().any(|(m, _)| m.endpoint() == down));
}

#[tokio::test]
async fn registry_history_and_spend_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("orkestra.db");
    let url = url.to_str().unwrap();
    let registry = builtin();
    let stats = PerfStats::default();
    let ledger = CostLedger::new();
    ledger.set_budget(
        "team",
        Budget {
            daily: Some(Nanodollars(50_000_000)),
            monthly: None,
        },
    );
    let slow = ModelId::new("groq/llama-3.1-8b-instant").unwrap();
    for i in 0..40_u64 {
        stats.record(
            &slow,
            &Outcome::success(Duration::from_secs(9), 300, 200),
            NOON,
        );
        let selection = route(&registry, &ask("Say hello in Spanish."), Strategy::Cost);
        ledger.charge(&charge("team", &selection, Nanodollars(1_000 + i)));
    }
    let request = ask("Say hello in Spanish.");
    let policy = Policy::new(Strategy::Speed);
    let before = route_with(&registry, &request, &policy, &stats);
    {
        let store = Store::open(url).await.unwrap();
        store.save_registry(&registry.snapshot()).await.unwrap();
        store.save_stats(&stats).await.unwrap();
        store.save_budgets(&ledger).await.unwrap();
        let selection = route(&registry, &request, Strategy::Cost);
        let charges: Vec<Charge> = (0..40_u64)
            .map(|i| charge("team", &selection, Nanodollars(1_000 + i)))
            .collect();
        store.append_charges(&charges).await.unwrap();
        store.close().await;
    }
    let store = Store::open(url).await.unwrap();
    let registry_after = store.load_registry().await.unwrap();
    let stats_after = PerfStats::default();
    store.load_stats(&stats_after).await.unwrap();
    let ledger_after = CostLedger::new();
    store.load_ledger(&ledger_after).await.unwrap();
    assert_eq!(
        specs(&registry_after.snapshot()),
        specs(&registry.snapshot())
    );
    assert_eq!(stats_after.history(), stats.history());
    assert_eq!(
        ledger_after.spent_today("team", NOON),
        ledger.spent_today("team", NOON)
    );
    assert_eq!(ledger_after.budget("team"), ledger.budget("team"));
    let day = NOON.day();
    assert_eq!(
        ledger_after.report_by_model(day, day),
        ledger.report_by_model(day, day)
    );
    // The restored history steers routing exactly as before the restart.
    let after = route_with(&registry_after, &request, &policy, &stats_after);
    assert_eq!(after.ids(), before.ids());
    assert_ne!(
        after.ids()[0],
        slow.as_str(),
        "nine-second calls are not fast\n{}",
        after.explain()
    );
}

#[test]
fn a_hundred_concurrent_selections_agree_with_a_serial_run() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let registry = Arc::new(builtin());
    let scorer = Arc::new(Scorer::default());
    let prompts: Vec<String> = (0..100)
        .map(|i| match i % 4 {
            0 => format!("{CODE_PROMPT} Variant {i}."),
            1 => format!("Summarize ticket #{i}: the login page times out after the update."),
            2 => format!("Traduce al inglés: el pedido {i} llegará el lunes."),
            _ => format!("Fix this: `let v = vec![1, 2]; v.push({i});` fails to compile."),
        })
        .collect();
    let serial: Vec<Vec<String>> = prompts
        .iter()
        .map(|p| {
            route(&registry, &ask(p), Strategy::Balanced)
                .ids()
                .iter()
                .map(|s| (*s).to_owned())
                .collect()
        })
        .collect();
    let concurrent: Vec<Vec<String>> = runtime.block_on(async {
        let tasks: Vec<_> = prompts
            .iter()
            .map(|prompt| {
                let (registry, scorer) = (Arc::clone(&registry), Arc::clone(&scorer));
                let request = ask(prompt);
                tokio::spawn(async move {
                    let profile = analyzer().analyze(&request);
                    let policy = Policy::new(Strategy::Balanced);
                    let selection = scorer.rank(&registry.snapshot(), &profile, &policy, &());
                    selection
                        .ids()
                        .iter()
                        .map(|s| (*s).to_owned())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.unwrap());
        }
        out
    });
    assert_eq!(concurrent, serial);
    assert!(serial.iter().all(|ids| !ids.is_empty()));
}

#[test]
fn messages_keep_their_roles_through_analysis() {
    // A multi-turn conversation counts its user turns.
    let request = ChatRequest::new(
        "auto",
        vec![
            Message::system("You are terse."),
            Message::user("Hi"),
            Message::new(Role::Assistant, "Hello."),
            Message::user("What is 2 + 2?"),
        ],
    );
    assert_eq!(analyzer().analyze(&request).turns, 2);
}
