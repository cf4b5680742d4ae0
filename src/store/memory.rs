//! Storage of memory documents and their chunks (searching them is `memory_search.rs`).
//!
//! Ranking fusion lives in the memory module; this file only stores and finds.

use serde::Serialize;

use super::db::{BeginWrite, Db, Shared, now_ms, on_db, on_db_read};
use super::memory_vector_cache::VectorChange;
use super::{DocumentId, StoreError};

/// The chunk ids of a document in ordinal order, inside the caller's transaction.
macro_rules! chunk_ids_of {
    ($tx:expr, $document_id:expr) => {
        sqlx::query_scalar::<_, i64>("SELECT id FROM memory_chunks WHERE document_id = $1 ORDER BY ordinal")
            .bind($document_id)
            .fetch_all(&mut *$tx)
            .await
    };
}

/// Chunks per INSERT statement: 6 parameters each stays far below both engines' limits.
const INSERT_BATCH: usize = 200;

/// Most bytes of chunk data one INSERT sends to PostgreSQL. sqlx 0.9.0 no longer sets
/// `TCP_NODELAY` (sqlx issue #4335, fixed upstream after 0.9.0). sqlx writes a message with one
/// `write`; what the socket's send buffer (16 KB to start with) cannot take goes out only after
/// the server acknowledges the first part, and the server delays that ACK by 40 ms while it waits
/// for the rest of the message. A 10-chunk document with vectors is ~22 KB, which held indexing
/// over `127.0.0.1` at 226-256 chunks/s against 2,749-3,147 over the Unix socket. With 7 KB
/// (about 3 chunks with vectors) the bench indexed 1,841-2,316 chunks/s over TCP; 12 KB (fewer
/// statements) measured no better (1,809-1,890), so the smaller, safer size stays.
const POSTGRES_INSERT_BYTES: usize = 7 * 1024;

/// Upserts a document unless its content hash is unchanged (then no row comes back), returning
/// its id and whether it may already have chunks, in one round trip instead of a read and then
/// the upsert. `$existed` is that second column for the backend.
macro_rules! upsert_changed_document {
    ($existed:literal) => {
        concat!(
            "INSERT INTO memory_documents AS d (path, source, content_hash, created_at_ms, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (path) DO UPDATE SET source = excluded.source, content_hash = excluded.content_hash, \
             updated_at_ms = excluded.updated_at_ms WHERE d.content_hash IS DISTINCT FROM excluded.content_hash \
             RETURNING id, ",
            $existed
        )
    };
}

/// PostgreSQL tells a new row from a replaced one: a row this statement inserted has `xmax = 0`;
/// one it updated carries this transaction's id there (the lock `ON CONFLICT DO UPDATE` takes).
/// A new document then skips the chunk DELETE. A concurrent writer of the same new path waits
/// for the first one's commit and takes the update branch, so it does delete the first one's chunks.
const PG_UPSERT_CHANGED_DOCUMENT: &str = upsert_changed_document!("xmax::text <> '0'");

/// SQLite cannot tell the two apart here; every written document counts as replaced, and the
/// chunk DELETE of a new one (an in-process statement) finds nothing.
const SQLITE_UPSERT_CHANGED_DOCUMENT: &str = upsert_changed_document!("1");

/// Splits `chunks` into consecutive batches of at most [`INSERT_BATCH`] chunks and, when
/// `max_bytes` is given, at most that many bytes of text and vector (at least one chunk each).
fn insert_batches(chunks: &[NewChunk<'_>], max_bytes: Option<usize>) -> Vec<std::ops::Range<usize>> {
    let mut batches = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (index, chunk) in chunks.iter().enumerate() {
        let size = chunk.content.len()
            + chunk.headings.len()
            + chunk.embedding_hash.map_or(0, str::len)
            + chunk.embedding.map_or(0, |vector| vector.len() * 4)
            + 32;
        let full = index - start == INSERT_BATCH || max_bytes.is_some_and(|max| bytes + size > max);
        if index > start && full {
            batches.push(start..index);
            (start, bytes) = (index, 0);
        }
        bytes += size;
    }
    if start < chunks.len() {
        batches.push(start..chunks.len());
    }
    batches
}

/// `INSERT INTO memory_chunks … VALUES (…), (…)` for `rows` chunks, parameters numbered in order.
///
/// With `queue_vectors` (PostgreSQL) the same statement queues the chunks that have a vector for
/// the background vector index (`memory_ann.rs`): no extra round trip, and no HNSW insert in the
/// writer's transaction.
fn insert_chunks_sql(rows: usize, queue_vectors: bool) -> String {
    let mut sql = String::from(if queue_vectors { "WITH inserted AS (" } else { "" });
    sql.push_str(
        "INSERT INTO memory_chunks (document_id, ordinal, content, heading_path, embedding_hash, embedding) VALUES ",
    );
    for row in 0..rows {
        let first = row * 6 + 1;
        if row > 0 {
            sql.push_str(", ");
        }
        let parameters: Vec<String> = (first..first + 6).map(|number| format!("${number}")).collect();
        sql.push_str(&format!("({})", parameters.join(", ")));
    }
    if queue_vectors {
        sql.push_str(
            " RETURNING id, embedding IS NOT NULL AS has_vector) \
             INSERT INTO memory_ann_pending (chunk_id) SELECT id FROM inserted WHERE has_vector",
        );
    }
    sql
}

/// One chunk of a document as the indexer produced it.
#[derive(Debug, Clone)]
pub struct NewChunk<'a> {
    pub content: &'a str,
    /// Titles of the enclosing headings joined by `" > "` (empty before the first heading): part
    /// of what was embedded, kept so a re-embed embeds the same text.
    pub headings: &'a str,
    pub embedding: Option<&'a [f32]>,
    /// Hash of exactly what was embedded (model, dimensions, text), so the next index of the
    /// document can reuse this vector when the chunk did not change; `None` without a vector.
    pub embedding_hash: Option<&'a str>,
}

