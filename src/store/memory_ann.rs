//! PostgreSQL's approximate vector index kept behind the write path: chunks queued in
//! `memory_ann_pending` are moved into the HNSW-indexed `memory_chunk_ann`, in batches or by a rebuild.
//!
//! Why: an HNSW insert costs 2-5.5 ms of server time here, 20x the rest of storing a chunk, so the
//! write path only queues a chunk (same statement as the insert) and vector search reads the graph
//! plus the queued tail, scanned exactly (`memory_search.rs`). A chunk is searchable the moment its
//! transaction commits; the graph catches up in the background.
//!
//! Invariant: every chunk with a vector is queued, or in the graph with that vector (or both,
//! briefly: search de-duplicates). It holds because a vector on PostgreSQL only ever goes from
//! NULL to a value (`write_chunk_vectors` writes over NULL only) or back to NULL for every chunk at
//! once (`clear_all_vectors`, which empties both tables and counts the clear in `memory_ann_state`).
//!
//! Several Chitin nodes may share one database: batches and rebuilds take one advisory lock (keyed
//! by the `memory_chunks` table, so schemas sharing a database do not contend), and a node that
//! does not get it skips its turn. Everything is in the store, so a crash at any point loses
//! nothing: the queue stays, a half-built table is dropped by the next rebuild.

use std::time::Instant;

use sqlx::{Connection, PgConnection, PgPool};
use tracing::Instrument;

use super::StoreError;
use super::db::Db;
use super::memory::Memory;

/// The absorber's advisory lock: a fixed tag in the high half, the OID of this schema's
/// `memory_chunks` table in the low half.
const LOCK_KEY: &str = "((x'43484954'::bigint << 32) | 'memory_chunks'::regclass::oid::bigint)";

/// A rebuild needs at least this many queued chunks: below it, batches finish within seconds and
/// a rebuild's fixed cost (five DDL statements, a table swap that briefly blocks writers) is not
/// worth paying.
pub const REBUILD_MIN_PENDING: u64 = 1_000;

/// A rebuild also needs the queue to hold at least 1/`REBUILD_RATIO` as many chunks as the graph.
///
/// Measured on the 2-core machine at 100k chunks: inserting one row into the graph costs 2-5.5 ms;
/// building the graph in one go 0.3-0.6 ms per row (with 512 MB of maintenance memory), plus
/// ~0.15 ms per row to copy it. Batches cost `pending × c_insert`, a rebuild
/// `(indexed + pending) × c_build`, so a rebuild pays once
/// `pending / indexed > c_build / (c_insert - c_build)`: between 0.09 (fast build, slow inserts)
/// and 0.6 (the reverse). A quarter sits in the middle and keeps rebuilds rare: after one, the
/// graph must grow by a quarter through batches before the next.
pub const REBUILD_RATIO: u64 = 4;

/// How the absorber works; from `[memory]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnSettings {
    /// Queued chunks moved per batch transaction.
    pub batch: usize,
    /// `maintenance_work_mem` of a rebuild's `CREATE INDEX`, in MiB: the graph must fit in it, or
    /// the build slows down about 3x (64 MB at 100k chunks).
    pub build_memory_mb: u32,
}

impl Default for AnnSettings {
    fn default() -> Self {
        AnnSettings { batch: 256, build_memory_mb: 256 }
    }
}

/// What one absorber step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnnProgress {
    /// Chunks that left the queue for the graph in this step.
    pub absorbed: u64,
    /// Chunks still queued after the step.
    pub pending: u64,
    /// The step rebuilt the whole graph.
    pub rebuilt: bool,
    /// Another node (or task) holds the absorber lock; nothing was done.
    pub busy: bool,
}

/// Whether a rebuild is cheaper than batches for this queue (see [`REBUILD_RATIO`]).
pub fn rebuild_pays(pending: u64, indexed: u64) -> bool {
    pending >= REBUILD_MIN_PENDING && pending.saturating_mul(REBUILD_RATIO) >= indexed
}

