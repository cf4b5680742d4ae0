//! Routine definitions and their runs; the unique run key makes a routine fire once per slot across nodes.

use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;

use super::columns::{RunState, TriggerKind};
use super::db::{Shared, now_ms, on_db, on_db_read, returned_row};
use super::{JobId, RoutineId, RoutineRunId, StoreError};

/// A routine as the scheduler defines it.
#[derive(Debug, Clone)]
pub struct NewRoutine<'a> {
    pub name: &'a str,
    pub trigger_kind: TriggerKind,
    /// Cron expression, event name or webhook path, depending on `trigger_kind`.
    pub trigger_spec: &'a str,
    /// What to do when it fires; the routines module owns its shape.
    pub action: &'a Value,
    pub enabled: bool,
    pub next_fire_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Routine {
    pub id: RoutineId,
    pub name: String,
    pub trigger_kind: TriggerKind,
    pub trigger_spec: String,
    pub action: Value,
    pub enabled: bool,
    pub next_fire_at_ms: Option<i64>,
}

/// Whether this node won the right to run a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RunStart {
    Started(RoutineRunId),
    /// Another node (or an earlier attempt) already started this run key.
    AlreadyStarted,
}

type RoutineTuple = (i64, String, String, String, Json<Value>, bool, Option<i64>);

const ROUTINE_COLUMNS_SQL: &str =
    "SELECT id, name, trigger_kind, trigger_spec, action, enabled, next_fire_at_ms FROM routines";

/// Routines and routine runs.
#[derive(Clone)]
pub struct Routines {
    shared: Shared,
}

impl Routines {
    pub(crate) fn new(shared: Shared) -> Routines {
        Routines { shared }
    }

    /// Creates the routine or replaces the definition with the same name.
    pub async fn upsert(&self, routine: &NewRoutine<'_>) -> Result<RoutineId, StoreError> {
        let op = "upsert routine";
        let id: i64 = on_db!(&self.shared.db, pool => sqlx::query_scalar(
            "INSERT INTO routines (name, trigger_kind, trigger_spec, action, enabled, next_fire_at_ms, created_at_ms, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (name) DO UPDATE SET trigger_kind = excluded.trigger_kind, \
             trigger_spec = excluded.trigger_spec, action = excluded.action, enabled = excluded.enabled, \
             next_fire_at_ms = excluded.next_fire_at_ms, updated_at_ms = excluded.updated_at_ms RETURNING id",
        )
        .bind(routine.name)
        .bind(routine.trigger_kind.as_str())
        .bind(routine.trigger_spec)
        .bind(Json(routine.action))
        .bind(routine.enabled)
        .bind(routine.next_fire_at_ms)
        .bind(now_ms())
        .fetch_all(pool)
        .await
        .and_then(|rows| returned_row(rows).ok_or(sqlx::Error::RowNotFound)))
        .map_err(StoreError::query(op))?;
        Ok(RoutineId(id))
    }

    pub async fn list(&self) -> Result<Vec<Routine>, StoreError> {
        let op = "list routines";
        let rows: Vec<RoutineTuple> = on_db_read!(&self.shared.db, pool => sqlx::query_as(sqlx::AssertSqlSafe(format!("{ROUTINE_COLUMNS_SQL} ORDER BY name")))
            .fetch_all(pool)
            .await)
        .map_err(StoreError::query(op))?;
        rows.into_iter().map(|row| routine_from_row(row, op)).collect()
    }

    /// Enabled routines whose next fire time has come.
    pub async fn due(&self, now_ms: i64) -> Result<Vec<Routine>, StoreError> {
        let op = "list due routines";
        let sql = format!("{ROUTINE_COLUMNS_SQL} WHERE enabled AND next_fire_at_ms <= $1 ORDER BY next_fire_at_ms, id");
        let rows: Vec<RoutineTuple> =
            on_db_read!(&self.shared.db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(now_ms)
            .fetch_all(pool)
            .await)
            .map_err(StoreError::query(op))?;
        rows.into_iter().map(|row| routine_from_row(row, op)).collect()
    }

