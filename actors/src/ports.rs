//! Ports: the small traits through which actor shells reach the services that `chitin` implements.
//!
//! Nothing here knows HTTP, SQL or wasmtime; the root crate provides the implementations.

use std::future::Future;
use std::pin::Pin;

use crate::message::{ConversationId, Inbound};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a turn could not be completed; the session logs it and the runner has already told the user.
#[derive(Debug, thiserror::Error)]
#[error("turn in {conversation} failed: {reason}")]
pub struct TurnError {
    pub conversation: ConversationId,
    pub reason: String,
}

/// Runs one agent turn for one conversation: prompt, LLM, tools, reply.
///
/// The runner owns delivering the reply (it writes the outbox); the session actor only guarantees that turns of
/// one conversation run one at a time, in arrival order, and that conversations never wait for each other.
pub trait TurnRunner: Send + Sync + 'static {
    /// Rebuilds what a fresh session needs and returns inbound messages that were accepted but never answered,
    /// oldest first, so a session restarted after a crash answers them once.
    fn resume(&self, conversation: &ConversationId) -> BoxFuture<'_, Result<Vec<Inbound>, TurnError>>;

    fn run_turn(&self, inbound: Inbound) -> BoxFuture<'_, Result<(), TurnError>>;

    /// The conversation's session stopped (idle or shutdown): forget anything kept in memory for it.
    fn stopped(&self, _conversation: &ConversationId) {}

    /// The conversation's session kept failing and was dropped: answer what it left unanswered with an honest
    /// error, so no caller waits for a reply that will not come.
    fn abandon(&self, conversation: &ConversationId, reason: &str) -> BoxFuture<'_, Result<(), TurnError>>;
}

/// Progress of one memory indexing batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexProgress {
    /// Files taken off the queue in this batch (indexed, unchanged, removed or skipped).
    pub done: usize,
    /// Files still queued.
    pub remaining: usize,
}

/// Why a batch stopped; the files stay queued.
#[derive(Debug, thiserror::Error)]
#[error("memory indexing failed: {reason}")]
pub struct IndexError {
    pub reason: String,
}

/// The memory service's indexing queue, drained by the `MemoryIndexer`.
pub trait MemoryIndexPort: Send + Sync + 'static {
    /// Indexes up to `limit` queued files, oldest first, removing each from the queue once done.
    fn index_batch(&self, limit: usize) -> BoxFuture<'_, Result<IndexProgress, IndexError>>;
}

/// What one step of the vector index catch-up did (PostgreSQL's HNSW graph behind its queue).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VectorIndexProgress {
    /// Chunks moved from the queue into the graph by this step.
    pub absorbed: u64,
    /// Chunks still queued (searchable already, by an exact scan).
    pub pending: u64,
    /// The step rebuilt the whole graph instead of inserting a batch.
    pub rebuilt: bool,
    /// Another node holds the catch-up lock; this step did nothing.
    pub busy: bool,
}

/// The memory service's vector index catch-up, driven by the `MemoryVectorIndexer`.
pub trait VectorIndexPort: Send + Sync + 'static {
    /// One step: a batch of queued chunks, or a rebuild when many are queued. `'static`, so the
    /// actor can run a long rebuild in a task and keep answering health probes.
    fn absorb_step(&self) -> BoxFuture<'static, Result<VectorIndexProgress, IndexError>>;
}

/// One WASM tool call as the sandbox pool sees it: names and JSON text only, so the bus knows nothing of wasmtime.
#[derive(Debug, Clone)]
pub struct ToolExecution {
    pub tool: String,
    /// The parameters as a JSON object, already validated against the tool's schema.
    pub params: String,
    /// Identifies the call in logs and the audit log.
    pub call_id: String,
    /// The conversation the call runs for.
    pub session: String,
}

/// Why a tool call produced no result; the message is the typed error the model and the owner see.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ToolExecutionError {
    /// The sandbox ran the call and it failed (denied capability, fuel exhausted, timeout, bad output, …).
    #[error("{reason}")]
    Failed { tool: String, reason: String },
    /// The call could not reach the sandbox (pool down or not answering in time).
    #[error("the sandbox could not run {tool}: {reason}")]
    Unavailable { tool: String, reason: String },
}

/// Runs WASM tool calls: the sandbox implements it; the pool actor bounds and isolates the calls it forwards.
pub trait ToolExecutor: Send + Sync + 'static {
    fn execute(&self, execution: ToolExecution) -> BoxFuture<'static, Result<String, ToolExecutionError>>;
}

