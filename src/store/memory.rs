//! Storage primitives for memory: documents and chunks, full-text search and vector search.
//!
//! Ranking fusion lives in the memory module; this file only stores and finds.

use serde::Serialize;

use super::db::{BeginWrite, Db, Shared, now_ms, on_db, on_db_read};
use super::{ChunkId, DocumentId, StoreError};

/// One chunk of a document as the indexer produced it.
#[derive(Debug, Clone)]
pub struct NewChunk<'a> {
    pub content: &'a str,
    pub embedding: Option<&'a [f32]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DocumentWrite {
    /// Same path and content hash as stored: nothing was rewritten (no re-embedding needed).
    Unchanged(DocumentId),
    Written(DocumentId),
}

/// A search result. `score` is higher-is-better within one search kind only: BM25/ts_rank for
/// text, cosine similarity for vectors; fuse by rank, not by score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChunkHit {
    pub chunk_id: ChunkId,
    pub document_id: DocumentId,
    pub path: String,
    pub ordinal: i64,
    pub content: String,
    pub score: f64,
}

type HitRow = (i64, i64, String, i64, String, f64);

fn hit_from_row((chunk_id, document_id, path, ordinal, content, score): HitRow) -> ChunkHit {
    ChunkHit { chunk_id: ChunkId(chunk_id), document_id: DocumentId(document_id), path, ordinal, content, score }
}

/// Memory documents and their searchable chunks.
#[derive(Clone)]
pub struct Memory {
    shared: Shared,
}

impl Memory {
    pub(crate) fn new(shared: Shared) -> Memory {
        Memory { shared }
    }

    fn check_dims(&self, op: &'static str, embedding: &[f32]) -> Result<(), StoreError> {
        if embedding.len() != self.shared.embedding_dims {
            return Err(StoreError::EmbeddingDims { op, found: embedding.len(), expected: self.shared.embedding_dims });
        }
        Ok(())
    }

    /// Replaces the chunks of the document at `path` unless its content hash is unchanged.
    pub async fn upsert_document(
        &self,
        path: &str,
        content_hash: &str,
        chunks: &[NewChunk<'_>],
    ) -> Result<DocumentWrite, StoreError> {
        let op = "upsert memory document";
        for embedding in chunks.iter().filter_map(|chunk| chunk.embedding) {
            self.check_dims(op, embedding)?;
        }
        let now = now_ms();
        on_db!(&self.shared.db, pool => {
            let mut tx = pool.begin_write().await.map_err(StoreError::query(op))?;
            let existing: Option<(i64, String)> =
                sqlx::query_as("SELECT id, content_hash FROM memory_documents WHERE path = $1")
                    .bind(path)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::query(op))?;
            if let Some((id, stored_hash)) = &existing
                && stored_hash == content_hash
            {
                return Ok(DocumentWrite::Unchanged(DocumentId(*id)));
            }
            let document_id: i64 = sqlx::query_scalar(
                "INSERT INTO memory_documents (path, content_hash, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (path) DO UPDATE SET content_hash = excluded.content_hash, updated_at_ms = excluded.updated_at_ms \
                 RETURNING id",
            )
            .bind(path)
            .bind(content_hash)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::query(op))?;
            sqlx::query("DELETE FROM memory_chunks WHERE document_id = $1")
                .bind(document_id)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(op))?;
            for (ordinal, chunk) in chunks.iter().enumerate() {
                let query = sqlx::query(
                    "INSERT INTO memory_chunks (document_id, ordinal, content, embedding) VALUES ($1, $2, $3, $4)",
                )
                .bind(document_id)
                .bind(ordinal as i64)
                .bind(chunk.content);
                bind_embedding(query, chunk.embedding).execute(&mut *tx).await.map_err(StoreError::query(op))?;
            }
            tx.commit().await.map_err(StoreError::query(op))?;
            Ok(DocumentWrite::Written(DocumentId(document_id)))
        })
    }

    /// Deletes the document and its chunks; false when nothing was stored at `path`.
    pub async fn delete_document(&self, path: &str) -> Result<bool, StoreError> {
        let op = "delete memory document";
        let done = on_db!(&self.shared.db, pool => sqlx::query("DELETE FROM memory_documents WHERE path = $1")
            .bind(path)
            .execute(pool)
            .await.map(|result| result.rows_affected()))
        .map_err(StoreError::query(op))?;
        Ok(done > 0)
    }

    /// (id, path, content hash) of every document, by path.
    pub async fn list_documents(&self) -> Result<Vec<(DocumentId, String, String)>, StoreError> {
        let op = "list memory documents";
        let rows: Vec<(i64, String, String)> = on_db_read!(&self.shared.db, pool => sqlx::query_as(
            "SELECT id, path, content_hash FROM memory_documents ORDER BY path",
        )
        .fetch_all(pool)
        .await)
        .map_err(StoreError::query(op))?;
        Ok(rows.into_iter().map(|(id, path, hash)| (DocumentId(id), path, hash)).collect())
    }

    /// Full-text search; every word of `query` must match (stemmed, case-insensitive).
    pub async fn search_text(&self, query: &str, limit: i64) -> Result<Vec<ChunkHit>, StoreError> {
        let op = "search memory text";
        let rows: Vec<HitRow> =
            match &self.shared.db {
                Db::Postgres(pool) => sqlx::query_as(
                    "SELECT c.id, c.document_id, d.path, c.ordinal, c.content, ts_rank_cd(c.tsv, q)::float8 AS score \
                 FROM memory_chunks c JOIN memory_documents d ON d.id = c.document_id, \
                 websearch_to_tsquery('english', $1) q WHERE c.tsv @@ q ORDER BY score DESC, c.id LIMIT $2",
                )
                .bind(query)
                .bind(limit)
                .fetch_all(pool)
                .await,
                Db::Sqlite(pools) => {
                    let pool = &pools.reader;
                    let Some(fts_query) = fts5_query(query) else { return Ok(Vec::new()) };
                    sqlx::query_as(
                        "SELECT c.id, c.document_id, d.path, c.ordinal, c.content, -bm25(memory_chunks_fts) AS score \
                     FROM memory_chunks_fts JOIN memory_chunks c ON c.id = memory_chunks_fts.rowid \
                     JOIN memory_documents d ON d.id = c.document_id \
                     WHERE memory_chunks_fts MATCH $1 ORDER BY score DESC, c.id LIMIT $2",
                    )
                    .bind(fts_query)
                    .bind(limit)
                    .fetch_all(pool)
                    .await
                }
            }
            .map_err(StoreError::query(op))?;
        Ok(rows.into_iter().map(hit_from_row).collect())
    }

    /// Nearest chunks by cosine similarity: the HNSW index on PostgreSQL, a full scan on SQLite.
    pub async fn search_vector(&self, embedding: &[f32], limit: i64) -> Result<Vec<ChunkHit>, StoreError> {
        let op = "search memory vectors";
        self.check_dims(op, embedding)?;
        match &self.shared.db {
            Db::Postgres(pool) => {
                let rows: Vec<HitRow> = sqlx::query_as(
                    "SELECT c.id, c.document_id, d.path, c.ordinal, c.content, 1 - (c.embedding <=> $1) AS score \
                     FROM memory_chunks c JOIN memory_documents d ON d.id = c.document_id \
                     WHERE c.embedding IS NOT NULL ORDER BY c.embedding <=> $1, c.id LIMIT $2",
                )
                .bind(pgvector::Vector::from(embedding.to_vec()))
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(op))?;
                Ok(rows.into_iter().map(hit_from_row).collect())
            }
            Db::Sqlite(pools) => {
                let pool = &pools.reader;
                let rows: Vec<(i64, i64, String, i64, String, Vec<u8>)> = sqlx::query_as(
                    "SELECT c.id, c.document_id, d.path, c.ordinal, c.content, c.embedding \
                     FROM memory_chunks c JOIN memory_documents d ON d.id = c.document_id WHERE c.embedding IS NOT NULL",
                )
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(op))?;
                let mut hits: Vec<ChunkHit> = rows
                    .into_iter()
                    .map(|(chunk_id, document_id, path, ordinal, content, blob)| {
                        let score = cosine_similarity(embedding, &blob_to_vec(&blob));
                        hit_from_row((chunk_id, document_id, path, ordinal, content, score))
                    })
                    .collect();
                hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.chunk_id.cmp(&b.chunk_id)));
                hits.truncate(usize::try_from(limit).unwrap_or(0));
                Ok(hits)
            }
        }
    }
}

