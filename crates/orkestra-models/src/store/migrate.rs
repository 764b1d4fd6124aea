//! This crate's schema migrations, kept in its own ledger table `models_migrations`.
//!
//! Several orkestra crates share one database, each with its own tables and migrations, so the
//! crate does not use a ledger shared between crates: each keeps its own and never reads another's.
//! Every migration runs in its own transaction together with its ledger row, so a failed one
//! leaves the database at the previous version. On PostgreSQL the transaction first takes an
//! advisory lock, so two processes starting at once apply each migration exactly once; on SQLite
//! `BEGIN IMMEDIATE` takes the database's write lock for the same effect.

use super::{Dialect, Error, Store};
use crate::time::UnixMillis;

/// One schema change, written once per backend.
#[derive(Debug)]
pub(super) struct Migration {
    /// Position in the order of application, from 1, without gaps.
    pub(super) version: i64,
    /// A short name, recorded in the ledger and checked on every open.
    pub(super) name: &'static str,
    /// The script for SQLite.
    pub(super) sqlite: &'static str,
    /// The script for PostgreSQL.
    pub(super) postgres: &'static str,
}

/// Every migration, oldest first.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sqlite: include_str!("../../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "charges_estimated",
        sqlite: include_str!("../../migrations/sqlite/0002_charges_estimated.sql"),
        postgres: include_str!("../../migrations/postgres/0002_charges_estimated.sql"),
    },
];

/// The newest version this build knows.
pub(super) const LATEST: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// The ledger, created before anything else; its shape never changes.
const CREATE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS models_migrations (\
     version BIGINT PRIMARY KEY NOT NULL, \
     name TEXT NOT NULL, \
     applied_at BIGINT NOT NULL)";

const SELECT_APPLIED: &str = "SELECT version, name FROM models_migrations ORDER BY version";

const INSERT_APPLIED: &str =
    "INSERT INTO models_migrations (version, name, applied_at) VALUES ($1, $2, $3)";

/// Refuses a database migrated by a newer build, or by a build that disagrees about what a
/// version is; returns whether `version` is already applied.
pub(super) fn is_applied(applied: &[(i64, String)], version: i64) -> Result<bool, Error> {
    if let Some((found, name)) = applied.iter().rev().find(|(v, _)| *v > LATEST) {
        return Err(Error::NewerSchema {
            found: *found,
            name: name.clone(),
            known: LATEST,
        });
    }
    for (version, found) in applied {
        let known = MIGRATIONS.iter().find(|m| m.version == *version);
        if let Some(known) = known
            && known.name != found
        {
            return Err(Error::MigrationMismatch {
                version: *version,
                found: found.clone(),
                expected: known.name,
            });
        }
    }
    Ok(applied.iter().any(|(v, _)| *v == version))
}

impl Dialect {
    fn script(&self, migration: &Migration) -> &'static str {
        if self.postgres {
            migration.postgres
        } else {
            migration.sqlite
        }
    }
}

impl Store {
    /// Applies every migration the database lacks, each in its own transaction.
    pub(super) async fn migrate(&self) -> Result<(), Error> {
        const OP: &str = "migrate";
        for migration in MIGRATIONS {
            let failed = |source| Error::Migrate {
                version: migration.version,
                name: migration.name,
                source,
            };
            transaction!(self, OP, write, |tx, sql| {
                if let Some(lock) = sql.migration_lock {
                    statement!(tx, OP, execute, lock);
                }
                sqlx::raw_sql(CREATE_LEDGER)
                    .execute(&mut *tx)
                    .await
                    .map_err(Error::query(OP))?;
                let applied: Vec<(i64, String)> = statement!(tx, OP, fetch_all, SELECT_APPLIED);
                // Re-read under the lock: another process may have applied it meanwhile.
                if !is_applied(&applied, migration.version)? {
                    sqlx::raw_sql(sql.script(migration))
                        .execute(&mut *tx)
                        .await
                        .map_err(failed)?;
                    let now = i64::try_from(UnixMillis::now().0).unwrap_or(i64::MAX);
                    sqlx::query(INSERT_APPLIED)
                        .bind(migration.version)
                        .bind(migration.name)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(failed)?;
                }
            });
        }
        Ok(())
    }
}