/// A job leased to one worker, as the bus sees it: ids and opaque text only.
#[derive(Debug, Clone)]
pub struct JobLease {
    pub job_id: i64,
    pub kind: String,
    /// This attempt's number, from 1.
    pub attempt: i64,
    /// Opaque to the bus; the port that claimed it knows how to run it.
    pub payload: String,
    pub idempotency_key: String,
    pub conversation: Option<i64>,
}

/// How one attempt of a job ended, as its runner reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobRunOutcome {
    Succeeded(String),
    /// Worth another attempt (after backoff), if any remain.
    Retryable(String),
    /// Will fail the same way again: fail now, whatever attempts remain.
    Permanent(String),
    Cancelled,
}

/// What a worker learns when it renews its lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseStatus {
    Held,
    /// Stop the run and finish the job as cancelled.
    CancelRequested,
    /// The lease expired and the job went back to the queue (or ended): stop without finishing it.
    Lost,
}

/// Why the job queue could not be reached; the worker logs it and tries again on the next wake-up.
#[derive(Debug, Clone, thiserror::Error)]
#[error("job queue: {reason}")]
pub struct JobQueueError {
    pub reason: String,
}

/// The persisted job queue and the job kinds' runners, as the `JobSupervisor` and its workers use them.
pub trait JobQueuePort: Send + Sync + 'static {
    /// Leases the next due job to `worker`, if there is one.
    fn claim(&self, worker: &str) -> BoxFuture<'_, Result<Option<JobLease>, JobQueueError>>;

    /// Runs one attempt; the future is polled in its own task, so a panic there fails only this attempt.
    fn run(&self, lease: JobLease) -> BoxFuture<'static, JobRunOutcome>;

    fn renew(&self, job_id: i64, worker: &str) -> BoxFuture<'_, Result<LeaseStatus, JobQueueError>>;

    /// Ends the lease with the outcome (retries get their backoff here).
    fn finish(
        &self,
        lease: &JobLease,
        worker: &str,
        outcome: JobRunOutcome,
    ) -> BoxFuture<'_, Result<(), JobQueueError>>;

    /// Ends the lease with the outcome and leases the worker's next due job, if any: one step where the queue can
    /// do both at once (one commit instead of two). Retrying after an error is safe: an outcome already recorded
    /// is not recorded again. The default finishes, then claims.
    fn finish_and_claim<'a>(
        &'a self,
        lease: &'a JobLease,
        worker: &'a str,
        outcome: JobRunOutcome,
    ) -> BoxFuture<'a, Result<Option<JobLease>, JobQueueError>> {
        Box::pin(async move {
            self.finish(lease, worker, outcome).await?;
            self.claim(worker).await
        })
    }

    /// Resolves when there may be new work: a notification from any node, a due retry, or the polling fallback.
    fn wait_for_work(&self) -> BoxFuture<'static, ()>;

    /// How long a claim or a renewal holds the job. The worker renews every third of it, and keeps trying to
    /// record an outcome for as long as it may still hold the lease.
    fn lease(&self) -> std::time::Duration;
}

/// Why a scheduler pass failed; the Scheduler logs it and tries again at the next tick.
#[derive(Debug, Clone, thiserror::Error)]
#[error("scheduler: {reason}")]
pub struct SchedulerError {
    pub reason: String,
}

/// Routines and the heartbeat, as the `Scheduler` actor drives them.
pub trait SchedulerPort: Send + Sync + 'static {
    /// Fires what is due (schedules, events); returns how many routines fired on this node.
    fn tick(&self) -> BoxFuture<'_, Result<u64, SchedulerError>>;

    /// Acts on the heartbeat file if it has content; false when it was skipped (empty or missing).
    fn heartbeat(&self) -> BoxFuture<'_, Result<bool, SchedulerError>>;

    /// `None`: no heartbeat.
    fn heartbeat_every(&self) -> Option<std::time::Duration>;
}

/// What one repair sweep healed, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RepairReport {
    pub jobs_requeued: u64,
    pub jobs_failed: u64,
    pub replies_redelivered: u64,
    pub turns_resumed: u64,
    pub routines_rescheduled: u64,
}

impl RepairReport {
    pub fn total(&self) -> u64 {
        self.jobs_requeued
            + self.jobs_failed
            + self.replies_redelivered
            + self.turns_resumed
            + self.routines_rescheduled
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("repair sweep: {reason}")]
pub struct RepairError {
    pub reason: String,
}

/// The checks the `Repairer` runs each sweep.
pub trait RepairPort: Send + Sync + 'static {
    fn sweep(&self) -> BoxFuture<'_, Result<RepairReport, RepairError>>;
}
