use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tempfile::TempDir;

use super::*;
use crate::ledger::BudgetPeriod;
use crate::money::TokenPrice;
use crate::spec::{Capabilities, Capability, Deployment, LatencyProfile, QualityScores};
use crate::stats::{Outcome, StatsConfig};
use crate::task::TaskKind;

const POSTGRES_URL_VAR: &str = "ORKESTRA_TEST_POSTGRES_URL";
const NOON: UnixMillis = UnixMillis(1_795_262_400_000); // 2026-11-21T12:00:00Z
const DAY_MS: u64 = 86_400_000;
const MINUTE_MS: u64 = 60_000;

/// A fresh, empty database that a scenario can open, close and open again.
enum Target {
    Sqlite {
        path: PathBuf,
        _dir: TempDir,
    },
    /// A schema of its own in the test database, so tests running at once never meet.
    Postgres(Box<PostgresSchema>),
}

struct PostgresSchema {
    admin: PgConnection,
    options: PgConnectOptions,
    schema: String,
}

impl Target {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::Sqlite {
            // A missing subdirectory would fail; a missing file must be created.
            path: dir.path().join("orkestra.db"),
            _dir: dir,
        }
    }

    /// The PostgreSQL target, or `None` (said loudly) when no server is configured. A
    /// configured server that cannot be reached fails the test.
    async fn postgres() -> Option<Self> {
        static SAID: Once = Once::new();
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let Ok(url) = std::env::var(POSTGRES_URL_VAR) else {
            SAID.call_once(|| {
                // Straight to the stderr handle: libtest captures `eprintln!` of passing tests,
                // and a skip nobody sees is the silent kind this message exists to prevent.
                let _ = writeln!(
                    std::io::stderr(),
                    "\nSKIPPED: orkestra-models store tests on PostgreSQL; set \
                     {POSTGRES_URL_VAR}=postgres://postgres@127.0.0.1:5432/test to run\n"
                );
            });
            return None;
        };
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let schema = format!(
            "orkestra_models_test_{}_{nanos}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        // One plain connection, not a pool: a pool retries a refused connection for 30 s.
        let mut admin = PgConnection::connect(&url).await.unwrap_or_else(|error| {
            panic!("{POSTGRES_URL_VAR} is set but PostgreSQL is unreachable: {error}")
        });
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let options = PgConnectOptions::from_str(&url)
            .unwrap()
            .options([("search_path", schema.as_str())]);
        Some(Self::Postgres(Box::new(PostgresSchema {
            admin,
            options,
            schema,
        })))
    }

    async fn try_open(&self) -> Result<Store, Error> {
        match self {
            Self::Sqlite { path, .. } => Store::open(path.to_str().unwrap()).await,
            Self::Postgres(target) => Store::open_postgres(target.options.clone()).await,
        }
    }

    async fn open(&self) -> Store {
        let store = self.try_open().await.unwrap();
        let expected = match self {
            Self::Sqlite { .. } => "sqlite",
            Self::Postgres(_) => "postgres",
        };
        assert_eq!(store.backend(), expected);
        store
    }

    /// Drops the test schema (a failed test leaves it behind for inspection).
    async fn finish(self) {
        if let Self::Postgres(target) = self {
            let PostgresSchema {
                mut admin, schema, ..
            } = *target;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut admin)
                .await
                .unwrap();
            admin.close().await.unwrap();
        }
    }
}

/// Runs each scenario against a SQLite file and against PostgreSQL when one is configured.
macro_rules! battery {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let target = super::Target::sqlite();
                    super::$scenario(&target).await;
                    target.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let Some(target) = super::Target::postgres().await else {
                        return;
                    };
                    super::$scenario(&target).await;
                    target.finish().await;
                }
            )*
        }
    };
}

