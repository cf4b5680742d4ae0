//! Master-key rotation inside the database: every sealed value re-sealed under the new key in one transaction.
//!
//! Idempotent by design: a value already under the new key (or stored plain) is left alone, so a rotation
//! interrupted at any point is finished by running it again with the same two keys.

use super::db::{BeginWrite, Db, now_ms, on_db};
use super::sealing::Sealer;
use super::{Store, StoreError};
use crate::crypto::{CryptoError, FieldCipher, MasterKey, Sealed};

/// How many values a rotation re-sealed, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RotationReport {
    pub secrets: u64,
    pub sealed_columns: u64,
    /// SQLite: the file's SQLCipher key was changed.
    pub database_rekeyed: bool,
}

const OP: &str = "rotate master key";

/// Associated data of a stored secret; must match the secrets service's.
pub(crate) fn secret_context(name: &str) -> String {
    format!("secret:{name}")
}

/// `Some(new bytes)` when `stored` was sealed under the old key, `None` when it needs nothing.
fn reseal(old: &Sealer, new: &Sealer, stored: &[u8], context: &str) -> Result<Option<Vec<u8>>, StoreError> {
    match new.open(stored, context) {
        Ok(_) => Ok(None),
        Err(CryptoError::WrongKey { .. }) => {
            let plain = old.open(stored, context).map_err(|source| StoreError::Decrypt { op: OP, source })?;
            Ok(Some(new.seal(&plain, context)))
        }
        Err(source) => Err(StoreError::Decrypt { op: OP, source }),
    }
}

impl Store {
    /// Re-seals every secret and sealed column from `old` to `new` in one transaction, records the new key's
    /// check row, and on SQLite then re-keys the file (unless `rekey_file` is false because an interrupted
    /// rotation already did). The store must be closed afterwards: its own sealer still holds the old key.
    pub async fn rotate_master_key(
        &self,
        old: &MasterKey,
        new: &MasterKey,
        rekey_file: bool,
    ) -> Result<RotationReport, StoreError> {
        let old_fields = FieldCipher::new(old);
        let new_fields = FieldCipher::new(new);
        let old_sealer = Sealer::encrypting(old_fields.clone());
        let new_sealer = Sealer::encrypting(new_fields.clone());
        let mut report = RotationReport::default();
        let is_postgres = matches!(self.shared.db, Db::Postgres(_));
        on_db!(&self.shared.db, pool => {
            let mut tx = pool.begin_write().await.map_err(StoreError::query(OP))?;

            let secrets: Vec<(String, Vec<u8>, Vec<u8>, String)> =
                sqlx::query_as("SELECT name, ciphertext, nonce, key_id FROM secrets")
                    .fetch_all(&mut *tx).await.map_err(StoreError::query(OP))?;
            for (name, ciphertext, nonce, key_id) in secrets {
                if key_id == new.key_id().as_str() {
                    continue;
                }
                let context = secret_context(&name);
                let plain = old_fields
                    .open(&Sealed { ciphertext, nonce, key_id }, context.as_bytes())
                    .map_err(|source| StoreError::Decrypt { op: OP, source })?;
                let sealed = new_fields.seal(&plain, context.as_bytes());
                sqlx::query("UPDATE secrets SET ciphertext = $1, nonce = $2, key_id = $3 WHERE name = $4")
                    .bind(&sealed.ciphertext).bind(&sealed.nonce).bind(&sealed.key_id).bind(&name)
                    .execute(&mut *tx).await.map_err(StoreError::query(OP))?;
                report.secrets += 1;
            }

            let messages: Vec<(i64, String, String, Vec<u8>)> =
                sqlx::query_as("SELECT id, channel, external_conversation_id, body FROM messages")
                    .fetch_all(&mut *tx).await.map_err(StoreError::query(OP))?;
            for (id, channel, external, body) in messages {
                let context = super::conversations::body_context(&channel, &external);
                if let Some(body) = reseal(&old_sealer, &new_sealer, &body, &context)? {
                    sqlx::query("UPDATE messages SET body = $1 WHERE id = $2").bind(&body).bind(id)
                        .execute(&mut *tx).await.map_err(StoreError::query(OP))?;
                    report.sealed_columns += 1;
                }
            }

            let jobs: Vec<(i64, Vec<u8>, Option<Vec<u8>>)> = sqlx::query_as("SELECT id, payload, result FROM jobs")
                .fetch_all(&mut *tx).await.map_err(StoreError::query(OP))?;
            for (id, payload, result) in jobs {
                let payload_new = reseal(&old_sealer, &new_sealer, &payload, super::jobs::PAYLOAD_CONTEXT)?;
                let result_new = match &result {
                    Some(result) => reseal(&old_sealer, &new_sealer, result, super::jobs::RESULT_CONTEXT)?,
                    None => None,
                };
                if payload_new.is_some() || result_new.is_some() {
                    report.sealed_columns += u64::from(payload_new.is_some()) + u64::from(result_new.is_some());
                    sqlx::query("UPDATE jobs SET payload = $1, result = $2 WHERE id = $3")
                        .bind(payload_new.unwrap_or(payload)).bind(result_new.or(result)).bind(id)
                        .execute(&mut *tx).await.map_err(StoreError::query(OP))?;
                }
            }

            let events: Vec<(i64, i64, Vec<u8>)> = sqlx::query_as("SELECT id, job_id, detail FROM job_events")
                .fetch_all(&mut *tx).await.map_err(StoreError::query(OP))?;
            for (id, job_id, detail) in events {
                let context = super::jobs::event_context(job_id);
                if let Some(detail) = reseal(&old_sealer, &new_sealer, &detail, &context)? {
                    sqlx::query("UPDATE job_events SET detail = $1 WHERE id = $2").bind(&detail).bind(id)
                        .execute(&mut *tx).await.map_err(StoreError::query(OP))?;
                    report.sealed_columns += 1;
                }
            }

            if is_postgres {
                // The new key's check row replaces the old one, so the old key is refused from now on.
                sqlx::query("DELETE FROM key_checks WHERE key_id <> $1").bind(new.key_id().as_str())
                    .execute(&mut *tx).await.map_err(StoreError::query(OP))?;
                sqlx::query(
                    "INSERT INTO key_checks (key_id, check_value, created_at_ms) VALUES ($1, $2, $3) \
                     ON CONFLICT (key_id) DO NOTHING",
                )
                .bind(new.key_id().as_str())
                .bind(new_sealer.seal(super::key_check::CHECK_PLAINTEXT, super::key_check::CHECK_CONTEXT))
                .bind(now_ms())
                .execute(&mut *tx).await.map_err(StoreError::query(OP))?;
            }
            tx.commit().await.map_err(StoreError::query(OP))?;
        });
        if let Db::Sqlite(pools) = &self.shared.db
            && rekey_file
        {
            let mut writer = pools.writer.acquire().await.map_err(StoreError::query(OP))?;
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut *writer)
                .await
                .map_err(StoreError::query(OP))?;
            let rekey = format!("PRAGMA rekey = \"x'{}'\"", new.sqlcipher_key_hex().as_str());
            sqlx::query(sqlx::AssertSqlSafe(rekey)).execute(&mut *writer).await.map_err(StoreError::query(OP))?;
            report.database_rekeyed = true;
        }
        Ok(report)
    }
}
