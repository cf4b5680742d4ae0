//! The append-only audit log, hash-chained so that editing or deleting an entry is detectable.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::types::Json;

use super::db::{BeginWrite, Db, Shared, now_ms, on_db, on_db_read};
use super::{AuditId, StoreError};

/// Hash the first entry links to.
const GENESIS: &str = "";

/// What happened, by whom, to what.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    /// Never secrets or message text: the log is meant to be shown to the user.
    pub detail: &'a Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub id: AuditId,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: Value,
    pub prev_hash: String,
    pub hash: String,
}

type AuditTuple = (i64, i64, String, String, String, Json<Value>, String, String);

fn entry_hash(prev_hash: &str, at_ms: i64, actor: &str, action: &str, target: &str, detail: &Value) -> String {
    // serde_json sorts object keys, so a JSONB round trip gives the same text back.
    let detail = detail.to_string();
    let mut hasher = Sha256::new();
    for part in [prev_hash, &at_ms.to_string(), actor, action, target, &detail] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The audit log.
#[derive(Clone)]
pub struct AuditLog {
    shared: Shared,
}

impl AuditLog {
    pub(crate) fn new(shared: Shared) -> AuditLog {
        AuditLog { shared }
    }

    /// Appends an entry linked to the previous one. Appends are serialised (an advisory lock on
    /// PostgreSQL, the write lock on SQLite) so the chain never forks.
    pub async fn append(&self, entry: &AuditEntry<'_>) -> Result<AuditRecord, StoreError> {
        let op = "append audit entry";
        let at_ms = now_ms();
        let is_postgres = matches!(self.shared.db, Db::Postgres(_));
        let (id, prev_hash, hash) = on_db!(&self.shared.db, pool => {
            let mut tx = pool.begin_write().await.map_err(StoreError::query(op))?;
            if is_postgres {
                sqlx::query("SELECT pg_advisory_xact_lock(hashtext('chitin.audit_log'))::text")
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query(op))?;
            }
            let prev_hash: Option<String> = sqlx::query_scalar("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::query(op))?;
            let prev_hash = prev_hash.unwrap_or_else(|| GENESIS.to_owned());
            let hash = entry_hash(&prev_hash, at_ms, entry.actor, entry.action, entry.target, entry.detail);
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO audit_log (at_ms, actor, action, target, detail, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(at_ms)
            .bind(entry.actor)
            .bind(entry.action)
            .bind(entry.target)
            .bind(Json(entry.detail))
            .bind(&prev_hash)
            .bind(&hash)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::query(op))?;
            tx.commit().await.map_err(StoreError::query(op))?;
            (id, prev_hash, hash)
        });
        Ok(AuditRecord {
            id: AuditId(id),
            at_ms,
            actor: entry.actor.to_owned(),
            action: entry.action.to_owned(),
            target: entry.target.to_owned(),
            detail: entry.detail.clone(),
            prev_hash,
            hash,
        })
    }

    /// Entries with id greater than `after`, oldest first.
    pub async fn list(&self, after: Option<AuditId>, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
        let op = "list audit entries";
        let rows: Vec<AuditTuple> = on_db_read!(&self.shared.db, pool => sqlx::query_as(
            "SELECT id, at_ms, actor, action, target, detail, prev_hash, hash FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after.map_or(0, |id| id.0))
        .bind(limit)
        .fetch_all(pool)
        .await)
        .map_err(StoreError::query(op))?;
        Ok(rows.into_iter().map(audit_record).collect())
    }

    /// The newest `limit` entries, newest first (what an operator looks at).
    pub async fn latest(&self, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
        let op = "list latest audit entries";
        let rows: Vec<AuditTuple> = on_db_read!(&self.shared.db, pool => sqlx::query_as(
            "SELECT id, at_ms, actor, action, target, detail, prev_hash, hash FROM audit_log ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(pool)
        .await)
        .map_err(StoreError::query(op))?;
        Ok(rows.into_iter().map(audit_record).collect())
    }

    /// Recomputes the whole chain; returns the number of entries checked, or the first bad one.
    pub async fn verify(&self) -> Result<u64, StoreError> {
        let mut expected_prev = GENESIS.to_owned();
        let mut after = None;
        let mut checked = 0;
        loop {
            let page = self.list(after, 500).await?;
            let Some(last) = page.last() else { return Ok(checked) };
            after = Some(last.id);
            for record in &page {
                let hash = entry_hash(
                    &record.prev_hash,
                    record.at_ms,
                    &record.actor,
                    &record.action,
                    &record.target,
                    &record.detail,
                );
                if record.prev_hash != expected_prev || record.hash != hash {
                    return Err(StoreError::AuditChainBroken { id: record.id.0 });
                }
                expected_prev = hash;
                checked += 1;
            }
        }
    }
}

fn audit_record((id, at_ms, actor, action, target, Json(detail), prev_hash, hash): AuditTuple) -> AuditRecord {
    AuditRecord { id: AuditId(id), at_ms, actor, action, target, detail, prev_hash, hash }
}
