//! Group commit for the job queue on PostgreSQL: concurrent workers' requests of one kind share one statement.
//!
//! A no-op job costs a claim and an outcome, and with one statement per job the pool spends its time on round
//! trips and WAL flushes rather than on work. Here every worker still asks for one job and records one outcome,
//! and still gets its own answer only after the commit that made it durable, but the requests that arrive while a
//! statement runs go out together in the next one: the batch size follows the load, and a lone worker pays one
//! channel hop. Three kinds: claims (idle workers), outcomes (cancellations), and turns — an outcome together
//! with the claim of the worker's next job, which is how a busy worker pays one commit per job.
//!
//! The lease stays per worker: a claim batch leases each row to the worker that asked (`lease_owner`), so renewal,
//! cancellation, lease expiry and the "only the lease holder records an outcome" check are unchanged.

use std::collections::HashSet;
use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::{Mutex, mpsc};

use super::StoreError;
use super::db::now_ms;
use super::group_commit::{Gathered, Gathering, Pending, gather, submit};

/// Most requests one statement carries.
const MAX_BATCH: usize = 128;
/// Statements in flight at once per kind: while one waits for its commit, the next one gathers and executes.
const PIPELINE: usize = 2;
/// How often a gatherer yields while waiting for a batch as large as its previous one.
const MAX_YIELDS: usize = 32;
const CLAIM_OP: &str = "claim jobs";
const FINISH_OP: &str = "finish job";
const TURN_OP: &str = "finish job and claim the next";

/// One worker asking for its next job.
pub(crate) struct ClaimRow {
    pub(crate) worker: String,
    pub(crate) node: String,
    pub(crate) lease_until_ms: i64,
}

/// (id, kind, idempotency key, conversation id, sealed payload, attempts) of a job just leased.
pub(crate) type ClaimedRow = (i64, String, Option<String>, Option<i64>, Vec<u8>, i64);

/// The claim statement's row: the asking worker's ordinal (from 1), then the [`ClaimedRow`].
type LeasedRow = (i64, i64, String, Option<String>, Option<i64>, Vec<u8>, i64);

/// One outcome to record; the texts are sealed already.
pub(crate) struct FinishRow {
    pub(crate) job_id: i64,
    pub(crate) worker: String,
    /// `succeeded`, `failed`, `cancelled` or `retry` (queued again, or failed when no attempts are left).
    pub(crate) outcome: &'static str,
    pub(crate) result: Option<Vec<u8>>,
    pub(crate) run_after_ms: i64,
    pub(crate) event_detail: Vec<u8>,
}

/// A worker's outcome and its request for the next job, written in one statement.
pub(crate) struct TurnRow {
    pub(crate) finish: FinishRow,
    pub(crate) node: String,
    pub(crate) lease_until_ms: i64,
}

type Receiver<R, O> = Arc<Mutex<mpsc::Receiver<Pending<R, O>>>>;

/// Handle to the batching tasks; they end when the last handle is dropped.
#[derive(Clone)]
pub(crate) struct JobBatcher {
    claims: mpsc::Sender<Pending<ClaimRow, Option<ClaimedRow>>>,
    finishes: mpsc::Sender<Pending<FinishRow, bool>>,
    turns: mpsc::Sender<Pending<TurnRow, (bool, Option<ClaimedRow>)>>,
}

impl JobBatcher {
    pub(crate) fn spawn(pool: PgPool) -> JobBatcher {
        let (claims, claim_receiver) = mpsc::channel(MAX_BATCH * 4);
        let (finishes, finish_receiver) = mpsc::channel(MAX_BATCH * 4);
        let (turns, turn_receiver) = mpsc::channel(MAX_BATCH * 4);
        let turn_receiver: Receiver<TurnRow, (bool, Option<ClaimedRow>)> = Arc::new(Mutex::new(turn_receiver));
        let claim_receiver: Receiver<ClaimRow, Option<ClaimedRow>> = Arc::new(Mutex::new(claim_receiver));
        let finish_receiver: Receiver<FinishRow, bool> = Arc::new(Mutex::new(finish_receiver));
        for _ in 0..PIPELINE {
            let pool_for_claims = pool.clone();
            tokio::spawn(run(Arc::clone(&claim_receiver), CLAIM_OP, move |rows| {
                let pool = pool_for_claims.clone();
                async move { claim(&pool, &rows).await }
            }));
            let pool_for_finishes = pool.clone();
            tokio::spawn(run(Arc::clone(&finish_receiver), FINISH_OP, move |rows| {
                let pool = pool_for_finishes.clone();
                async move { finish(&pool, &rows).await }
            }));
            let pool_for_turns = pool.clone();
            tokio::spawn(run(Arc::clone(&turn_receiver), TURN_OP, move |rows| {
                let pool = pool_for_turns.clone();
                async move { turn(&pool, &rows).await }
            }));
        }
        JobBatcher { claims, finishes, turns }
    }