/// The document row the chunks belong to.
#[derive(Debug, Clone, Copy)]
pub struct NewDocument<'a> {
    /// Workspace-relative path (or the absolute path of a file added from elsewhere).
    pub path: &'a str,
    /// Where it came from (`workspace`, `import`, `agent`, `compaction`); searches can filter on it.
    pub source: &'a str,
    /// Hash of the text and of everything that shaped its chunks; equal means nothing to redo.
    pub content_hash: &'a str,
}

/// One stored document, for `chitin memory list`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocumentSummary {
    pub document_id: DocumentId,
    pub path: String,
    pub source: String,
    pub content_hash: String,
    pub updated_at_ms: i64,
    pub chunks: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DocumentWrite {
    /// Same path and content hash as stored: nothing was rewritten (no re-embedding needed).
    Unchanged(DocumentId),
    Written(DocumentId),
}

/// Memory documents and their searchable chunks.
#[derive(Clone)]
pub struct Memory {
    pub(super) shared: Shared,
}

impl Memory {
    pub(crate) fn new(shared: Shared) -> Memory {
        Memory { shared }
    }

    pub(super) fn check_dims(&self, op: &'static str, embedding: &[f32]) -> Result<(), StoreError> {
        if embedding.len() != self.shared.embedding_dims {
            return Err(StoreError::EmbeddingDims { op, found: embedding.len(), expected: self.shared.embedding_dims });
        }
        Ok(())
    }

    /// Replaces the chunks of the document at `path` unless its content hash is unchanged.
    pub async fn upsert_document(
        &self,
        document: &NewDocument<'_>,
        chunks: &[NewChunk<'_>],
    ) -> Result<DocumentWrite, StoreError> {
        let op = "upsert memory document";
        let NewDocument { path, source, content_hash } = *document;
        for embedding in chunks.iter().filter_map(|chunk| chunk.embedding) {
            self.check_dims(op, embedding)?;
        }
        let now = now_ms();
        let postgres = matches!(self.shared.db, Db::Postgres(_));
        let queue_vectors = postgres;
        let (document_id, generations, replaced, inserted) = on_db!(&self.shared.db, pool => {
            let mut tx = pool.begin_write().await.map_err(StoreError::query(op))?;
            let before = tx.vector_generation().await.map_err(StoreError::query(op))?;
            let upsert = if postgres { PG_UPSERT_CHANGED_DOCUMENT } else { SQLITE_UPSERT_CHANGED_DOCUMENT };
            let upserted: Option<(i64, bool)> = sqlx::query_as(upsert)
                .bind(path)
                .bind(source)
                .bind(content_hash)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::query(op))?;
            let Some((document_id, existed)) = upserted else {
                let id: i64 = sqlx::query_scalar("SELECT id FROM memory_documents WHERE path = $1")
                    .bind(path)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(StoreError::query(op))?;
                return Ok(DocumentWrite::Unchanged(DocumentId(id)));
            };
            // Only a backend with an in-process vector copy (a generation) needs the chunk ids.
            let replaced: Vec<i64> = if before.is_some() && existed {
                chunk_ids_of!(tx, document_id).map_err(StoreError::query(op))?
            } else {
                Vec::new()
            };
            // A new document has no chunks to delete.
            if existed {
                sqlx::query("DELETE FROM memory_chunks WHERE document_id = $1")
                    .bind(document_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query(op))?;
            }
            // One multi-row INSERT per batch instead of a statement (and a round trip) per chunk.
            let max_bytes = queue_vectors.then_some(POSTGRES_INSERT_BYTES);
            for range in insert_batches(chunks, max_bytes) {
                let first = range.start;
                let batch = &chunks[range];
                let sql = insert_chunks_sql(batch.len(), queue_vectors);
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (offset, chunk) in batch.iter().enumerate() {
                    let ordinal = (first + offset) as i64;
                    query = query
                        .bind(document_id)
                        .bind(ordinal)
                        .bind(chunk.content)
                        .bind(chunk.headings)
                        .bind(chunk.embedding.and(chunk.embedding_hash));
                    query = bind_embedding(query, chunk.embedding);
                }
                query.execute(&mut *tx).await.map_err(StoreError::query(op))?;
            }
            let inserted: Vec<i64> = if before.is_some() {
                chunk_ids_of!(tx, document_id).map_err(StoreError::query(op))?
            } else {
                Vec::new()
            };
            let after = tx.vector_generation().await.map_err(StoreError::query(op))?;
            tx.commit().await.map_err(StoreError::query(op))?;
            (document_id, (before, after), replaced, inserted)
        });
        // Chunk ids come back in ordinal order, the order `chunks` was inserted in.
        let upserted = inserted
            .iter()
            .zip(chunks)
            .filter_map(|(chunk_id, chunk)| chunk.embedding.map(|vector| (*chunk_id, document_id, vector)))
            .collect();
        self.apply_vector_change(generations, VectorChange::Replace { removed: &replaced, upserted });
        self.after_chunks_written(chunks.len()).await;
        Ok(DocumentWrite::Written(DocumentId(document_id)))
    }

