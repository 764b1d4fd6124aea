//! Persistence of the registry, performance history, cost ledger and budgets, in SQLite (an
//! embedded file, the default) or PostgreSQL (when a URL is configured).
//!
//! The rest of the crate is sans-IO; this module is its only edge with a database. A [`Store`]
//! is a cheap-to-clone handle over a connection pool; it creates and migrates its own tables
//! (all prefixed `models_`, with their own migration ledger `models_migrations`) when opened.
//!
//! What is saved and how it comes back:
//!
//! | value | save | load |
//! |---|---|---|
//! | [`ModelRegistry`] | [`Store::save_registry`]: the snapshot replaces what is stored | [`Store::load_registry`] |
//! | [`PerfStats`] | [`Store::save_stats`]: every model's slots and moving averages | [`Store::load_stats`] |
//! | [`CostLedger`] spend | [`Store::append_charge`] after each billed call (write-through) | [`Store::load_ledger`]: sums per day, principal and model |
//! | [`CostLedger`] budgets | [`Store::save_budgets`] | [`Store::load_ledger`] |
//!
//! Charges are kept forever: the ledger table is the per-request cost record, and loading it
//! reads one summed row per day, principal and model rather than one per call.
//!
//! Unsigned counters are stored in signed 64-bit columns; a value above `i64::MAX` is refused
//! with [`Error::OutOfRange`] rather than wrapped.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! use orkestra_models::store::Store;
//! use orkestra_models::{ModelId, ModelRegistry, ModelSpec};
//!
//! let store = Store::open("sqlite::memory:").await?;
//! let registry = ModelRegistry::new();
//! registry.add(ModelSpec::new(ModelId::new("ollama/llama3.1:8b")?, 8_192))?;
//! store.save_registry(&registry.snapshot()).await?;
//!
//! let restored = store.load_registry().await?;
//! assert_eq!(restored.snapshot().models(), registry.snapshot().models());
//! store.close().await;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })
//! # }
//! ```

/// Runs `$body` in a transaction on whichever backend `$store` holds.
///
/// `$mode` is `read` or `write`; `$tx` names the transaction and `$sql` the backend's
/// [`Dialect`] inside the body. The body is expanded once per backend, so each copy is plain
/// monomorphic sqlx code; a `?` in it returns from the calling function and the dropped
/// transaction rolls back.
macro_rules! transaction {
    ($store:expr, $operation:expr, $mode:ident, |$tx:ident, $sql:pat_param| $body:block) => {{
        let operation: &'static str = $operation;
        match &$store.backend {
            $crate::store::Backend::Sqlite { read, write } => {
                let $sql: &$crate::store::Dialect = &$crate::store::SQLITE;
                let pool = if transaction!(@writes $mode) { write } else { read };
                let begin = transaction!(@begin $mode, $crate::store::SQLITE);
                transaction!(@run pool, begin, operation, $tx, $body)
            }
            $crate::store::Backend::Postgres(pool) => {
                let $sql: &$crate::store::Dialect = &$crate::store::POSTGRES;
                let begin = transaction!(@begin $mode, $crate::store::POSTGRES);
                transaction!(@run pool, begin, operation, $tx, $body)
            }
        }
    }};
    (@run $pool:ident, $begin:ident, $operation:ident, $tx:ident, $body:block) => {{
        let mut $tx = $pool
            .begin_with($begin)
            .await
            .map_err($crate::Error::query($operation))?;
        let out = $body;
        $tx.commit()
            .await
            .map_err($crate::Error::query($operation))?;
        out
    }};
    (@writes read) => {
        false
    };
    (@writes write) => {
        true
    };
    (@begin read, $dialect:path) => {
        $dialect.begin_read
    };
    (@begin write, $dialect:path) => {
        $dialect.begin_write
    };
}