    /// Leases the next due job to `row.worker`, if there is one, in the next claim batch.
    pub(crate) async fn claim(&self, row: ClaimRow) -> Result<Option<ClaimedRow>, StoreError> {
        submit(&self.claims, row, CLAIM_OP).await
    }

    /// Records the outcome in the next finish batch; false when the worker no longer held the lease.
    pub(crate) async fn finish(&self, row: FinishRow) -> Result<bool, StoreError> {
        submit(&self.finishes, row, FINISH_OP).await
    }

    /// Records the outcome and leases the worker's next job (if one is due) in the next turn batch.
    pub(crate) async fn turn(&self, row: TurnRow) -> Result<(bool, Option<ClaimedRow>), StoreError> {
        submit(&self.turns, row, TURN_OP).await
    }
}

/// One of the [`PIPELINE`] gatherers of one kind: gathers what is queued (see [`gather`]), runs it as one
/// statement, and answers every caller. Workers answered by the previous batch are usually about to ask again
/// (claim after finish, finish after a no-op job), which is what `gather`'s short wait is for.
async fn run<R, O, W, F>(receiver: Receiver<R, O>, op: &'static str, write: W)
where
    R: Send,
    O: Send,
    W: Fn(Vec<R>) -> F,
    F: Future<Output = Result<Vec<O>, sqlx::Error>>,
{
    let gathering = Gathering { max_batch: MAX_BATCH, max_yields: MAX_YIELDS };
    let mut previous_size = 1;
    loop {
        let gathered = gather(&mut *receiver.lock().await, previous_size, gathering, std::future::pending()).await;
        let Gathered::Batch(batch) = gathered else {
            return;
        };
        previous_size = batch.len();
        let size = batch.len();
        let (rows, replies): (Vec<R>, Vec<_>) = batch.into_iter().map(|pending| (pending.row, pending.reply)).unzip();
        match write(rows).await {
            Ok(outputs) => {
                for (reply, output) in replies.into_iter().zip(outputs) {
                    // The caller may have given up waiting; the row is written regardless.
                    let _ = reply.send(Ok(output));
                }
            }
            Err(error) => {
                tracing::debug!(size, %error, op, "job batch failed; its workers retry");
                let retryable = super::error::is_transient(&error);
                let error = Arc::new(error);
                for reply in replies {
                    let _ = reply.send(Err(StoreError::QueryShared { op, retryable, source: Arc::clone(&error) }));
                }
            }
        }
    }
}

/// Leases one due job to each asking worker (the n-th picked row to the n-th worker), skipping rows another
/// claim is locking; highest priority, then oldest, first.
const CLAIM_BATCH: &str = "WITH asking AS ( \
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS t(worker, node, lease_until_ms, n)), \
     picked AS ( \
         SELECT id, row_number() OVER () AS n FROM ( \
             SELECT id FROM jobs WHERE state = 'queued' AND run_after_ms <= $4 \
             ORDER BY priority DESC, run_after_ms, id LIMIT $5 FOR UPDATE SKIP LOCKED) due) \
     UPDATE jobs j SET state = 'running', lease_owner = a.worker, node = a.node, lease_until_ms = a.lease_until_ms, \
         attempts = j.attempts + 1, updated_at_ms = $4, started_at_ms = $4 \
     FROM picked p JOIN asking a ON a.n = p.n WHERE j.id = p.id \
     RETURNING a.n, j.id, j.kind, j.idempotency_key, j.conversation_id, j.payload, j.attempts";

async fn claim(pool: &PgPool, rows: &[ClaimRow]) -> Result<Vec<Option<ClaimedRow>>, sqlx::Error> {
    let now = now_ms();
    let leased: Vec<LeasedRow> = sqlx::query_as(CLAIM_BATCH)
        .bind(rows.iter().map(|row| row.worker.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|row| row.node.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|row| row.lease_until_ms).collect::<Vec<_>>())
        .bind(now)
        .bind(rows.len() as i64)
        .fetch_all(pool)
        .await?;
    let mut answers: Vec<Option<ClaimedRow>> = rows.iter().map(|_| None).collect();
    for (n, id, kind, idempotency_key, conversation_id, payload, attempts) in leased {
        // Ordinals count from 1.
        if let Some(answer) = usize::try_from(n - 1).ok().and_then(|index| answers.get_mut(index)) {
            *answer = Some((id, kind, idempotency_key, conversation_id, payload, attempts));
        }
    }
    Ok(answers)
}

/// The body of the `ended` step of [`FINISH_BATCH`] and [`TURN_BATCH`] (its `RETURNING` is theirs): every job whose
/// lease the reporting worker still holds gets its outcome, a retry with no attempts left becoming a failure.
/// Reads `input` (id, worker, outcome, result, run_after_ms) and the time `$7`.
macro_rules! end_held_leases {
    () => {
        "UPDATE jobs j SET \
             state = CASE WHEN i.outcome <> 'retry' THEN i.outcome \
                 WHEN j.attempts >= j.max_attempts THEN 'failed' ELSE 'queued' END, \
             result = i.result, run_after_ms = i.run_after_ms, lease_owner = NULL, lease_until_ms = NULL, \
             updated_at_ms = $7, \
             finished_at_ms = CASE WHEN i.outcome = 'retry' AND j.attempts < j.max_attempts THEN NULL ELSE $7 END \
         FROM input i WHERE j.id = i.id AND j.state = 'running' AND j.lease_owner = i.worker "
    };
}

/// The `logged` step of both: one event per ended lease, named after the new state (`retry` for a job queued again).
macro_rules! log_ended_leases {
    () => {
        "logged AS ( \
         INSERT INTO job_events (job_id, at_ms, kind, detail) \
         SELECT id, $7, CASE WHEN state = 'queued' THEN 'retry' ELSE state END, detail FROM ended ORDER BY id)"
    };
}

/// Ends each lease its worker still holds with the outcome, and writes one event per ended lease: the new
/// state's name, or `retry` for a job queued again (a retry with no attempts left is a failure). Returns the
/// (job, worker) pairs whose lease ended.
const FINISH_BATCH: &str = concat!(
    "WITH input AS ( \
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bytea[], $5::bigint[], $6::bytea[]) \
         AS t(id, worker, outcome, result, run_after_ms, detail)), \
     ended AS (",
    end_held_leases!(),
    "RETURNING j.id, j.state, i.worker, i.detail), ",
    log_ended_leases!(),
    " SELECT id, worker FROM ended"
);

async fn finish(pool: &PgPool, rows: &[FinishRow]) -> Result<Vec<bool>, sqlx::Error> {
    // A worker holds one lease at a time, so a (job, worker) pair appears once per batch; should it not, the
    // first outcome is written and the repeats are answered "not held". Outcomes of other workers for the same
    // job (a lost lease racing its new holder) match no row and are refused by the statement itself.
    let mut seen = HashSet::new();
    let unique: Vec<&FinishRow> = rows.iter().filter(|row| seen.insert((row.job_id, row.worker.as_str()))).collect();
    let ended: Vec<(i64, String)> = sqlx::query_as(FINISH_BATCH)
        .bind(unique.iter().map(|row| row.job_id).collect::<Vec<_>>())
        .bind(unique.iter().map(|row| row.worker.as_str()).collect::<Vec<_>>())
        .bind(unique.iter().map(|row| row.outcome).collect::<Vec<_>>())
        .bind(unique.iter().map(|row| row.result.as_deref()).collect::<Vec<_>>())
        .bind(unique.iter().map(|row| row.run_after_ms).collect::<Vec<_>>())
        .bind(unique.iter().map(|row| row.event_detail.as_slice()).collect::<Vec<_>>())
        .bind(now_ms())
        .fetch_all(pool)
        .await?;
    let mut ended: HashSet<(i64, String)> = ended.into_iter().collect();
    Ok(rows.iter().map(|row| ended.remove(&(row.job_id, row.worker.clone()))).collect())
}

/// [`FINISH_BATCH`] and [`CLAIM_BATCH`] in one statement: the outcomes are recorded and each reporting worker
/// is leased its next due job. The claim reads the statement's snapshot, where the jobs being ended are still
/// running, so no row is changed twice (a job queued again for a retry waits for a later claim).
const TURN_BATCH: &str = concat!(
    "WITH input AS ( \
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bytea[], $5::bigint[], $6::bytea[], \
             $8::text[], $9::bigint[]) \
         WITH ORDINALITY AS t(id, worker, outcome, result, run_after_ms, detail, node, lease_until_ms, n)), \
     ended AS (",
    end_held_leases!(),
    "RETURNING i.n, j.state, i.detail, j.id), ",
    log_ended_leases!(),
    ", \
     picked AS ( \
         SELECT id, row_number() OVER () AS n FROM ( \
             SELECT id FROM jobs WHERE state = 'queued' AND run_after_ms <= $7 \
             ORDER BY priority DESC, run_after_ms, id LIMIT $10 FOR UPDATE SKIP LOCKED) due), \
     leased AS ( \
         UPDATE jobs j SET state = 'running', lease_owner = i.worker, node = i.node, \
             lease_until_ms = i.lease_until_ms, attempts = j.attempts + 1, updated_at_ms = $7, started_at_ms = $7 \
         FROM picked p JOIN input i ON i.n = p.n WHERE j.id = p.id \
         RETURNING i.n, j.id, j.kind, j.idempotency_key, j.conversation_id, j.payload, j.attempts) \
     SELECT n, TRUE, NULL::bigint, NULL::text, NULL::text, NULL::bigint, NULL::bytea, NULL::bigint FROM ended \
     UNION ALL \
     SELECT n, FALSE, id, kind, idempotency_key, conversation_id, payload, attempts FROM leased"
);

/// One row of [`TURN_BATCH`]: the worker's ordinal, then either "its lease ended" or the job it was leased.
type TurnResultRow =
    (i64, bool, Option<i64>, Option<String>, Option<String>, Option<i64>, Option<Vec<u8>>, Option<i64>);

async fn turn(pool: &PgPool, rows: &[TurnRow]) -> Result<Vec<(bool, Option<ClaimedRow>)>, sqlx::Error> {
    // As in `finish`: a (job, worker) pair appears once per batch; a repeat is answered "not held" and gets no job.
    let mut seen = HashSet::new();
    let unique: Vec<usize> = (0..rows.len())
        .filter(|&index| seen.insert((rows[index].finish.job_id, rows[index].finish.worker.as_str())))
        .collect();
    let finish = |index: &usize| &rows[*index].finish;
    let results: Vec<TurnResultRow> = sqlx::query_as(TURN_BATCH)
        .bind(unique.iter().map(|index| finish(index).job_id).collect::<Vec<_>>())
        .bind(unique.iter().map(|index| finish(index).worker.as_str()).collect::<Vec<_>>())
        .bind(unique.iter().map(|index| finish(index).outcome).collect::<Vec<_>>())
        .bind(unique.iter().map(|index| finish(index).result.as_deref()).collect::<Vec<_>>())
        .bind(unique.iter().map(|index| finish(index).run_after_ms).collect::<Vec<_>>())
        .bind(unique.iter().map(|index| finish(index).event_detail.as_slice()).collect::<Vec<_>>())
        .bind(now_ms())
        .bind(unique.iter().map(|index| rows[*index].node.as_str()).collect::<Vec<_>>())
        .bind(unique.iter().map(|index| rows[*index].lease_until_ms).collect::<Vec<_>>())
        .bind(unique.len() as i64)
        .fetch_all(pool)
        .await?;
    let mut answers: Vec<(bool, Option<ClaimedRow>)> = rows.iter().map(|_| (false, None)).collect();
    for (n, ended, id, kind, idempotency_key, conversation_id, payload, attempts) in results {
        // Ordinals count from 1 and index `unique`.
        let Some(&index) = usize::try_from(n - 1).ok().and_then(|position| unique.get(position)) else { continue };
        if ended {
            answers[index].0 = true;
        } else if let (Some(id), Some(kind), Some(payload), Some(attempts)) = (id, kind, payload, attempts) {
            answers[index].1 = Some((id, kind, idempotency_key, conversation_id, payload, attempts));
        }
    }
    Ok(answers)
}