battery!(
    restart_keeps_registry_history_spend_and_budgets,
    reopening_does_not_migrate_twice,
    a_newer_schema_is_refused,
    a_renamed_migration_is_refused,
    a_corrupt_spec_row_names_its_id,
    a_corrupt_ledger_row_is_an_error,
    save_registry_removes_deleted_models,
    save_stats_keeps_exactly_the_live_slots,
    save_budgets_replaces_the_stored_budgets,
    charges_are_listed_per_principal_and_day,
    values_above_i64_max_are_refused_not_wrapped,
    concurrent_appends_lose_nothing,
    a_batch_of_several_inserts_is_written_whole_and_in_order,
);

// Fixtures.

fn id(id: &str) -> ModelId {
    ModelId::new(id).unwrap()
}

/// Specs that use every field, so a lossy encoding would show.
fn sample_registry() -> ModelRegistry {
    let mut mini = ModelSpec::new(id("openai/gpt-4o-mini"), 128_000);
    mini.aliases = vec!["gpt-4o-mini".into(), "fast".into()];
    mini.max_output_tokens = 16_384;
    mini.input_price = TokenPrice::from_usd_per_million(0.15).unwrap();
    mini.output_price = TokenPrice::from_usd_per_million(0.6).unwrap();
    mini.latency = LatencyProfile {
        ttft: Duration::from_millis(350),
        tokens_per_second: 85.5,
    };
    mini.quality = QualityScores::uniform(0.7).with(TaskKind::CodeGeneration, 0.82);
    mini.capabilities = Capabilities::of(&[Capability::Tools, Capability::JsonMode]);
    mini.tags = vec!["cheap".into()];

    let mut llama = ModelSpec::new(id("ollama/llama3.1:8b"), 8_192);
    llama.endpoint = Some("gpu-box".into());
    llama.deployment = Deployment::Local;
    llama.memory_gb = Some(4.7);
    llama.capabilities = Capabilities::of(&[Capability::Streaming]);

    let nested = ModelSpec::new(id("openrouter/meta-llama/llama-3.1-70b-instruct"), 131_072);
    ModelRegistry::from_specs([mini, llama, nested]).unwrap()
}

/// Two models over several slots, with failures and streamed calls.
fn sample_stats(config: StatsConfig) -> PerfStats {
    let stats = PerfStats::new(config);
    let (mini, llama) = (id("openai/gpt-4o-mini"), id("ollama/llama3.1:8b"));
    for minute in 0..40 {
        let at = UnixMillis(NOON.0 + minute * MINUTE_MS);
        let latency = Duration::from_millis(100 + minute * 7);
        let ok = Outcome::success(latency, 200, 40 + u32::try_from(minute).unwrap());
        stats.record(&mini, &ok.with_ttft(Duration::from_millis(30 + minute)), at);
        if minute % 3 == 0 {
            stats.record(&llama, &Outcome::failure(Duration::from_secs(2)), at);
        } else {
            stats.record(&llama, &Outcome::success(latency * 4, 90, 300), at);
        }
    }
    stats
}

fn charge(principal: &str, model: &str, cost: u64, at: UnixMillis) -> Charge {
    Charge {
        at,
        principal: principal.into(),
        model: id(model),
        input_tokens: cost / 3,
        output_tokens: cost / 7,
        cost: Nanodollars(cost),
        request_id: None,
        estimated: false,
    }
}

/// Charges over three days, three principals and two models, oldest first.
fn sample_charges() -> Vec<Charge> {
    let mut charges = Vec::new();
    for i in 0..30_u64 {
        let at = UnixMillis(NOON.0 - 2 * DAY_MS + i * (DAY_MS / 12));
        let principal = ["team-a", "team-b", "carol"][usize::try_from(i % 3).unwrap()];
        let model = if i % 2 == 0 {
            "openai/gpt-4o-mini"
        } else {
            "ollama/llama3.1:8b"
        };
        let mut c = charge(principal, model, 1_000 + i * 37_113, at);
        c.request_id = (i % 4 != 0).then(|| format!("req-{i}"));
        c.estimated = i % 5 == 0;
        charges.push(c);
    }
    charges
}

fn budget(daily: Option<u64>, monthly: Option<u64>) -> Budget {
    Budget {
        daily: daily.map(Nanodollars),
        monthly: monthly.map(Nanodollars),
    }
}

