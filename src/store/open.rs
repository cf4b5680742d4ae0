//! Opening a backend from `database.url`: SQLCipher-keyed SQLite, or PostgreSQL with start-up retries.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, PgConnection, PgPool};

use crate::config::SecretValue;

use super::db::SqlitePools;
use super::error::sqlite_code;
use super::turn_write_batch::TurnWriteBatcher;
use super::wal_checkpoints::{WalCheckpoints, WalWatch, watch_commits};
use super::{DatabaseConfig, StoreError};
use crate::crypto::MasterKey;

/// File name of the default database inside `data_dir`.
pub const DEFAULT_SQLITE_FILE: &str = "chitin.db";

/// Which backend a `database.url` selects, with its parsed options.
pub(crate) enum Target {
    Sqlite { options: SqliteConnectOptions, path: PathBuf },
    Postgres { options: PgConnectOptions, location: String },
}

pub(crate) fn parse_target(config: &DatabaseConfig, data_dir: &Path) -> Result<Target, StoreError> {
    let url = match config.url.as_ref().map(SecretValue::expose) {
        None => {
            let path = data_dir.join(DEFAULT_SQLITE_FILE);
            return Ok(Target::Sqlite { options: SqliteConnectOptions::new().filename(&path), path });
        }
        Some(url) => url.trim(),
    };
    let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme).to_ascii_lowercase();
    match scheme.as_str() {
        "sqlite" => {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|source| StoreError::InvalidUrl { backend: "sqlite", source })?;
            let path = options.get_filename().to_path_buf();
            Ok(Target::Sqlite { options, path })
        }
        "postgres" | "postgresql" => {
            let options = PgConnectOptions::from_str(url)
                .map_err(|source| StoreError::InvalidUrl { backend: "postgresql", source })?;
            // Credentials stay out of logs and error messages.
            let location =
                format!("{}:{}/{}", options.get_host(), options.get_port(), options.get_database().unwrap_or_default());
            Ok(Target::Postgres { options, location })
        }
        _ => Err(StoreError::UnknownScheme { scheme }),
    }
}

/// Page cache of each reader connection: 32 MB (`-N` is in KiB) instead of SQLite's 2 MB. Every
/// page SQLCipher reads from the file is decrypted and authenticated again unless it is still in
/// this cache, and a full-text search reads the FTS5 doclists of its terms plus a size record per
/// match: at 100k memory chunks the 2 MB default held too little of that, and a full-text query
/// took 27.5 ms p50 (116 ms p95); with 32 MB, 2.5 ms (8.3 ms p95). The cache fills only with pages
/// actually read, but each pooled reader keeps its own, so the worst case is 32 MB per reader
/// connection (see [`sqlite_reader_limit`]).
const READER_CACHE_SIZE: &str = "-32768";

/// Rows the writer connection's thread may hand back before the caller has taken any: four times the most a batch of
/// turn writes returns (64 writes; a reply returns its row and its outbox entry's). sqlx streams each row to the
/// waiting task through a channel of this size (50 by default), and a full channel parks the writer thread until
/// that task, queued behind every other ready task, drains it; the batch's commit waited for that. Measured in the
/// agent benchmark at 256 conversations: 3.0 context switches per turn with the default, 1.0 with this.
const WRITER_ROW_BUFFER: usize = 512;

