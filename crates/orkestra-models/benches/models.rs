//! The routing hot path: analyze a request and rank the registry, alone and 100 at a time,
//! and the memory held by a million recorded outcomes.
//!
//! Run with `cargo xtask bench orkestra-models`; figures go to `docs/performance.md`.
//!
//! Groups:
//! - `parse_request`: `serde_json` parsing the same 1 KB request body, the baseline every gateway
//!   pays per request, measured in the same run;
//! - `analyze`: the task analyzer on that request;
//! - `select`: analyze + rank over 10, 100 and 1,000 models with live statistics;
//! - `rank`: ranking alone over 100 and 1,000 models;
//! - `concurrent`: 100 selections spawned at once on a 2-worker multi-threaded runtime.
//!
//! The memory bound lives in `benches/memory.rs`: its counting allocator would slow every
//! allocation timed here.

#![expect(
    missing_docs,
    clippy::expect_used,
    reason = "criterion's macros generate undocumented public functions, and a bench that cannot \
              set itself up should stop loudly"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use orkestra_core::{ChatRequest, Message};
use orkestra_models::stats::{Outcome, PerfStats};
use orkestra_models::{
    Capabilities, Capability, Deployment, ModelId, ModelRegistry, ModelSpec, Policy, QualityScores,
    Scorer, Strategy, TaskAnalyzer, TaskKind, TokenPrice, UnixMillis,
};
const NOW: UnixMillis = UnixMillis(1_795_262_400_000);

/// A 1 KB code-generation request, as a body and parsed.
fn request_body() -> String {
    let prompt = "Write a Rust function that parses a CSV file of orders (id, customer, amount, \
        currency, created_at) into a Vec of structs, skipping malformed lines but counting them. \
        Use serde and the csv crate. Amounts are decimal strings like \"12.50\"; convert them to \
        integer cents without floating point. Dates are RFC 3339. Return a summary with the total \
        per currency, the number of skipped lines and the earliest and latest order. Add unit \
        tests for an empty file, a file with a bad amount, and a file mixing EUR and USD. Keep \
        the code idiomatic, document the public items, and explain any trade-off you make about \
        memory use when the file is larger than RAM. Here is the struct I have so far:\n\
        ```rust\npub struct Order { pub id: u64, pub customer: String, pub amount_cents: i64, \
        pub currency: String, pub created_at: String }\n```\nPlease also suggest how to stream it.";
    let request = ChatRequest::new(
        "auto",
        vec![
            Message::system("You are a senior Rust engineer."),
            Message::user(prompt),
        ],
    );
    serde_json::to_string(&request).expect("a request serializes")
}

/// `n` models over ten endpoints with varied windows, prices, speeds and strengths.
fn registry(n: usize) -> ModelRegistry {
    const ENDPOINTS: [&str; 10] = [
        "openai",
        "anthropic",
        "google",
        "groq",
        "mistral",
        "deepseek",
        "together",
        "openrouter",
        "ollama",
        "vllm",
    ];
    ModelRegistry::from_specs((0..n).map(|i| {
        let endpoint = ENDPOINTS[i % ENDPOINTS.len()];
        let window = [8_192, 32_768, 128_000, 200_000][i % 4];
        let mut spec = ModelSpec::new(
            ModelId::new(&format!("{endpoint}/model-{i}")).expect("valid id"),
            window,
        );
        spec.max_output_tokens = 4_096;
        let step = (i % 17) as f64;
        spec.quality = QualityScores::uniform(0.4 + step / 34.0)
            .with(TaskKind::CodeGeneration, 0.3 + ((i * 7) % 13) as f64 / 20.0);
        spec.latency.ttft = Duration::from_millis(100 + (i as u64 * 37) % 900);
        spec.latency.tokens_per_second = 20.0 + ((i * 13) % 200) as f64;
        spec.capabilities = Capabilities::of(&[Capability::Streaming, Capability::Tools]);
        if matches!(endpoint, "ollama" | "vllm") {
            spec.deployment = Deployment::Local;
        } else {
            spec.input_price = TokenPrice::from_usd_per_million(0.05 + step * 0.4).expect("price");
            spec.output_price = TokenPrice::from_usd_per_million(0.2 + step * 1.6).expect("price");
        }
        spec
    }))
    .expect("generated specs are valid")
}