/// Runs one statement in the transaction `$tx`, with each `$value` bound in order:
/// `execute` discards the count of rows, `fetch_all` reads every row. A failure returns
/// [`Error::Query`](crate::Error::Query) naming `$operation`.
macro_rules! statement {
    ($tx:ident, $operation:expr, execute, $sql:expr $(, $value:expr)* $(,)?) => {
        statement!(@run $tx, $operation, query, execute, $sql $(, $value)*)
    };
    ($tx:ident, $operation:expr, fetch_all, $sql:expr $(, $value:expr)* $(,)?) => {
        statement!(@run $tx, $operation, query_as, fetch_all, $sql $(, $value)*)
    };
    (@run $tx:ident, $operation:expr, $query:ident, $run:ident, $sql:expr $(, $value:expr)*) => {
        sqlx::$query($sql)
            $(.bind($value))*
            .$run(&mut *$tx)
            .await
            .map_err($crate::Error::query($operation))?
    };
}

mod error;
mod migrate;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

pub(crate) use self::error::classify;
use crate::error::Error;

use crate::ledger::{Budget, Charge, CostLedger, Totals};
use crate::money::Nanodollars;
use crate::registry::{ModelRegistry, Snapshot};
use crate::spec::{ModelId, ModelSpec};
use crate::stats::{Ewma, ModelHistory, PerfStats, SlotRecord};
use crate::time::{Day, UnixMillis};

/// How long a SQLite connection waits for another process's write lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Read connections per SQLite file; WAL lets them read while the writer writes.
const SQLITE_READERS: u32 = 4;
/// Connections per PostgreSQL store.
const POSTGRES_CONNECTIONS: u32 = 8;

/// A handle on the database holding the registry, history, spend and budgets.
///
/// Cloning is cheap and clones share the pool. See the [module docs](self) for what is stored.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    /// SQLite writes go through a pool of one connection, which queues writers in this process
    /// fairly instead of letting them spin on the file lock; reads use their own pool. An
    /// in-memory database has a single connection for both, since it lives only as long as its
    /// connection and shared-cache connections lock whole tables against each other.
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
    },
    Postgres(PgPool),
}

/// The SQL that differs between the backends.
#[derive(Debug)]
struct Dialect {
    postgres: bool,
    /// SQLite: take the write lock at once, so a transaction that reads before it writes cannot
    /// fail to upgrade its lock halfway.
    begin_write: &'static str,
    /// PostgreSQL: one snapshot for every statement of a load.
    begin_read: &'static str,
    /// Serialises migrations between processes (SQLite's `BEGIN IMMEDIATE` already does).
    migration_lock: Option<&'static str>,
    /// Each `delete_other_*` takes a JSON list of the keys to keep.
    delete_other_specs: &'static str,
    delete_other_ewmas: &'static str,
    /// Keys are `[model, slot_start]` pairs.
    delete_other_slots: &'static str,
    delete_other_budgets: &'static str,
}

static SQLITE: Dialect = Dialect {
    postgres: false,
    begin_write: "BEGIN IMMEDIATE",
    begin_read: "BEGIN",
    migration_lock: None,
    delete_other_specs: "DELETE FROM models_registry \
         WHERE id NOT IN (SELECT value FROM json_each($1))",
    delete_other_ewmas: "DELETE FROM models_perf_ewma \
         WHERE model NOT IN (SELECT value FROM json_each($1))",
    delete_other_slots: "DELETE FROM models_perf_slots WHERE (model, slot_start) NOT IN \
         (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each($1))",
    delete_other_budgets: "DELETE FROM models_budgets \
         WHERE principal NOT IN (SELECT value FROM json_each($1))",
};

static POSTGRES: Dialect = Dialect {
    postgres: true,
    begin_write: "BEGIN",
    begin_read: "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
    // The key is this crate's own: the bytes of "orkmodel" read as a big-endian i64.
    migration_lock: Some("SELECT pg_advisory_xact_lock(8029953498428319084)"),
    delete_other_specs: "DELETE FROM models_registry \
         WHERE id NOT IN (SELECT jsonb_array_elements_text($1::jsonb))",
    delete_other_ewmas: "DELETE FROM models_perf_ewma \
         WHERE model NOT IN (SELECT jsonb_array_elements_text($1::jsonb))",
    delete_other_slots: "DELETE FROM models_perf_slots WHERE (model, slot_start) NOT IN \
         (SELECT e ->> 0, (e ->> 1)::BIGINT FROM jsonb_array_elements($1::jsonb) AS keep(e))",
    delete_other_budgets: "DELETE FROM models_budgets \
         WHERE principal NOT IN (SELECT jsonb_array_elements_text($1::jsonb))",
};

