//! The backend handle shared by every concern, and the helpers that let one body of SQL serve both backends.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

use super::inbound_batch::InboundBatcher;
use super::job_batch::JobBatcher;
use super::sealing::Sealer;

/// The pools for one of the two backends.
#[derive(Clone, Debug)]
pub(crate) enum Db {
    Postgres(PgPool),
    Sqlite(SqlitePools),
}

/// SQLite allows one writer at a time. Writers queue for the single writer connection in the
/// pool (first come, first served, no sleeping) instead of racing for the file lock, where the
/// losers back off in SQLite's busy handler for up to 100 ms each. Readers use their own pool and,
/// in WAL mode, never block the writer.
#[derive(Clone, Debug)]
pub(crate) struct SqlitePools {
    /// The database file.
    pub(crate) path: std::path::PathBuf,
    pub(crate) writer: SqlitePool,
    pub(crate) reader: SqlitePool,
    /// Group commit of inbound messages, filed replies and delivery marks.
    pub(crate) turn_writes: super::turn_write_batch::TurnWriteBatcher,
    /// The task that checkpoints the WAL so the writer does not have to.
    pub(crate) wal_checkpoints: super::wal_checkpoints::WalCheckpoints,
    /// The in-process copy of the memory chunk vectors that SQLite's vector search scans.
    pub(crate) memory_vectors: std::sync::Arc<super::memory_vector_cache::VectorCache>,
}

/// What every concern holds: the pool and the sealer for encrypted columns.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) db: Db,
    pub(crate) sealer: Sealer,
    /// PostgreSQL only: the group-commit writer for inbound messages.
    pub(crate) inbound_batcher: Option<InboundBatcher>,
    /// PostgreSQL only: the group-commit claims and outcomes of the job workers.
    pub(crate) job_batcher: Option<JobBatcher>,
    pub(crate) embedding_dims: usize,
    /// Conversation addresses already read, shared by every handle of this store.
    pub(crate) addresses: super::addresses::Addresses,
    /// PostgreSQL only: memory chunks written since the full-text index's pending list was merged.
    pub(crate) full_text_backlog: super::memory_full_text::FullTextBacklog,
    /// `postgres://host:port/db` or the SQLite path, without credentials, for logs and errors.
    pub(crate) location: String,
}

/// Runs the same body against whichever pool is open.
///
/// The body is compiled once per backend, so `sqlx::query(..).bind(..)` picks up each driver's
/// types. Queries inside use `$1`-style parameters, which both drivers understand.
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::db::Db::Postgres($pool) => $body,
            $crate::store::db::Db::Sqlite(pools) => {
                let $pool = &pools.writer;
                $body
            }
        }
    };
}
pub(crate) use on_db;

/// Like [`on_db!`] for statements that only read: on SQLite they skip the writer queue.
macro_rules! on_db_read {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::db::Db::Postgres($pool) => $body,
            $crate::store::db::Db::Sqlite(pools) => {
                let $pool = &pools.reader;
                $body
            }
        }
    };
}
pub(crate) use on_db_read;

/// Opens a transaction that is allowed to write.
///
/// SQLite gets `BEGIN IMMEDIATE`: a deferred transaction that reads and then writes can fail with
/// `SQLITE_BUSY` without waiting when another writer committed in between; taking the write lock up
/// front makes it wait for `busy_timeout` instead.
///
/// sqlx's `begin` future (acquiring a connection, which may open one) is about 14.5 KB, and every store method
/// that awaits it inline is at least that large for its whole life, including the callers' futures that hold it
/// (a turn, each of its tool calls, an API request's delivery mark), whichever branch they take. So it is boxed
/// here: one small allocation per transaction instead.
pub(crate) trait BeginWrite {
    type Database: sqlx::Database;
    async fn begin_write(&self) -> Result<Transaction<'static, Self::Database>, sqlx::Error>;
}

impl BeginWrite for PgPool {
    type Database = Postgres;
    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        Box::pin(self.begin()).await
    }
}

impl BeginWrite for SqlitePool {
    type Database = Sqlite;
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        Box::pin(self.begin_with("BEGIN IMMEDIATE")).await
    }
}

/// The row an autocommit `… RETURNING` statement gives back, read with `fetch_all`: SQLite commits such a
/// statement only when it runs to its end, and `fetch_one`/`fetch_optional` stop at the first row, so a commit
/// that fails there (a full disk) would go unnoticed behind a returned id.
pub(crate) fn returned_row<T>(rows: Vec<T>) -> Option<T> {
    rows.into_iter().next()
}

/// Wall-clock time in Unix milliseconds, the unit of every `*_at_ms` column.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_millis() as i64).unwrap_or(0)
}

pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use crate::crypto::MasterKey;
    use crate::store::{AuditEntry, ConversationId, DatabaseConfig, MessageId, OutboxId, Store};

    /// A caller holds a store future for as long as it waits on the write, and an API request waits on its
    /// delivery mark behind the single writer. With sqlx's `begin` future inline, each of these was 14–15 KB in a
    /// release build and 4.2–4.5 KB in this test's debug build; boxed, they are 0.8–1.5 KB.
    #[tokio::test(flavor = "current_thread")]
    async fn a_store_write_future_does_not_hold_a_transaction_start_inline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::connect(&DatabaseConfig::default(), dir.path(), &MasterKey::from_bytes([7; 32]))
            .await
            .expect("store");
        let (outbox, audit) = (store.outbox(), store.audit());
        let detail = serde_json::json!({});
        let entry = AuditEntry { actor: "test", action: "size", target: "future", detail: &detail };
        let sizes = [
            ("mark_delivered", std::mem::size_of_val(&outbox.mark_delivered(OutboxId(1), None))),
            (
                "enqueue_reply",
                std::mem::size_of_val(&outbox.enqueue_reply(ConversationId(1), Some(MessageId(1)), "ok")),
            ),
            ("audit append", std::mem::size_of_val(&audit.append(&entry))),
        ];
        println!("{sizes:?}");
        for (what, size) in sizes {
            assert!(size <= 2048, "a {what} future is {size} bytes");
        }
    }
}