impl Memory {
    /// One step of the vector index catch-up: a batch of queued chunks, or a rebuild of the graph
    /// when the queue is large. Does nothing on SQLite (no graph: its vectors are searched from an
    /// in-process copy).
    pub async fn absorb_vector_index(&self, settings: &AnnSettings) -> Result<AnnProgress, StoreError> {
        let Db::Postgres(pool) = &self.shared.db else { return Ok(AnnProgress::default()) };
        let op = "count queued memory vectors";
        let pending = count(pool, "SELECT count(*) FROM memory_ann_pending").await.map_err(StoreError::query(op))?;
        if pending == 0 {
            return Ok(AnnProgress::default());
        }
        // Counting the graph reads its whole table, so only when a rebuild is possible.
        let rebuild = pending >= REBUILD_MIN_PENDING && {
            let op = "count indexed memory vectors";
            let indexed = count(pool, "SELECT count(*) FROM memory_chunk_ann").await.map_err(StoreError::query(op))?;
            rebuild_pays(pending, indexed)
        };
        if rebuild {
            let span = tracing::info_span!("memory_ann_rebuild", pending);
            self.rebuild_vector_index(pool, settings).instrument(span).await
        } else {
            let span = tracing::debug_span!("memory_ann_batch", pending, batch = settings.batch);
            self.absorb_batch(pool, settings.batch).instrument(span).await
        }
    }

    /// Chunks queued for the graph (PostgreSQL; 0 on SQLite).
    pub async fn count_vector_index_pending(&self) -> Result<u64, StoreError> {
        let Db::Postgres(pool) = &self.shared.db else { return Ok(0) };
        count(pool, "SELECT count(*) FROM memory_ann_pending")
            .await
            .map_err(StoreError::query("count queued memory vectors"))
    }