pub(crate) async fn open_sqlite(
    options: SqliteConnectOptions,
    path: &Path,
    config: &DatabaseConfig,
    master_key: &MasterKey,
) -> Result<SqlitePools, StoreError> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir { path: dir.to_path_buf(), source })?;
    }
    // Opening the file ourselves first turns "unable to open database file" into the OS's reason
    // (read-only file system, permission denied, no space).
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| StoreError::SqliteFile { path: path.to_path_buf(), source })?;
    // sqlx sends the `key` pragma first on every new connection, before anything reads a page.
    let key = format!("\"x'{}'\"", master_key.sqlcipher_key_hex().as_str());
    let options = options
        .pragma("key", key)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_millis(config.busy_timeout_ms));
    let open_error = |source: sqlx::Error| match sqlite_code(&source).map(|code| code & 0xff) {
        // SQLITE_NOTADB: the pages do not decrypt under this key.
        Some(26) => StoreError::WrongMasterKey { location: path.display().to_string() },
        Some(8) => StoreError::ReadOnly { op: "open sqlite database", source },
        Some(13) => StoreError::DiskFull { op: "open sqlite database", source },
        _ => StoreError::OpenSqlite { path: path.to_path_buf(), source },
    };
    // The writer first: it creates the file and switches it to WAL, which the readers rely on. It leaves the
    // WAL's checkpoints to a task of their own (see `wal_checkpoints`).
    let wal_watch = Arc::new(WalWatch::default());
    let writer_wal_watch = Arc::clone(&wal_watch);
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .test_before_acquire(false)
        .before_acquire(|connection, _| Box::pin(async move { Ok(transaction_state_is_clean(connection)) }))
        .after_connect(move |connection, _| {
            let wal_watch = Arc::clone(&writer_wal_watch);
            Box::pin(async move {
                plan_once(connection).await?;
                watch_commits(connection, &wal_watch).await
            })
        })
        .acquire_timeout(Duration::from_secs(config.acquire_timeout_secs))
        .connect_with(options.clone().row_buffer_size(WRITER_ROW_BUFFER))
        .await
        .map_err(open_error)?;
    // No ping when a connection is handed out: a connection to a local file does not go stale,
    // and each ping is a hand-off to the connection's worker thread and back.
    let reader = match SqlitePoolOptions::new()
        .max_connections(sqlite_reader_limit(config.max_connections, available_cores()))
        .min_connections(config.min_connections)
        .test_before_acquire(false)
        .after_connect(|connection, _| Box::pin(plan_once(connection)))
        .acquire_timeout(Duration::from_secs(config.acquire_timeout_secs))
        .connect_with(options.clone().pragma("cache_size", READER_CACHE_SIZE))
        .await
    {
        Ok(reader) => reader,
        Err(error) => {
            // Closed, not dropped: a dropped SQLCipher connection closes on its own thread and can race the
            // process's exit, where SQLCipher frees the globals that close needs.
            writer.close().await;
            return Err(open_error(error));
        }
    };
    let turn_writes = TurnWriteBatcher::spawn(writer.clone());
    let wal_checkpoints = WalCheckpoints::spawn(options, wal_watch);
    Ok(SqlitePools {
        path: path.to_path_buf(),
        writer,
        reader,
        turn_writes,
        wal_checkpoints,
        memory_vectors: Default::default(),
    })
}

/// How many SQLite reader connections to open at most: `database.max_connections`, but no more than twice the
/// CPU count (and never fewer than four). Each reader is a thread with its own page cache, and SQLite reads run
/// on the CPU, so readers past that only wait for a core while holding memory: on 2 cores, 16 readers took
/// 12 threads and about 3 MiB more than 4 in the agent benchmark at 256 conversations, for no more throughput.
fn sqlite_reader_limit(configured: u32, cores: usize) -> u32 {
    let by_cores = u32::try_from(cores.saturating_mul(2)).unwrap_or(u32::MAX).max(4);
    configured.clamp(1, by_cores)
}

fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Makes SQLite plan each statement once, not again for each new set of bound values.
///
/// By default SQLite's planner looks at the values bound to a statement (the number in `LIMIT $2`, say)
/// and marks the statement to be parsed and planned again whenever those values change. sqlx keeps
/// statements prepared and binds new values on every run, so a full-text search or a history read was
/// compiled afresh each time: 5.6 % of the agent bench's CPU. The query planner stability guarantee
/// (`SQLITE_DBCONFIG_ENABLE_QPSG`) turns that off; no statement of ours depends on it (no LIKE
/// patterns or partial-index conditions are bound as parameters).
async fn plan_once(connection: &mut sqlx::SqliteConnection) -> Result<(), sqlx::Error> {
    let mut handle = connection.lock_handle().await?;
    let database = handle.as_raw_handle().as_ptr();
    // SAFETY: `database` is this connection's open handle, held locked for the call; this option takes
    // an int and an optional out-pointer, which may be null.
    let code = unsafe {
        libsqlite3_sys::sqlite3_db_config(
            database,
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            1,
            std::ptr::null_mut::<std::ffi::c_int>(),
        )
    };
    if code == libsqlite3_sys::SQLITE_OK {
        Ok(())
    } else {
        Err(sqlx::Error::Protocol(format!("could not turn on stable query plans (SQLite code {code})")))
    }
}