// Upserts skip rows whose values did not change, so a periodic save rewrites only what moved
// (for the statistics, usually just each model's newest slot).
const UPSERT_SPEC: &str = "INSERT INTO models_registry (id, spec, updated_at) VALUES ($1, $2, $3) \
     ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at \
     WHERE models_registry.spec <> excluded.spec";
const SELECT_SPECS: &str = "SELECT id, spec FROM models_registry ORDER BY id";

const UPSERT_EWMA: &str = "INSERT INTO models_perf_ewma (model, ewma) VALUES ($1, $2) \
     ON CONFLICT (model) DO UPDATE SET ewma = excluded.ewma \
     WHERE models_perf_ewma.ewma <> excluded.ewma";
const UPSERT_SLOT: &str = "INSERT INTO models_perf_slots \
     (model, slot_start, successes, failures, input_tokens, output_tokens, latency_us, ttft_us) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
     ON CONFLICT (model, slot_start) DO UPDATE SET successes = excluded.successes, \
     failures = excluded.failures, input_tokens = excluded.input_tokens, \
     output_tokens = excluded.output_tokens, latency_us = excluded.latency_us, \
     ttft_us = excluded.ttft_us \
     WHERE models_perf_slots.successes <> excluded.successes \
     OR models_perf_slots.failures <> excluded.failures \
     OR models_perf_slots.input_tokens <> excluded.input_tokens \
     OR models_perf_slots.output_tokens <> excluded.output_tokens \
     OR models_perf_slots.latency_us <> excluded.latency_us \
     OR models_perf_slots.ttft_us <> excluded.ttft_us";
const SELECT_EWMAS: &str = "SELECT model, ewma FROM models_perf_ewma ORDER BY model";
const SELECT_SLOTS: &str = "SELECT model, slot_start, successes, failures, input_tokens, \
     output_tokens, latency_us, ttft_us FROM models_perf_slots ORDER BY model, slot_start";

const INSERT_CHARGES: &str = "INSERT INTO models_ledger_charges \
     (at_ms, day, principal, model, input_tokens, output_tokens, cost_nanos, request_id, \
     estimated) VALUES ";
/// Columns bound per charge row.
const CHARGE_COLUMNS: usize = 9;
/// Charge rows per `INSERT`: one statement per row made a flush of 10,000 charges 10,000
/// round trips to the database (for SQLite, two thread wake-ups each). 256 rows bind 2,304
/// values, far below SQLite's 32,766 and PostgreSQL's 65,535.
const CHARGES_PER_INSERT: usize = 256;

