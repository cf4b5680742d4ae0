//! Durable storage for everything Chitin must not lose, on SQLite or PostgreSQL behind one API.
//!
//! Open it with [`Store::connect`]; each concern (conversations, inbound, outbox, jobs, routines,
//! memory, secrets, tools, audit, settings) is its own cheap-to-clone handle obtained from the store.
//! docs/storage.md explains the backend choice and the delivery guarantees.

mod addresses;
mod audit;
mod columns;
mod config;
mod connection_loss;
mod conversations;
mod db;
mod error;
mod export;
#[cfg(test)]
mod generic_plans;
mod group_commit;
mod ids;
mod inbound;
mod inbound_batch;
mod job_batch;
mod jobs;
mod key_check;
mod memory;
mod memory_ann;
mod memory_full_text;
mod memory_pending;
mod memory_search;
mod memory_vector_cache;
mod memory_vectors;
mod migrate;
mod open;
mod outbox;
mod rekey;
mod replies;
mod routines;
mod sealing;
mod secrets;
mod settings;
mod sqlite_script;
mod stats;
mod tools;
mod turn_write_batch;
mod turn_write_script;
mod wal_checkpoints;
mod writer_connection;

pub use audit::{AuditEntry, AuditLog, AuditRecord};
pub use columns::{Approval, Direction, JobState, MessageStatus, Role, RunState, TriggerKind};
pub use config::DatabaseConfig;
pub use conversations::{Conversation, Conversations, NewMessage, StoredMessage, TokenUsage};
pub use db::now_ms;
pub use error::StoreError;
pub use ids::{AuditId, ChunkId, ConversationId, DocumentId, JobId, MessageId, OutboxId, RoutineId, RoutineRunId};
pub use inbound::{Inbound, InboundMessage, InboundOutcome};
pub use jobs::{
    CancelOutcome, ClaimedJob, EnqueueOutcome, ExpiredLease, JobEvent, JobOutcome, JobOutcomeEvent, JobSummary, Jobs,
    LeaseCheck, NOTIFY_CHANNEL, NewJob, StoredJob,
};
pub use memory::{DocumentSummary, DocumentWrite, Memory, NewChunk, NewDocument};
pub use memory_ann::{AnnProgress, AnnSettings, REBUILD_MIN_PENDING, REBUILD_RATIO, rebuild_pays};
pub use memory_full_text::FULL_TEXT_MERGE_AFTER_CHUNKS;
pub use memory_search::RankedCandidates;
pub use migrate::MigrationStatus;
pub use open::DEFAULT_SQLITE_FILE;
pub use outbox::{Outbox, OutboxItem, QueuedReply, ReplyOutcome};
pub use rekey::RotationReport;
pub(crate) use rekey::secret_context;
pub use routines::{NewRoutine, Routine, Routines, RunStart};
pub use secrets::{SecretRow, Secrets};
pub use settings::Settings;
pub use stats::Stats;
pub use tools::{InstalledTool, InstalledTools};

use std::path::Path;
use std::time::Duration;

use crate::crypto::{FieldCipher, MasterKey};
use db::{Db, Shared};
use inbound_batch::InboundBatcher;
use job_batch::JobBatcher;
use open::Target;
use sealing::Sealer;

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What `chitin status` and the health endpoint report about storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageHealth {
    Healthy {
        backend: Backend,
    },
    /// The database did not answer; operations fail as retryable until it is back.
    Degraded {
        backend: Backend,
        reason: String,
    },
}

/// The open database. Clone it freely: clones share one connection pool.
#[derive(Clone)]
pub struct Store {
    shared: Shared,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend()).field("location", &self.shared.location).finish()
    }
}

impl Store {
    /// Opens (and on first run creates) the database `config.url` names, checks the master key and
    /// the schema version, and applies pending migrations when `config.run_migrations` is on.
    pub async fn connect(
        config: &DatabaseConfig,
        data_dir: &Path,
        master_key: &MasterKey,
    ) -> Result<Store, StoreError> {
        let shared = match open::parse_target(config, data_dir)? {
            Target::Sqlite { options, path } => {
                let pools = open::open_sqlite(options, &path, config, master_key).await?;
                let location = path.display().to_string();
                Shared {
                    db: Db::Sqlite(pools),
                    sealer: Sealer::plain(),
                    inbound_batcher: None,
                    job_batcher: None,
                    embedding_dims: config.embedding_dims,
                    addresses: Default::default(),
                    full_text_backlog: Default::default(),
                    location,
                }
            }
            Target::Postgres { options, location } => {
                let pool = open::open_postgres(options, &location, config).await?;
                open::require_pgvector(&pool, &location).await?;
                let sealer = Sealer::encrypting(FieldCipher::new(master_key));
                let inbound_batcher = Some(InboundBatcher::spawn(pool.clone()));
                let job_batcher = Some(JobBatcher::spawn(pool.clone()));
                Shared {
                    db: Db::Postgres(pool),
                    sealer,
                    inbound_batcher,
                    job_batcher,
                    embedding_dims: config.embedding_dims,
                    addresses: Default::default(),
                    full_text_backlog: Default::default(),
                    location,
                }
            }
        };
        let store = Store { shared };
        if let Err(error) = store.prepare(config, master_key).await {
            // Closed, not dropped: a dropped SQLCipher connection closes on its own thread and can race the
            // process's exit, where SQLCipher frees the globals that closing needs.
            store.close().await;
            return Err(error);
        }
        tracing::info!(backend = ?store.backend(), location = %store.shared.location, "storage open");
        Ok(store)
    }

