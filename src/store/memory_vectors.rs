//! The store side of re-embedding: which chunks lack vectors, writing vectors, and the recorded
//! embedding space (model and dimensions) every stored vector belongs to.

use crate::memory::embed::{EmbeddingSpace, ReembedError, ReembeddedChunk, StoreFuture, VectorStorePort};
use crate::memory::embedding_input;

use super::db::{BeginWrite, Db, on_db, on_db_read};
use super::memory::{Memory, VectorGeneration, bind_embedding_scalar};
use super::memory_vector_cache::VectorChange;
use super::{ChunkId, Settings, StoreError};

/// Settings key holding the [`EmbeddingSpace`] of the stored vectors.
const SPACE_KEY: &str = "memory.embedding_space";

fn store_error(operation: &'static str) -> impl FnOnce(StoreError) -> ReembedError {
    move |source| ReembedError::Store { operation, source: Box::new(source) }
}

impl Memory {
    /// The space the stored vectors were made in; `None` before any was recorded or while a
    /// re-embed is under way.
    pub async fn embedding_space(&self) -> Result<Option<EmbeddingSpace>, StoreError> {
        let value = Settings::new(self.shared.clone()).get(SPACE_KEY).await?;
        // A value this build cannot read counts as no space: everything is re-embedded.
        Ok(value.and_then(|value| serde_json::from_value(value).ok()))
    }

    async fn clear_all_vectors(&self) -> Result<(), StoreError> {
        let op = "clear memory vectors";
        let postgres = matches!(self.shared.db, Db::Postgres(_));
        let generations = on_db!(&self.shared.db, pool => {
            let mut transaction = pool.begin_write().await.map_err(StoreError::query(op))?;
            let before = transaction.vector_generation().await.map_err(StoreError::query(op))?;
            sqlx::query("DELETE FROM settings WHERE key = $1")
                .bind(SPACE_KEY)
                .execute(&mut *transaction)
                .await
                .map_err(StoreError::query(op))?;
            sqlx::query("UPDATE memory_chunks SET embedding = NULL, embedding_hash = NULL WHERE embedding IS NOT NULL")
                .execute(&mut *transaction)
                .await
                .map_err(StoreError::query(op))?;
            if postgres {
                // The graph and its queue empty with the vectors; counting the clear tells a
                // rebuild that copied vectors before it that its copy is stale (`memory_ann.rs`).
                // DELETE, not TRUNCATE: its ACCESS EXCLUSIVE lock could deadlock with a search.
                for statement in [
                    "DELETE FROM memory_ann_pending",
                    "DELETE FROM memory_chunk_ann",
                    "UPDATE memory_ann_state SET clears = clears + 1 WHERE id = 1",
                ] {
                    sqlx::query(statement).execute(&mut *transaction).await.map_err(StoreError::query(op))?;
                }
            }
            let after = transaction.vector_generation().await.map_err(StoreError::query(op))?;
            transaction.commit().await.map_err(StoreError::query(op))?;
            (before, after)
        });
        self.apply_vector_change(generations, VectorChange::Clear);
        Ok(())
    }