/// False for a connection that sqlx still believes to be inside a transaction once it is back in the pool.
///
/// When a COMMIT fails with SQLITE_FULL or an I/O error, SQLite may already have rolled the transaction back;
/// sqlx's own rollback then fails and its transaction count stays at one, so every later `BEGIN IMMEDIATE` on
/// that connection would fail. Such a connection is closed and the pool opens a fresh one.
fn transaction_state_is_clean(connection: &mut sqlx::SqliteConnection) -> bool {
    use sqlx::Connection;
    let clean = !connection.is_in_transaction();
    if !clean {
        tracing::warn!("sqlite writer connection left in a failed transaction; reopening it");
    }
    clean
}

/// `hnsw.ef_search` every PostgreSQL connection starts with: it bounds how many rows one HNSW scan
/// yields, and equals hybrid search's list depth (`candidates_per_list`, 50 by default), which is
/// what each search set before. Each step up costs graph work on every search; a vector search
/// that asks for more sets it for its own transaction (`memory_search.rs`).
pub(crate) const SESSION_EF_SEARCH: usize = 50;

/// Set once per connection, so a vector search is one statement instead of BEGIN, two `SET
/// LOCAL`s, the query and COMMIT. The relaxed iterative scan keeps walking the graph when a
/// filter drops rows; results are re-sorted by exact distance anyway.
fn session_defaults() -> String {
    format!("SET hnsw.ef_search = {SESSION_EF_SEARCH}; SET hnsw.iterative_scan = relaxed_order")
}

/// A pooled PostgreSQL connection idle for longer than this is pinged before it is handed out.
const PING_AFTER_IDLE: Duration = Duration::from_secs(2);

/// Pings a PostgreSQL connection that may have been cut while it sat idle: idle long enough for a
/// server restart or an idle timeout on the way to go unnoticed, or idle since before this process
/// last saw a connection die. An error makes the pool drop it and hand out another. sqlx pings on
/// every hand-out by default: a round trip before every statement a busy store runs.
async fn ping_if_idle(connection: &mut sqlx::PgConnection, idle_for: Duration) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    if idle_for < PING_AFTER_IDLE && !super::connection_loss::idle_through_a_loss(idle_for) {
        return Ok(());
    }
    connection.ping().await
}

/// Connects with exponential backoff, logging one line per failed attempt.
///
/// Wrong credentials and a missing database are final: retrying cannot fix them.
pub(crate) async fn open_postgres(
    options: PgConnectOptions,
    location: &str,
    config: &DatabaseConfig,
) -> Result<PgPool, StoreError> {
    let attempts = config.connect_attempts.max(1);
    let mut backoff = Duration::from_millis(config.connect_backoff_ms);
    let mut attempt = 1;
    let connect_timeout = Duration::from_secs(config.connect_timeout_secs.max(1));
    let options = options.application_name("chitin");
    loop {
        let result = match probe_postgres(&options, connect_timeout).await {
            Ok(()) => build_postgres_pool(&options, config).await,
            Err(error) => Err(error),
        };
        let error = match result {
            Ok(pool) => return Ok(pool),
            Err(error) => error,
        };
        let code = error.as_database_error().and_then(|db| db.code()).unwrap_or_default().into_owned();
        if matches!(code.as_str(), "28P01" | "28000") {
            return Err(StoreError::AuthenticationFailed { location: location.to_owned(), source: error });
        }
        if code == "3D000" {
            return Err(StoreError::Query { op: "connect to postgresql", retryable: false, source: error });
        }
        if attempt >= attempts {
            return Err(StoreError::Unreachable { location: location.to_owned(), attempts, source: error });
        }
        tracing::warn!(
            %location, attempt, max_attempts = attempts, retry_in_ms = backoff.as_millis() as u64, %error,
            "postgresql unreachable, retrying"
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
        attempt += 1;
    }
}

/// One direct connection before the pool is built, so a failure names its own cause (connection refused, unknown
/// host, wrong password) within `database.connect_timeout_secs`; the pool would only report that it timed out
/// waiting for a connection, after `acquire_timeout_secs`.
async fn probe_postgres(options: &PgConnectOptions, timeout: Duration) -> Result<(), sqlx::Error> {
    match tokio::time::timeout(timeout, PgConnection::connect_with(options)).await {
        Ok(Ok(connection)) => {
            let _ = connection.close().await;
            Ok(())
        }
        Ok(Err(error)) => Err(error),
        Err(_) => Err(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no answer within {} s (database.connect_timeout_secs)", timeout.as_secs()),
        ))),
    }
}

