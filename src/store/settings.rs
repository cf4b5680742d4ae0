//! Key/value settings changed at run time (as opposed to the config file).

use serde_json::Value;
use sqlx::types::Json;

use super::StoreError;
use super::db::{Shared, now_ms, on_db, on_db_read};

/// The settings table.
#[derive(Clone)]
pub struct Settings {
    shared: Shared,
}

impl Settings {
    pub(crate) fn new(shared: Shared) -> Settings {
        Settings { shared }
    }

    pub async fn get(&self, key: &str) -> Result<Option<Value>, StoreError> {
        let op = "read setting";
        let value: Option<Json<Value>> =
            on_db_read!(&self.shared.db, pool => sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(pool)
            .await)
            .map_err(StoreError::query(op))?;
        Ok(value.map(|Json(value)| value))
    }

    pub async fn set(&self, key: &str, value: &Value) -> Result<(), StoreError> {
        let op = "write setting";
        on_db!(&self.shared.db, pool => sqlx::query(
            "INSERT INTO settings (key, value, updated_at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at_ms = excluded.updated_at_ms",
        )
        .bind(key)
        .bind(Json(value))
        .bind(now_ms())
        .execute(pool)
        .await.map(|result| result.rows_affected()))
        .map_err(StoreError::query(op))?;
        Ok(())
    }

    /// False when the key was not set.
    pub async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let op = "delete setting";
        let done = on_db!(&self.shared.db, pool => sqlx::query("DELETE FROM settings WHERE key = $1").bind(key).execute(pool).await.map(|result| result.rows_affected()))
            .map_err(StoreError::query(op))?;
        Ok(done > 0)
    }
}