/// `INSERT ... VALUES ($1, ..., $9), ($10, ...), ...` for `rows` charges on PostgreSQL, and
/// with anonymous `?` parameters on SQLite: SQLite looks a numbered parameter's name up in a
/// list, once per parameter, and that quadratic lookup was a fifth of a busy gateway's CPU.
fn insert_charges_sql(rows: usize, numbered: bool) -> String {
    let mut sql = String::with_capacity(INSERT_CHARGES.len() + rows * CHARGE_COLUMNS * 6);
    sql.push_str(INSERT_CHARGES);
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..CHARGE_COLUMNS {
            if column > 0 {
                sql.push_str(", ");
            }
            if numbered {
                let _ = write!(sql, "${}", row * CHARGE_COLUMNS + column + 1);
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}
// `CAST(SUM(..) AS BIGINT)`: PostgreSQL sums BIGINT as NUMERIC, and fails rather than wraps
// when the cast overflows; SQLite fails on an overflowing integer sum too.
const SELECT_TOTALS: &str = "SELECT day, principal, model, COUNT(*), \
     CAST(SUM(input_tokens) AS BIGINT), CAST(SUM(output_tokens) AS BIGINT), \
     CAST(SUM(cost_nanos) AS BIGINT) \
     FROM models_ledger_charges GROUP BY day, principal, model ORDER BY day, principal, model";
const SELECT_CHARGES: &str = "SELECT at_ms, principal, model, input_tokens, output_tokens, \
     cost_nanos, request_id, estimated FROM models_ledger_charges \
     WHERE day >= $1 AND day <= $2 ORDER BY at_ms, id";
const SELECT_CHARGES_OF: &str = "SELECT at_ms, principal, model, input_tokens, output_tokens, \
     cost_nanos, request_id, estimated FROM models_ledger_charges \
     WHERE principal = $3 AND day >= $1 AND day <= $2 ORDER BY at_ms, id";

const UPSERT_BUDGET: &str = "INSERT INTO models_budgets (principal, daily_nanos, monthly_nanos) \
     VALUES ($1, $2, $3) ON CONFLICT (principal) DO UPDATE \
     SET daily_nanos = excluded.daily_nanos, monthly_nanos = excluded.monthly_nanos";
const SELECT_BUDGETS: &str =
    "SELECT principal, daily_nanos, monthly_nanos FROM models_budgets ORDER BY principal";

type SlotRow = (String, i64, i64, i64, i64, i64, String, String);
type TotalsRow = (i64, String, String, i64, i64, i64, i64);
type ChargeRow = (i64, String, String, i64, i64, i64, Option<String>, bool);
type BudgetRow = (String, Option<i64>, Option<i64>);

impl Store {
    /// Opens (creating it if needed) and migrates the database at `url`.
    ///
    /// - `postgres://…` or `postgresql://…`: PostgreSQL.
    /// - `sqlite:…` URLs and plain file paths: a SQLite file, created if missing, in WAL mode
    ///   with foreign keys on and a 5 s busy timeout.
    /// - `sqlite::memory:`: a private in-memory database, gone when the store closes (tests).
    ///
    /// A PostgreSQL server that refuses connections is retried for up to 30 s (the pool's
    /// acquire timeout) before this fails, so a server still starting up is waited for.
    pub async fn open(url: &str) -> Result<Self, Error> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(|source| Error::Connect {
                backend: "postgres",
                target: error::redact(url),
                source,
            })?;
            return Self::open_postgres(options).await;
        }
        let options = if url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url).map_err(|source| Error::Connect {
                backend: "sqlite",
                target: error::redact(url),
                source,
            })?
        } else if url.is_empty() || url.contains("://") {
            // SQLite would take an empty name as a throwaway temporary database: refuse it
            // rather than lose everything written to a misconfigured store.
            return Err(Error::UnsupportedStoreUrl {
                url: error::redact(url),
            });
        } else {
            SqliteConnectOptions::new().filename(Path::new(url))
        };
        let memory = url.starts_with("sqlite::memory:") || url.contains("mode=memory");
        Self::open_sqlite(options, memory).await
    }

    /// Opens and migrates a PostgreSQL database with these options (for settings a URL cannot
    /// carry, or a `search_path` that puts the tables in their own schema).
    pub async fn open_postgres(options: PgConnectOptions) -> Result<Self, Error> {
        let target = format!(
            "postgres://{}@{}:{}/{}",
            options.get_username(),
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or_default()
        );
        let pool = PgPoolOptions::new()
            .max_connections(POSTGRES_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|source| Error::Connect {
                backend: "postgres",
                target,
                source,
            })?;
        let store = Self {
            backend: Backend::Postgres(pool),
        };
        store.migrate_or_close().await
    }

    async fn open_sqlite(options: SqliteConnectOptions, memory: bool) -> Result<Self, Error> {
        let target = options.get_filename().display().to_string();
        let failed = |source| Error::Connect {
            backend: "sqlite",
            target: target.clone(),
            source,
        };
        let options = options.foreign_keys(true).busy_timeout(SQLITE_BUSY_TIMEOUT);
        let backend = if memory {
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
                .map_err(failed)?;
            Backend::Sqlite {
                read: pool.clone(),
                write: pool,
            }
        } else {
            let options = options
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal);
            // The writer connects first, so it is the one that creates the file and sets WAL.
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await
                .map_err(failed)?;
            let read = SqlitePoolOptions::new()
                .max_connections(SQLITE_READERS)
                .connect_with(options)
                .await
                .map_err(failed)?;
            Backend::Sqlite { read, write }
        };
        Self { backend }.migrate_or_close().await
    }

    async fn migrate_or_close(self) -> Result<Self, Error> {
        match self.migrate().await {
            Ok(()) => Ok(self),
            Err(error) => {
                self.close().await;
                Err(error)
            }
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Runs `SELECT 1`: whether the database answers now (readiness checks).
    pub async fn ping(&self) -> Result<(), Error> {
        let answered = match &self.backend {
            Backend::Sqlite { read, .. } => sqlx::query("SELECT 1").execute(read).await.map(drop),
            Backend::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
        };
        answered.map_err(Error::query("ping"))
    }

    /// Closes every connection, waiting for those in use to be returned. Clones are closed too;
    /// calls made after this fail.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }

    /// Stores `snapshot` as the registry, in one transaction: models in it are inserted or
    /// updated, stored models missing from it are deleted.
    pub async fn save_registry(&self, snapshot: &Snapshot) -> Result<(), Error> {
        const OP: &str = "save_registry";
        let now = to_db(UnixMillis::now().0, "current time (ms)")?;
        let rows: Vec<(&str, String)> = snapshot
            .models()
            .iter()
            .map(|spec| Ok((spec.id.as_str(), to_json(&**spec, "model spec")?)))
            .collect::<Result<_, Error>>()?;
        let keep = to_json(&rows.iter().map(|r| r.0).collect::<Vec<_>>(), "model ids")?;
        transaction!(self, OP, write, |tx, sql| {
            for (id, spec) in &rows {
                statement!(tx, OP, execute, UPSERT_SPEC, *id, spec.as_str(), now);
            }
            statement!(tx, OP, execute, sql.delete_other_specs, keep.as_str());
        });
        Ok(())
    }

    /// The stored registry. A row that does not parse or validate is an error naming its id.
    pub async fn load_registry(&self) -> Result<ModelRegistry, Error> {
        const OP: &str = "load_registry";
        let rows: Vec<(String, String)> = transaction!(self, OP, read, |tx, _| {
            statement!(tx, OP, fetch_all, SELECT_SPECS)
        });
        let specs = rows
            .iter()
            .map(|(id, json)| parse_spec(id, json))
            .collect::<Result<Vec<_>, _>>()?;
        ModelRegistry::from_specs(specs).map_err(|error| Error::Corrupt {
            table: "models_registry",
            key: "all rows".into(),
            problem: error.to_string(),
        })
    }

    /// Stores the history of every model in `stats`, in one transaction: slots and moving
    /// averages are inserted or updated, and stored slots and models that `stats` no longer
    /// holds are deleted. Load before the first save, or the save drops what was stored.
    pub async fn save_stats(&self, stats: &PerfStats) -> Result<(), Error> {
        const OP: &str = "save_stats";
        let history = stats.history();
        let mut ewmas = Vec::with_capacity(history.len());
        let mut slots = Vec::new();
        let mut slot_keys = Vec::new();
        for entry in &history {
            let model = entry.model.as_str();
            ewmas.push((model, to_json(&entry.ewma, "moving averages")?));
            for slot in &entry.slots {
                let start = to_db(slot.start.0, "slot start (ms)")?;
                slot_keys.push((model, start));
                slots.push((
                    model,
                    start,
                    [
                        to_db(slot.successes, "slot successes")?,
                        to_db(slot.failures, "slot failures")?,
                        to_db(slot.input_tokens, "slot input tokens")?,
                        to_db(slot.output_tokens, "slot output tokens")?,
                    ],
                    to_json(&slot.latency_us, "latency histogram")?,
                    to_json(&slot.ttft_us, "time-to-first-token histogram")?,
                ));
            }
        }
        let keep_models = to_json(&ewmas.iter().map(|e| e.0).collect::<Vec<_>>(), "model ids")?;
        let keep_slots = to_json(&slot_keys, "slot keys")?;
        transaction!(self, OP, write, |tx, sql| {
            for (model, ewma) in &ewmas {
                statement!(tx, OP, execute, UPSERT_EWMA, *model, ewma.as_str());
            }
            for (model, start, [successes, failures, input, output], latency, ttft) in &slots {
                statement!(
                    tx,
                    OP,
                    execute,
                    UPSERT_SLOT,
                    *model,
                    *start,
                    *successes,
                    *failures,
                    *input,
                    *output,
                    latency.as_str(),
                    ttft.as_str()
                );
            }
            statement!(tx, OP, execute, sql.delete_other_slots, keep_slots.as_str());
            statement!(
                tx,
                OP,
                execute,
                sql.delete_other_ewmas,
                keep_models.as_str()
            );
        });
        Ok(())
    }

    /// Restores the stored history into `stats` (see [`PerfStats::restore`]). Nothing is
    /// restored when a row is corrupt.
    pub async fn load_stats(&self, stats: &PerfStats) -> Result<(), Error> {
        const OP: &str = "load_stats";
        let (ewmas, slots): (Vec<(String, String)>, Vec<SlotRow>) =
            transaction!(self, OP, read, |tx, _| {
                let ewmas = statement!(tx, OP, fetch_all, SELECT_EWMAS);
                let slots = statement!(tx, OP, fetch_all, SELECT_SLOTS);
                (ewmas, slots)
            });
        let mut history: BTreeMap<String, ModelHistory> = BTreeMap::new();
        for (model, json) in ewmas {
            let key = || format!("model = {model:?}");
            let id = parse_model_id(&model, "models_perf_ewma", key)?;
            let ewma: Ewma = from_json(&json, "models_perf_ewma", key, "ewma")?;
            history.insert(
                model.clone(),
                ModelHistory {
                    model: id,
                    ewma,
                    slots: Vec::new(),
                },
            );
        }
        for row in slots {
            let (model, start, successes, failures, input, output, latency, ttft) = row;
            let key = || format!("model = {model:?}, slot_start = {start}");
            let table = "models_perf_slots";
            let slot = SlotRecord {
                start: UnixMillis(from_db(start, table, key, "slot_start")?),
                successes: from_db(successes, table, key, "successes")?,
                failures: from_db(failures, table, key, "failures")?,
                input_tokens: from_db(input, table, key, "input_tokens")?,
                output_tokens: from_db(output, table, key, "output_tokens")?,
                latency_us: from_json(&latency, table, key, "latency_us")?,
                ttft_us: from_json(&ttft, table, key, "ttft_us")?,
            };
            // Slots without averages cannot come from `save_stats`, but they are still valid
            // history: keep them with empty averages.
            if let Some(entry) = history.get_mut(&model) {
                entry.slots.push(slot);
            } else {
                let id = parse_model_id(&model, table, key)?;
                history.insert(
                    model.clone(),
                    ModelHistory {
                        model: id,
                        ewma: Ewma::default(),
                        slots: vec![slot],
                    },
                );
            }
        }
        stats.restore(history.into_values());
        Ok(())
    }

    /// Appends one billed call to the ledger table.
    pub async fn append_charge(&self, charge: &Charge) -> Result<(), Error> {
        self.append_charges(std::slice::from_ref(charge)).await
    }

    /// Appends billed calls to the ledger table, all or none.
    pub async fn append_charges(&self, charges: &[Charge]) -> Result<(), Error> {
        const OP: &str = "append_charges";
        if charges.is_empty() {
            return Ok(());
        }
        let rows = charges
            .iter()
            .map(|c| {
                Ok((
                    [
                        to_db(c.at.0, "charge time (ms)")?,
                        i64::from(c.at.day().0),
                        to_db(c.input_tokens, "charge input tokens")?,
                        to_db(c.output_tokens, "charge output tokens")?,
                        to_db(c.cost.0, "charge cost (nano-dollars)")?,
                    ],
                    c,
                ))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        transaction!(self, OP, write, |tx, dialect| {
            let full: Arc<str> = insert_charges_sql(CHARGES_PER_INSERT, dialect.postgres).into();
            for chunk in rows.chunks(CHARGES_PER_INSERT) {
                let is_full = chunk.len() == CHARGES_PER_INSERT;
                let sql = if is_full {
                    Arc::clone(&full)
                } else {
                    insert_charges_sql(chunk.len(), dialect.postgres).into()
                };
                // Only the full-size statement is worth a slot in the statement cache.
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(is_full);
                for ([at, day, input, output, cost], charge) in chunk {
                    query = query
                        .bind(*at)
                        .bind(*day)
                        .bind(charge.principal.as_str())
                        .bind(charge.model.as_str())
                        .bind(*input)
                        .bind(*output)
                        .bind(*cost)
                        .bind(charge.request_id.as_deref())
                        .bind(charge.estimated);
                }
                query.execute(&mut *tx).await.map_err(Error::query(OP))?;
            }
        });
        Ok(())
    }

    /// Restores budgets and spend into `ledger`: budgets replace those of the same principals,
    /// and spend is summed per day, principal and model by the database and added (see
    /// [`CostLedger::restore_totals`]), so a restart reads one row per group, not per call.
    /// Load into a fresh ledger, or spend already in it is counted twice. Nothing is restored
    /// when a row is corrupt.
    pub async fn load_ledger(&self, ledger: &CostLedger) -> Result<(), Error> {
        const OP: &str = "load_ledger";
        let (budget_rows, total_rows): (Vec<BudgetRow>, Vec<TotalsRow>) =
            transaction!(self, OP, read, |tx, _| {
                let budgets = statement!(tx, OP, fetch_all, SELECT_BUDGETS);
                let totals = statement!(tx, OP, fetch_all, SELECT_TOTALS);
                (budgets, totals)
            });
        let budgets = budget_rows
            .into_iter()
            .map(parse_budget)
            .collect::<Result<Vec<_>, _>>()?;
        let mut totals = Vec::with_capacity(total_rows.len());
        for (day, principal, model, requests, input, output, cost) in total_rows {
            let key = || format!("day = {day}, principal = {principal:?}, model = {model:?}");
            let table = "models_ledger_charges";
            let day = parse_day(day, table, key)?;
            let id = parse_model_id(&model, table, key)?;
            let sums = Totals {
                requests: from_db(requests, table, key, "COUNT(*)")?,
                input_tokens: from_db(input, table, key, "SUM(input_tokens)")?,
                output_tokens: from_db(output, table, key, "SUM(output_tokens)")?,
                cost: Nanodollars(from_db(cost, table, key, "SUM(cost_nanos)")?),
            };
            totals.push((day, principal, id, sums));
        }
        for (principal, budget) in budgets {
            ledger.set_budget(&principal, budget);
        }
        for (day, principal, model, sums) in totals {
            ledger.restore_totals(day, &principal, &model, sums);
        }
        Ok(())
    }

    /// Every call billed on the days `from..=to`, to `principal` or to anyone, oldest first.
    pub async fn charges(
        &self,
        principal: Option<&str>,
        from: Day,
        to: Day,
    ) -> Result<Vec<Charge>, Error> {
        const OP: &str = "charges";
        let (from, to) = (i64::from(from.0), i64::from(to.0));
        let rows: Vec<ChargeRow> = transaction!(self, OP, read, |tx, _| {
            match principal {
                Some(principal) => {
                    statement!(tx, OP, fetch_all, SELECT_CHARGES_OF, from, to, principal)
                }
                None => statement!(tx, OP, fetch_all, SELECT_CHARGES, from, to),
            }
        });
        rows.into_iter().map(parse_charge).collect()
    }

    /// Stores the budgets of `ledger` as the budgets, in one transaction: principals without
    /// a budget in `ledger` lose their stored one. The default budget is configuration and is
    /// not stored.
    pub async fn save_budgets(&self, ledger: &CostLedger) -> Result<(), Error> {
        const OP: &str = "save_budgets";
        let budgets = ledger.budgets();
        let limit = |nanos: Option<Nanodollars>| {
            nanos
                .map(|n| to_db(n.0, "budget (nano-dollars)"))
                .transpose()
        };
        let rows = budgets
            .iter()
            .map(|(principal, b)| Ok((principal.as_str(), limit(b.daily)?, limit(b.monthly)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        let keep = to_json(&rows.iter().map(|r| r.0).collect::<Vec<_>>(), "principals")?;
        transaction!(self, OP, write, |tx, sql| {
            for (principal, daily, monthly) in &rows {
                statement!(tx, OP, execute, UPSERT_BUDGET, *principal, *daily, *monthly);
            }
            statement!(tx, OP, execute, sql.delete_other_budgets, keep.as_str());
        });
        Ok(())
    }
}

/// `value` as a signed column value, refused rather than wrapped when it is too large.
fn to_db(value: u64, what: &'static str) -> Result<i64, Error> {
    i64::try_from(value).map_err(|_| Error::OutOfRange { what, value })
}

/// A signed column value as the unsigned value it was saved from; negative means corrupt.
fn from_db(
    value: i64,
    table: &'static str,
    key: impl FnOnce() -> String,
    column: &str,
) -> Result<u64, Error> {
    u64::try_from(value).map_err(|_| Error::Corrupt {
        table,
        key: key(),
        problem: format!("`{column}` is {value}, expected a non-negative number"),
    })
}

fn to_json(value: &impl Serialize, what: &'static str) -> Result<String, Error> {
    // Serialising these plain data types cannot fail (no maps with non-string keys, no
    // fallible `Serialize` impls), but the error is still reported rather than unwrapped.
    serde_json::to_string(value).map_err(|source| Error::Encode { what, source })
}

fn from_json<T: serde::de::DeserializeOwned>(
    json: &str,
    table: &'static str,
    key: impl FnOnce() -> String,
    column: &str,
) -> Result<T, Error> {
    serde_json::from_str(json).map_err(|error| Error::Corrupt {
        table,
        key: key(),
        problem: format!("`{column}` is not valid: {error}"),
    })
}

fn parse_model_id(
    id: &str,
    table: &'static str,
    key: impl FnOnce() -> String,
) -> Result<ModelId, Error> {
    ModelId::new(id).map_err(|error| Error::Corrupt {
        table,
        key: key(),
        problem: error.to_string(),
    })
}

fn parse_day(day: i64, table: &'static str, key: impl FnOnce() -> String) -> Result<Day, Error> {
    u32::try_from(day).map(Day).map_err(|_| Error::Corrupt {
        table,
        key: key(),
        problem: format!("`day` is {day}, outside the days a `Day` counts"),
    })
}

fn parse_spec(id: &str, json: &str) -> Result<ModelSpec, Error> {
    let table = "models_registry";
    let key = || format!("id = {id:?}");
    let spec: ModelSpec = from_json(json, table, key, "spec")?;
    let corrupt = |problem| Error::Corrupt {
        table,
        key: key(),
        problem,
    };
    if spec.id.as_str() != id {
        return Err(corrupt(format!("the spec is for model `{}`", spec.id)));
    }
    spec.validate()
        .map_err(|error| corrupt(error.to_string()))?;
    Ok(spec)
}

fn parse_budget((principal, daily, monthly): BudgetRow) -> Result<(String, Budget), Error> {
    let table = "models_budgets";
    let key = || format!("principal = {principal:?}");
    let limit = |value: Option<i64>, column| {
        value
            .map(|v| from_db(v, table, key, column).map(Nanodollars))
            .transpose()
    };
    let budget = Budget {
        daily: limit(daily, "daily_nanos")?,
        monthly: limit(monthly, "monthly_nanos")?,
    };
    Ok((principal, budget))
}

fn parse_charge(row: ChargeRow) -> Result<Charge, Error> {
    let (at, principal, model, input, output, cost, request_id, estimated) = row;
    let table = "models_ledger_charges";
    let key = || format!("at_ms = {at}, principal = {principal:?}, model = {model:?}");
    Ok(Charge {
        at: UnixMillis(from_db(at, table, key, "at_ms")?),
        model: parse_model_id(&model, table, key)?,
        input_tokens: from_db(input, table, key, "input_tokens")?,
        output_tokens: from_db(output, table, key, "output_tokens")?,
        cost: Nanodollars(from_db(cost, table, key, "cost_nanos")?),
        principal,
        request_id,
        estimated,
    })
}

#[cfg(test)]
mod tests;
