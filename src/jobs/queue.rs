//! The job queue port over the store: claim, run by kind, renew, finish with backoff, and the per-node waker.
//!
//! One waker task per node listens for the `chitin_jobs` NOTIFY (PostgreSQL), sleeps until the next retry is
//! due or the polling interval ends, requeues expired leases, and wakes the idle workers of this node.

use std::sync::Arc;
use std::time::Duration;

use chitin_actors::ports::{BoxFuture, JobLease, JobQueueError, JobQueuePort, JobRunOutcome, LeaseStatus};
use chitin_actors::{ChannelKind, ConversationId, FinalReply, ReplyEvent, ReplyHub};
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};
use tracing::{Instrument, debug, info, info_span, warn};

use crate::agent::Agent;
use crate::error_chain::describe;
use crate::store::{AuditEntry, ClaimedJob, JobId, JobOutcome, LeaseCheck, Store, now_ms};
use crate::tools::{ToolContext, ToolError, ToolRegistry};

use super::backoff::Backoff;
use super::kinds::{AgentJob, JobSpec, MaintenanceTask, ToolJob};

/// Job counters by final state of an attempt (`succeeded`, `retry`, `failed`, `cancelled`).
pub const JOB_ATTEMPTS: &str = "chitin_job_attempts_total";

/// Timing of the queue on one node, from `[jobs]`.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    pub node: String,
    pub lease: Duration,
    /// Longest an idle worker waits without a wake-up (the polling fallback).
    pub poll: Duration,
    /// Listen for PostgreSQL notifications (off: polling only).
    pub notify: bool,
    pub backoff: Backoff,
}

/// Wake-ups shared by the node's waker task and its idle workers.
#[derive(Clone)]
pub struct JobSignals {
    wake: watch::Sender<u64>,
    /// Asks the waker to look again now (a job was submitted or rescheduled in this process).
    nudge: Arc<Notify>,
}

impl Default for JobSignals {
    fn default() -> Self {
        Self { wake: watch::channel(0).0, nudge: Arc::default() }
    }
}

impl JobSignals {
    /// A job was queued by this process: wake idle workers without waiting for the database's notification.
    pub fn job_queued(&self) {
        self.bump();
        self.nudge.notify_one();
    }

    fn bump(&self) {
        self.wake.send_modify(|version| *version = version.wrapping_add(1));
    }
}

/// This node's name: `jobs.node` when set, else `<hostname>:<pid>` (unique per process on one host).
pub fn node_name(configured: Option<&str>) -> String {
    if let Some(name) = configured.filter(|name| !name.is_empty()) {
        return name.to_string();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "chitin".into());
    format!("{host}:{}", std::process::id())
}

/// Runs each job kind: tool calls through the registry (and so the sandbox pool), agent tasks through a fresh
/// internal session, maintenance in-process.
pub struct JobExecutor {
    pub store: Store,
    pub tools: Arc<ToolRegistry>,
    pub agent: Option<Arc<Agent>>,
    pub hub: ReplyHub,
}

impl JobExecutor {
    pub async fn run(&self, lease: &JobLease) -> JobRunOutcome {
        let spec = match JobSpec::parse(&lease.kind, &lease.payload) {
            Ok(spec) => spec,
            Err(reason) => return JobRunOutcome::Permanent(reason),
        };
        match spec {
            JobSpec::Tool(job) => self.run_tool(lease, job).await,
            JobSpec::Agent(job) => self.run_agent(lease, job).await,
            JobSpec::Maintenance(task) => self.run_maintenance(lease, task).await,
        }
    }

