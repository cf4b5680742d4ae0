//! Storage primitives for persisted jobs: enqueue once, claim with a lease, renew, finish, requeue expired leases, events.

use std::time::Duration;

use serde::Serialize;

use super::columns::JobState;
use super::db::{BeginWrite, Db, Shared, millis, now_ms, on_db, on_db_read};
use super::{ConversationId, JobId, StoreError};

pub(crate) const PAYLOAD_CONTEXT: &str = "jobs.payload";
pub(crate) const RESULT_CONTEXT: &str = "jobs.result";

pub(crate) fn event_context(job_id: i64) -> String {
    format!("job_events.detail:{job_id}")
}

/// A job to persist before any worker runs it.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    pub kind: &'a str,
    /// Same key → same job: a retried "start this" request does not start it twice.
    pub idempotency_key: Option<&'a str>,
    pub conversation_id: Option<ConversationId>,
    /// Job input, usually JSON; sealed on PostgreSQL.
    pub payload: &'a str,
    pub max_attempts: i64,
    pub run_after_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EnqueueOutcome {
    Inserted(JobId),
    /// A job with this idempotency key already exists; nothing new was stored.
    Existing(JobId),
}

impl EnqueueOutcome {
    pub fn job_id(self) -> JobId {
        match self {
            EnqueueOutcome::Inserted(id) | EnqueueOutcome::Existing(id) => id,
        }
    }
}

/// A job leased to one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub id: JobId,
    pub kind: String,
    pub conversation_id: Option<ConversationId>,
    pub payload: String,
    /// Including this one.
    pub attempts: i64,
    pub lease_until_ms: i64,
}

/// How a worker ends its lease on a job.
#[derive(Debug, Clone, Copy)]
pub enum JobOutcome<'a> {
    Succeeded {
        result: &'a str,
    },
    /// Final failure, whatever attempts remain.
    Failed {
        error: &'a str,
    },
    /// Try again at `run_after_ms` if attempts remain, else fail.
    Retry {
        error: &'a str,
        run_after_ms: i64,
    },
    Cancelled,
}

/// A job row as `chitin job show` presents it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredJob {
    pub id: JobId,
    pub kind: String,
    pub state: JobState,
    pub conversation_id: Option<ConversationId>,
    pub payload: String,
    pub result: Option<String>,
    pub attempts: i64,
    pub max_attempts: i64,
    pub lease_owner: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// One line of a job's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobEvent {
    pub at_ms: i64,
    pub kind: String,
    pub detail: String,
}

/// (id, kind, conversation id, sealed payload, attempts) as the claim returns them.
type ClaimedRow = (i64, String, Option<i64>, Vec<u8>, i64);

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    kind: String,
    state: String,
    conversation_id: Option<i64>,
    payload: Vec<u8>,
    result: Option<Vec<u8>>,
    attempts: i64,
    max_attempts: i64,
    lease_owner: Option<String>,
    created_at_ms: i64,
    updated_at_ms: i64,
}

/// The persisted job queue.
#[derive(Clone)]
pub struct Jobs {
    shared: Shared,
}

impl Jobs {
    pub(crate) fn new(shared: Shared) -> Jobs {
        Jobs { shared }
    }

