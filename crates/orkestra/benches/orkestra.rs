//! The facade's own cost per call: route, walk and record around an in-process backend that
//! answers at once, against calling that backend directly.

#![allow(
    missing_docs,
    clippy::expect_used,
    clippy::result_large_err,
    reason = "criterion's macros write undocumented items; a bench panics on broken setup and measures the call's result as it is"
)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use orkestra::prelude::*;
use orkestra::providers::EchoBackend;

fn orchestrator() -> Orchestrator {
    let mut builder = Orchestrator::builder().backend("echo", Arc::new(EchoBackend::new()));
    for name in ["small", "medium", "large"] {
        let id = ModelId::new(&format!("echo/{name}")).expect("a valid id");
        builder = builder.model(ModelSpec::new(id, 128_000));
    }
    builder.build().expect("a valid orchestrator")
}

fn request(model: &str) -> ChatRequest {
    ChatRequest::new(
        model,
        vec![
            Message::system("You are a concise assistant."),
            Message::user("Write a Rust function that parses a duration like `250ms` or `1m 30s`."),
        ],
    )
}

fn complete(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let orchestrator = orchestrator();
    let backend = EchoBackend::new();
    let context = CallContext::default();
    let mut group = c.benchmark_group("complete");
    group.bench_function("echo backend, direct (baseline)", |b| {
        let request = request("small");
        b.iter(|| runtime.block_on(async { black_box(backend.chat(&request).await) }));
    });
    group.bench_function("orchestrator, named model", |b| {
        let request = request("echo/small");
        b.iter(|| {
            runtime.block_on(async { black_box(orchestrator.complete(&request, &context).await) })
        });
    });
    group.bench_function("orchestrator, auto", |b| {
        let request = request("auto");
        b.iter(|| {
            runtime.block_on(async { black_box(orchestrator.complete(&request, &context).await) })
        });
    });
    group.finish();
}

criterion_group!(benches, complete);
criterion_main!(benches);
