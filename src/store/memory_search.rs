//! Filtered full-text and vector rankings of memory chunks, and the chunk details fusion needs.
//!
//! Each ranking returns chunk ids best first; `memory::rank` fuses them. Filters (path prefix,
//! date range, source) are applied in SQL, so the top of each list is never spent on chunks the
//! caller excluded.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::db::{Db, on_db_read};
use super::memory::{Memory, blob_to_vec};
use super::open::SESSION_EF_SEARCH;
use super::{ChunkId, StoreError};
use crate::memory::rank::{CandidateChunk, SearchFilter, SearchQuery, SourceName};

/// The stored vector generation, which SQLite's triggers bump on every vector change.
const GENERATION_SQL: &str = "SELECT generation FROM memory_vector_generation WHERE id = 1";

/// (chunk id, path, text, source, updated at, embedding in the backend's column type).
type DetailRow<Vector> = (i64, String, String, String, i64, Option<Vector>);

/// (chunk id, ranking key, path, text, source, updated at, embedding) from PostgreSQL.
type RankedDetailRow = (i64, f64, String, String, String, i64, Option<pgvector::Vector>);

/// One ranking, best first, with the details of the chunks in it.
#[derive(Debug, Default)]
pub struct RankedCandidates {
    pub ids: Vec<ChunkId>,
    pub details: HashMap<ChunkId, CandidateChunk>,
}

impl RankedCandidates {
    fn from_rows(rows: Vec<RankedDetailRow>) -> Self {
        let mut ranked = Self { ids: Vec::with_capacity(rows.len()), details: HashMap::with_capacity(rows.len()) };
        for (id, _, path, text, source, updated_at_ms, embedding) in rows {
            let embedding = embedding.map(|vector| vector.to_vec());
            ranked.ids.push(ChunkId(id));
            ranked.details.insert(ChunkId(id), candidate(path, text, source, updated_at_ms, embedding));
        }
        ranked
    }
}

/// Chunk details on PostgreSQL, for an array of chunk ids: one statement whatever the count (an
/// `IN ($1 … $100)` list was planned afresh on every search, 0.6–0.8 ms), reaching each chunk
/// and its document through their primary keys (`LATERAL … LIMIT 1`), so that no generic plan
/// cached while the tables were small can turn into a scan of either table later. A typed NULL
/// stands for the vector when MMR does not need it, so the row still decodes.
const PG_CHUNK_DETAILS: &str = "SELECT c.id, d.path, c.content, d.source, d.updated_at_ms, NULL::vector \
     FROM unnest($1::bigint[]) AS wanted (id) \
     CROSS JOIN LATERAL (SELECT id, document_id, content FROM memory_chunks WHERE id = wanted.id LIMIT 1) c \
     CROSS JOIN LATERAL (SELECT path, source, updated_at_ms FROM memory_documents WHERE id = c.document_id LIMIT 1) d";

/// [`PG_CHUNK_DETAILS`] with each chunk's vector (for MMR).
const PG_CHUNK_DETAILS_WITH_VECTORS: &str = "SELECT c.id, d.path, c.content, d.source, d.updated_at_ms, c.embedding \
     FROM unnest($1::bigint[]) AS wanted (id) \
     CROSS JOIN LATERAL (SELECT id, document_id, content, embedding FROM memory_chunks WHERE id = wanted.id LIMIT 1) c \
     CROSS JOIN LATERAL (SELECT path, source, updated_at_ms FROM memory_documents WHERE id = c.document_id LIMIT 1) d";

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

