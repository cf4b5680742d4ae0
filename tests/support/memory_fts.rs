//! A real SQLite FTS5 index (bm25) in a temp file, standing in for the store's full-text side.

use chitin::memory::rank::{ChunkId, SearchQuery};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use tempfile::TempDir;

pub struct FtsIndex {
    pool: SqlitePool,
    _dir: TempDir,
}

impl FtsIndex {
    pub async fn build(chunks: &[(ChunkId, String)]) -> FtsIndex {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = SqliteConnectOptions::new().filename(dir.path().join("memory.db")).create_if_missing(true);
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.expect("open sqlite");
        sqlx::query("CREATE TABLE chunks (id INTEGER PRIMARY KEY, content TEXT NOT NULL)")
            .execute(&pool)
            .await
            .expect("create chunks");
        sqlx::query(
            "CREATE VIRTUAL TABLE chunks_fts USING fts5(content, content='chunks', \
             content_rowid='id', tokenize='porter unicode61')",
        )
        .execute(&pool)
        .await
        .expect("create fts");
        let mut transaction = pool.begin().await.expect("begin");
        for (id, text) in chunks {
            sqlx::query("INSERT INTO chunks (id, content) VALUES (?, ?)")
                .bind(id.0)
                .bind(text)
                .execute(&mut *transaction)
                .await
                .expect("insert chunk");
            sqlx::query("INSERT INTO chunks_fts (rowid, content) VALUES (?, ?)")
                .bind(id.0)
                .bind(text)
                .execute(&mut *transaction)
                .await
                .expect("insert fts row");
        }
        transaction.commit().await.expect("commit");
        FtsIndex { pool, _dir: dir }
    }

    /// Chunk ids by bm25, best first; empty when the query has no words.
    pub async fn search(&self, query: &SearchQuery, limit: usize) -> Vec<ChunkId> {
        let Some(expression) = query.fts5_match() else {
            return Vec::new();
        };
        let rows: Vec<(i64,)> =
            sqlx::query_as("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts) LIMIT ?")
                .bind(expression)
                .bind(limit as i64)
                .fetch_all(&self.pool)
                .await
                .expect("fts query must accept any parsed query");
        rows.into_iter().map(|(id,)| ChunkId(id)).collect()
    }
}
