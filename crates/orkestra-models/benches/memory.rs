//! The memory bound of `PerfStats`: one million outcomes across 100 models over a simulated week
//! must hold at most 64 MB of heap, measured with a counting allocator.
//!
//! `cargo bench` runs it optimised at full size; the CI smoke run (`cargo test --benches`,
//! unoptimised) checks the same bound on a fiftieth of the outcomes. It is a separate binary so
//! that the counting allocator does not slow the timed benches of `benches/models.rs`.

#![expect(
    clippy::expect_used,
    reason = "a bench that cannot set itself up should stop loudly"
)]

use std::hint::black_box;
use std::time::Duration;

use orkestra_models::stats::{Outcome, PerfStats};
use orkestra_models::{ModelId, UnixMillis};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

const NOW: UnixMillis = UnixMillis(1_795_262_400_000);

fn main() {
    // Criterion's arguments (a filter, `--bench`) reach every bench binary; a filter that names
    // other benches skips this one.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if filters.is_empty() || filters.iter().any(|f| f.contains("memory")) {
        memory_bound();
    }
}

fn memory_bound() {
    const OUTCOMES: u64 = if cfg!(debug_assertions) {
        20_000
    } else {
        1_000_000
    };
    const MODELS: u64 = 100;
    const LIMIT: usize = 64 * 1024 * 1024;
    let ids: Vec<ModelId> = (0..MODELS)
        .map(|i| ModelId::new(&format!("p{}/m{i}", i % 10)).expect("valid id"))
        .collect();
    let region = Region::new(GLOBAL);
    let stats = PerfStats::default();
    // A simulated week (600 ms apart at full size), so every slot of every model fills and
    // rolls over.
    let step = 600_000_000 / OUTCOMES;
    for n in 0..OUTCOMES {
        let model = &ids[(n % MODELS) as usize];
        let latency = Duration::from_micros(50_000 + (n * 7_919) % 3_000_000);
        let outcome = Outcome::success(latency, 400, 200).with_ttft(latency / 4);
        stats.record(model, &outcome, UnixMillis(NOW.0 + n * step));
    }
    let change = region.change();
    // Reallocation changes are signed: a shrinking buffer gives bytes back.
    let held = change
        .bytes_allocated
        .saturating_sub(change.bytes_deallocated)
        .saturating_add_signed(change.bytes_reallocated);
    eprintln!(
        "memory: {OUTCOMES} outcomes across {MODELS} models hold {:.1} MB of heap ({} slots kept per model; limit 64 MB)",
        held as f64 / 1_048_576.0,
        stats.history()[0].slots.len(),
    );
    assert!(
        held <= LIMIT,
        "PerfStats must stay under 64 MB, holds {held} bytes"
    );
    black_box(&stats);
}
