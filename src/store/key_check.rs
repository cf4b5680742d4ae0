//! Detects a wrong master key on PostgreSQL at start, before it could write unreadable rows.

use sqlx::PgPool;

use super::StoreError;
use super::db::now_ms;
use super::sealing::Sealer;
use crate::crypto::MasterKey;

pub(crate) const CHECK_PLAINTEXT: &[u8] = b"chitin key check";
pub(crate) const CHECK_CONTEXT: &str = "key_checks";

/// On first use, records a value sealed under this key; later, requires that it opens.
///
/// SQLite needs no such row: SQLCipher refuses the whole file under a wrong key.
/// True once the migrations that create `key_checks` have run.
pub(crate) async fn schema_present(pool: &PgPool) -> Result<bool, StoreError> {
    sqlx::query_scalar("SELECT to_regclass('key_checks') IS NOT NULL")
        .fetch_one(pool)
        .await
        .map_err(StoreError::query("check for the schema"))
}

pub(crate) async fn verify_or_record(
    pool: &PgPool,
    sealer: &Sealer,
    master_key: &MasterKey,
    location: &str,
) -> Result<(), StoreError> {
    let op = "check master key";
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as("SELECT key_id, check_value FROM key_checks")
        .fetch_all(pool)
        .await
        .map_err(StoreError::query(op))?;
    let wrong_key = || StoreError::WrongMasterKey { location: location.to_owned() };
    match rows.iter().find(|(key_id, _)| key_id == master_key.key_id().as_str()) {
        Some((_, check_value)) => match sealer.open(check_value, CHECK_CONTEXT) {
            Ok(plaintext) if plaintext == CHECK_PLAINTEXT => Ok(()),
            _ => Err(wrong_key()),
        },
        None if !rows.is_empty() => Err(wrong_key()),
        None => {
            sqlx::query(
                "INSERT INTO key_checks (key_id, check_value, created_at_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT (key_id) DO NOTHING",
            )
            .bind(master_key.key_id().as_str())
            .bind(sealer.seal(CHECK_PLAINTEXT, CHECK_CONTEXT))
            .bind(now_ms())
            .execute(pool)
            .await
            .map_err(StoreError::query(op))?;
            Ok(())
        }
    }
}