async fn build_postgres_pool(options: &PgConnectOptions, config: &DatabaseConfig) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(config.max_connections.max(1))
        .min_connections(config.min_connections)
        .acquire_timeout(Duration::from_secs(config.acquire_timeout_secs))
        .test_before_acquire(false)
        .before_acquire(|connection, metadata| {
            Box::pin(async move { ping_if_idle(connection, metadata.idle_for).await.map(|()| true) })
        })
        .after_connect(|connection, _| {
            Box::pin(async move {
                sqlx::raw_sql(sqlx::AssertSqlSafe(session_defaults())).execute(connection).await.map(|_| ())
            })
        })
        .connect_with(options.clone())
        .await
}

/// Refuses to start without pgvector, before a migration half-creates the schema.
pub(crate) async fn require_pgvector(pool: &PgPool, location: &str) -> Result<(), StoreError> {
    let available: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        .fetch_optional(pool)
        .await
        .map_err(StoreError::query("check for pgvector"))?;
    match available {
        Some(_) => Ok(()),
        None => Err(StoreError::PgvectorMissing { location: location.to_owned() }),
    }
}

/// The configured embedding length must match the `vector(N)` column, or every insert would fail later.
pub(crate) async fn check_embedding_dims(pool: &PgPool, configured: usize) -> Result<(), StoreError> {
    let in_schema: Option<i32> = sqlx::query_scalar(
        "SELECT atttypmod FROM pg_attribute WHERE attrelid = to_regclass('memory_chunks') AND attname = 'embedding'",
    )
    .fetch_optional(pool)
    .await
    .map_err(StoreError::query("read embedding column size"))?;
    match in_schema {
        Some(dims) if dims > 0 && dims as usize != configured => {
            Err(StoreError::EmbeddingDimsMismatch { configured, in_schema: dims as usize })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_readers_stop_at_twice_the_cores_but_honour_a_smaller_setting() {
        assert_eq!(super::sqlite_reader_limit(16, 2), 4, "a 2-core machine gets the floor of four");
        assert_eq!(super::sqlite_reader_limit(16, 4), 8);
        assert_eq!(super::sqlite_reader_limit(16, 32), 16, "the setting still caps a large machine");
        assert_eq!(super::sqlite_reader_limit(2, 8), 2, "a smaller setting is kept");
        assert_eq!(super::sqlite_reader_limit(0, 8), 1, "zero still leaves one reader");
    }

    use super::*;

    /// Whether a connection from `pool` has the query planner stability guarantee on, as SQLite reports it.
    async fn plans_once(pool: &sqlx::SqlitePool) -> bool {
        let mut connection = pool.acquire().await.expect("connection");
        let mut handle = connection.lock_handle().await.expect("handle");
        let mut enabled: std::ffi::c_int = -1;
        // SAFETY: as in `plan_once`; -1 leaves the option as it is and writes its state to `enabled`.
        let code = unsafe {
            libsqlite3_sys::sqlite3_db_config(
                handle.as_raw_handle().as_ptr(),
                libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
                -1,
                &mut enabled as *mut std::ffi::c_int,
            )
        };
        assert_eq!(code, libsqlite3_sys::SQLITE_OK);
        enabled == 1
    }

    #[tokio::test]
    async fn every_sqlite_connection_plans_a_statement_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("plans.db");
        let options = SqliteConnectOptions::new().filename(&path);
        let key = MasterKey::from_bytes([3; 32]);
        let pools = open_sqlite(options, &path, &DatabaseConfig::default(), &key).await.expect("open");
        assert!(plans_once(&pools.writer).await, "the writer re-plans statements for new bound values");
        assert!(plans_once(&pools.reader).await, "a reader re-plans statements for new bound values");
        pools.writer.close().await;
        pools.reader.close().await;
    }
}