/// SQLite's full-text ranking as `(id, key)` rows, best (lowest `key`) first: `$1` is the FTS5 expression, `$2` the
/// limit, filter values from `$3`. Without a filter the FTS5 index alone answers (its rowid is the chunk id; the
/// triggers keep it in step): joining the chunks costs a random, decrypted page read per match (each row holds a
/// 1.5 KB vector), 10x the time at 100k chunks.
fn sqlite_text_ranking_sql(filter_clause: &str) -> String {
    if filter_clause.is_empty() {
        "SELECT rowid AS id, bm25(memory_chunks_fts) AS key FROM memory_chunks_fts WHERE memory_chunks_fts MATCH $1 \
         ORDER BY bm25(memory_chunks_fts), rowid LIMIT $2"
            .to_string()
    } else {
        format!(
            "SELECT c.id AS id, bm25(memory_chunks_fts) AS key FROM memory_chunks_fts \
             JOIN memory_chunks c ON c.id = memory_chunks_fts.rowid JOIN memory_documents d ON d.id = c.document_id \
             WHERE memory_chunks_fts MATCH $1{filter_clause} ORDER BY bm25(memory_chunks_fts), c.id LIMIT $2"
        )
    }
}

/// [`sqlite_text_ranking_sql`] with each ranked chunk's details, best first, in one statement: the ranking (limited
/// first) is joined to its chunks and documents, so a search reads them in the same pass on one reader instead of
/// a second statement on another whose page cache may be cold.
fn sqlite_text_with_details_sql(filter_clause: &str, with_vectors: bool) -> String {
    let vector_column = if with_vectors { "c.embedding" } else { "NULL" };
    format!(
        "SELECT c.id, d.path, c.content, d.source, d.updated_at_ms, {vector_column} FROM ({}) r \
         JOIN memory_chunks c ON c.id = r.id JOIN memory_documents d ON d.id = c.document_id ORDER BY r.key, r.id",
        sqlite_text_ranking_sql(filter_clause)
    )
}