    /// The stored content hash of the document at `path`, if any.
    pub async fn document_hash(&self, path: &str) -> Result<Option<String>, StoreError> {
        let op = "read memory document hash";
        on_db_read!(&self.shared.db, pool => sqlx::query_scalar("SELECT content_hash FROM memory_documents WHERE path = $1")
            .bind(path)
            .fetch_optional(pool)
            .await)
        .map_err(StoreError::query(op))
    }

    /// Deletes the document and its chunks; false when nothing was stored at `path`.
    pub async fn delete_document(&self, path: &str) -> Result<bool, StoreError> {
        let op = "delete memory document";
        let (done, generations, removed) = on_db!(&self.shared.db, pool => {
            let mut tx = pool.begin_write().await.map_err(StoreError::query(op))?;
            let before = tx.vector_generation().await.map_err(StoreError::query(op))?;
            let document_id: Option<i64> = sqlx::query_scalar("SELECT id FROM memory_documents WHERE path = $1")
                .bind(path)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::query(op))?;
            let removed = match document_id {
                Some(document_id) if before.is_some() => {
                    chunk_ids_of!(tx, document_id).map_err(StoreError::query(op))?
                }
                _ => Vec::new(),
            };
            let done = sqlx::query("DELETE FROM memory_documents WHERE path = $1")
                .bind(path)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(op))?
                .rows_affected();
            let after = tx.vector_generation().await.map_err(StoreError::query(op))?;
            tx.commit().await.map_err(StoreError::query(op))?;
            (done, (before, after), removed)
        });
        self.apply_vector_change(generations, VectorChange::Replace { removed: &removed, upserted: Vec::new() });
        Ok(done > 0)
    }

    /// Brings SQLite's in-process vector copy up to a change this process committed, which moved
    /// the stored generation from `before` to `after` (both `None` on PostgreSQL: no copy).
    pub(super) fn apply_vector_change(&self, (before, after): (Option<i64>, Option<i64>), change: VectorChange<'_>) {
        if let (Db::Sqlite(pools), Some(before), Some(after)) = (&self.shared.db, before, after) {
            pools.memory_vectors.apply(before, after, change);
        }
    }

    /// The first `limit` document paths in path order: enough to tell whether anything besides a few known
    /// documents is stored without reading every row.
    pub async fn first_document_paths(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        let op = "list memory document paths";
        on_db_read!(&self.shared.db, pool => sqlx::query_scalar("SELECT path FROM memory_documents ORDER BY path LIMIT $1")
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(pool)
            .await)
        .map_err(StoreError::query(op))
    }

    /// Every document with its chunk count, by path.
    pub async fn list_documents(&self) -> Result<Vec<DocumentSummary>, StoreError> {
        let op = "list memory documents";
        let rows: Vec<(i64, String, String, String, i64, i64)> = on_db_read!(&self.shared.db, pool => sqlx::query_as(
            "SELECT d.id, d.path, d.source, d.content_hash, d.updated_at_ms, \
             (SELECT count(*) FROM memory_chunks c WHERE c.document_id = d.id) \
             FROM memory_documents d ORDER BY d.path",
        )
        .fetch_all(pool)
        .await)
        .map_err(StoreError::query(op))?;
        Ok(rows
            .into_iter()
            .map(|(id, path, source, content_hash, updated_at_ms, chunks)| DocumentSummary {
                document_id: DocumentId(id),
                path,
                source,
                content_hash,
                updated_at_ms,
                chunks,
            })
            .collect())
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
pub(super) fn bind_embedding<'q, DB: EmbeddingColumn>(
    query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    values: Option<&[f32]>,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments> {
    query.bind(DB::embedding(values))
}

/// Reads the stored vector generation inside a write transaction: SQLite's triggers bump it on
/// every vector change; PostgreSQL keeps no in-process copy and has none.
pub(super) trait VectorGeneration {
    fn vector_generation(&mut self) -> impl Future<Output = Result<Option<i64>, sqlx::Error>> + Send;
}

impl VectorGeneration for sqlx::PgConnection {
    async fn vector_generation(&mut self) -> Result<Option<i64>, sqlx::Error> {
        Ok(None)
    }
}

impl VectorGeneration for sqlx::SqliteConnection {
    async fn vector_generation(&mut self) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar("SELECT generation FROM memory_vector_generation WHERE id = 1")
            .fetch_one(self)
            .await
            .map(Some)
    }
}