    async fn run_tool(&self, lease: &JobLease, job: ToolJob) -> JobRunOutcome {
        let mut params = job.params;
        // A tool that takes an idempotency key gets the job's, so a retry after a crash can't repeat its effect.
        if let Some(tool) = self.tools.get(&job.tool)
            && tool.spec().parameters.pointer("/properties/idempotency_key").is_some()
            && let Some(object) = params.as_object_mut()
        {
            object.entry("idempotency_key").or_insert_with(|| Value::String(lease.idempotency_key.clone()));
        }
        if self.tools.needs_approval(&job.tool) {
            return JobRunOutcome::Permanent(format!(
                "{} needs the owner's approval before each run, which a job cannot ask for",
                job.tool
            ));
        }
        let tool = match self.tools.validate(&job.tool, &params) {
            Ok(tool) => tool,
            Err(error) => return JobRunOutcome::Permanent(error.to_string()),
        };
        let actor = format!("job:{}", lease.job_id);
        let context = ToolContext { conversation: actor.clone() };
        let started = std::time::Instant::now();
        let result = tool.call(&context, params).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(_) => "error",
        };
        let detail =
            json!({ "outcome": outcome, "attempt": lease.attempt, "ms": started.elapsed().as_millis() as u64 });
        let entry = AuditEntry { actor: &actor, action: "tool_call", target: &job.tool, detail: &detail };
        if let Err(error) = self.store.audit().append(&entry).await {
            warn!(%error, "could not write the audit entry");
        }
        metrics::counter!(crate::metrics::TOOL_CALLS, "tool" => job.tool.clone(), "outcome" => outcome).increment(1);
        match result {
            Ok(output) => JobRunOutcome::Succeeded(output),
            Err(error @ (ToolError::Unknown { .. } | ToolError::InvalidParameters { .. })) => {
                JobRunOutcome::Permanent(error.to_string())
            }
            Err(error) => JobRunOutcome::Retryable(error.to_string()),
        }
    }

    async fn run_agent(&self, lease: &JobLease, job: AgentJob) -> JobRunOutcome {
        let Some(agent) = &self.agent else {
            return JobRunOutcome::Permanent("no agent runs in this process".into());
        };
        let task = ConversationId::new(ChannelKind::Internal, &format!("job-{}", lease.job_id));
        let answer = match agent.run_task(&task, &format!("job-{}-prompt", lease.job_id), &job.prompt).await {
            Ok(answer) => answer,
            Err(error) => return JobRunOutcome::Retryable(error.to_string()),
        };
        if let Some(target) = &job.reply_to
            && let Err(error) = self.post_back(lease, target, &answer).await
        {
            return JobRunOutcome::Retryable(format!("could not post the answer back: {}", describe(&error)));
        }
        JobRunOutcome::Succeeded(answer)
    }

    /// Files the answer as a reply in the asking conversation (once, even when the attempt is repeated).
    async fn post_back(
        &self,
        lease: &JobLease,
        target: &super::kinds::ReplyTarget,
        answer: &str,
    ) -> Result<(), crate::store::StoreError> {
        let jobs = self.store.jobs();
        let job_id = JobId(lease.job_id);
        if jobs.events(job_id).await?.iter().any(|event| event.kind == "posted") {
            return Ok(());
        }
        let conversation_id = self.store.conversations().get_or_create(&target.channel, &target.external_id).await?;
        let text = format!("Job {} finished:\n\n{answer}", lease.job_id);
        let queued = self.store.outbox().enqueue_reply(conversation_id, None, &text).await?.reply();
        jobs.add_event(job_id, "posted", &format!("{}:{}", target.channel, target.external_id)).await?;
        if let Some(kind) = ChannelKind::from_name(&target.channel) {
            let conversation = ConversationId::new(kind, &target.external_id);
            self.hub.publish(
                &conversation,
                ReplyEvent::final_reply(FinalReply {
                    in_reply_to: 0,
                    reply_id: queued.message_id.0,
                    outbox_id: queued.outbox_id.0,
                    text,
                    usage: None,
                }),
            );
        }
        Ok(())
    }

    async fn run_maintenance(&self, lease: &JobLease, task: MaintenanceTask) -> JobRunOutcome {
        match task {
            MaintenanceTask::Noop => JobRunOutcome::Succeeded("{}".into()),
            MaintenanceTask::RequeueExpired => match self.store.jobs().requeue_expired().await {
                Ok(expired) => JobRunOutcome::Succeeded(json!({ "requeued": expired.len() }).to_string()),
                Err(error) => JobRunOutcome::Retryable(describe(&error)),
            },
            MaintenanceTask::Drill { sleep_ms, fail_attempts } => {
                tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
                if lease.attempt <= fail_attempts {
                    JobRunOutcome::Retryable(format!("drill: attempt {} fails on purpose", lease.attempt))
                } else {
                    JobRunOutcome::Succeeded(json!({ "attempt": lease.attempt }).to_string())
                }
            }
        }
    }
}