    pub async fn enqueue(&self, job: &NewJob<'_>) -> Result<EnqueueOutcome, StoreError> {
        let op = "enqueue job";
        let now = now_ms();
        let payload = self.shared.sealer.seal(job.payload.as_bytes(), PAYLOAD_CONTEXT);
        let inserted: Option<i64> = on_db!(&self.shared.db, pool => sqlx::query_scalar(
            "INSERT INTO jobs (idempotency_key, kind, conversation_id, state, payload, max_attempts, run_after_ms, created_at_ms, updated_at_ms) \
             VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $7) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        )
        .bind(job.idempotency_key)
        .bind(job.kind)
        .bind(job.conversation_id.map(|id| id.0))
        .bind(&payload)
        .bind(job.max_attempts.max(1))
        .bind(job.run_after_ms)
        .bind(now)
        .fetch_optional(pool)
        .await)
        .map_err(StoreError::query(op))?;
        if let Some(id) = inserted {
            return Ok(EnqueueOutcome::Inserted(JobId(id)));
        }
        let existing: i64 =
            on_db!(&self.shared.db, pool => sqlx::query_scalar("SELECT id FROM jobs WHERE idempotency_key = $1")
            .bind(job.idempotency_key)
            .fetch_one(pool)
            .await)
            .map_err(StoreError::query(op))?;
        Ok(EnqueueOutcome::Existing(JobId(existing)))
    }

    /// Leases up to `limit` due queued jobs to `worker`, oldest first; each claim counts an attempt.
    pub async fn claim(&self, worker: &str, lease: Duration, limit: i64) -> Result<Vec<ClaimedJob>, StoreError> {
        let op = "claim jobs";
        let now = now_ms();
        let lease_until = now.saturating_add(millis(lease));
        const CLAIM_POSTGRES: &str = "UPDATE jobs SET state = 'running', lease_owner = $2, lease_until_ms = $3, \
             attempts = attempts + 1, updated_at_ms = $1 WHERE id IN ( \
             SELECT id FROM jobs WHERE state = 'queued' AND run_after_ms <= $1 ORDER BY run_after_ms, id LIMIT $4 \
             FOR UPDATE SKIP LOCKED) RETURNING id, kind, conversation_id, payload, attempts";
        const CLAIM_SQLITE: &str = "UPDATE jobs SET state = 'running', lease_owner = $2, lease_until_ms = $3, \
             attempts = attempts + 1, updated_at_ms = $1 WHERE id IN ( \
             SELECT id FROM jobs WHERE state = 'queued' AND run_after_ms <= $1 ORDER BY run_after_ms, id LIMIT $4) \
             RETURNING id, kind, conversation_id, payload, attempts";
        let claim = match self.shared.db {
            Db::Postgres(_) => CLAIM_POSTGRES,
            Db::Sqlite(_) => CLAIM_SQLITE,
        };
        let rows: Vec<ClaimedRow> = on_db!(&self.shared.db, pool => sqlx::query_as(claim)
            .bind(now)
            .bind(worker)
            .bind(lease_until)
            .bind(limit)
            .fetch_all(pool)
            .await)
        .map_err(StoreError::query(op))?;
        let mut claimed = rows
            .into_iter()
            .map(|(id, kind, conversation_id, payload, attempts)| {
                Ok(ClaimedJob {
                    id: JobId(id),
                    kind,
                    conversation_id: conversation_id.map(ConversationId),
                    payload: self.shared.sealer.open_text(&payload, PAYLOAD_CONTEXT, op)?,
                    attempts,
                    lease_until_ms: lease_until,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        claimed.sort_by_key(|job| job.id);
        Ok(claimed)
    }

    /// Extends `worker`'s lease; false when the lease was lost (expired and requeued, or finished).
    pub async fn renew_lease(&self, job_id: JobId, worker: &str, lease: Duration) -> Result<bool, StoreError> {
        let op = "renew job lease";
        let now = now_ms();
        let done = on_db!(&self.shared.db, pool => sqlx::query(
            "UPDATE jobs SET lease_until_ms = $3, updated_at_ms = $4 WHERE id = $1 AND state = 'running' AND lease_owner = $2",
        )
        .bind(job_id.0)
        .bind(worker)
        .bind(now.saturating_add(millis(lease)))
        .bind(now)
        .execute(pool)
        .await.map(|result| result.rows_affected()))
        .map_err(StoreError::query(op))?;
        Ok(done == 1)
    }

    /// Ends `worker`'s lease with an outcome; false when the worker no longer held the lease, in
    /// which case nothing changes (another worker owns the job now).
    pub async fn finish(&self, job_id: JobId, worker: &str, outcome: JobOutcome<'_>) -> Result<bool, StoreError> {
        let op = "finish job";
        let now = now_ms();
        let (result, event_kind, event_detail) = match outcome {
            JobOutcome::Succeeded { result } => (Some(result), "succeeded", ""),
            JobOutcome::Failed { error } => (None, "failed", error),
            JobOutcome::Retry { error, .. } => (None, "retry", error),
            JobOutcome::Cancelled => (None, "cancelled", ""),
        };
        let sealed_result = result.map(|text| self.shared.sealer.seal(text.as_bytes(), RESULT_CONTEXT));
        let sealed_event = self.shared.sealer.seal(event_detail.as_bytes(), &event_context(job_id.0));
        let run_after_ms = match outcome {
            JobOutcome::Retry { run_after_ms, .. } => run_after_ms,
            _ => now,
        };
        let state_sql = match outcome {
            JobOutcome::Succeeded { .. } => "'succeeded'",
            JobOutcome::Failed { .. } => "'failed'",
            JobOutcome::Cancelled => "'cancelled'",
            JobOutcome::Retry { .. } => "CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END",
        };
        let sql = format!(
            "UPDATE jobs SET state = {state_sql}, result = $3, run_after_ms = $4, lease_owner = NULL, \
             lease_until_ms = NULL, updated_at_ms = $5 WHERE id = $1 AND state = 'running' AND lease_owner = $2"
        );
        on_db!(&self.shared.db, pool => {
            let mut tx = pool.begin_write().await.map_err(StoreError::query(op))?;
            let done = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(job_id.0)
                .bind(worker)
                .bind(&sealed_result)
                .bind(run_after_ms)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(op))?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            sqlx::query("INSERT INTO job_events (job_id, at_ms, kind, detail) VALUES ($1, $2, $3, $4)")
                .bind(job_id.0)
                .bind(now)
                .bind(event_kind)
                .bind(&sealed_event)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(op))?;
            tx.commit().await.map_err(StoreError::query(op))?;
        });
        Ok(true)
    }

    /// Puts jobs whose lease ran out (their worker died) back in the queue, or fails them when
    /// they used all attempts. Returns how many rows changed.
    pub async fn requeue_expired(&self) -> Result<u64, StoreError> {
        let op = "requeue expired jobs";
        let done = on_db!(&self.shared.db, pool => sqlx::query(
            "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END, \
             lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = $1 \
             WHERE state = 'running' AND lease_until_ms <= $1",
        )
        .bind(now_ms())
        .execute(pool)
        .await.map(|result| result.rows_affected()))
        .map_err(StoreError::query(op))?;
        Ok(done)
    }

    pub async fn add_event(&self, job_id: JobId, kind: &str, detail: &str) -> Result<(), StoreError> {
        let op = "add job event";
        let sealed = self.shared.sealer.seal(detail.as_bytes(), &event_context(job_id.0));
        on_db!(&self.shared.db, pool => sqlx::query("INSERT INTO job_events (job_id, at_ms, kind, detail) VALUES ($1, $2, $3, $4)")
            .bind(job_id.0)
            .bind(now_ms())
            .bind(kind)
            .bind(&sealed)
            .execute(pool)
            .await.map(|result| result.rows_affected()))
        .map_err(StoreError::query(op))?;
        Ok(())
    }

    pub async fn events(&self, job_id: JobId) -> Result<Vec<JobEvent>, StoreError> {
        let op = "list job events";
        let rows: Vec<(i64, String, Vec<u8>)> = on_db_read!(&self.shared.db, pool => sqlx::query_as(
            "SELECT at_ms, kind, detail FROM job_events WHERE job_id = $1 ORDER BY id",
        )
        .bind(job_id.0)
        .fetch_all(pool)
        .await)
        .map_err(StoreError::query(op))?;
        rows.into_iter()
            .map(|(at_ms, kind, detail)| {
                Ok(JobEvent {
                    at_ms,
                    kind,
                    detail: self.shared.sealer.open_text(&detail, &event_context(job_id.0), op)?,
                })
            })
            .collect()
    }

    pub async fn get(&self, job_id: JobId) -> Result<Option<StoredJob>, StoreError> {
        let op = "get job";
        let row: Option<JobRow> = on_db_read!(&self.shared.db, pool => sqlx::query_as(
            "SELECT id, kind, state, conversation_id, payload, result, attempts, max_attempts, lease_owner, \
             created_at_ms, updated_at_ms FROM jobs WHERE id = $1",
        )
        .bind(job_id.0)
        .fetch_optional(pool)
        .await)
        .map_err(StoreError::query(op))?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(StoredJob {
            id: JobId(row.id),
            kind: row.kind,
            state: JobState::parse(&row.state, op)?,
            conversation_id: row.conversation_id.map(ConversationId),
            payload: self.shared.sealer.open_text(&row.payload, PAYLOAD_CONTEXT, op)?,
            result: row.result.map(|bytes| self.shared.sealer.open_text(&bytes, RESULT_CONTEXT, op)).transpose()?,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            lease_owner: row.lease_owner,
            created_at_ms: row.created_at_ms,
            updated_at_ms: row.updated_at_ms,
        }))
    }
}