/// The join from chunks (`c`) to the documents table that filter conditions need, or nothing
/// without a filter: every chunk has a document (foreign key, cascade delete), so the join would
/// only cost an index lookup per row. (Full text joins from its own table, `rank_text`.)
fn documents_join(filter_clause: &str) -> &'static str {
    if filter_clause.is_empty() { "" } else { " JOIN memory_documents d ON d.id = c.document_id" }
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
    /// Chunks matching any of the query's terms, best first: `ts_rank` over the GIN-indexed
    /// `tsvector` on PostgreSQL, `bm25` over FTS5 on SQLite. Empty when the query has no terms.
    ///
    /// PostgreSQL must rank every matching row to find the best ones, and an OR of three ordinary
    /// words matches a few percent of all chunks (3,600 of 100k in the benchmark). `ts_rank_cd`
    /// costs about 15 µs a row there, `ts_rank` a third of that; for an OR of single words cover
    /// density adds little (every occurrence is its own cover), so `ts_rank`, with normalisation 1
    /// (divide by 1 + log of the chunk's length, as bm25 discounts long chunks), is used.
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
                let sql =
                    format!("SELECT id FROM ({}) ranked ORDER BY key DESC, id", postgres_text_sql(&filter_clause));
                let query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(postgres_text_expression(&terms)).bind(limit);
                bind_filter!(query, &values).fetch_all(pool).await
            }
            Db::Sqlite(pools) => {
                let Some(expression) = query.fts5_match() else { return Ok(Vec::new()) };
                let sql = format!("SELECT id FROM ({}) ORDER BY key, id", sqlite_text_ranking_sql(&filter_clause));
                let query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(expression).bind(limit);
                bind_filter!(query, &values).fetch_all(&pools.reader).await
            }
        }
        .map_err(StoreError::query(op))?;
        Ok(rows.into_iter().map(|(id,)| ChunkId(id)).collect())
    }

    /// Chunks nearest to `embedding` by cosine, best first: on PostgreSQL the HNSW graph plus the
    /// chunks queued for it ([`postgres_vector_sql`]), on SQLite a brute-force scan of the
    /// in-process vector copy (`memory_vector_cache`).
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
                let sql = postgres_vector_sql(self.shared.embedding_dims, filter, limit);
                let rows: Vec<(i64, f64)> = fetch_postgres_vector_ranking(pool, &sql, embedding, filter, limit)
                    .await
                    .map_err(StoreError::query(op))?;
                Ok(nearest_first(rows, |row| (row.0, row.1)).into_iter().map(|(id, _)| ChunkId(id)).collect())
            }
            Db::Sqlite(pools) => {
                let documents = if *filter == SearchFilter::default() {
                    None
                } else {
                    let (filter_clause, values) = filter_sql(filter, 1);
                    let sql = format!("SELECT d.id FROM memory_documents d WHERE 1 = 1{filter_clause}");
                    let query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
                    let ids: Vec<i64> =
                        bind_filter!(query, &values).fetch_all(&pools.reader).await.map_err(StoreError::query(op))?;
                    Some(ids.into_iter().collect::<HashSet<i64>>())
                };
                let generation: i64 =
                    sqlx::query_scalar(GENERATION_SQL).fetch_one(&pools.reader).await.map_err(StoreError::query(op))?;
                if let Some(hits) = pools.memory_vectors.nearest(generation, embedding, documents.as_ref(), limit) {
                    return Ok(hits);
                }
                // First search, or the stored vectors changed in a way this process did not see:
                // read them all once, in one snapshot with the generation they are current at.
                // Boxed, like `BeginWrite`: sqlx's `begin` future would make every search future 14 KB larger.
                let mut snapshot = Box::pin(pools.reader.begin()).await.map_err(StoreError::query(op))?;
                let generation: i64 = sqlx::query_scalar(GENERATION_SQL)
                    .fetch_one(&mut *snapshot)
                    .await
                    .map_err(StoreError::query(op))?;
                let rows: Vec<(i64, i64, Vec<u8>)> =
                    sqlx::query_as("SELECT id, document_id, embedding FROM memory_chunks WHERE embedding IS NOT NULL")
                        .fetch_all(&mut *snapshot)
                        .await
                        .map_err(StoreError::query(op))?;
                snapshot.commit().await.map_err(StoreError::query(op))?;
                tracing::debug!(chunks = rows.len(), generation, "loaded memory vectors for in-process search");
                let dims = self.shared.embedding_dims;
                Ok(pools.memory_vectors.load_and_search(generation, dims, &rows, embedding, documents.as_ref(), limit))
            }
        }
    }

    /// [`Self::rank_text`] with the details of every ranked chunk (as [`Self::chunk_details`]).
    /// PostgreSQL reads them in the ranking's own statement, by key, for the listed chunks only:
    /// a hybrid search then waits for one statement per ranking instead of a third afterwards.
    pub async fn rank_text_with_details(
        &self,
        query: &SearchQuery,
        filter: &SearchFilter,
        limit: usize,
        with_vectors: bool,
    ) -> Result<RankedCandidates, StoreError> {
        let terms = query.terms();
        match self.db() {
            Db::Postgres(pool) if !terms.is_empty() && limit > 0 => {
                let (filter_clause, values) = filter_sql(filter, 3);
                let sql =
                    postgres_with_details_sql(&postgres_text_sql(&filter_clause), with_vectors, "r.key DESC, r.id");
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(postgres_text_expression(&terms)).bind(limit);
                let rows: Vec<RankedDetailRow> = bind_filter!(query, &values)
                    .fetch_all(pool)
                    .await
                    .map_err(StoreError::query("rank memory text with details"))?;
                Ok(RankedCandidates::from_rows(rows))
            }
            Db::Sqlite(pools) if !terms.is_empty() && limit > 0 => {
                let Some(expression) = query.fts5_match() else { return Ok(RankedCandidates::default()) };
                let (filter_clause, values) = filter_sql(filter, 3);
                let sql = sqlite_text_with_details_sql(&filter_clause, with_vectors);
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(expression).bind(limit);
                let rows: Vec<DetailRow<Vec<u8>>> = bind_filter!(query, &values)
                    .fetch_all(&pools.reader)
                    .await
                    .map_err(StoreError::query("rank memory text with details"))?;
                let mut ranked = RankedCandidates {
                    ids: Vec::with_capacity(rows.len()),
                    details: HashMap::with_capacity(rows.len()),
                };
                for (id, path, text, source, updated_at_ms, embedding) in rows {
                    let embedding = embedding.map(|blob| blob_to_vec(&blob));
                    ranked.ids.push(ChunkId(id));
                    ranked.details.insert(ChunkId(id), candidate(path, text, source, updated_at_ms, embedding));
                }
                Ok(ranked)
            }
            _ => Ok(RankedCandidates::default()),
        }
    }

    /// [`Self::rank_vector`] with the details of every ranked chunk, read in the same statement on
    /// PostgreSQL (see [`Self::rank_text_with_details`]).
    pub async fn rank_vector_with_details(
        &self,
        embedding: &[f32],
        filter: &SearchFilter,
        limit: usize,
        with_vectors: bool,
    ) -> Result<RankedCandidates, StoreError> {
        let op = "rank memory vectors with details";
        self.check_dims(op, embedding)?;
        match self.db() {
            Db::Postgres(pool) if limit > 0 => {
                let ranking = postgres_vector_sql(self.shared.embedding_dims, filter, limit);
                let sql = postgres_with_details_sql(&ranking, with_vectors, "r.key, r.id");
                let rows: Vec<RankedDetailRow> = fetch_postgres_vector_ranking(pool, &sql, embedding, filter, limit)
                    .await
                    .map_err(StoreError::query(op))?;
                Ok(RankedCandidates::from_rows(nearest_first(rows, |row| (row.0, row.1))))
            }
            _ => {
                let ids = self.rank_vector(embedding, filter, limit).await?;
                let details = self.chunk_details(&ids, with_vectors).await?;
                Ok(RankedCandidates { ids, details })
            }
        }
    }

    /// Path, text, source and date of each chunk in `ids` that still exists, and its vector when
    /// `with_vectors` (only MMR needs them: reading them costs a TOAST lookup per chunk on
    /// PostgreSQL and 1.5 KB per chunk on both).
    pub async fn chunk_details(
        &self,
        ids: &[ChunkId],
        with_vectors: bool,
    ) -> Result<HashMap<ChunkId, CandidateChunk>, StoreError> {
        let op = "read memory chunk details";
        let mut details = HashMap::with_capacity(ids.len());
        if ids.is_empty() {
            return Ok(details);
        }
        match self.db() {
            Db::Postgres(pool) => {
                let sql = if with_vectors { PG_CHUNK_DETAILS_WITH_VECTORS } else { PG_CHUNK_DETAILS };
                let wanted: Vec<i64> = ids.iter().map(|id| id.0).collect();
                let rows: Vec<DetailRow<pgvector::Vector>> =
                    sqlx::query_as(sql).bind(wanted).fetch_all(pool).await.map_err(StoreError::query(op))?;
                for (id, path, text, source, updated_at_ms, embedding) in rows {
                    let embedding = embedding.map(|vector| vector.to_vec());
                    details.insert(ChunkId(id), candidate(path, text, source, updated_at_ms, embedding));
                }
            }
            Db::Sqlite(pools) => {
                let vector_column = if with_vectors { "c.embedding" } else { "NULL" };
                // Bounded batches keep every statement under SQLite's parameter limit.
                for batch in ids.chunks(500) {
                    let placeholders: Vec<String> = (1..=batch.len()).map(|index| format!("${index}")).collect();
                    let sql = format!(
                        "SELECT c.id, d.path, c.content, d.source, d.updated_at_ms, {vector_column} FROM memory_chunks c \
                         JOIN memory_documents d ON d.id = c.document_id WHERE c.id IN ({})",
                        placeholders.join(", ")
                    );
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

/// `websearch_to_tsquery` never fails on user text; `or` between terms is its OR.
fn postgres_text_expression(terms: &[String]) -> String {
    terms.join(" or ")
}

/// The full-text ranking on PostgreSQL as rows of (`id`, `key`: the rank), best first, for
/// `$1` (the terms, [`postgres_text_expression`]), `$2` (the limit) and the filter from `$3`.
///
/// `memory_chunk_terms` holds only what ranking reads (see its migration); it carries
/// `document_id`, so a filter joins the documents without the chunks.
fn postgres_text_sql(filter_clause: &str) -> String {
    let join = if filter_clause.is_empty() { "" } else { " JOIN memory_documents d ON d.id = t.document_id" };
    format!(
        "SELECT t.chunk_id AS id, ts_rank(t.tsv, q, 1)::float8 AS key FROM memory_chunk_terms t{join}, \
         websearch_to_tsquery('english', $1) q WHERE t.tsv @@ q{filter_clause} \
         ORDER BY key DESC, t.chunk_id LIMIT $2"
    )
}

/// A ranking's rows (`id`, `key`) with each chunk's details, every chunk and document reached
/// through its primary key (`LATERAL … LIMIT 1`, as [`PG_CHUNK_DETAILS`] and for the same
/// reason), ordered by `order` over `r.key` and `r.id`. A chunk deleted since it was ranked drops out.
fn postgres_with_details_sql(ranking: &str, with_vectors: bool, order: &str) -> String {
    let (chunk_vector, vector) = if with_vectors { (", embedding", "c.embedding") } else { ("", "NULL::vector") };
    format!(
        "SELECT r.id, r.key, d.path, c.content, d.source, d.updated_at_ms, {vector} FROM ({ranking}) r \
         CROSS JOIN LATERAL (SELECT document_id, content{chunk_vector} FROM memory_chunks WHERE id = r.id LIMIT 1) c \
         CROSS JOIN LATERAL (SELECT path, source, updated_at_ms FROM memory_documents WHERE id = c.document_id LIMIT 1) d \
         ORDER BY {order}"
    )
}

/// Runs a vector ranking statement built on [`postgres_vector_sql`] (the query vector is `$1`,
/// the filter from `$2`).
async fn fetch_postgres_vector_ranking<Row>(
    pool: &sqlx::PgPool,
    sql: &str,
    embedding: &[f32],
    filter: &SearchFilter,
    limit: usize,
) -> Result<Vec<Row>, sqlx::Error>
where
    Row: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let (_, values) = filter_sql(filter, 2);
    let query = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned())).bind(pgvector::Vector::from(embedding.to_vec()));
    let query = bind_filter!(query, &values);
    // ef_search bounds how many rows one index scan yields, so it must cover the list. Each
    // connection starts at SESSION_EF_SEARCH (`open.rs`); only a deeper list pays for a
    // transaction and a `SET LOCAL`.
    let ef_search = limit.clamp(40, 1000);
    if ef_search <= SESSION_EF_SEARCH {
        return query.fetch_all(pool).await;
    }
    let mut transaction = Box::pin(pool.begin()).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("SET LOCAL hnsw.ef_search = {ef_search}")))
        .execute(&mut *transaction)
        .await?;
    let rows = query.fetch_all(&mut *transaction).await?;
    transaction.commit().await?;
    Ok(rows)
}