    /// Schema version check, migrations, and the PostgreSQL-only checks, on a freshly opened store.
    async fn prepare(&self, config: &DatabaseConfig, master_key: &MasterKey) -> Result<(), StoreError> {
        migrate::refuse_newer_schema(&self.shared.db).await?;
        if config.run_migrations {
            migrate::run(&self.shared.db).await?;
        }
        // A database not migrated yet (`chitin db status` / `db migrate` open it without migrating) has no sealed
        // data and no tables to check; the next open after migrating records the key.
        if let Db::Postgres(pool) = &self.shared.db
            && key_check::schema_present(pool).await?
        {
            open::check_embedding_dims(pool, config.embedding_dims).await?;
            key_check::verify_or_record(pool, &self.shared.sealer, master_key, &self.shared.location).await?;
        }
        Ok(())
    }

    /// The database file, on SQLite.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.shared.db {
            Db::Sqlite(pools) => Some(&pools.path),
            Db::Postgres(_) => None,
        }
    }

    pub fn backend(&self) -> Backend {
        match self.shared.db {
            Db::Postgres(_) => Backend::Postgres,
            Db::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Applies pending migrations (`chitin db migrate`); returns how many ran.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        migrate::run(&self.shared.db).await
    }

    /// Every migration this build knows, with whether it is applied (`chitin db status`).
    pub async fn migration_status(&self) -> Result<Vec<MigrationStatus>, StoreError> {
        migrate::status(&self.shared.db).await
    }

    /// Asks the database a trivial question with a short deadline.
    pub async fn health(&self) -> StorageHealth {
        let backend = self.backend();
        let ping = async {
            db::on_db_read!(&self.shared.db, pool => sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(pool).await)
        };
        match tokio::time::timeout(Duration::from_secs(2), ping).await {
            Ok(Ok(_)) => StorageHealth::Healthy { backend },
            Ok(Err(error)) => StorageHealth::Degraded { backend, reason: error.to_string() },
            Err(_) => StorageHealth::Degraded { backend, reason: "no answer within 2 s".to_owned() },
        }
    }

    /// Closes every pooled connection; later calls fail.
    pub async fn close(&self) {
        match &self.shared.db {
            Db::Postgres(pool) => pool.close().await,
            Db::Sqlite(pools) => {
                // Delivery marks nobody waited for are still held by the group commit.
                pools.turn_writes.flush().await;
                pools.wal_checkpoints.close().await;
                pools.reader.close().await;
                pools.writer.close().await;
            }
        }
    }

    pub fn conversations(&self) -> Conversations {
        Conversations::new(self.shared.clone())
    }
    pub fn inbound(&self) -> Inbound {
        Inbound::new(self.shared.clone())
    }
    pub fn outbox(&self) -> Outbox {
        Outbox::new(self.shared.clone())
    }
    pub fn jobs(&self) -> Jobs {
        Jobs::new(self.shared.clone())
    }
    pub fn routines(&self) -> Routines {
        Routines::new(self.shared.clone())
    }
    pub fn memory(&self) -> Memory {
        Memory::new(self.shared.clone())
    }
    pub fn secrets(&self) -> Secrets {
        Secrets::new(self.shared.clone())
    }
    pub fn tools(&self) -> InstalledTools {
        InstalledTools::new(self.shared.clone())
    }
    pub fn audit(&self) -> AuditLog {
        AuditLog::new(self.shared.clone())
    }
    pub fn stats(&self) -> Stats {
        Stats::new(self.shared.clone())
    }

    pub fn settings(&self) -> Settings {
        Settings::new(self.shared.clone())
    }

    /// Writes a consistent copy of a SQLite database to `path` while Chitin keeps running.
    pub async fn backup_to(&self, path: &Path) -> Result<(), StoreError> {
        export::backup_to(&self.shared, path).await
    }

    /// Writes every conversation with its messages as JSON lines (`chitin export --conversations`).
    pub async fn export_conversations(&self, out: &mut (dyn std::io::Write + Send)) -> Result<u64, StoreError> {
        export::conversations(&self.shared, out).await
    }

    /// Writes every memory document with its chunks as JSON lines (`chitin export --memory`).
    pub async fn export_memory(&self, out: &mut (dyn std::io::Write + Send)) -> Result<u64, StoreError> {
        export::memory(&self.shared, out).await
    }
}
