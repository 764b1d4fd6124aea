-- orkestra-models, migration 1 (SQLite): the registry, performance history, cost ledger and budgets.
-- Every table is prefixed `models_` because other crates keep their tables in the same database.
-- Unsigned Rust counters are stored as signed 64-bit integers; the store refuses values above i64::MAX.

-- One row per model; `spec` is the `ModelSpec` as JSON, `updated_at` the Unix milliseconds of its last change.
CREATE TABLE models_registry (
    id TEXT PRIMARY KEY NOT NULL,
    spec TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The moving averages of one model, as the JSON of `Ewma`.
CREATE TABLE models_perf_ewma (
    model TEXT PRIMARY KEY NOT NULL,
    ewma TEXT NOT NULL
);

-- One history slot of one model; the histograms are JSON lists of [microseconds, count] buckets.
CREATE TABLE models_perf_slots (
    model TEXT NOT NULL,
    slot_start BIGINT NOT NULL,
    successes BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    latency_us TEXT NOT NULL,
    ttft_us TEXT NOT NULL,
    PRIMARY KEY (model, slot_start)
);

-- One billed call. `day` repeats the UTC day of `at_ms` so reports and budgets can use an index.
CREATE TABLE models_ledger_charges (
    id INTEGER PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    day BIGINT NOT NULL,
    principal TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cost_nanos BIGINT NOT NULL,
    request_id TEXT
);

CREATE INDEX models_ledger_charges_principal_day ON models_ledger_charges (principal, day);
CREATE INDEX models_ledger_charges_day ON models_ledger_charges (day);

-- Per-principal budgets in nano-dollars; NULL means unlimited.
CREATE TABLE models_budgets (
    principal TEXT PRIMARY KEY NOT NULL,
    daily_nanos BIGINT,
    monthly_nanos BIGINT
);