/// Vector ranking rows nearest first, each chunk once. The SQL sorts by distance already; sorting
/// again costs nothing and keeps the order independent of the plan. A chunk briefly both in the
/// graph and queued comes twice (half-precision and f32 distance): its nearer entry is kept.
fn nearest_first<Row>(mut rows: Vec<Row>, key: impl Fn(&Row) -> (i64, f64)) -> Vec<Row> {
    rows.sort_by(|left, right| {
        let (left, right) = (key(left), key(right));
        left.1.total_cmp(&right.1).then(left.0.cmp(&right.0))
    });
    let mut seen = HashSet::with_capacity(rows.len());
    rows.retain(|row| seen.insert(key(row).0));
    rows
}

/// The PostgreSQL vector ranking: the graph's nearest `limit` (`memory_chunk_ann`, HNSW over
/// half-precision copies) UNION the queued tail (`memory_ann_pending`: chunks written since the
/// graph last caught up, compared exactly with the f32 vector on the chunk), sorted by distance.
/// So a chunk is found by vector the moment its transaction commits (`memory_ann.rs`).
///
/// Graph hits keep the distance of their half-precision copy, read from the graph table's own row
/// (which the index scan fetches anyway). Re-reading each hit's f32 vector from `memory_chunks`
/// meant a key lookup, a heap page and a TOAST lookup per hit; half precision moves a cosine
/// distance by about 1e-4, far less than what separates results worth ranking apart.
///
/// The documents are joined only for a filter; then pgvector's iterative scan (a session default,
/// `open.rs`) keeps walking the graph until the filter has passed `limit` rows. The limit is a
/// literal, so a cached generic plan still sees how few rows are wanted and uses the index. The
/// queued tail looks each chunk up by key (`LATERAL … OFFSET 0` keeps the planner from turning it
/// into a hash join over every chunk): a queue emptied by a rebuild but not yet vacuumed looks
/// large to the planner, and that hash join cost 17-27 ms at 100k chunks instead of 0.4.
/// `$1` is the query vector; the filter's parameters follow.
fn postgres_vector_sql(dims: usize, filter: &SearchFilter, limit: usize) -> String {
    let (filter_clause, _) = filter_sql(filter, 2);
    let join = documents_join(&filter_clause);
    let query = format!("$1::vector({dims})");
    let half = format!("a.embedding <=> {query}::halfvec({dims})");
    let graph = if filter_clause.is_empty() {
        format!("SELECT a.chunk_id AS id, {half} AS distance FROM memory_chunk_ann a ORDER BY {half} LIMIT {limit}")
    } else {
        format!(
            "SELECT a.chunk_id AS id, {half} AS distance FROM memory_chunk_ann a \
             JOIN memory_chunks c ON c.id = a.chunk_id{join} \
             WHERE true{filter_clause} ORDER BY {half} LIMIT {limit}"
        )
    };
    format!(
        "SELECT id, distance AS key FROM (\
         ({graph}) \
         UNION \
         (SELECT c.id, c.distance FROM memory_ann_pending p CROSS JOIN LATERAL \
         (SELECT c.id, c.document_id, c.embedding <=> {query} AS distance FROM memory_chunks c \
         WHERE c.id = p.chunk_id AND c.embedding IS NOT NULL OFFSET 0) c{join} WHERE true{filter_clause} \
         ORDER BY distance LIMIT {limit})\
         ) hits ORDER BY distance, id LIMIT {limit}"
    )
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

    /// A prepared statement's generic plan is made once and kept; made while the tables are small, a
    /// sequential scan would read every chunk on every later search. On a fresh, empty schema the
    /// generic plans must already reach chunks and documents through their keys.
    #[tokio::test]
    async fn chunk_details_reach_chunks_and_documents_by_key_in_generic_plans() {
        let statements =
            [(PG_CHUNK_DETAILS, "bigint[]", "'{1,2,3}'"), (PG_CHUNK_DETAILS_WITH_VECTORS, "bigint[]", "'{1,2,3}'")];
        let Some(plans) = crate::store::generic_plans::generic_plans("details", &statements).await else { return };
        for (name, plan) in ["details", "details with vectors"].iter().zip(plans) {
            for table in ["memory_chunks", "memory_documents"] {
                assert!(!plan.contains(&format!("Seq Scan on {table}")), "{name} scans {table}:\n{plan}");
            }
            assert!(plan.contains("memory_chunks_pkey"), "{name} does not use the chunk key:\n{plan}");
        }
    }

    /// The rankings that read their chunks' details in the same statement must reach those chunks
    /// and documents by key too (generic plans on an empty schema, as above).
    #[tokio::test]
    async fn rankings_with_details_reach_chunks_and_documents_by_key_in_generic_plans() {
        let text = postgres_with_details_sql(&postgres_text_sql(""), false, "r.key DESC, r.id");
        let vector =
            postgres_with_details_sql(&postgres_vector_sql(384, &SearchFilter::default(), 50), true, "r.key, r.id");
        let statements = [
            (text.as_str(), "text, bigint", "'boiler or autumn', 50"),
            (vector.as_str(), "vector", "array_fill(0.1, ARRAY[384])::vector"),
        ];
        let Some(plans) = crate::store::generic_plans::generic_plans("ranked", &statements).await else { return };
        for (name, plan) in ["full text", "vector"].iter().zip(plans) {
            for table in ["memory_chunks", "memory_documents"] {
                assert!(!plan.contains(&format!("Seq Scan on {table}")), "{name} scans {table}:\n{plan}");
            }
            assert!(plan.contains("memory_chunks_pkey"), "{name} does not use the chunk key:\n{plan}");
        }
    }
}