/// Live statistics with 30 calls per model, so the scorer reads measured signals.
fn stats(registry: &ModelRegistry) -> PerfStats {
    let stats = PerfStats::default();
    for spec in registry.snapshot().models() {
        for call in 0..30_u64 {
            let outcome = if call % 10 == 0 {
                Outcome::failure(Duration::from_millis(200))
            } else {
                Outcome::success(Duration::from_millis(300 + call * 20), 500, 300)
                    .with_ttft(Duration::from_millis(150 + call))
            };
            stats.record(&spec.id, &outcome, NOW);
        }
    }
    stats
}

fn parse_request(c: &mut Criterion) {
    let body = request_body();
    let mut group = c.benchmark_group("parse_request");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("serde_json_1kb", |b| {
        b.iter(|| serde_json::from_str::<ChatRequest>(black_box(&body)).expect("valid body"));
    });
    group.finish();
}

fn analyze(c: &mut Criterion) {
    let request: ChatRequest = serde_json::from_str(&request_body()).expect("valid body");
    let analyzer = TaskAnalyzer::new();
    c.bench_function("analyze/1kb", |b| {
        b.iter(|| analyzer.analyze(black_box(&request)));
    });
}

fn select(c: &mut Criterion) {
    let request: ChatRequest = serde_json::from_str(&request_body()).expect("valid body");
    let analyzer = TaskAnalyzer::new();
    let scorer = Scorer::default();
    let policy = Policy::new(Strategy::Balanced);
    let mut group = c.benchmark_group("select");
    for n in [10, 100, 1_000] {
        let registry = registry(n);
        let live = stats(&registry);
        let snapshot = registry.snapshot();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("analyze_and_rank", n), &n, |b, _| {
            b.iter(|| {
                let profile = analyzer.analyze(black_box(&request));
                scorer.rank(&snapshot, &profile, &policy, &live)
            });
        });
    }
    group.finish();

    let profile = analyzer.analyze(&request);
    let mut group = c.benchmark_group("rank");
    for n in [100, 1_000] {
        let registry = registry(n);
        let live = stats(&registry);
        let snapshot = registry.snapshot();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("live_signals", n), &n, |b, _| {
            b.iter(|| scorer.rank(&snapshot, black_box(&profile), &policy, &live));
        });
        group.bench_with_input(BenchmarkId::new("spec_only", n), &n, |b, _| {
            b.iter(|| scorer.rank(&snapshot, black_box(&profile), &policy, &()));
        });
    }
    group.finish();
}

fn concurrent(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a runtime");
    let request: Arc<ChatRequest> =
        Arc::new(serde_json::from_str(&request_body()).expect("valid body"));
    let analyzer = Arc::new(TaskAnalyzer::new());
    let scorer = Arc::new(Scorer::default());
    let registry = Arc::new(registry(100));
    let live = Arc::new(stats(&registry));
    let policy = Arc::new(Policy::new(Strategy::Balanced));
    c.bench_function("concurrent/100_selections_100_models", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let tasks: Vec<_> = (0..100)
                    .map(|_| {
                        let (request, analyzer, scorer, registry, live, policy) = (
                            Arc::clone(&request),
                            Arc::clone(&analyzer),
                            Arc::clone(&scorer),
                            Arc::clone(&registry),
                            Arc::clone(&live),
                            Arc::clone(&policy),
                        );
                        tokio::spawn(async move {
                            let profile = analyzer.analyze(&request);
                            let selection =
                                scorer.rank(&registry.snapshot(), &profile, &policy, &*live);
                            selection.len()
                        })
                    })
                    .collect();
                let mut total = 0;
                for task in tasks {
                    total += task.await.expect("a selection task completes");
                }
                total
            })
        });
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = parse_request, analyze, select, concurrent
}
criterion_main!(benches);