    pub async fn get(&self, name: &str) -> Result<Option<Routine>, StoreError> {
        let op = "get routine";
        let row: Option<RoutineTuple> = on_db_read!(&self.shared.db, pool => sqlx::query_as(sqlx::AssertSqlSafe(format!("{ROUTINE_COLUMNS_SQL} WHERE name = $1")))
            .bind(name)
            .fetch_optional(pool)
            .await)
        .map_err(StoreError::query(op))?;
        row.map(|row| routine_from_row(row, op)).transpose()
    }

    pub async fn get_by_id(&self, routine_id: RoutineId) -> Result<Option<Routine>, StoreError> {
        let op = "get routine";
        let row: Option<RoutineTuple> = on_db_read!(&self.shared.db, pool => sqlx::query_as(sqlx::AssertSqlSafe(format!("{ROUTINE_COLUMNS_SQL} WHERE id = $1")))
            .bind(routine_id.0)
            .fetch_optional(pool)
            .await)
        .map_err(StoreError::query(op))?;
        row.map(|row| routine_from_row(row, op)).transpose()
    }

    /// Pauses or resumes a routine, with its next fire time; false when no routine has that name.
    pub async fn set_enabled(
        &self,
        name: &str,
        enabled: bool,
        next_fire_at_ms: Option<i64>,
    ) -> Result<bool, StoreError> {
        let op = "pause or resume routine";
        let done = on_db!(&self.shared.db, pool => sqlx::query("UPDATE routines SET enabled = $2, next_fire_at_ms = $3, updated_at_ms = $4 WHERE name = $1")
            .bind(name)
            .bind(enabled)
            .bind(next_fire_at_ms)
            .bind(now_ms())
            .execute(pool)
            .await.map(|result| result.rows_affected()))
        .map_err(StoreError::query(op))?;
        Ok(done > 0)
    }

    /// Moves the next fire time from `expected` to `next` unless another node already moved it; true when this
    /// call moved it.
    pub async fn advance_next_fire(
        &self,
        routine_id: RoutineId,
        expected: i64,
        next: Option<i64>,
    ) -> Result<bool, StoreError> {
        let op = "advance routine next fire";
        let done = on_db!(&self.shared.db, pool => sqlx::query("UPDATE routines SET next_fire_at_ms = $3, updated_at_ms = $4 WHERE id = $1 AND next_fire_at_ms = $2")
            .bind(routine_id.0)
            .bind(expected)
            .bind(next)
            .bind(now_ms())
            .execute(pool)
            .await.map(|result| result.rows_affected()))
        .map_err(StoreError::query(op))?;
        Ok(done > 0)
    }

    pub async fn set_next_fire(&self, routine_id: RoutineId, next_fire_at_ms: Option<i64>) -> Result<(), StoreError> {
        let op = "set routine next fire";
        on_db!(&self.shared.db, pool => sqlx::query("UPDATE routines SET next_fire_at_ms = $2, updated_at_ms = $3 WHERE id = $1")
            .bind(routine_id.0)
            .bind(next_fire_at_ms)
            .bind(now_ms())
            .execute(pool)
            .await.map(|result| result.rows_affected()))
        .map_err(StoreError::query(op))?;
        Ok(())
    }

    /// Deletes the routine and its runs; false when no routine had that name.
    pub async fn delete(&self, name: &str) -> Result<bool, StoreError> {
        let op = "delete routine";
        let done = on_db!(&self.shared.db, pool => sqlx::query("DELETE FROM routines WHERE name = $1").bind(name).execute(pool).await.map(|result| result.rows_affected()))
            .map_err(StoreError::query(op))?;
        Ok(done > 0)
    }