/// How each backend stores an embedding: pgvector's `vector` or a little-endian f32 BLOB.
pub(crate) trait EmbeddingColumn: sqlx::Database {
    /// `Option<_>` of the stored form: NULL when a chunk has no embedding yet.
    type Embedding: for<'q> sqlx::Encode<'q, Self> + sqlx::Type<Self> + Send;
    fn embedding(values: Option<&[f32]>) -> Self::Embedding;
}

impl EmbeddingColumn for sqlx::Postgres {
    type Embedding = Option<pgvector::Vector>;
    fn embedding(values: Option<&[f32]>) -> Option<pgvector::Vector> {
        values.map(|values| pgvector::Vector::from(values.to_vec()))
    }
}

impl EmbeddingColumn for sqlx::Sqlite {
    type Embedding = Option<Vec<u8>>;
    fn embedding(values: Option<&[f32]>) -> Option<Vec<u8>> {
        values.map(|values| values.iter().flat_map(|value| value.to_le_bytes()).collect())
    }
}

/// Binds an optional embedding in the representation of whichever backend the query runs on.
fn bind_embedding<'q, DB: EmbeddingColumn>(
    query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    values: Option<&[f32]>,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments> {
    query.bind(DB::embedding(values))
}

fn blob_to_vec(blob: &[u8]) -> Vec<f32> {
    blob.chunks_exact(4).map(|bytes| f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])).collect()
}

fn cosine_similarity(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() {
        return f64::NEG_INFINITY;
    }
    let (mut dot, mut norm_a, mut norm_b) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        dot += f64::from(*x) * f64::from(*y);
        norm_a += f64::from(*x) * f64::from(*x);
        norm_b += f64::from(*y) * f64::from(*y);
    }
    if norm_a == 0.0 || norm_b == 0.0 { 0.0 } else { dot / (norm_a.sqrt() * norm_b.sqrt()) }
}

/// Quotes each word so user text can never be read as FTS5 syntax; words are ANDed like
/// PostgreSQL's `websearch_to_tsquery`. None when the text has no words.
fn fts5_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| format!("\"{word}\""))
        .collect();
    if words.is_empty() { None } else { Some(words.join(" ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts5_query_quotes_words_and_drops_syntax() {
        assert_eq!(fts5_query("NEAR(\"a\" b) OR c*").as_deref(), Some("\"NEAR\" \"a\" \"b\" \"OR\" \"c\""));
        assert_eq!(fts5_query("  ;; "), None);
    }

    #[test]
    fn embedding_blob_round_trips_and_cosine_orders() {
        let blob = <sqlx::Sqlite as EmbeddingColumn>::embedding(Some(&[1.0, -2.5, 0.0])).unwrap_or_default();
        assert_eq!(blob_to_vec(&blob), vec![1.0, -2.5, 0.0]);
        assert!(cosine_similarity(&[1.0, 0.0], &[1.0, 0.1]) > cosine_similarity(&[1.0, 0.0], &[0.0, 1.0]));
    }
}