/// Runs raw SQL on the store's database, as a damaged or foreign database would look.
async fn execute(store: &Store, statement: &'static str) {
    async fn run(store: &Store, statement: &'static str) -> Result<(), Error> {
        transaction!(store, "test", write, |tx, _| {
            sqlx::raw_sql(statement)
                .execute(&mut *tx)
                .await
                .map_err(Error::query("test"))?;
        });
        Ok(())
    }
    run(store, statement).await.unwrap();
}

async fn recorded_migrations(store: &Store) -> Result<Vec<(i64, String)>, Error> {
    Ok(transaction!(store, "test", read, |tx, _| {
        sqlx::query_as("SELECT version, name FROM models_migrations ORDER BY version")
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::query("test"))?
    }))
}

fn specs(registry: &ModelRegistry) -> Vec<ModelSpec> {
    registry
        .snapshot()
        .models()
        .iter()
        .map(|spec| ModelSpec::clone(spec))
        .collect()
}

/// Asserts that `after` was restored from a store holding `before`.
#[track_caller]
fn check_restored(
    before: (&ModelRegistry, &PerfStats, &CostLedger),
    after: (&ModelRegistry, &PerfStats, &CostLedger),
) {
    let (registry, stats, ledger) = before;
    let (registry_after, stats_after, ledger_after) = after;
    assert_eq!(specs(registry_after), specs(registry));
    assert_eq!(
        registry_after.get("fast").map(|spec| spec.id.clone()),
        registry.get("fast").map(|spec| spec.id.clone()),
        "aliases resolve after a restart"
    );
    assert_eq!(stats_after.history(), stats.history());
    let (from, to) = (Day(0), Day(u32::MAX));
    assert_eq!(
        ledger_after.report_by_principal(from, to),
        ledger.report_by_principal(from, to)
    );
    assert_eq!(
        ledger_after.report_by_model(from, to),
        ledger.report_by_model(from, to)
    );
    assert_eq!(
        ledger_after.report_by_day(from, to),
        ledger.report_by_day(from, to)
    );
    for principal in ["team-a", "team-b", "carol", "nobody"] {
        for period in [BudgetPeriod::Day, BudgetPeriod::Month] {
            assert_eq!(
                ledger_after.spent(principal, period, NOON),
                ledger.spent(principal, period, NOON),
                "{principal} {period:?}"
            );
        }
    }
    assert_eq!(ledger_after.budgets(), ledger.budgets());
}

// Scenarios, run by `battery!` on each backend.

async fn restart_keeps_registry_history_spend_and_budgets(target: &Target) {
    let registry = sample_registry();
    let stats = sample_stats(StatsConfig::default());
    let ledger = CostLedger::new();
    ledger.set_budget("team-a", budget(Some(5_000_000), Some(90_000_000)));
    ledger.set_budget("team-b", budget(None, Some(1)));
    let charges = sample_charges();

    let store = target.open().await;
    store.save_registry(&registry.snapshot()).await.unwrap();
    store.save_stats(&stats).await.unwrap();
    store.save_budgets(&ledger).await.unwrap();
    // Write-through one by one, then a batch, as the facade does under load.
    let (one_by_one, batch) = charges.split_at(10);
    for c in one_by_one {
        ledger.charge(c);
        store.append_charge(c).await.unwrap();
    }
    for c in batch {
        ledger.charge(c);
    }
    store.append_charges(batch).await.unwrap();
    assert!(
        ledger.spent_today("team-a", NOON) > Nanodollars::ZERO,
        "the fixture spends today"
    );
    store.close().await;

    let store = target.open().await;
    let registry_after = store.load_registry().await.unwrap();
    let stats_after = PerfStats::default();
    store.load_stats(&stats_after).await.unwrap();
    let ledger_after = CostLedger::new();
    store.load_ledger(&ledger_after).await.unwrap();
    check_restored(
        (&registry, &stats, &ledger),
        (&registry_after, &stats_after, &ledger_after),
    );
    let listed = store.charges(None, Day(0), Day(u32::MAX)).await.unwrap();
    assert_eq!(
        listed, charges,
        "every call, oldest first, with its request id and whether it was estimated"
    );
    store.close().await;
}