/// The job queue as the job workers see it.
pub struct StoreJobQueue {
    store: Store,
    settings: QueueSettings,
    signals: JobSignals,
    executor: Arc<JobExecutor>,
}

impl StoreJobQueue {
    /// Starts the node's waker task (stopped when `stop` is dropped or fires) and returns the port.
    pub fn start(
        store: Store,
        settings: QueueSettings,
        signals: JobSignals,
        executor: Arc<JobExecutor>,
    ) -> (Arc<StoreJobQueue>, tokio::task::JoinHandle<()>) {
        let waker = tokio::spawn(
            run_waker(store.clone(), settings.clone(), signals.clone())
                .instrument(info_span!("job_waker", node = %settings.node)),
        );
        (Arc::new(StoreJobQueue { store, settings, signals, executor }), waker)
    }

    pub fn signals(&self) -> &JobSignals {
        &self.signals
    }
}

fn queue_error(error: crate::store::StoreError) -> JobQueueError {
    JobQueueError { reason: describe(&error) }
}

impl JobQueuePort for StoreJobQueue {
    fn claim(&self, worker: &str) -> BoxFuture<'_, Result<Option<JobLease>, JobQueueError>> {
        let worker = worker.to_string();
        Box::pin(async move {
            let claimed = self
                .store
                .jobs()
                .claim_next(&worker, &self.settings.node, self.settings.lease)
                .await
                .map_err(queue_error)?;
            Ok(claimed.map(job_lease))
        })
    }

    fn run(&self, lease: JobLease) -> BoxFuture<'static, JobRunOutcome> {
        let executor = Arc::clone(&self.executor);
        let span = info_span!("job", job = lease.job_id, kind = %lease.kind, attempt = lease.attempt);
        Box::pin(async move { executor.run(&lease).await }.instrument(span))
    }

    fn renew(&self, job_id: i64, worker: &str) -> BoxFuture<'_, Result<LeaseStatus, JobQueueError>> {
        let worker = worker.to_string();
        Box::pin(async move {
            let check = self
                .store
                .jobs()
                .renew_lease(JobId(job_id), &worker, self.settings.lease)
                .await
                .map_err(queue_error)?;
            Ok(match check {
                LeaseCheck::Held => LeaseStatus::Held,
                LeaseCheck::CancelRequested => LeaseStatus::CancelRequested,
                LeaseCheck::Lost => LeaseStatus::Lost,
            })
        })
    }

    fn finish(
        &self,
        lease: &JobLease,
        worker: &str,
        outcome: JobRunOutcome,
    ) -> BoxFuture<'_, Result<(), JobQueueError>> {
        let worker = worker.to_string();
        let job_id = JobId(lease.job_id);
        let attempt = lease.attempt;
        Box::pin(async move {
            let run_after_ms = self.retry_at(attempt);
            let (stored, label) = stored_outcome(&outcome, run_after_ms);
            let held = self.store.jobs().finish(job_id, &worker, stored).await.map_err(queue_error)?;
            self.finished(job_id, held, label);
            Ok(())
        })
    }

    fn finish_and_claim<'a>(
        &'a self,
        lease: &'a JobLease,
        worker: &'a str,
        outcome: JobRunOutcome,
    ) -> BoxFuture<'a, Result<Option<JobLease>, JobQueueError>> {
        let job_id = JobId(lease.job_id);
        Box::pin(async move {
            let run_after_ms = self.retry_at(lease.attempt);
            let (stored, label) = stored_outcome(&outcome, run_after_ms);
            let (held, next) = self
                .store
                .jobs()
                .finish_and_claim_next(job_id, worker, stored, &self.settings.node, self.settings.lease)
                .await
                .map_err(queue_error)?;
            self.finished(job_id, held, label);
            Ok(next.map(job_lease))
        })
    }

    fn wait_for_work(&self) -> BoxFuture<'static, ()> {
        let mut wake = self.signals.wake.subscribe();
        let limit = self.settings.poll.saturating_mul(2);
        Box::pin(async move {
            let _ = tokio::time::timeout(limit, wake.changed()).await;
        })
    }

    fn lease(&self) -> Duration {
        self.settings.lease
    }
}