/// [`bind_embedding`] for a query that returns one column.
pub(super) fn bind_embedding_scalar<'q, DB: EmbeddingColumn, O>(
    query: sqlx::query::QueryScalar<'q, DB, O, <DB as sqlx::Database>::Arguments>,
    values: Option<&[f32]>,
) -> sqlx::query::QueryScalar<'q, DB, O, <DB as sqlx::Database>::Arguments> {
    query.bind(DB::embedding(values))
}

pub(crate) fn blob_to_vec(blob: &[u8]) -> Vec<f32> {
    blob.chunks_exact(4).map(|bytes| f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_sql_numbers_six_parameters_per_row() {
        assert_eq!(
            insert_chunks_sql(2, false),
            "INSERT INTO memory_chunks (document_id, ordinal, content, heading_path, embedding_hash, embedding) \
             VALUES ($1, $2, $3, $4, $5, $6), ($7, $8, $9, $10, $11, $12)"
        );
    }

    #[test]
    fn postgres_insert_queues_chunks_with_vectors_in_the_same_statement() {
        let sql = insert_chunks_sql(1, true);
        assert!(sql.starts_with("WITH inserted AS (INSERT INTO memory_chunks"), "{sql}");
        assert!(
            sql.ends_with("INSERT INTO memory_ann_pending (chunk_id) SELECT id FROM inserted WHERE has_vector"),
            "{sql}"
        );
    }

    #[test]
    fn insert_batches_cover_every_chunk_in_order_within_both_limits() {
        let vector = vec![0.5f32; 384];
        let chunk =
            NewChunk { content: "some text", headings: "", embedding: Some(&vector), embedding_hash: Some("h") };
        let chunks = vec![chunk; 450];
        let unbounded = insert_batches(&chunks, None);
        assert_eq!(unbounded, vec![0..200, 200..400, 400..450]);
        let bounded = insert_batches(&chunks, Some(POSTGRES_INSERT_BYTES));
        assert!(bounded.iter().all(|batch| !batch.is_empty() && batch.len() * (384 * 4 + 42) <= POSTGRES_INSERT_BYTES));
        assert_eq!(bounded.first().map(|batch| batch.start), Some(0));
        assert_eq!(bounded.last().map(|batch| batch.end), Some(450));
        assert!(bounded.windows(2).all(|pair| pair[0].end == pair[1].start));
        // A chunk bigger than the limit still goes, alone.
        let big = "x".repeat(POSTGRES_INSERT_BYTES * 2);
        let huge = NewChunk { content: &big, headings: "", embedding: None, embedding_hash: None };
        assert_eq!(insert_batches(&[huge.clone(), huge], Some(POSTGRES_INSERT_BYTES)), vec![0..1, 1..2]);
    }

    #[test]
    fn embedding_blob_round_trips() {
        let blob = <sqlx::Sqlite as EmbeddingColumn>::embedding(Some(&[1.0, -2.5, 0.0])).unwrap_or_default();
        assert_eq!(blob_to_vec(&blob), vec![1.0, -2.5, 0.0]);
    }
}
