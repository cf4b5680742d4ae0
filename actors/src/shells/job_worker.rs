//! JobWorker: one member of the job pool; claims a persisted job, runs it while renewing its lease, finishes it.
//!
//! The attempt runs in its own task, so the worker keeps handling lease renewals (and health probes) while
//! the job works, and a panic inside the job fails that attempt, not the worker. When idle, the worker waits
//! for the queue port's wake-up (a NOTIFY from any node, a due retry, or the polling fallback).

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::task::{AbortHandle, JoinHandle};
use tracing::{Instrument, debug, info_span, warn};

use crate::health::{HealthProbe, SelfReport};
use crate::ports::{JobLease, JobQueuePort, JobRunOutcome, LeaseStatus};

pub struct JobWorker;

pub enum JobWorkerMsg {
    /// Look for work: sent by the wake-up waiter, and by the worker itself after each job.
    Poll,
    /// Timer while a job runs: extend the lease, and learn whether to stop.
    RenewLease,
    /// The running attempt ended (sent by the attempt's task).
    Finished {
        job_id: i64,
        outcome: JobRunOutcome,
    },
    Health(RpcReplyPort<SelfReport>),
}

impl HealthProbe for JobWorkerMsg {
    fn health_probe(reply: RpcReplyPort<SelfReport>) -> Self {
        JobWorkerMsg::Health(reply)
    }
}

/// Kept by the supervisor's spawn closure; a restarted worker gets the same identity and queue.
#[derive(Clone)]
pub struct JobWorkerArgs {
    /// Lease owner name, unique across nodes: `<node>/<slot>`.
    pub worker: String,
    /// `None` leaves the worker idle (no job queue connected).
    pub queue: Option<Arc<dyn JobQueuePort>>,
}

/// Aborts its task when dropped, so neither a stopped nor a failed worker leaves an attempt or timer behind.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The attempt in progress. Dropping it (finished, cancelled, lost, or the worker stopped or failed) aborts
/// the attempt's tasks and the renewal timer.
struct Running {
    lease: JobLease,
    attempt: AbortHandle,
    watcher: AbortHandle,
    renewals: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.attempt.abort();
        self.watcher.abort();
        self.renewals.abort();
    }
}

pub struct JobWorkerState {
    args: JobWorkerArgs,
    running: Option<Running>,
    /// Waits for the next wake-up while idle.
    waiter: Option<AbortOnDrop>,
    finished: u64,
}

impl Actor for JobWorker {
    type Msg = JobWorkerMsg;
    type State = JobWorkerState;
    type Arguments = JobWorkerArgs;

    async fn pre_start(
        &self,
        me: ActorRef<JobWorkerMsg>,
        args: JobWorkerArgs,
    ) -> Result<JobWorkerState, ActorProcessingErr> {
        if args.queue.is_some() {
            me.cast(JobWorkerMsg::Poll)?;
        }
        Ok(JobWorkerState { args, running: None, waiter: None, finished: 0 })
    }

    async fn handle(
        &self,
        me: ActorRef<JobWorkerMsg>,
        msg: JobWorkerMsg,
        st: &mut JobWorkerState,
    ) -> Result<(), ActorProcessingErr> {
        let span = info_span!(parent: &crate::span::actor_span("job_worker", me.get_id()), "job_worker", worker = %st.args.worker);
        async move {
            match msg {
                JobWorkerMsg::Poll => poll(&me, st).await,
                JobWorkerMsg::RenewLease => renew(&me, st).await,
                JobWorkerMsg::Finished { job_id, outcome } => finished(&me, st, job_id, outcome).await,
                JobWorkerMsg::Health(reply) => {
                    let detail = match (&st.args.queue, &st.running) {
                        (None, _) => "idle, no job queue connected".to_string(),
                        (Some(_), Some(running)) => {
                            format!(
                                "running job {} ({}), {} done",
                                running.lease.job_id, running.lease.kind, st.finished
                            )
                        }
                        (Some(_), None) => format!("idle, {} done", st.finished),
                    };
                    let _ = reply.send(SelfReport::running(detail));
                }
            }
            Ok(())
        }
        .instrument(span)
        .await
    }
}

