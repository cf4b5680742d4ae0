//! Embedded migrations for both backends: status, apply, and refusing a schema from a newer Chitin.

use std::path::Path;

use serde::Serialize;
use sqlx::migrate::Migrator;

use super::StoreError;
use super::db::Db;
use super::error::sqlite_code;
use crate::instance_lock::{lock_path, open_lock_file};

/// Each migration runs in its own transaction, so a failure leaves the previous version intact.
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");

/// One migration as `chitin db status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationStatus {
    pub version: i64,
    pub description: String,
    pub applied: bool,
}

fn migrator(db: &Db) -> (&'static Migrator, &'static str) {
    match db {
        Db::Postgres(_) => (&POSTGRES, "postgresql"),
        Db::Sqlite(_) => (&SQLITE, "sqlite"),
    }
}

/// The newest schema version this build can create.
pub(crate) fn build_version(db: &Db) -> i64 {
    migrator(db).0.iter().map(|migration| migration.version).max().unwrap_or(0)
}

async fn applied_versions(db: &Db) -> Result<Vec<i64>, StoreError> {
    let op = "read applied migrations";
    let exists: bool = match db {
        Db::Postgres(pool) => sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(pool)
            .await
            .map_err(StoreError::query(op))?,
        Db::Sqlite(pools) => sqlx::query_scalar(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_one(&pools.writer)
        .await
        .map_err(StoreError::query(op))?,
    };
    if !exists {
        return Ok(Vec::new());
    }
    const SQL: &str = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
    match db {
        Db::Postgres(pool) => sqlx::query_scalar(SQL).fetch_all(pool).await,
        Db::Sqlite(pools) => sqlx::query_scalar(SQL).fetch_all(&pools.writer).await,
    }
    .map_err(StoreError::query(op))
}

/// Fails with both version numbers when the database was migrated by a newer Chitin.
pub(crate) async fn refuse_newer_schema(db: &Db) -> Result<(), StoreError> {
    let build_version = build_version(db);
    let database_version = applied_versions(db).await?.into_iter().max().unwrap_or(0);
    if database_version > build_version {
        return Err(StoreError::SchemaTooNew { database_version, build_version });
    }
    Ok(())
}

pub(crate) async fn status(db: &Db) -> Result<Vec<MigrationStatus>, StoreError> {
    let applied = applied_versions(db).await?;
    Ok(migrator(db)
        .0
        .iter()
        .map(|migration| MigrationStatus {
            version: migration.version,
            description: migration.description.to_string(),
            applied: applied.contains(&migration.version),
        })
        .collect())
}

/// A full or read-only disk is named as such (the user can fix it); anything else keeps the migration's error.
fn migrate_error(backend: &'static str, source: sqlx::migrate::MigrateError) -> StoreError {
    if let sqlx::migrate::MigrateError::Execute(inner) | sqlx::migrate::MigrateError::ExecuteMigration(inner, _) =
        &source
        && let Some(code) = sqlite_code(inner)
    {
        match code & 0xff {
            8 => return StoreError::MigrateReadOnly { source },
            13 => return StoreError::MigrateDiskFull { source },
            _ => {}
        }
    }
    StoreError::Migrate { backend, source }
}

/// Applies pending migrations and returns how many ran.
pub(crate) async fn run(db: &Db) -> Result<usize, StoreError> {
    // Held until the migrations are done; PostgreSQL's migrator takes an advisory lock of its own.
    let _lock = match db {
        Db::Sqlite(pools) => MigrationLock::acquire(&pools.path).await,
        Db::Postgres(_) => None,
    };
    refuse_newer_schema(db).await?;
    let before = applied_versions(db).await?.len();
    let (migrator, backend) = migrator(db);
    let result = match db {
        Db::Postgres(pool) => migrator.run(pool).await,
        Db::Sqlite(pools) => migrator.run(&pools.writer).await,
    };
    result.map_err(|source| migrate_error(backend, source))?;
    let after = applied_versions(db).await?.len();
    if after > before {
        tracing::info!(backend, applied = after - before, version = build_version(db), "database migrated");
    }
    Ok(after - before)
}

/// Serialises the migrations of one SQLite file across processes. sqlx's SQLite migrator takes no lock: two
/// processes starting on a new database (`chitin run` and a `chitin` command at once) both read "nothing applied"
/// and the slower one failed on "table already exists". An OS lock on a file beside the database, released when
/// this is dropped (or the process ends), makes the second wait and then find the migrations applied.
struct MigrationLock {
    _file: std::fs::File,
}

impl MigrationLock {
    /// `None` when the lock file cannot be made or locked (a read-only directory, a file system without locks):
    /// the migrations then run as before, and a read-only database fails with its own clear error.
    async fn acquire(database: &Path) -> Option<MigrationLock> {
        let path = lock_path(database, ".migrate-lock");
        let locked = tokio::task::spawn_blocking(move || {
            let file = open_lock_file(&path)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    tracing::info!(lock = %path.display(), "waiting for another chitin process to finish migrating");
                    file.lock()?;
                }
                Err(std::fs::TryLockError::Error(error)) => return Err(error),
            }
            Ok(file)
        })
        .await
        .unwrap_or_else(|join| Err(std::io::Error::other(join)));
        match locked {
            Ok(file) => Some(MigrationLock { _file: file }),
            Err(error) => {
                tracing::debug!(%error, "migrating without the cross-process lock");
                None
            }
        }
    }
}