impl StoreJobQueue {
    /// When a retry of this attempt becomes due.
    fn retry_at(&self, attempt: i64) -> i64 {
        now_ms().saturating_add(
            i64::try_from(self.settings.backoff.delay(attempt, &mut rand::rng()).as_millis()).unwrap_or(i64::MAX),
        )
    }

    /// Counts and logs an attempt whose outcome was recorded (`held`), and wakes the waker for a retry.
    fn finished(&self, job_id: JobId, held: bool, label: &'static str) {
        if !held {
            info!(job = job_id.0, "attempt ended after its lease was lost; its outcome is not recorded");
            return;
        }
        metrics::counter!(JOB_ATTEMPTS, "outcome" => label).increment(1);
        debug!(job = job_id.0, outcome = label, "job attempt finished");
        if label == "retry" {
            // The waker sleeps until the retry is due.
            self.signals.nudge.notify_one();
        }
    }
}

/// The stored form of an attempt's outcome, and its metrics label.
fn stored_outcome(outcome: &JobRunOutcome, run_after_ms: i64) -> (JobOutcome<'_>, &'static str) {
    match outcome {
        JobRunOutcome::Succeeded(result) => (JobOutcome::Succeeded { result }, "succeeded"),
        JobRunOutcome::Permanent(error) => (JobOutcome::Failed { error }, "failed"),
        JobRunOutcome::Retryable(error) => (JobOutcome::Retry { error, run_after_ms }, "retry"),
        JobRunOutcome::Cancelled => (JobOutcome::Cancelled, "cancelled"),
    }
}

fn job_lease(job: ClaimedJob) -> JobLease {
    JobLease {
        job_id: job.id.0,
        kind: job.kind,
        attempt: job.attempts,
        payload: job.payload,
        idempotency_key: job.idempotency_key,
        conversation: job.conversation_id.map(|id| id.0),
    }
}

/// The node's waker: notifications, due retries, the polling fallback, and expired leases.
async fn run_waker(store: Store, settings: QueueSettings, signals: JobSignals) {
    let jobs = store.jobs();
    let mut listener = None;
    let mut listen_retry_at = tokio::time::Instant::now();
    // The sweep keeps its own schedule, so a steady stream of notifications can't postpone it.
    let mut next_sweep = tokio::time::Instant::now() + settings.poll;
    loop {
        if settings.notify && listener.is_none() && tokio::time::Instant::now() >= listen_retry_at {
            match jobs.listen().await {
                Ok(found) => listener = found,
                Err(error) => {
                    warn!(error = %describe(&error), "cannot listen for job notifications; polling until it works");
                    listen_retry_at = tokio::time::Instant::now() + settings.poll.max(Duration::from_secs(1)) * 5;
                }
            }
        }
        let now = now_ms();
        let wake_at = match jobs.next_due_ms().await {
            Ok(Some(due)) if due > now => {
                next_sweep.min(tokio::time::Instant::now() + Duration::from_millis((due - now) as u64))
            }
            _ => next_sweep,
        };
        tokio::select! {
            received = next_notification(&mut listener) => {
                if let Err(error) = received {
                    warn!(%error, "job notifications interrupted; polling until they are back");
                    listener = None;
                }
            }
            () = tokio::time::sleep_until(wake_at) => {}
            () = signals.nudge.notified() => {}
        }
        if tokio::time::Instant::now() >= next_sweep {
            next_sweep = tokio::time::Instant::now() + settings.poll;
            match jobs.requeue_expired().await {
                Ok(expired) => {
                    for lease in &expired {
                        warn!(
                            job = lease.id.0,
                            node = lease.lease_owner.as_deref().unwrap_or("?"),
                            state = lease.state.as_str(),
                            "job lease expired"
                        );
                        metrics::counter!(crate::metrics::REPAIRS, "what" => "job_lease").increment(1);
                    }
                }
                Err(error) => debug!(error = %describe(&error), "could not requeue expired leases"),
            }
        }
        signals.bump();
    }
}

async fn next_notification(listener: &mut Option<sqlx::postgres::PgListener>) -> Result<(), sqlx::Error> {
    match listener {
        Some(listener) => listener.recv().await.map(|_| ()),
        None => std::future::pending().await,
    }
}
