//! Filtered full-text and vector rankings of memory chunks, and the chunk details fusion needs.
//!
//! Each ranking returns chunk ids best first; `memory::rank` fuses them. Filters (path prefix,
//! date range, source) are applied in SQL, so the top of each list is never spent on chunks the
//! caller excluded.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::db::{Db, on_db_read};
use super::memory::{Memory, blob_to_vec};
use super::{ChunkId, StoreError};
use crate::memory::rank::{CandidateChunk, SearchFilter, SearchQuery, SourceName};

/// (chunk id, path, text, source, updated at, embedding in the backend's column type).
type DetailRow<Vector> = (i64, String, String, String, i64, Option<Vector>);

/// A value bound to one of the filter's `$n` parameters.
enum FilterValue {
    Text(String),
    Integer(i64),
}

/// `AND …` conditions on `d` (the documents table) for `filter`, numbering parameters from
/// `first_parameter`, and the values to bind in order.
fn filter_sql(filter: &SearchFilter, first_parameter: usize) -> (String, Vec<FilterValue>) {
    let mut sql = String::new();
    let mut values = Vec::new();
    let mut next = first_parameter;
    let mut parameter = |value: FilterValue, values: &mut Vec<FilterValue>| {
        values.push(value);
        next += 1;
        format!("${}", next - 1)
    };
    if let Some(prefix) = &filter.path_prefix {
        let text = parameter(FilterValue::Text(prefix.clone()), &mut values);
        sql.push_str(&format!(" AND substr(d.path, 1, length({text})) = {text}"));
    }
    if let Some(after) = filter.updated_after {
        let at = parameter(FilterValue::Integer(after.timestamp_millis()), &mut values);
        sql.push_str(&format!(" AND d.updated_at_ms >= {at}"));
    }
    if let Some(before) = filter.updated_before {
        let at = parameter(FilterValue::Integer(before.timestamp_millis()), &mut values);
        sql.push_str(&format!(" AND d.updated_at_ms < {at}"));
    }
    if let Some(SourceName(source)) = &filter.source {
        let name = parameter(FilterValue::Text(source.clone()), &mut values);
        sql.push_str(&format!(" AND d.source = {name}"));
    }
    (sql, values)
}

/// Binds the filter's values after the query's own parameters.
macro_rules! bind_filter {
    ($query:expr, $values:expr) => {{
        let mut query = $query;
        for value in $values {
            query = match value {
                FilterValue::Text(text) => query.bind(text.clone()),
                FilterValue::Integer(number) => query.bind(*number),
            };
        }
        query
    }};
}

