//! Storage primitives for persisted jobs: enqueue once, claim with a lease, renew, finish, requeue expired leases, events.

use std::time::Duration;

use serde::Serialize;

use super::columns::JobState;
use super::db::{BeginWrite, Db, Shared, millis, now_ms, on_db, on_db_read, returned_row};
use super::job_batch::{ClaimRow, ClaimedRow, FinishRow, TurnRow};
use super::{ConversationId, JobId, StoreError};

pub(crate) const PAYLOAD_CONTEXT: &str = "jobs.payload";
pub(crate) const RESULT_CONTEXT: &str = "jobs.result";
/// The PostgreSQL channel the `jobs_queued_notify` trigger notifies.
pub const NOTIFY_CHANNEL: &str = "chitin_jobs";

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
    /// Higher runs first among due jobs.
    pub priority: i64,
    /// The repairer fails a job still running this long after its attempt started.
    pub max_runtime_ms: Option<i64>,
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
    /// Given to side effects (the submitted key, or `job-<id>`), so a retry after a crash can't repeat them.
    pub idempotency_key: String,
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
    pub idempotency_key: Option<String>,
    pub conversation_id: Option<ConversationId>,
    pub payload: String,
    /// The result of a succeeded job, or the error of the last failed attempt.
    pub result: Option<String>,
    pub attempts: i64,
    pub max_attempts: i64,
    pub priority: i64,
    pub lease_owner: Option<String>,
    pub lease_until_ms: Option<i64>,
    /// The node that ran (or runs) the latest attempt.
    pub node: Option<String>,
    pub cancel_requested: bool,
    pub run_after_ms: i64,
    pub max_runtime_ms: Option<i64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
}

/// One line of `chitin job list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobSummary {
    pub id: JobId,
    pub kind: String,
    pub state: JobState,
    pub attempts: i64,
    pub max_attempts: i64,
    pub node: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A job that ended, as event routines see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutcomeEvent {
    pub event_id: i64,
    pub job_id: JobId,
    pub kind: String,
    pub state: JobState,
    pub idempotency_key: Option<String>,
}

/// What a worker learns when it renews its lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseCheck {
    Held,
    /// Still held, and someone asked to cancel the job: stop and finish it as cancelled.
    CancelRequested,
    /// Expired and taken back (or finished elsewhere): stop without finishing.
    Lost,
}

/// What `cancel` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CancelOutcome {
    /// It was queued and is now cancelled.
    Cancelled,
    /// It is running; its worker stops it at its next lease renewal.
    Requested,
    /// It had already ended in this state.
    AlreadyEnded(JobState),
    NotFound,
}

/// A job whose lease ran out, as `requeue_expired` handled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredLease {
    pub id: JobId,
    /// Queued again, or failed for good when it had no attempts left.
    pub state: JobState,
    pub lease_owner: Option<String>,
}

/// One line of a job's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobEvent {
    pub at_ms: i64,
    pub kind: String,
    pub detail: String,
}

/// (id, kind, state, attempts, max attempts, node, created, updated) as `list` reads them.
type SummaryRow = (i64, String, String, i64, i64, Option<String>, i64, i64);

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    kind: String,
    state: String,
    idempotency_key: Option<String>,
    conversation_id: Option<i64>,
    payload: Vec<u8>,
    result: Option<Vec<u8>>,
    attempts: i64,
    max_attempts: i64,
    priority: i64,
    lease_owner: Option<String>,
    lease_until_ms: Option<i64>,
    node: Option<String>,
    cancel_requested: bool,
    run_after_ms: i64,
    max_runtime_ms: Option<i64>,
    created_at_ms: i64,
    updated_at_ms: i64,
    started_at_ms: Option<i64>,
    finished_at_ms: Option<i64>,
}

