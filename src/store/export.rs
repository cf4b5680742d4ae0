//! Getting data out: online SQLite backup and JSON-lines export of conversations and memory.

use std::io::Write;
use std::path::Path;

use serde_json::json;

use super::StoreError;
use super::conversations::{Conversations, SELECT_CONVERSATIONS, conversation_from_row};
use super::db::{Db, Shared, on_db_read};

/// Copies the live SQLite database into a new file at `path` with `VACUUM INTO`.
///
/// The copy is one consistent snapshot taken while Chitin keeps writing, and SQLCipher writes it
/// under the same key, so the backup is as protected as the original.
pub(crate) async fn backup_to(shared: &Shared, path: &Path) -> Result<(), StoreError> {
    let Db::Sqlite(pools) = &shared.db else { return Err(StoreError::BackupNeedsPgDump) };
    if path.exists() {
        return Err(StoreError::BackupExists { path: path.to_path_buf() });
    }
    sqlx::query("VACUUM INTO $1")
        .bind(path.to_string_lossy().into_owned())
        .execute(&pools.reader)
        .await
        .map_err(|source| StoreError::Backup { path: path.to_path_buf(), source })?;
    tracing::info!(path = %path.display(), "database backed up");
    Ok(())
}

/// One line per conversation: its ids and every message, oldest first, bodies decrypted.
pub(crate) async fn conversations(shared: &Shared, out: &mut (dyn Write + Send)) -> Result<u64, StoreError> {
    let op = "export conversations";
    let sql = format!("{SELECT_CONVERSATIONS} ORDER BY id");
    let rows: Vec<(i64, String, String, i64, i64)> = on_db_read!(&shared.db, pool => sqlx::query_as(
        sqlx::AssertSqlSafe(sql),
    )
    .fetch_all(pool)
    .await)
    .map_err(StoreError::query(op))?;
    let history = Conversations::new(shared.clone());
    let mut written = 0;
    for row in rows {
        let conversation = conversation_from_row(row);
        let messages = history.history(conversation.id, i64::MAX).await?;
        let line = json!({ "conversation": conversation, "messages": messages });
        writeln!(out, "{line}").map_err(StoreError::ExportWrite)?;
        written += 1;
    }
    out.flush().map_err(StoreError::ExportWrite)?;
    Ok(written)
}

/// One line per memory document with its chunks' text; embeddings are left out (they can be
/// recomputed, and they are large).
pub(crate) async fn memory(shared: &Shared, out: &mut (dyn Write + Send)) -> Result<u64, StoreError> {
    let op = "export memory";
    let documents: Vec<(i64, String, String, i64)> = on_db_read!(&shared.db, pool => sqlx::query_as(
        "SELECT id, path, content_hash, updated_at_ms FROM memory_documents ORDER BY path",
    )
    .fetch_all(pool)
    .await)
    .map_err(StoreError::query(op))?;
    let mut written = 0;
    for (id, path, content_hash, updated_at_ms) in documents {
        let chunks: Vec<(i64, String)> = on_db_read!(&shared.db, pool => sqlx::query_as(
            "SELECT ordinal, content FROM memory_chunks WHERE document_id = $1 ORDER BY ordinal",
        )
        .bind(id)
        .fetch_all(pool)
        .await)
        .map_err(StoreError::query(op))?;
        let chunks: Vec<_> =
            chunks.into_iter().map(|(ordinal, content)| json!({ "ordinal": ordinal, "content": content })).collect();
        let line =
            json!({ "path": path, "content_hash": content_hash, "updated_at_ms": updated_at_ms, "chunks": chunks });
        writeln!(out, "{line}").map_err(StoreError::ExportWrite)?;
        written += 1;
    }
    out.flush().map_err(StoreError::ExportWrite)?;
    Ok(written)
}
