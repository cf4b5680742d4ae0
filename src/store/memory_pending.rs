//! The memory indexer's durable queue: files waiting to be (re-)indexed, kept in the store so a
//! crash or restart loses none of them.

use super::StoreError;
use super::db::{BeginWrite, now_ms, on_db, on_db_read};
use super::memory::Memory;

impl Memory {
    /// Queues `paths` (file paths) with their source; a path already queued keeps its place.
    pub async fn enqueue_pending(&self, paths: &[(String, String)]) -> Result<(), StoreError> {
        let op = "queue memory files";
        let now = now_ms();
        on_db!(&self.shared.db, pool => {
            let mut transaction = pool.begin_write().await.map_err(StoreError::query(op))?;
            for (path, source) in paths {
                sqlx::query(
                    "INSERT INTO memory_pending (path, source, queued_at_ms) VALUES ($1, $2, $3) \
                     ON CONFLICT (path) DO NOTHING",
                )
                .bind(path)
                .bind(source)
                .bind(now)
                .execute(&mut *transaction)
                .await
                .map_err(StoreError::query(op))?;
            }
            transaction.commit().await.map_err(StoreError::query(op))
        })
    }

    /// The oldest `limit` queued (path, source) pairs; they stay queued until removed.
    pub async fn pending(&self, limit: usize) -> Result<Vec<(String, String)>, StoreError> {
        let op = "read queued memory files";
        on_db_read!(&self.shared.db, pool => sqlx::query_as(
            "SELECT path, source FROM memory_pending ORDER BY queued_at_ms, path LIMIT $1",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await)
        .map_err(StoreError::query(op))
    }

    /// Takes a path off the queue once it has been indexed (or skipped for good).
    pub async fn remove_pending(&self, path: &str) -> Result<(), StoreError> {
        let op = "dequeue memory file";
        on_db!(&self.shared.db, pool => sqlx::query("DELETE FROM memory_pending WHERE path = $1")
            .bind(path)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(StoreError::query(op))
    }

    pub async fn count_pending(&self) -> Result<usize, StoreError> {
        let op = "count queued memory files";
        let count: i64 = on_db_read!(&self.shared.db, pool => sqlx::query_scalar("SELECT count(*) FROM memory_pending")
            .fetch_one(pool)
            .await)
        .map_err(StoreError::query(op))?;
        Ok(usize::try_from(count).unwrap_or(0))
    }
}