async fn reopening_does_not_migrate_twice(target: &Target) {
    let store = target.open().await;
    store
        .save_registry(&sample_registry().snapshot())
        .await
        .unwrap();
    store.close().await;
    for _ in 0..2 {
        let store = target.open().await;
        assert_eq!(store.load_registry().await.unwrap().snapshot().len(), 3);
        let recorded = recorded_migrations(&store).await.unwrap();
        let known: Vec<(i64, String)> = migrate::MIGRATIONS
            .iter()
            .map(|m| (m.version, m.name.to_owned()))
            .collect();
        assert_eq!(recorded, known);
        store.close().await;
    }
    // Two stores opening the same database at once both succeed.
    let (a, b) = tokio::join!(target.try_open(), target.try_open());
    let (a, b) = (a.unwrap(), b.unwrap());
    a.close().await;
    b.close().await;
}

async fn a_newer_schema_is_refused(target: &Target) {
    let store = target.open().await;
    execute(
        &store,
        "INSERT INTO models_migrations (version, name, applied_at) \
         VALUES (999, 'from_the_future', 0)",
    )
    .await;
    store.close().await;
    let error = target.try_open().await.unwrap_err();
    assert!(
        matches!(
            &error,
            Error::NewerSchema { found: 999, name, known } if name == "from_the_future" && *known == migrate::LATEST
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("999") && message.contains("newer"),
        "{message}"
    );
}

async fn a_renamed_migration_is_refused(target: &Target) {
    let store = target.open().await;
    execute(
        &store,
        "UPDATE models_migrations SET name = 'something_else' WHERE version = 1",
    )
    .await;
    store.close().await;
    let error = target.try_open().await.unwrap_err();
    assert!(
        matches!(&error, Error::MigrationMismatch { version: 1, found, .. } if found == "something_else"),
        "{error:?}"
    );
}

#[track_caller]
fn check_corrupt_spec(error: &Error, id: &str, problem: &str) {
    let message = error.to_string();
    assert!(
        matches!(
            error,
            Error::Corrupt {
                table: "models_registry",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(message.contains(id), "{message} names {id}");
    assert!(message.contains(problem), "{message} says {problem}");
}
async fn a_corrupt_spec_row_names_its_id(target: &Target) {
    let store = target.open().await;
    store
        .save_registry(&sample_registry().snapshot())
        .await
        .unwrap();
    let damages: [(&'static str, &str, &str); 3] = [
        (
            "UPDATE models_registry SET spec = '{\"id\": \"ollama/llama3.1:8b\"' \
             WHERE id = 'ollama/llama3.1:8b'",
            "ollama/llama3.1:8b",
            "`spec` is not valid",
        ),
        (
            "UPDATE models_registry SET spec = \
             '{\"id\": \"ollama/llama3.1:8b\", \"context_window\": 0, \"max_output_tokens\": 1}' \
             WHERE id = 'ollama/llama3.1:8b'",
            "ollama/llama3.1:8b",
            "context_window",
        ),
        (
            "UPDATE models_registry SET spec = \
             '{\"id\": \"a/b\", \"context_window\": 10, \"max_output_tokens\": 1}' \
             WHERE id = 'ollama/llama3.1:8b'",
            "ollama/llama3.1:8b",
            "the spec is for model `a/b`",
        ),
    ];
    for (damage, id, problem) in damages {
        execute(&store, damage).await;
        check_corrupt_spec(&store.load_registry().await.unwrap_err(), id, problem);
    }
    store.close().await;
}

async fn a_corrupt_ledger_row_is_an_error(target: &Target) {
    let store = target.open().await;
    store.append_charges(&sample_charges()[..3]).await.unwrap();
    execute(
        &store,
        "UPDATE models_ledger_charges SET model = 'no-slash' WHERE principal = 'team-b'",
    )
    .await;
    let ledger = CostLedger::new();
    let error = store.load_ledger(&ledger).await.unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("models_ledger_charges") && message.contains("no-slash"),
        "{message}"
    );
    assert_eq!(
        ledger.report_by_principal(Day(0), Day(u32::MAX)),
        [],
        "nothing is restored from a ledger with a corrupt row"
    );
    execute(
        &store,
        "UPDATE models_ledger_charges SET model = 'a/b', cost_nanos = -5 \
         WHERE principal = 'team-b'",
    )
    .await;
    let message = store
        .charges(None, Day(0), Day(u32::MAX))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("cost_nanos") && message.contains("-5"),
        "{message}"
    );
    store.close().await;
}

async fn save_registry_removes_deleted_models(target: &Target) {
    let store = target.open().await;
    let registry = sample_registry();
    store.save_registry(&registry.snapshot()).await.unwrap();
    registry.remove("ollama/llama3.1:8b").unwrap();
    let mut mini = ModelSpec::clone(&registry.get("fast").unwrap());
    mini.context_window = 64_000;
    registry.update(mini).unwrap();
    store.save_registry(&registry.snapshot()).await.unwrap();
    assert_eq!(
        specs(&store.load_registry().await.unwrap()),
        specs(&registry)
    );

    store
        .save_registry(&ModelRegistry::new().snapshot())
        .await
        .unwrap();
    assert!(store.load_registry().await.unwrap().snapshot().is_empty());
    store.close().await;
}

async fn save_stats_keeps_exactly_the_live_slots(target: &Target) {
    let store = target.open().await;
    let config = StatsConfig {
        slots: 3,
        ..StatsConfig::default()
    };
    let stats = sample_stats(config);
    store.save_stats(&stats).await.unwrap();
    // Five more minutes-apart slots push the older ones out of the three kept.
    let mini = id("openai/gpt-4o-mini");
    for slot in 8..13 {
        let at = UnixMillis(NOON.0 + slot * 5 * MINUTE_MS);
        stats.record(
            &mini,
            &Outcome::success(Duration::from_millis(90), 10, 10),
            at,
        );
    }
    // The second save forgets the llama model entirely: it is missing from this history.
    let without_llama = PerfStats::new(config);
    without_llama.restore(stats.history().into_iter().filter(|h| h.model == mini));
    store.save_stats(&without_llama).await.unwrap();
    // A call landing in the newest slot updates a stored row in place.
    let newest = UnixMillis(NOON.0 + 12 * 5 * MINUTE_MS + 1);
    let slow = Outcome::failure(Duration::from_secs(9)).with_ttft(Duration::from_secs(1));
    without_llama.record(&mini, &slow, newest);
    store.save_stats(&without_llama).await.unwrap();
    // Loading into room for many slots shows any stale row the save left behind.
    let roomy = PerfStats::new(StatsConfig {
        slots: 1_000,
        ..config
    });
    store.load_stats(&roomy).await.unwrap();
    assert_eq!(roomy.history(), without_llama.history());
    assert_eq!(roomy.models(), [mini]);
    store.close().await;
}

async fn save_budgets_replaces_the_stored_budgets(target: &Target) {
    let store = target.open().await;
    let ledger = CostLedger::new();
    ledger.set_budget("team-a", budget(Some(10), None));
    ledger.set_budget("team-b", budget(Some(20), Some(200)));
    store.save_budgets(&ledger).await.unwrap();

    let later = CostLedger::new();
    later.set_budget("team-a", budget(None, Some(1_000)));
    later.set_budget("dave", Budget::UNLIMITED);
    store.save_budgets(&later).await.unwrap();
    let loaded = CostLedger::new();
    store.load_ledger(&loaded).await.unwrap();
    assert_eq!(loaded.budgets(), later.budgets());
    store.close().await;
}

#[track_caller]
fn check_listed(listed: &[Charge], principal: Option<&str>, from: Day, to: Day, all: &[Charge]) {
    let expected: Vec<Charge> = all
        .iter()
        .filter(|c| principal.is_none_or(|p| c.principal == p))
        .filter(|c| (from..=to).contains(&c.at.day()))
        .cloned()
        .collect();
    assert!(!expected.is_empty(), "the fixture covers {principal:?}");
    assert_eq!(listed, expected, "{principal:?} {from}..={to}");
}
async fn charges_are_listed_per_principal_and_day(target: &Target) {
    let store = target.open().await;
    let charges = sample_charges();
    store.append_charges(&charges).await.unwrap();
    let today = NOON.day();
    let yesterday = Day(today.0 - 1);
    for (principal, from, to) in [
        (Some("team-a"), today, today),
        (Some("carol"), yesterday, today),
        (None, yesterday, yesterday),
        (None, Day(0), today),
    ] {
        let listed = store.charges(principal, from, to).await.unwrap();
        check_listed(&listed, principal, from, to, &charges);
    }
    assert_eq!(
        store.charges(Some("nobody"), Day(0), today).await.unwrap(),
        []
    );
    store.close().await;
}

async fn values_above_i64_max_are_refused_not_wrapped(target: &Target) {
    let store = target.open().await;
    let fine = charge("team-a", "openai/gpt-4o-mini", 10, NOON);
    let huge = charge("team-a", "openai/gpt-4o-mini", u64::MAX, NOON);
    let error = store.append_charges(&[fine, huge]).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::OutOfRange {
                what: "charge cost (nano-dollars)",
                value: u64::MAX
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        store.charges(None, Day(0), Day(u32::MAX)).await.unwrap(),
        [],
        "a refused batch writes nothing"
    );

    let ledger = CostLedger::new();
    ledger.set_budget("team-a", budget(Some(1), Some(u64::MAX)));
    let error = store.save_budgets(&ledger).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::OutOfRange {
                value: u64::MAX,
                ..
            }
        ),
        "{error:?}"
    );

    let stats = PerfStats::default();
    stats.restore([ModelHistory {
        model: id("openai/gpt-4o-mini"),
        ewma: Ewma::default(),
        slots: vec![SlotRecord {
            start: NOON,
            successes: 1,
            failures: 0,
            input_tokens: u64::MAX,
            output_tokens: 1,
            latency_us: vec![(1_000, 1)],
            ttft_us: Vec::new(),
        }],
    }]);
    let error = store.save_stats(&stats).await.unwrap_err();
    assert!(error.to_string().contains("slot input tokens"), "{error}");
    let loaded = PerfStats::default();
    store.load_stats(&loaded).await.unwrap();
    assert_eq!(loaded.history(), [], "a refused save writes nothing");
    store.close().await;
}

async fn concurrent_appends_lose_nothing(target: &Target) {
    const TASKS: u64 = 8;
    const BATCHES: u64 = 5;
    const PER_BATCH: u64 = 6;
    let store = target.open().await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                for batch in 0..BATCHES {
                    let charges: Vec<Charge> = (0..PER_BATCH)
                        .map(|i| {
                            let at = UnixMillis(NOON.0 + task * 1_000 + batch * 10 + i);
                            charge(&format!("task-{task}"), "openai/gpt-4o-mini", 100, at)
                        })
                        .collect();
                    if batch % 2 == 0 {
                        store.append_charges(&charges).await.unwrap();
                    } else {
                        for c in &charges {
                            store.append_charge(c).await.unwrap();
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let total = TASKS * BATCHES * PER_BATCH;
    let listed = store.charges(None, NOON.day(), NOON.day()).await.unwrap();
    assert_eq!(listed.len(), usize::try_from(total).unwrap());
    let ledger = CostLedger::new();
    store.load_ledger(&ledger).await.unwrap();
    let report = ledger.report_by_model(NOON.day(), NOON.day());
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].totals.requests, total);
    assert_eq!(report[0].totals.cost, Nanodollars(100 * total));
    store.close().await;
}

// Tests that need no shared database.

#[tokio::test]
async fn an_in_memory_store_round_trips() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    assert_eq!(store.backend(), "sqlite");
    let registry = sample_registry();
    store.save_registry(&registry.snapshot()).await.unwrap();
    store.append_charges(&sample_charges()).await.unwrap();
    assert_eq!(
        specs(&store.load_registry().await.unwrap()),
        specs(&registry)
    );
    let ledger = CostLedger::new();
    store.load_ledger(&ledger).await.unwrap();
    assert_eq!(ledger.report_by_principal(Day(0), Day(u32::MAX)).len(), 3);
    store.close().await;
}

#[tokio::test]
async fn a_sqlite_url_creates_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("via-url.db");
    let store = Store::open(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    store.close().await;
    assert!(path.exists());
}

#[tokio::test]
async fn unsupported_and_unreachable_urls_fail_without_showing_passwords() {
    let error = Store::open("mysql://root:hunter2@localhost/db")
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::UnsupportedStoreUrl { .. }),
        "{error:?}"
    );
    assert!(!error.to_string().contains("hunter2"), "{error}");
    let error = Store::open("").await.unwrap_err();
    assert!(
        matches!(error, Error::UnsupportedStoreUrl { .. }),
        "{error:?}"
    );
    // A URL the driver cannot parse: the error repeats it, without the password.
    let error = Store::open("postgres://orkestra:hunter2@127.0.0.1:not-a-port/db")
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    assert!(!error.is_retryable(), "a malformed URL stays malformed");
    let shown = error.to_string();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("orkestra:*****@127.0.0.1"), "{shown}");
    // A file that cannot be created fails at once with its path.
    let error = Store::open("/nonexistent-orkestra-dir/sub/orkestra.db")
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Connect {
                backend: "sqlite",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("/nonexistent-orkestra-dir/sub/orkestra.db")
    );
}