async fn poll(me: &ActorRef<JobWorkerMsg>, st: &mut JobWorkerState) {
    let Some(queue) = st.args.queue.clone() else { return };
    if st.running.is_some() {
        return;
    }
    match queue.claim(&st.args.worker).await {
        Ok(Some(lease)) => {
            st.waiter = None;
            start(me, st, queue, lease);
        }
        Ok(None) => wait_for_work(me, st, &queue),
        Err(error) => {
            warn!(%error, "could not claim a job; waiting for the next wake-up");
            wait_for_work(me, st, &queue);
        }
    }
}

/// Makes sure exactly one waiter is pending while the worker is idle.
fn wait_for_work(me: &ActorRef<JobWorkerMsg>, st: &mut JobWorkerState, queue: &Arc<dyn JobQueuePort>) {
    if st.waiter.as_ref().is_some_and(|waiter| !waiter.0.is_finished()) {
        return;
    }
    let wake = queue.wait_for_work();
    let me = me.clone();
    st.waiter = Some(AbortOnDrop(tokio::spawn(async move {
        wake.await;
        let _ = me.cast(JobWorkerMsg::Poll);
    })));
}

fn start(me: &ActorRef<JobWorkerMsg>, st: &mut JobWorkerState, queue: Arc<dyn JobQueuePort>, lease: JobLease) {
    let job_id = lease.job_id;
    debug!(job = job_id, kind = %lease.kind, attempt = lease.attempt, "job started");
    let attempt = tokio::spawn(queue.run(lease.clone()));
    let abort = attempt.abort_handle();
    let reporter = me.clone();
    // Waits for the attempt in a second task: a panic in the job becomes a retryable failure of this attempt.
    let watcher = tokio::spawn(async move {
        let outcome = match attempt.await {
            Ok(outcome) => outcome,
            Err(error) if error.is_cancelled() => return,
            Err(error) => JobRunOutcome::Retryable(format!("the job panicked: {error}")),
        };
        let _ = reporter.cast(JobWorkerMsg::Finished { job_id, outcome });
    });
    let every = queue.renew_every().max(Duration::from_millis(10));
    let renewals = me.send_interval(every, || JobWorkerMsg::RenewLease);
    st.running = Some(Running { lease, attempt: abort, watcher: watcher.abort_handle(), renewals });
}

async fn renew(me: &ActorRef<JobWorkerMsg>, st: &mut JobWorkerState) {
    let (Some(queue), Some(running)) = (st.args.queue.clone(), st.running.as_ref()) else { return };
    let job_id = running.lease.job_id;
    match queue.renew(job_id, &st.args.worker).await {
        Ok(LeaseStatus::Held) => {}
        Ok(LeaseStatus::CancelRequested) => {
            let Some(running) = st.running.take() else { return };
            let lease = running.lease.clone();
            drop(running);
            if let Err(error) = queue.finish(&lease, &st.args.worker, JobRunOutcome::Cancelled).await {
                warn!(job = job_id, %error, "could not record the cancellation; the lease will expire");
            }
            st.finished += 1;
            let _ = me.cast(JobWorkerMsg::Poll);
        }
        Ok(LeaseStatus::Lost) => {
            warn!(job = job_id, "lease lost (expired or taken over); abandoning the attempt");
            st.running = None;
            let _ = me.cast(JobWorkerMsg::Poll);
        }
        Err(error) => warn!(job = job_id, %error, "could not renew the lease; trying again"),
    }
}

async fn finished(me: &ActorRef<JobWorkerMsg>, st: &mut JobWorkerState, job_id: i64, outcome: JobRunOutcome) {
    let Some(queue) = st.args.queue.clone() else { return };
    if st.running.as_ref().is_none_or(|running| running.lease.job_id != job_id) {
        return;
    }
    let Some(running) = st.running.take() else { return };
    if let Err(error) = queue.finish(&running.lease, &st.args.worker, outcome).await {
        warn!(job = job_id, %error, "could not record the job's outcome; the lease will expire and it runs again");
    }
    st.finished += 1;
    let _ = me.cast(JobWorkerMsg::Poll);
}