    /// Moves up to `batch` queued chunks into the graph in one transaction.
    async fn absorb_batch(&self, pool: &PgPool, batch: usize) -> Result<AnnProgress, StoreError> {
        let op = "absorb queued memory vectors";
        let mut transaction = pool.begin().await.map_err(StoreError::query(op))?;
        let locked: bool =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT pg_try_advisory_xact_lock({LOCK_KEY})")))
                .fetch_one(&mut *transaction)
                .await
                .map_err(StoreError::query(op))?;
        if !locked {
            transaction.rollback().await.map_err(StoreError::query(op))?;
            return Ok(AnnProgress { busy: true, ..AnnProgress::default() });
        }
        // Locks the chunk too (KEY SHARE, which only a delete waits for) and skips rows a writer
        // holds: the insert's foreign-key check then never waits for a delete that waits for this
        // transaction's lock on the queued row, which would deadlock. Skipped rows wait for the
        // next batch. The batch size is a literal, so a cached generic plan still walks the key.
        let batch = batch.max(1);
        let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT p.chunk_id FROM memory_ann_pending p JOIN memory_chunks c ON c.id = p.chunk_id \
             ORDER BY p.chunk_id LIMIT {batch} FOR UPDATE OF p SKIP LOCKED FOR KEY SHARE OF c SKIP LOCKED"
        )))
        .fetch_all(&mut *transaction)
        .await
        .map_err(StoreError::query(op))?;
        // A chunk already in the graph (queued twice, or copied by a rebuild) has the same vector
        // there: vectors never change in place, so it only leaves the queue.
        let dims = self.shared.embedding_dims;
        let absorbed = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO memory_chunk_ann (chunk_id, embedding) \
             SELECT c.id, c.embedding::halfvec({dims}) FROM memory_chunks c \
             WHERE c.id = ANY($1) AND c.embedding IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM memory_chunk_ann a WHERE a.chunk_id = c.id)"
        )))
        .bind(&ids)
        .execute(&mut *transaction)
        .await
        .map_err(StoreError::query(op))?
        .rows_affected();
        sqlx::query("DELETE FROM memory_ann_pending WHERE chunk_id = ANY($1)")
            .bind(&ids)
            .execute(&mut *transaction)
            .await
            .map_err(StoreError::query(op))?;
        let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM memory_ann_pending")
            .fetch_one(&mut *transaction)
            .await
            .map_err(StoreError::query(op))?;
        transaction.commit().await.map_err(StoreError::query(op))?;
        tracing::debug!(taken = ids.len(), absorbed, pending, "memory vectors absorbed");
        Ok(AnnProgress { absorbed, pending: u64::try_from(pending).unwrap_or(0), rebuilt: false, busy: false })
    }

    /// Builds the graph anew over every chunk with a vector and swaps it in.
    ///
    /// Holds the advisory lock for the whole build on a connection of its own, which is closed
    /// afterwards: if anything fails, closing it releases the lock and the session setting.
    async fn rebuild_vector_index(&self, pool: &PgPool, settings: &AnnSettings) -> Result<AnnProgress, StoreError> {
        let op = "rebuild memory vector index";
        let mut connection = pool.acquire().await.map_err(StoreError::query(op))?;
        connection.close_on_drop();
        let locked: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT pg_try_advisory_lock({LOCK_KEY})")))
            .fetch_one(&mut *connection)
            .await
            .map_err(StoreError::query(op))?;
        if !locked {
            return Ok(AnnProgress { busy: true, ..AnnProgress::default() });
        }
        let started = Instant::now();
        let absorbed = self.rebuild_locked(&mut connection, settings).await?;
        sqlx::query_scalar::<_, bool>(sqlx::AssertSqlSafe(format!("SELECT pg_advisory_unlock({LOCK_KEY})")))
            .fetch_one(&mut *connection)
            .await
            .map_err(StoreError::query(op))?;
        let pending = count(pool, "SELECT count(*) FROM memory_ann_pending").await.map_err(StoreError::query(op))?;
        match absorbed {
            Some(absorbed) => {
                tracing::info!(
                    absorbed,
                    pending,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "memory vector index rebuilt"
                );
                Ok(AnnProgress { absorbed, pending, rebuilt: true, busy: false })
            }
            None => {
                tracing::info!(pending, "memory vector index rebuild abandoned: the vectors were cleared meanwhile");
                Ok(AnnProgress { absorbed: 0, pending, rebuilt: false, busy: false })
            }
        }
    }

    /// The rebuild itself, lock held. `None` when all vectors were cleared (a model change) while
    /// it ran: its copy is stale and is dropped.
    ///
    /// 1. Copy every vector into a fresh table without index or foreign key (so nothing else
    ///    waits on it: a key check would lock every chunk against deletion until the copy commits).
    /// 2. `CREATE INDEX` with `build_memory_mb` of maintenance memory. Chunks written meanwhile stay
    ///    queued (and searchable through the tail); chunks deleted meanwhile are removed in 3.
    /// 3. In one short transaction that holds writers of `memory_chunks` off: drop copies of
    ///    chunks deleted since 1, add the cascading foreign key, swap the tables by rename.
    /// 4. Take off the queue what the new graph holds; what arrived after 1 stays queued.
    async fn rebuild_locked(
        &self,
        connection: &mut PgConnection,
        settings: &AnnSettings,
    ) -> Result<Option<u64>, StoreError> {
        let dims = self.shared.embedding_dims;
        let build_step = |step: &'static str| StoreError::query(step);
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP TABLE IF EXISTS memory_chunk_ann_build; \
             CREATE TABLE memory_chunk_ann_build (chunk_id BIGINT PRIMARY KEY, embedding halfvec({dims}) NOT NULL)"
        )))
        .execute(&mut *connection)
        .await
        .map_err(build_step("create memory vector index build table"))?;
        // Read before the copy: a clear that commits in between is then noticed in 3.
        let clears_before: i64 = sqlx::query_scalar("SELECT clears FROM memory_ann_state WHERE id = 1")
            .fetch_one(&mut *connection)
            .await
            .map_err(build_step("read memory vector clears"))?;
        let copied = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO memory_chunk_ann_build (chunk_id, embedding) \
             SELECT id, embedding::halfvec({dims}) FROM memory_chunks WHERE embedding IS NOT NULL"
        )))
        .execute(&mut *connection)
        .await
        .map_err(build_step("copy memory vectors for the index build"))?
        .rows_affected();
        let mut transaction = connection.begin().await.map_err(build_step("build memory vector index"))?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "SET LOCAL maintenance_work_mem = '{}MB'; \
             CREATE INDEX memory_chunk_ann_build_embedding_idx ON memory_chunk_ann_build \
             USING hnsw (embedding halfvec_cosine_ops) WITH (m = 16, ef_construction = 64)",
            settings.build_memory_mb
        )))
        .execute(&mut *transaction)
        .await
        .map_err(build_step("build memory vector index"))?;
        transaction.commit().await.map_err(build_step("build memory vector index"))?;

        let op = "swap in the rebuilt memory vector index";
        let mut transaction = connection.begin().await.map_err(StoreError::query(op))?;
        // Every writer of vectors or chunks changes `memory_chunks` first, so once this lock is
        // held none is half-way and none starts until the swap commits. Searches do not wait for
        // it, only for the rename's moment below.
        sqlx::raw_sql("SET LOCAL lock_timeout = '10s'; LOCK TABLE memory_chunks IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *transaction)
            .await
            .map_err(StoreError::query(op))?;
        let clears_now: i64 = sqlx::query_scalar("SELECT clears FROM memory_ann_state WHERE id = 1")
            .fetch_one(&mut *transaction)
            .await
            .map_err(StoreError::query(op))?;
        if clears_now != clears_before {
            transaction.rollback().await.map_err(StoreError::query(op))?;
            sqlx::raw_sql("DROP TABLE IF EXISTS memory_chunk_ann_build")
                .execute(&mut *connection)
                .await
                .map_err(StoreError::query(op))?;
            return Ok(None);
        }
        let dropped = sqlx::query(
            "DELETE FROM memory_chunk_ann_build b WHERE NOT EXISTS (SELECT 1 FROM memory_chunks c WHERE c.id = b.chunk_id)",
        )
        .execute(&mut *transaction)
        .await
        .map_err(StoreError::query(op))?
        .rows_affected();
        sqlx::raw_sql(
            "ALTER TABLE memory_chunk_ann_build ADD CONSTRAINT memory_chunk_ann_build_chunk_id_fkey \
                 FOREIGN KEY (chunk_id) REFERENCES memory_chunks(id) ON DELETE CASCADE NOT VALID; \
             DROP TABLE memory_chunk_ann; \
             ALTER TABLE memory_chunk_ann_build RENAME TO memory_chunk_ann; \
             ALTER INDEX memory_chunk_ann_build_pkey RENAME TO memory_chunk_ann_pkey; \
             ALTER INDEX memory_chunk_ann_build_embedding_idx RENAME TO memory_chunk_ann_embedding_idx; \
             ALTER TABLE memory_chunk_ann RENAME CONSTRAINT memory_chunk_ann_build_chunk_id_fkey \
                 TO memory_chunk_ann_chunk_id_fkey",
        )
        .execute(&mut *transaction)
        .await
        .map_err(StoreError::query(op))?;
        transaction.commit().await.map_err(StoreError::query(op))?;

        // Vectors never change in place, so a queued chunk the graph now holds is done. The key
        // was added unchecked (no scan under the lock); checking it now blocks no writer.
        let op = "dequeue rebuilt memory vectors";
        let absorbed =
            sqlx::query("DELETE FROM memory_ann_pending p USING memory_chunk_ann a WHERE a.chunk_id = p.chunk_id")
                .execute(&mut *connection)
                .await
                .map_err(StoreError::query(op))?
                .rows_affected();
        sqlx::raw_sql("ALTER TABLE memory_chunk_ann VALIDATE CONSTRAINT memory_chunk_ann_chunk_id_fkey")
            .execute(&mut *connection)
            .await
            .map_err(StoreError::query(op))?;
        // The queue just lost most of its rows; without autovacuum (or before it runs) every
        // search would scan their dead pages. Vacuuming a table of keys takes milliseconds. On
        // its own: VACUUM refuses to run in a multi-statement string (an implicit transaction).
        sqlx::raw_sql("VACUUM memory_ann_pending").execute(&mut *connection).await.map_err(StoreError::query(op))?;
        // Copies of chunks deleted during the build stay in the graph as dead entries until a
        // vacuum: a search walking them finds fewer live neighbours (31 of 50 was seen right
        // after such a swap). Only a build that raced deletes pays for this.
        if dropped > 0 {
            sqlx::raw_sql("VACUUM memory_chunk_ann").execute(&mut *connection).await.map_err(StoreError::query(op))?;
        }
        tracing::debug!(copied, absorbed, dropped, "memory vector index swapped in");
        Ok(Some(absorbed))
    }
}

async fn count(pool: &PgPool, sql: &'static str) -> Result<u64, sqlx::Error> {
    let count: i64 = sqlx::query_scalar(sql).fetch_one(pool).await?;
    Ok(u64::try_from(count).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuild_needs_a_large_queue_relative_to_the_graph() {
        assert!(!rebuild_pays(999, 0), "a small queue is absorbed in batches");
        assert!(rebuild_pays(1_000, 0), "a first load is built in one go");
        assert!(rebuild_pays(25_000, 100_000));
        assert!(!rebuild_pays(24_999, 100_000));
    }
}