    /// Chunks without a vector after `after`, each with the text first indexing embedded for it.
    async fn chunks_missing_vectors(
        &self,
        after: Option<ChunkId>,
        limit: usize,
    ) -> Result<Vec<(ChunkId, String)>, StoreError> {
        let op = "list chunks without vectors";
        let rows: Vec<(i64, String, String)> = on_db_read!(&self.shared.db, pool => sqlx::query_as(
            "SELECT id, heading_path, content FROM memory_chunks WHERE embedding IS NULL AND id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after.map_or(i64::MIN, |id| id.0))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await)
        .map_err(StoreError::query(op))?;
        Ok(rows
            .into_iter()
            .map(|(id, headings, content)| (ChunkId(id), embedding_input(&headings, &content)))
            .collect())
    }

    async fn write_chunk_vectors(&self, chunks: &[ReembeddedChunk]) -> Result<(), StoreError> {
        let op = "write memory vectors";
        for chunk in chunks {
            self.check_dims(op, &chunk.embedding)?;
        }
        // PostgreSQL writes a vector only where there is none (re-embedding clears them all first)
        // and queues the chunk for the graph in the same statement, dropping any row the graph kept
        // for it. Vectors then never change in place, which the background index relies on.
        let sql = match self.shared.db {
            Db::Postgres(_) => {
                "WITH updated AS (UPDATE memory_chunks SET embedding_hash = $2, embedding = $3 \
                 WHERE id = $1 AND embedding IS NULL RETURNING id, document_id), \
                 unindexed AS (DELETE FROM memory_chunk_ann a USING updated u WHERE a.chunk_id = u.id), \
                 queued AS (INSERT INTO memory_ann_pending (chunk_id) SELECT id FROM updated \
                 ON CONFLICT (chunk_id) DO NOTHING) \
                 SELECT document_id FROM updated"
            }
            Db::Sqlite(_) => {
                "UPDATE memory_chunks SET embedding_hash = $2, embedding = $3 WHERE id = $1 RETURNING document_id"
            }
        };
        let (generations, documents) = on_db!(&self.shared.db, pool => {
            let mut transaction = pool.begin_write().await.map_err(StoreError::query(op))?;
            let before = transaction.vector_generation().await.map_err(StoreError::query(op))?;
            let mut documents = Vec::with_capacity(chunks.len());
            for chunk in chunks {
                let query = sqlx::query_scalar(
                    sql,
                )
                .bind(chunk.chunk_id.0)
                .bind(&chunk.embedding_hash);
                let document_id: Option<i64> = bind_embedding_scalar(query, Some(chunk.embedding.as_slice()))
                    .fetch_optional(&mut *transaction)
                    .await
                    .map_err(StoreError::query(op))?;
                documents.push(document_id);
            }
            let after = transaction.vector_generation().await.map_err(StoreError::query(op))?;
            transaction.commit().await.map_err(StoreError::query(op))?;
            ((before, after), documents)
        });
        // A chunk deleted since it was listed has no document and nothing to cache.
        let upserted = chunks
            .iter()
            .zip(documents)
            .filter_map(|(chunk, document_id)| Some((chunk.chunk_id.0, document_id?, chunk.embedding.as_slice())))
            .collect();
        self.apply_vector_change(generations, VectorChange::Replace { removed: &[], upserted });
        Ok(())
    }
}

impl VectorStorePort for Memory {
    fn clear_vectors(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move { self.clear_all_vectors().await.map_err(store_error("clear vectors")) })
    }

    fn count_missing(&self) -> StoreFuture<'_, usize> {
        Box::pin(async move {
            let op = "count chunks without vectors";
            let count: i64 = on_db_read!(&self.shared.db, pool => sqlx::query_scalar(
                "SELECT count(*) FROM memory_chunks WHERE embedding IS NULL",
            )
            .fetch_one(pool)
            .await)
            .map_err(StoreError::query(op))
            .map_err(store_error("count chunks without vectors"))?;
            Ok(usize::try_from(count).unwrap_or(0))
        })
    }

    fn missing_after(&self, after: Option<ChunkId>, limit: usize) -> StoreFuture<'_, Vec<(ChunkId, String)>> {
        Box::pin(async move { self.chunks_missing_vectors(after, limit).await.map_err(store_error("list chunks")) })
    }

    fn write_vectors(&self, vectors: Vec<ReembeddedChunk>) -> StoreFuture<'_, ()> {
        Box::pin(async move { self.write_chunk_vectors(&vectors).await.map_err(store_error("write vectors")) })
    }

    fn record_space(&self, space: &EmbeddingSpace) -> StoreFuture<'_, ()> {
        let value = serde_json::to_value(space);
        Box::pin(async move {
            let value =
                value.map_err(|source| ReembedError::Store { operation: "record space", source: Box::new(source) })?;
            Settings::new(self.shared.clone()).set(SPACE_KEY, &value).await.map_err(store_error("record space"))
        })
    }
}
