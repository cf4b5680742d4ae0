//! Rows of the secrets table: ciphertext, nonce and key id. Sealing happens in the secrets service.

use super::StoreError;
use super::db::{Shared, now_ms, on_db, on_db_read};
use crate::crypto::Sealed;

/// One stored secret. The value never exists here in plaintext, on either backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRow {
    pub name: String,
    pub sealed: Sealed,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// (name, ciphertext, nonce, key id, created, updated) as stored.
type SecretTuple = (String, Vec<u8>, Vec<u8>, String, i64, i64);

/// The secrets table.
#[derive(Clone)]
pub struct Secrets {
    shared: Shared,
}

impl Secrets {
    pub(crate) fn new(shared: Shared) -> Secrets {
        Secrets { shared }
    }

    /// Stores or replaces the secret `name`.
    pub async fn put(&self, name: &str, sealed: &Sealed) -> Result<(), StoreError> {
        let op = "store secret";
        on_db!(&self.shared.db, pool => sqlx::query(
            "INSERT INTO secrets (name, ciphertext, nonce, key_id, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (name) DO UPDATE SET ciphertext = excluded.ciphertext, nonce = excluded.nonce, \
             key_id = excluded.key_id, updated_at_ms = excluded.updated_at_ms",
        )
        .bind(name)
        .bind(&sealed.ciphertext)
        .bind(&sealed.nonce)
        .bind(&sealed.key_id)
        .bind(now_ms())
        .execute(pool)
        .await.map(|result| result.rows_affected()))
        .map_err(StoreError::query(op))?;
        Ok(())
    }

    pub async fn get(&self, name: &str) -> Result<Option<SecretRow>, StoreError> {
        let op = "load secret";
        let row: Option<SecretTuple> = on_db_read!(&self.shared.db, pool => sqlx::query_as(
            "SELECT name, ciphertext, nonce, key_id, created_at_ms, updated_at_ms FROM secrets WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(pool)
        .await)
        .map_err(StoreError::query(op))?;
        Ok(row.map(|(name, ciphertext, nonce, key_id, created_at_ms, updated_at_ms)| SecretRow {
            name,
            sealed: Sealed { ciphertext, nonce, key_id },
            created_at_ms,
            updated_at_ms,
        }))
    }

    /// False when no secret had that name.
    pub async fn delete(&self, name: &str) -> Result<bool, StoreError> {
        let op = "delete secret";
        let done = on_db!(&self.shared.db, pool => sqlx::query("DELETE FROM secrets WHERE name = $1").bind(name).execute(pool).await.map(|result| result.rows_affected()))
            .map_err(StoreError::query(op))?;
        Ok(done > 0)
    }

    /// Names only, sorted: listing never touches values.
    pub async fn names(&self) -> Result<Vec<String>, StoreError> {
        let op = "list secrets";
        on_db_read!(&self.shared.db, pool => sqlx::query_scalar("SELECT name FROM secrets ORDER BY name").fetch_all(pool).await)
            .map_err(StoreError::query(op))
    }
}