#[test]
fn redaction_hides_passwords_and_nothing_else() {
    #[track_caller]
    fn check(url: &str, expected: &str) {
        assert_eq!(error::redact(url), expected);
    }
    check(
        "postgres://user:secret@db.example:5432/orkestra",
        "postgres://user:*****@db.example:5432/orkestra",
    );
    check(
        "postgresql://user@host/db?sslmode=require&password=secret",
        "postgresql://user@host/db?sslmode=require&password=*****",
    );
    check("postgres://u:p@ss@host/db", "postgres://u:*****@host/db");
    check("sqlite:orkestra.db?mode=rwc", "sqlite:orkestra.db?mode=rwc");
    check("/var/lib/orkestra.db", "/var/lib/orkestra.db");
}

#[test]
fn migrations_are_numbered_from_one_without_gaps() {
    for (position, migration) in migrate::MIGRATIONS.iter().enumerate() {
        assert_eq!(
            migration.version,
            i64::try_from(position + 1).unwrap(),
            "{}",
            migration.name
        );
        for script in [migration.sqlite, migration.postgres] {
            assert!(
                script.contains("models_"),
                "migration {} creates prefixed tables",
                migration.name
            );
        }
    }
    assert_eq!(
        migrate::LATEST,
        i64::try_from(migrate::MIGRATIONS.len()).unwrap()
    );
}