const JOB_COLUMNS_SQL: &str = "SELECT id, kind, state, idempotency_key, conversation_id, payload, result, attempts, \
     max_attempts, priority, lease_owner, lease_until_ms, node, cancel_requested, run_after_ms, max_runtime_ms, \
     created_at_ms, updated_at_ms, started_at_ms, finished_at_ms FROM jobs";

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
            "INSERT INTO jobs (idempotency_key, kind, conversation_id, state, payload, max_attempts, run_after_ms, created_at_ms, updated_at_ms, priority, max_runtime_ms) \
             VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $7, $8, $9) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        )
        .bind(job.idempotency_key)
        .bind(job.kind)
        .bind(job.conversation_id.map(|id| id.0))
        .bind(&payload)
        .bind(job.max_attempts.max(1))
        .bind(job.run_after_ms)
        .bind(now)
        .bind(job.priority)
        .bind(job.max_runtime_ms)
        .fetch_all(pool)
        .await
        .map(returned_row))
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

    /// Leases up to `limit` due queued jobs to `worker` of `node`, highest priority then oldest first; each
    /// claim counts an attempt. PostgreSQL skips rows another node is claiming; SQLite has one writer.
    pub async fn claim(
        &self,
        worker: &str,
        node: &str,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        let op = "claim jobs";
        let now = now_ms();
        let lease_until = now.saturating_add(millis(lease));
        const CLAIM_POSTGRES: &str = "UPDATE jobs SET state = 'running', lease_owner = $2, lease_until_ms = $3, \
             attempts = attempts + 1, updated_at_ms = $1, started_at_ms = $1, node = $5 WHERE id IN ( \
             SELECT id FROM jobs WHERE state = 'queued' AND run_after_ms <= $1 ORDER BY priority DESC, run_after_ms, id \
             LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING id, kind, idempotency_key, conversation_id, payload, attempts";
        const CLAIM_SQLITE: &str = "UPDATE jobs SET state = 'running', lease_owner = $2, lease_until_ms = $3, \
             attempts = attempts + 1, updated_at_ms = $1, started_at_ms = $1, node = $5 WHERE id IN ( \
             SELECT id FROM jobs WHERE state = 'queued' AND run_after_ms <= $1 ORDER BY priority DESC, run_after_ms, id \
             LIMIT $4) RETURNING id, kind, idempotency_key, conversation_id, payload, attempts";
        let claim = match self.shared.db {
            Db::Postgres(_) => CLAIM_POSTGRES,
            Db::Sqlite(_) => CLAIM_SQLITE,
        };
        let rows: Vec<ClaimedRow> = on_db!(&self.shared.db, pool => sqlx::query_as(claim)
            .bind(now)
            .bind(worker)
            .bind(lease_until)
            .bind(limit)
            .bind(node)
            .fetch_all(pool)
            .await)
        .map_err(StoreError::query(op))?;
        let mut claimed =
            rows.into_iter().map(|row| self.claimed(row, lease_until, op)).collect::<Result<Vec<_>, StoreError>>()?;
        claimed.sort_by_key(|job| job.id);
        Ok(claimed)
    }

    /// Leases the next due job to `worker` of `node`, if there is one. On PostgreSQL the claims of concurrent
    /// workers go out together (one statement and one commit for all of them, each row leased to the worker that
    /// asked for it); on SQLite this is [`Jobs::claim`] of one job.
    pub async fn claim_next(
        &self,
        worker: &str,
        node: &str,
        lease: Duration,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        let Some(batcher) = &self.shared.job_batcher else {
            return Ok(self.claim(worker, node, lease, 1).await?.pop());
        };
        let lease_until = now_ms().saturating_add(millis(lease));
        let row = ClaimRow { worker: worker.to_string(), node: node.to_string(), lease_until_ms: lease_until };
        batcher.claim(row).await?.map(|row| self.claimed(row, lease_until, "claim jobs")).transpose()
    }

    fn claimed(&self, row: ClaimedRow, lease_until_ms: i64, op: &'static str) -> Result<ClaimedJob, StoreError> {
        let (id, kind, idempotency_key, conversation_id, payload, attempts) = row;
        Ok(ClaimedJob {
            id: JobId(id),
            kind,
            idempotency_key: idempotency_key.unwrap_or_else(|| format!("job-{id}")),
            conversation_id: conversation_id.map(ConversationId),
            payload: self.shared.sealer.open_text(&payload, PAYLOAD_CONTEXT, op)?,
            attempts,
            lease_until_ms,
        })
    }

    /// Extends `worker`'s lease and tells it whether to go on, stop (cancel requested) or give up (lost).
    pub async fn renew_lease(&self, job_id: JobId, worker: &str, lease: Duration) -> Result<LeaseCheck, StoreError> {
        let op = "renew job lease";
        let now = now_ms();
        let cancel: Option<bool> = on_db!(&self.shared.db, pool => sqlx::query_scalar(
            "UPDATE jobs SET lease_until_ms = $3, updated_at_ms = $4 WHERE id = $1 AND state = 'running' AND lease_owner = $2 \
             RETURNING cancel_requested",
        )
        .bind(job_id.0)
        .bind(worker)
        .bind(now.saturating_add(millis(lease)))
        .bind(now)
        .fetch_all(pool)
        .await
        .map(returned_row))
        .map_err(StoreError::query(op))?;
        Ok(match cancel {
            None => LeaseCheck::Lost,
            Some(true) => LeaseCheck::CancelRequested,
            Some(false) => LeaseCheck::Held,
        })
    }

    /// Ends `worker`'s lease with an outcome; false when the worker no longer held the lease, in
    /// which case nothing changes (another worker owns the job now).
    ///
    /// On PostgreSQL the outcomes of concurrent workers go out together: one statement and one commit for all.
    pub async fn finish(&self, job_id: JobId, worker: &str, outcome: JobOutcome<'_>) -> Result<bool, StoreError> {
        let op = "finish job";
        let now = now_ms();
        let row = self.finish_row(job_id, worker, outcome, now);
        if let Some(batcher) = &self.shared.job_batcher {
            return batcher.finish(row).await;
        }
        let state_sql = match outcome {
            JobOutcome::Succeeded { .. } => "'succeeded'",
            JobOutcome::Failed { .. } => "'failed'",
            JobOutcome::Cancelled => "'cancelled'",
            JobOutcome::Retry { .. } => "CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END",
        };
        let sql = format!(
            "UPDATE jobs SET state = {state_sql}, result = $3, run_after_ms = $4, lease_owner = NULL, \
             lease_until_ms = NULL, updated_at_ms = $5, \
             finished_at_ms = CASE WHEN {state_sql} = 'queued' THEN NULL ELSE $5 END \
             WHERE id = $1 AND state = 'running' AND lease_owner = $2 RETURNING state"
        );
        on_db!(&self.shared.db, pool => {
            let mut tx = pool.begin_write().await.map_err(StoreError::query(op))?;
            let state: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(job_id.0)
                .bind(worker)
                .bind(&row.result)
                .bind(row.run_after_ms)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::query(op))?;
            let Some(state) = state else {
                return Ok(false);
            };
            // A retry with no attempts left is the job's failure: event routines watch for `failed`.
            let event_kind = if state == "failed" { "failed" } else { row.outcome };
            sqlx::query("INSERT INTO job_events (job_id, at_ms, kind, detail) VALUES ($1, $2, $3, $4)")
                .bind(job_id.0)
                .bind(now)
                .bind(event_kind)
                .bind(&row.event_detail)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(op))?;
            tx.commit().await.map_err(StoreError::query(op))?;
        });
        Ok(true)
    }

    /// The outcome as the finish statements write it: its name (`retry` for a retry), the sealed result and event
    /// detail, and when a retried job may run again (`now` for the others).
    fn finish_row(&self, job_id: JobId, worker: &str, outcome: JobOutcome<'_>, now: i64) -> FinishRow {
        let (result, event_kind, event_detail, run_after_ms) = match outcome {
            JobOutcome::Succeeded { result } => (Some(result), "succeeded", "", now),
            JobOutcome::Failed { error } => (Some(error), "failed", error, now),
            JobOutcome::Retry { error, run_after_ms } => (Some(error), "retry", error, run_after_ms),
            JobOutcome::Cancelled => (None, "cancelled", "", now),
        };
        FinishRow {
            job_id: job_id.0,
            worker: worker.to_string(),
            outcome: event_kind,
            result: result.map(|text| self.shared.sealer.seal(text.as_bytes(), RESULT_CONTEXT)),
            run_after_ms,
            event_detail: self.shared.sealer.seal(event_detail.as_bytes(), &event_context(job_id.0)),
        }
    }

    /// [`Jobs::finish`], then [`Jobs::claim_next`] for the same worker: on PostgreSQL in one statement and one
    /// commit (batched with other workers' turns), so a busy worker pays one commit per job instead of two.
    /// Returns whether the lease was still held (as `finish`) and the next job, if one was due.
    pub async fn finish_and_claim_next(
        &self,
        job_id: JobId,
        worker: &str,
        outcome: JobOutcome<'_>,
        node: &str,
        lease: Duration,
    ) -> Result<(bool, Option<ClaimedJob>), StoreError> {
        let Some(batcher) = &self.shared.job_batcher else {
            let held = self.finish(job_id, worker, outcome).await?;
            return Ok((held, self.claim_next(worker, node, lease).await?));
        };
        let now = now_ms();
        let lease_until = now.saturating_add(millis(lease));
        let row = TurnRow {
            finish: self.finish_row(job_id, worker, outcome, now),
            node: node.to_string(),
            lease_until_ms: lease_until,
        };
        let (held, next) = batcher.turn(row).await?;
        Ok((held, next.map(|row| self.claimed(row, lease_until, "claim jobs")).transpose()?))
    }

    /// Puts jobs whose lease ran out (their worker died) back in the queue, or fails them when
    /// they used all attempts, with an event on each. Returns what changed.
    pub async fn requeue_expired(&self) -> Result<Vec<ExpiredLease>, StoreError> {
        let op = "requeue expired jobs";
        let now = now_ms();
        let detail = "lease expired: the worker stopped renewing it";
        let rows: Vec<(i64, String, Option<String>)> = on_db!(&self.shared.db, pool => {
            let mut tx = pool.begin_write().await.map_err(StoreError::query(op))?;
            let rows: Vec<(i64, String, Option<String>)> = sqlx::query_as(
                "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END, \
                 finished_at_ms = CASE WHEN attempts >= max_attempts THEN $1 ELSE NULL END, \
                 lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = $1 \
                 WHERE state = 'running' AND lease_until_ms <= $1 RETURNING id, state, node",
            )
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::query(op))?;
            for (id, _, _) in &rows {
                sqlx::query("INSERT INTO job_events (job_id, at_ms, kind, detail) VALUES ($1, $2, 'lease_expired', $3)")
                    .bind(id)
                    .bind(now)
                    .bind(self.shared.sealer.seal(detail.as_bytes(), &event_context(*id)))
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query(op))?;
            }
            tx.commit().await.map_err(StoreError::query(op))?;
            rows
        });
        rows.into_iter()
            .map(|(id, state, node)| {
                Ok(ExpiredLease { id: JobId(id), state: JobState::parse(&state, op)?, lease_owner: node })
            })
            .collect()
    }

    /// Fails running jobs whose attempt has been running longer than their `max_runtime_ms`; their
    /// worker finds its lease lost at the next renewal and stops.
    pub async fn fail_overdue(&self) -> Result<Vec<JobId>, StoreError> {
        let op = "fail overdue jobs";
        let now = now_ms();
        let detail = "ran longer than its max_runtime";
        let ids: Vec<i64> = on_db!(&self.shared.db, pool => {
            let mut tx = pool.begin_write().await.map_err(StoreError::query(op))?;
            let ids: Vec<i64> = sqlx::query_scalar(
                "UPDATE jobs SET state = 'failed', result = NULL, lease_owner = NULL, lease_until_ms = NULL, \
                 updated_at_ms = $1, finished_at_ms = $1 \
                 WHERE state = 'running' AND max_runtime_ms IS NOT NULL AND started_at_ms + max_runtime_ms <= $1 RETURNING id",
            )
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::query(op))?;
            for id in &ids {
                sqlx::query("INSERT INTO job_events (job_id, at_ms, kind, detail) VALUES ($1, $2, 'failed', $3)")
                    .bind(id)
                    .bind(now)
                    .bind(self.shared.sealer.seal(detail.as_bytes(), &event_context(*id)))
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query(op))?;
            }
            tx.commit().await.map_err(StoreError::query(op))?;
            ids
        });
        Ok(ids.into_iter().map(JobId).collect())
    }

    /// Cancels a queued job at once, or asks the worker of a running one to stop.
    pub async fn cancel(&self, job_id: JobId) -> Result<CancelOutcome, StoreError> {
        let op = "cancel job";
        let now = now_ms();
        let sealed = self.shared.sealer.seal(b"cancelled by request", &event_context(job_id.0));
        on_db!(&self.shared.db, pool => {
            let mut tx = pool.begin_write().await.map_err(StoreError::query(op))?;
            let state: Option<String> = sqlx::query_scalar(
                "UPDATE jobs SET state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END, \
                 cancel_requested = CASE WHEN state = 'running' THEN TRUE ELSE cancel_requested END, \
                 finished_at_ms = CASE WHEN state = 'queued' THEN $2 ELSE finished_at_ms END, updated_at_ms = $2 \
                 WHERE id = $1 RETURNING state",
            )
            .bind(job_id.0)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::query(op))?;
            let outcome = match state.as_deref() {
                None => CancelOutcome::NotFound,
                Some("cancelled") => CancelOutcome::Cancelled,
                Some("running") => CancelOutcome::Requested,
                Some(other) => CancelOutcome::AlreadyEnded(JobState::parse(other, op)?),
            };
            // A job cancelled before this call stays as it was: "already ended", without a second event.
            let outcome = if outcome == CancelOutcome::Cancelled {
                let fresh: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM job_events WHERE job_id = $1 AND kind = 'cancelled'",
                )
                .bind(job_id.0)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::query(op))?;
                if fresh > 0 { CancelOutcome::AlreadyEnded(JobState::Cancelled) } else { CancelOutcome::Cancelled }
            } else {
                outcome
            };
            if matches!(outcome, CancelOutcome::Cancelled | CancelOutcome::Requested) {
                let kind = if outcome == CancelOutcome::Cancelled { "cancelled" } else { "cancel_requested" };
                sqlx::query("INSERT INTO job_events (job_id, at_ms, kind, detail) VALUES ($1, $2, $3, $4)")
                    .bind(job_id.0)
                    .bind(now)
                    .bind(kind)
                    .bind(&sealed)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query(op))?;
            }
            tx.commit().await.map_err(StoreError::query(op))?;
            Ok(outcome)
        })
    }

    /// Queues a failed or cancelled job again with a fresh set of attempts; false when it is not in one of those states.
    pub async fn retry(&self, job_id: JobId) -> Result<bool, StoreError> {
        let op = "retry job";
        let now = now_ms();
        let done = on_db!(&self.shared.db, pool => sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = 0, run_after_ms = $2, cancel_requested = FALSE, \
             finished_at_ms = NULL, updated_at_ms = $2 WHERE id = $1 AND state IN ('failed', 'cancelled')",
        )
        .bind(job_id.0)
        .bind(now)
        .execute(pool)
        .await.map(|result| result.rows_affected()))
        .map_err(StoreError::query(op))?;
        if done == 1 {
            self.add_event(job_id, "retry_requested", "").await?;
        }
        Ok(done == 1)
    }

    /// The newest jobs first, optionally only those in `state`.
    pub async fn list(&self, state: Option<JobState>, limit: i64) -> Result<Vec<JobSummary>, StoreError> {
        let op = "list jobs";
        let rows: Vec<SummaryRow> = on_db_read!(&self.shared.db, pool => sqlx::query_as(
            "SELECT id, kind, state, attempts, max_attempts, node, created_at_ms, updated_at_ms FROM jobs \
             WHERE ($1 IS NULL OR state = $1) ORDER BY id DESC LIMIT $2",
        )
        .bind(state.map(JobState::as_str))
        .bind(limit)
        .fetch_all(pool)
        .await)
        .map_err(StoreError::query(op))?;
        rows.into_iter()
            .map(|(id, kind, state, attempts, max_attempts, node, created_at_ms, updated_at_ms)| {
                Ok(JobSummary {
                    id: JobId(id),
                    kind,
                    state: JobState::parse(&state, op)?,
                    attempts,
                    max_attempts,
                    node,
                    created_at_ms,
                    updated_at_ms,
                })
            })
            .collect()
    }

    /// When the earliest queued job becomes due, so an idle pool knows when to look again.
    pub async fn next_due_ms(&self) -> Result<Option<i64>, StoreError> {
        let op = "next due job";
        on_db_read!(&self.shared.db, pool => sqlx::query_scalar("SELECT min(run_after_ms) FROM jobs WHERE state = 'queued'")
            .fetch_one(pool)
            .await)
        .map_err(StoreError::query(op))
    }

    /// PostgreSQL only: a connection listening for "a job became queued" from any node.
    pub async fn listen(&self) -> Result<Option<sqlx::postgres::PgListener>, StoreError> {
        let op = "listen for queued jobs";
        let Db::Postgres(pool) = &self.shared.db else { return Ok(None) };
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await.map_err(StoreError::query(op))?;
        listener.listen(NOTIFY_CHANNEL).await.map_err(StoreError::query(op))?;
        Ok(Some(listener))
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

    /// Job endings (succeeded, failed, cancelled) recorded after event `after`, oldest first: the feed of
    /// routines triggered by job outcomes.
    pub async fn outcomes_after(&self, after: i64, limit: i64) -> Result<Vec<JobOutcomeEvent>, StoreError> {
        let op = "list job outcomes";
        let rows: Vec<(i64, i64, String, String, Option<String>)> =
            on_db_read!(&self.shared.db, pool => sqlx::query_as(
            "SELECT e.id, e.job_id, j.kind, e.kind, j.idempotency_key FROM job_events e JOIN jobs j ON j.id = e.job_id \
             WHERE e.id > $1 AND e.kind IN ('succeeded', 'failed', 'cancelled') ORDER BY e.id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await)
            .map_err(StoreError::query(op))?;
        rows.into_iter()
            .map(|(event_id, job_id, kind, state, idempotency_key)| {
                Ok(JobOutcomeEvent {
                    event_id,
                    job_id: JobId(job_id),
                    kind,
                    state: JobState::parse(&state, op)?,
                    idempotency_key,
                })
            })
            .collect()
    }

    /// The newest job event id (0 when there is none).
    pub async fn last_event_id(&self) -> Result<i64, StoreError> {
        let op = "find the last job event";
        let id: Option<i64> = on_db_read!(&self.shared.db, pool => sqlx::query_scalar("SELECT max(id) FROM job_events")
            .fetch_one(pool)
            .await)
        .map_err(StoreError::query(op))?;
        Ok(id.unwrap_or(0))
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
        let sql = format!("{JOB_COLUMNS_SQL} WHERE id = $1");
        let row: Option<JobRow> = on_db_read!(&self.shared.db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(job_id.0)
        .fetch_optional(pool)
        .await)
        .map_err(StoreError::query(op))?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(StoredJob {
            id: JobId(row.id),
            kind: row.kind,
            state: JobState::parse(&row.state, op)?,
            idempotency_key: row.idempotency_key,
            conversation_id: row.conversation_id.map(ConversationId),
            payload: self.shared.sealer.open_text(&row.payload, PAYLOAD_CONTEXT, op)?,
            result: row.result.map(|bytes| self.shared.sealer.open_text(&bytes, RESULT_CONTEXT, op)).transpose()?,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            priority: row.priority,
            lease_owner: row.lease_owner,
            lease_until_ms: row.lease_until_ms,
            node: row.node,
            cancel_requested: row.cancel_requested,
            run_after_ms: row.run_after_ms,
            max_runtime_ms: row.max_runtime_ms,
            created_at_ms: row.created_at_ms,
            updated_at_ms: row.updated_at_ms,
            started_at_ms: row.started_at_ms,
            finished_at_ms: row.finished_at_ms,
        }))
    }
}