impl Memory {
    /// Chunks matching any of the query's terms, best first: `ts_rank_cd` over the GIN-indexed
    /// `tsvector` on PostgreSQL, `bm25` over FTS5 on SQLite. Empty when the query has no terms.
    ///
    /// Terms are ORed, not ANDed: a question phrased in the user's words rarely has all of them in
    /// the answer, and both rank functions already put chunks matching more (and rarer) terms first.
    pub async fn rank_text(
        &self,
        query: &SearchQuery,
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<ChunkId>, StoreError> {
        let op = "rank memory text";
        let terms = query.terms();
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let (filter_clause, values) = filter_sql(filter, 3);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(i64,)> = match self.db() {
            Db::Postgres(pool) => {
                // `websearch_to_tsquery` never fails on user text; `or` between terms is its OR.
                let expression = terms.join(" or ");
                let sql = format!(
                    "SELECT c.id FROM memory_chunks c JOIN memory_documents d ON d.id = c.document_id, \
                     websearch_to_tsquery('english', $1) q WHERE c.tsv @@ q{filter_clause} \
                     ORDER BY ts_rank_cd(c.tsv, q) DESC, c.id LIMIT $2"
                );
                let query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(expression).bind(limit);
                bind_filter!(query, &values).fetch_all(pool).await
            }
            Db::Sqlite(pools) => {
                let Some(expression) = query.fts5_match() else { return Ok(Vec::new()) };
                let sql = format!(
                    "SELECT c.id FROM memory_chunks_fts JOIN memory_chunks c ON c.id = memory_chunks_fts.rowid \
                     JOIN memory_documents d ON d.id = c.document_id \
                     WHERE memory_chunks_fts MATCH $1{filter_clause} \
                     ORDER BY bm25(memory_chunks_fts), c.id LIMIT $2"
                );
                let query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(expression).bind(limit);
                bind_filter!(query, &values).fetch_all(&pools.reader).await
            }
        }
        .map_err(StoreError::query(op))?;
        Ok(rows.into_iter().map(|(id,)| ChunkId(id)).collect())
    }

    /// Chunks nearest to `embedding` by cosine, best first: the HNSW index on PostgreSQL (with
    /// pgvector's iterative scan, so a narrow filter still fills the list), a scan of the stored
    /// vectors on SQLite.
    pub async fn rank_vector(
        &self,
        embedding: &[f32],
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<ChunkId>, StoreError> {
        let op = "rank memory vectors";
        self.check_dims(op, embedding)?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        match self.db() {
            Db::Postgres(pool) => {
                let (filter_clause, values) = filter_sql(filter, 3);
                let mut transaction = pool.begin().await.map_err(StoreError::query(op))?;
                // ef_search bounds how many rows one index scan yields (default 40), so it must
                // cover the list; iterative scans keep going when filters drop rows.
                let ef_search = limit.clamp(40, 1000);
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "SET LOCAL hnsw.ef_search = {ef_search}; SET LOCAL hnsw.iterative_scan = relaxed_order"
                )))
                .execute(&mut *transaction)
                .await
                .map_err(StoreError::query(op))?;
                let sql = format!(
                    "SELECT c.id, c.embedding <=> $1 AS distance FROM memory_chunks c \
                     JOIN memory_documents d ON d.id = c.document_id \
                     WHERE c.embedding IS NOT NULL{filter_clause} ORDER BY distance LIMIT $2"
                );
                let query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(pgvector::Vector::from(embedding.to_vec()))
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX));
                let mut rows: Vec<(i64, f64)> =
                    bind_filter!(query, &values).fetch_all(&mut *transaction).await.map_err(StoreError::query(op))?;
                transaction.commit().await.map_err(StoreError::query(op))?;
                // A relaxed-order scan may return rows slightly out of order.
                rows.sort_by(|left, right| left.1.total_cmp(&right.1).then(left.0.cmp(&right.0)));
                Ok(rows.into_iter().map(|(id, _)| ChunkId(id)).collect())
            }
            Db::Sqlite(pools) => {
                let (filter_clause, values) = filter_sql(filter, 1);
                let sql = format!(
                    "SELECT c.id, c.embedding FROM memory_chunks c JOIN memory_documents d ON d.id = c.document_id \
                     WHERE c.embedding IS NOT NULL{filter_clause}"
                );
                let query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                let rows: Vec<(i64, Vec<u8>)> =
                    bind_filter!(query, &values).fetch_all(&pools.reader).await.map_err(StoreError::query(op))?;
                Ok(nearest_blobs(embedding, &rows, limit))
            }
        }
    }

    /// Path, text, source, date and vector of each chunk in `ids` that still exists.
    pub async fn chunk_details(&self, ids: &[ChunkId]) -> Result<HashMap<ChunkId, CandidateChunk>, StoreError> {
        let op = "read memory chunk details";
        let mut details = HashMap::with_capacity(ids.len());
        // Bounded batches keep every statement under both engines' parameter limits.
        for batch in ids.chunks(500) {
            let placeholders: Vec<String> = (1..=batch.len()).map(|index| format!("${index}")).collect();
            let sql = format!(
                "SELECT c.id, d.path, c.content, d.source, d.updated_at_ms, c.embedding FROM memory_chunks c \
                 JOIN memory_documents d ON d.id = c.document_id WHERE c.id IN ({})",
                placeholders.join(", ")
            );
            match self.db() {
                Db::Postgres(pool) => {
                    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                    for id in batch {
                        query = query.bind(id.0);
                    }
                    let rows: Vec<DetailRow<pgvector::Vector>> =
                        query.fetch_all(pool).await.map_err(StoreError::query(op))?;
                    for (id, path, text, source, updated_at_ms, embedding) in rows {
                        let embedding = embedding.map(|vector| vector.to_vec());
                        details.insert(ChunkId(id), candidate(path, text, source, updated_at_ms, embedding));
                    }
                }
                Db::Sqlite(pools) => {
                    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                    for id in batch {
                        query = query.bind(id.0);
                    }
                    let rows: Vec<DetailRow<Vec<u8>>> =
                        query.fetch_all(&pools.reader).await.map_err(StoreError::query(op))?;
                    for (id, path, text, source, updated_at_ms, embedding) in rows {
                        let embedding = embedding.map(|blob| blob_to_vec(&blob));
                        details.insert(ChunkId(id), candidate(path, text, source, updated_at_ms, embedding));
                    }
                }
            }
        }
        Ok(details)
    }

    /// Vectors already stored for the document at `path`, by the hash of what was embedded, so
    /// re-indexing a changed file embeds only its new chunks.
    pub async fn stored_vectors(&self, path: &str) -> Result<HashMap<String, Vec<f32>>, StoreError> {
        let op = "read stored memory vectors";
        let sql = "SELECT c.embedding_hash, c.embedding FROM memory_chunks c \
                   JOIN memory_documents d ON d.id = c.document_id \
                   WHERE d.path = $1 AND c.embedding IS NOT NULL AND c.embedding_hash IS NOT NULL";
        let vectors = match self.db() {
            Db::Postgres(pool) => {
                let rows: Vec<(String, pgvector::Vector)> =
                    sqlx::query_as(sql).bind(path).fetch_all(pool).await.map_err(StoreError::query(op))?;
                rows.into_iter().map(|(hash, vector)| (hash, vector.to_vec())).collect()
            }
            Db::Sqlite(pools) => {
                let rows: Vec<(String, Vec<u8>)> =
                    sqlx::query_as(sql).bind(path).fetch_all(&pools.reader).await.map_err(StoreError::query(op))?;
                rows.into_iter().map(|(hash, blob)| (hash, blob_to_vec(&blob))).collect()
            }
        };
        Ok(vectors)
    }

    /// How many chunks are stored; `with_vectors` counts only those that have one.
    pub async fn count_chunks(&self, with_vectors: bool) -> Result<i64, StoreError> {
        let op = "count memory chunks";
        let sql = if with_vectors {
            "SELECT count(*) FROM memory_chunks WHERE embedding IS NOT NULL"
        } else {
            "SELECT count(*) FROM memory_chunks"
        };
        on_db_read!(self.db(), pool => sqlx::query_scalar(sql).fetch_one(pool).await).map_err(StoreError::query(op))
    }

    fn db(&self) -> &Db {
        &self.shared.db
    }
}