async fn a_batch_of_several_inserts_is_written_whole_and_in_order(target: &Target) {
    // Two full statements and a partial one, with and without request ids.
    let count = 2 * super::CHARGES_PER_INSERT + 37;
    let charges: Vec<Charge> = (0..count as u64)
        .map(|i| {
            let mut c = charge(
                ["team-a", "carol"][usize::from(i % 2 == 0)],
                "openai/gpt-4o-mini",
                10 + i,
                UnixMillis(NOON.0 + i),
            );
            c.request_id = (i % 3 != 0).then(|| format!("req-{i}"));
            c
        })
        .collect();
    let store = target.open().await;
    store.append_charges(&charges).await.unwrap();
    let listed = store.charges(None, NOON.day(), NOON.day()).await.unwrap();
    assert_eq!(listed, charges, "every row, in order, with its fields");
    store.close().await;
}

#[test]
fn the_multi_row_insert_numbers_every_parameter_once() {
    let sql = super::insert_charges_sql(2, true);
    assert!(
        sql.ends_with(
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9), ($10, $11, $12, $13, $14, $15, $16, $17, $18)"
        ),
        "{sql}"
    );
    let sql = super::insert_charges_sql(2, false);
    assert!(
        sql.ends_with("VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        "{sql}"
    );
}