    /// Claims the run `run_key` (e.g. the cron slot) for this node; the unique key decides.
    pub async fn start_run(
        &self,
        routine_id: RoutineId,
        run_key: &str,
        job_id: Option<JobId>,
    ) -> Result<RunStart, StoreError> {
        let op = "start routine run";
        let id: Option<i64> = on_db!(&self.shared.db, pool => sqlx::query_scalar(
            "INSERT INTO routine_runs (routine_id, run_key, state, job_id, started_at_ms) VALUES ($1, $2, 'running', $3, $4) \
             ON CONFLICT (routine_id, run_key) DO NOTHING RETURNING id",
        )
        .bind(routine_id.0)
        .bind(run_key)
        .bind(job_id.map(|id| id.0))
        .bind(now_ms())
        .fetch_all(pool)
        .await
        .map(returned_row))
        .map_err(StoreError::query(op))?;
        Ok(id.map_or(RunStart::AlreadyStarted, |id| RunStart::Started(RoutineRunId(id))))
    }

    pub async fn finish_run(&self, run_id: RoutineRunId, state: RunState) -> Result<(), StoreError> {
        let op = "finish routine run";
        let done = on_db!(&self.shared.db, pool => sqlx::query("UPDATE routine_runs SET state = $2, finished_at_ms = $3 WHERE id = $1")
            .bind(run_id.0)
            .bind(state.as_str())
            .bind(now_ms())
            .execute(pool)
            .await.map(|result| result.rows_affected()))
        .map_err(StoreError::query(op))?;
        if done == 0 {
            return Err(StoreError::NotFound { op, what: "routine run", id: run_id.to_string() });
        }
        Ok(())
    }

    /// (run key, state, job id, started at) of the latest runs, newest first.
    pub async fn run_details(
        &self,
        routine_id: RoutineId,
        limit: i64,
    ) -> Result<Vec<(String, RunState, Option<JobId>, i64)>, StoreError> {
        let op = "list routine runs";
        let rows: Vec<(String, String, Option<i64>, i64)> = on_db_read!(&self.shared.db, pool => sqlx::query_as(
            "SELECT run_key, state, job_id, started_at_ms FROM routine_runs WHERE routine_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(routine_id.0)
        .bind(limit)
        .fetch_all(pool)
        .await)
        .map_err(StoreError::query(op))?;
        rows.into_iter()
            .map(|(key, state, job_id, started)| Ok((key, RunState::parse(&state, op)?, job_id.map(JobId), started)))
            .collect()
    }

    /// Links a run to the job it queued.
    pub async fn set_run_job(&self, run_id: RoutineRunId, job_id: JobId) -> Result<(), StoreError> {
        let op = "link routine run to its job";
        on_db!(&self.shared.db, pool => sqlx::query("UPDATE routine_runs SET job_id = $2 WHERE id = $1")
            .bind(run_id.0)
            .bind(job_id.0)
            .execute(pool)
            .await.map(|result| result.rows_affected()))
        .map_err(StoreError::query(op))?;
        Ok(())
    }

    /// (run key, state) of the latest runs, newest first.
    pub async fn runs(&self, routine_id: RoutineId, limit: i64) -> Result<Vec<(String, RunState)>, StoreError> {
        let op = "list routine runs";
        let rows: Vec<(String, String)> = on_db_read!(&self.shared.db, pool => sqlx::query_as(
            "SELECT run_key, state FROM routine_runs WHERE routine_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(routine_id.0)
        .bind(limit)
        .fetch_all(pool)
        .await)
        .map_err(StoreError::query(op))?;
        rows.into_iter().map(|(key, state)| Ok((key, RunState::parse(&state, op)?))).collect()
    }
}

fn routine_from_row(row: RoutineTuple, op: &'static str) -> Result<Routine, StoreError> {
    let (id, name, trigger_kind, trigger_spec, Json(action), enabled, next_fire_at_ms) = row;
    Ok(Routine {
        id: RoutineId(id),
        name,
        trigger_kind: TriggerKind::parse(&trigger_kind, op)?,
        trigger_spec,
        action,
        enabled,
        next_fire_at_ms,
    })
}
