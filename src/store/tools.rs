//! Installed WASM tools: version, content hash, manifest and the user's approval.

use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;

use super::StoreError;
use super::columns::Approval;
use super::db::{Shared, now_ms, on_db, on_db_read, returned_row};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstalledTool {
    pub name: String,
    pub version: String,
    /// SHA-256 of the component: approval is for these exact bytes.
    pub content_hash: String,
    pub manifest: Value,
    pub approval: Approval,
    pub installed_at_ms: i64,
    pub approved_at_ms: Option<i64>,
}

type ToolTuple = (String, String, String, Json<Value>, String, i64, Option<i64>);

/// The installed-tools table.
#[derive(Clone)]
pub struct InstalledTools {
    shared: Shared,
}

impl InstalledTools {
    pub(crate) fn new(shared: Shared) -> InstalledTools {
        InstalledTools { shared }
    }

    /// Installs or updates a tool. Different bytes (a new content hash) reset approval to
    /// pending: the user approved the old code, not this one.
    pub async fn install(
        &self,
        name: &str,
        version: &str,
        content_hash: &str,
        manifest: &Value,
    ) -> Result<Approval, StoreError> {
        let op = "install tool";
        let approval: String = on_db!(&self.shared.db, pool => sqlx::query_scalar(
            "INSERT INTO installed_tools (name, version, content_hash, manifest, approval, installed_at_ms) \
             VALUES ($1, $2, $3, $4, 'pending', $5) ON CONFLICT (name) DO UPDATE SET version = excluded.version, \
             manifest = excluded.manifest, installed_at_ms = excluded.installed_at_ms, \
             approval = CASE WHEN installed_tools.content_hash = excluded.content_hash THEN installed_tools.approval ELSE 'pending' END, \
             approved_at_ms = CASE WHEN installed_tools.content_hash = excluded.content_hash THEN installed_tools.approved_at_ms ELSE NULL END, \
             content_hash = excluded.content_hash \
             RETURNING approval",
        )
        .bind(name)
        .bind(version)
        .bind(content_hash)
        .bind(Json(manifest))
        .bind(now_ms())
        .fetch_all(pool)
        .await
        .and_then(|rows| returned_row(rows).ok_or(sqlx::Error::RowNotFound)))
        .map_err(StoreError::query(op))?;
        Approval::parse(&approval, op)
    }

    pub async fn set_approval(&self, name: &str, approval: Approval) -> Result<(), StoreError> {
        let op = "set tool approval";
        let approved_at = (approval == Approval::Approved).then(now_ms);
        let done = on_db!(&self.shared.db, pool => sqlx::query(
            "UPDATE installed_tools SET approval = $2, approved_at_ms = $3 WHERE name = $1",
        )
        .bind(name)
        .bind(approval.as_str())
        .bind(approved_at)
        .execute(pool)
        .await.map(|result| result.rows_affected()))
        .map_err(StoreError::query(op))?;
        if done == 0 {
            return Err(StoreError::NotFound { op, what: "installed tool", id: name.to_owned() });
        }
        Ok(())
    }

    pub async fn get(&self, name: &str) -> Result<Option<InstalledTool>, StoreError> {
        let op = "get installed tool";
        let row: Option<ToolTuple> = on_db_read!(&self.shared.db, pool => sqlx::query_as(
            "SELECT name, version, content_hash, manifest, approval, installed_at_ms, approved_at_ms FROM installed_tools WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(pool)
        .await)
        .map_err(StoreError::query(op))?;
        row.map(|row| tool_from_row(row, op)).transpose()
    }

    pub async fn list(&self) -> Result<Vec<InstalledTool>, StoreError> {
        let op = "list installed tools";
        let rows: Vec<ToolTuple> = on_db_read!(&self.shared.db, pool => sqlx::query_as(
            "SELECT name, version, content_hash, manifest, approval, installed_at_ms, approved_at_ms FROM installed_tools ORDER BY name",
        )
        .fetch_all(pool)
        .await)
        .map_err(StoreError::query(op))?;
        rows.into_iter().map(|row| tool_from_row(row, op)).collect()
    }

    /// False when no tool had that name.
    pub async fn remove(&self, name: &str) -> Result<bool, StoreError> {
        let op = "remove tool";
        let done = on_db!(&self.shared.db, pool => sqlx::query("DELETE FROM installed_tools WHERE name = $1").bind(name).execute(pool).await.map(|result| result.rows_affected()))
            .map_err(StoreError::query(op))?;
        Ok(done > 0)
    }
}

fn tool_from_row(row: ToolTuple, op: &'static str) -> Result<InstalledTool, StoreError> {
    let (name, version, content_hash, Json(manifest), approval, installed_at_ms, approved_at_ms) = row;
    Ok(InstalledTool {
        name,
        version,
        content_hash,
        manifest,
        approval: Approval::parse(&approval, op)?,
        installed_at_ms,
        approved_at_ms,
    })
}
