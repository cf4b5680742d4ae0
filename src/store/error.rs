//! The store's error type: what failed, where, and whether retrying can help.

use std::path::PathBuf;

use crate::crypto::CryptoError;

/// Every store failure names the operation (`op`) that hit it.
///
/// [`StoreError::is_retryable`] tells callers whether the same call may succeed later (lost
/// connection, server restarting, lock contention) or never will (bad input, wrong key).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database url scheme `{scheme}`: use sqlite://PATH or postgres://USER:PASS@HOST/DB")]
    UnknownScheme { scheme: String },
    #[error("invalid database url for {backend}")]
    InvalidUrl {
        backend: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot open {location}: wrong master key")]
    WrongMasterKey { location: String },
    #[error("cannot reach postgresql at {location} after {attempts} attempts")]
    Unreachable {
        location: String,
        attempts: u32,
        #[source]
        source: sqlx::Error,
    },
    #[error("postgresql at {location} rejected the user name or password")]
    AuthenticationFailed {
        location: String,
        #[source]
        source: sqlx::Error,
    },
    #[error(
        "the pgvector extension is not available in postgresql at {location}; install it (Debian: run \
         scripts/setup-postgres.sh, or build pgvector 0.8 against pg_config), then start chitin again"
    )]
    PgvectorMissing { location: String },
    #[error("memory embeddings are configured with {configured} dimensions but the database column has {in_schema}")]
    EmbeddingDimsMismatch { configured: usize, in_schema: usize },
    #[error(
        "database schema is at version {database_version}, newer than this chitin build knows \
         ({build_version}); upgrade chitin or restore a backup"
    )]
    SchemaTooNew { database_version: i64, build_version: i64 },
    #[error("migration of the {backend} database failed; no partial migration was kept")]
    Migrate {
        backend: &'static str,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error("migration of the sqlite database failed: the disk holding it is full; no partial migration was kept")]
    MigrateDiskFull {
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error(
        "migration of the sqlite database failed: the database file is read-only (check permissions and mount \
         options); no partial migration was kept"
    )]
    MigrateReadOnly {
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error("cannot open sqlite database {path}")]
    OpenSqlite {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot create or open sqlite database file {path}")]
    SqliteFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create database directory {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{op} failed: the database file is read-only (check permissions and mount options)")]
    ReadOnly {
        op: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("{op} failed: the disk holding the database is full")]
    DiskFull {
        op: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("{op} failed")]
    Query {
        op: &'static str,
        retryable: bool,
        #[source]
        source: sqlx::Error,
    },
    /// One database failure reported to every caller of a batched write.
    #[error("{op} failed")]
    QueryShared {
        op: &'static str,
        retryable: bool,
        #[source]
        source: std::sync::Arc<sqlx::Error>,
    },
    /// The background writer is gone (the store is shutting down) or lost track of a row.
    #[error("{op} failed: the store's background writer stopped")]
    WriterStopped { op: &'static str },
    #[error("{op}: no {what} with id {id}")]
    NotFound { op: &'static str, what: &'static str, id: String },
    #[error("{op}: stored value could not be decrypted")]
    Decrypt {
        op: &'static str,
        #[source]
        source: CryptoError,
    },
    #[error("{op}: column {column} holds unknown value `{value}`")]
    UnknownValue { op: &'static str, column: &'static str, value: String },
    #[error("{op}: could not encode or decode json")]
    Json {
        op: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{op}: stored text is not valid utf-8")]
    NotUtf8 { op: &'static str },
    #[error("{op}: embedding has {found} dimensions, expected {expected}")]
    EmbeddingDims { op: &'static str, found: usize, expected: usize },
    #[error(
        "`chitin db backup` copies SQLite databases; for postgresql run `pg_dump --format=custom --file=FILE DATABASE_URL`"
    )]
    BackupNeedsPgDump,
    #[error("backup to {path} failed")]
    Backup {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
    #[error("backup target {path} already exists; choose a new file name")]
    BackupExists { path: PathBuf },
    #[error("export failed while writing")]
    ExportWrite(#[source] std::io::Error),
    #[error("audit log entry {id} does not match its hash: the log was altered")]
    AuditChainBroken { id: i64 },
}

impl StoreError {
    /// True when the same call may succeed later; callers retry with backoff.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Query { retryable, .. } | StoreError::QueryShared { retryable, .. } => *retryable,
            StoreError::WriterStopped { .. } => true,
            StoreError::Unreachable { .. } => true,
            _ => false,
        }
    }

    /// Wraps a driver error for `op`, sorting it into retryable or not.
    pub(crate) fn query(op: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| {
            if let Some(code) = sqlite_code(&source) {
                match code & 0xff {
                    8 => return StoreError::ReadOnly { op, source },
                    13 => return StoreError::DiskFull { op, source },
                    _ => {}
                }
            }
            let retryable = is_transient(&source);
            StoreError::Query { op, retryable, source }
        }
    }
}

/// Transient: the connection or server went away, or a lock/serialization conflict.
///
/// Every place that sorts a driver error comes through here, so this is also where a lost
/// connection is noted ([`super::connection_loss::note`]): the pools then check the connections
/// that sat idle through it before handing them out.
pub(crate) fn is_transient(error: &sqlx::Error) -> bool {
    if is_connection_loss(error) {
        super::connection_loss::note();
    }
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => {
            if let Some(code) = sqlite_code(error) {
                // BUSY (5) and LOCKED (6), including their extended variants.
                return matches!(code & 0xff, 5 | 6);
            }
            let code = db.code().unwrap_or_default();
            code.starts_with("08")
                || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "40001" | "40P01" | "53300" | "55P03")
        }
        _ => false,
    }
}

/// The socket or the server session is gone: an I/O or TLS failure, a broken protocol stream, or
/// PostgreSQL's connection-exception (08) and shutdown (57P01–57P03) codes.
fn is_connection_loss(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) if sqlite_code(error).is_none() => {
            let code = db.code().unwrap_or_default();
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")
        }
        _ => false,
    }
}

/// SQLite's extended result code, when the error came from SQLite.
pub(crate) fn sqlite_code(error: &sqlx::Error) -> Option<i32> {
    let db = error.as_database_error()?;
    db.try_downcast_ref::<sqlx::sqlite::SqliteError>()?;
    db.code()?.parse().ok()
}