fn candidate(
    path: String,
    text: String,
    source: String,
    updated_at_ms: i64,
    embedding: Option<Vec<f32>>,
) -> CandidateChunk {
    CandidateChunk {
        document_path: path,
        text,
        source: SourceName(source),
        updated_at: DateTime::<Utc>::from_timestamp_millis(updated_at_ms).unwrap_or_default(),
        embedding,
    }
}

/// The `limit` rows whose little-endian f32 blob has the highest cosine with `query`.
///
/// A flat loop over f32 slices that the compiler vectorises; at 384 dimensions a scan of 100k
/// vectors is ~40 M multiply-adds, a few milliseconds in a release build.
fn nearest_blobs(query: &[f32], rows: &[(i64, Vec<u8>)], limit: usize) -> Vec<ChunkId> {
    let query_norm = query.iter().map(|value| value * value).sum::<f32>().sqrt();
    let mut scored: Vec<(f32, i64)> = Vec::with_capacity(rows.len());
    let mut vector = vec![0f32; query.len()];
    for (id, blob) in rows {
        if blob.len() != query.len() * 4 {
            continue;
        }
        for (slot, bytes) in vector.iter_mut().zip(blob.chunks_exact(4)) {
            *slot = f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        let (mut dot, mut norm) = (0f32, 0f32);
        for (left, right) in query.iter().zip(&vector) {
            dot += left * right;
            norm += right * right;
        }
        let denominator = query_norm * norm.sqrt();
        let cosine = if denominator > 0.0 { dot / denominator } else { 0.0 };
        scored.push((cosine, *id));
    }
    let by_score = |left: &(f32, i64), right: &(f32, i64)| right.0.total_cmp(&left.0).then(left.1.cmp(&right.1));
    if scored.len() > limit {
        scored.select_nth_unstable_by(limit, by_score);
        scored.truncate(limit);
    }
    scored.sort_by(by_score);
    scored.into_iter().map(|(_, id)| ChunkId(id)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_numbers_parameters_in_binding_order() {
        let filter = SearchFilter {
            path_prefix: Some("notes/".to_string()),
            updated_after: None,
            updated_before: DateTime::<Utc>::from_timestamp_millis(5),
            source: Some(SourceName("agent".to_string())),
        };
        let (sql, values) = filter_sql(&filter, 3);
        assert_eq!(sql, " AND substr(d.path, 1, length($3)) = $3 AND d.updated_at_ms < $4 AND d.source = $5");
        assert_eq!(values.len(), 3);
    }

    #[test]
    fn nearest_blobs_orders_by_cosine_and_skips_wrong_lengths() {
        let blob = |values: &[f32]| values.iter().flat_map(|value| value.to_le_bytes()).collect::<Vec<u8>>();
        let rows = vec![(1, blob(&[0.0, 1.0])), (2, blob(&[1.0, 0.1])), (3, blob(&[1.0])), (4, blob(&[1.0, 0.5]))];
        assert_eq!(nearest_blobs(&[1.0, 0.0], &rows, 2), vec![ChunkId(2), ChunkId(4)]);
    }
}
