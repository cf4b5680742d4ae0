//! JobWorker: one member of the job pool; claims a persisted job, runs it while renewing its lease, finishes it.
//!
//! The attempt runs in its own task, so the worker keeps handling lease renewals (and health probes) while
//! the job works, and a panic inside the job fails that attempt, not the worker. When idle, the worker waits
//! for the queue port's wake-up (a NOTIFY from any node, a due retry, or the polling fallback).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::task::{AbortHandle, JoinHandle};
use tracing::{Instrument, debug, info_span, warn};

use crate::health::{HealthProbe, SelfReport};
use crate::ports::{JobLease, JobQueuePort, JobRunOutcome, LeaseStatus};

pub struct JobWorker;

/// Longest pause between two tries at recording an outcome while the database is away.
const FINISH_RETRY_MAX: Duration = Duration::from_secs(2);

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
    /// When the lease was last known held (the claim, then each successful renewal): the outcome is worth
    /// recording until a lease period after it.
    held_at: Instant,
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
    let every = (queue.lease() / 3).max(Duration::from_millis(10));
    let renewals = me.send_interval(every, || JobWorkerMsg::RenewLease);
    st.running =
        Some(Running { lease, held_at: Instant::now(), attempt: abort, watcher: watcher.abort_handle(), renewals });
}

async fn renew(me: &ActorRef<JobWorkerMsg>, st: &mut JobWorkerState) {
    let (Some(queue), Some(running)) = (st.args.queue.clone(), st.running.as_ref()) else { return };
    let job_id = running.lease.job_id;
    let asked_at = Instant::now();
    match queue.renew(job_id, &st.args.worker).await {
        Ok(LeaseStatus::Held) => {
            if let Some(running) = st.running.as_mut() {
                running.held_at = asked_at;
            }
        }
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
    // The database may be restarting: keep trying while the lease may still be ours, so a finished job is not
    // run again. After that another node may have taken the job over, and the outcome is no longer ours to write.
    let lease_ends = running.held_at + queue.lease();
    let mut delay = Duration::from_millis(100);
    let mut attempt = 1u32;
    // The outcome and the claim of the next job go together (one commit on PostgreSQL).
    let next = loop {
        match queue.finish_and_claim(&running.lease, &st.args.worker, outcome.clone()).await {
            Ok(next) => break next,
            Err(error) if Instant::now() + delay >= lease_ends => {
                warn!(job = job_id, %error, attempt, "could not record the job's outcome before its lease ran out; it runs again");
                break None;
            }
            Err(error) => {
                warn!(job = job_id, %error, attempt, "could not record the job's outcome; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(FINISH_RETRY_MAX);
                attempt += 1;
            }
        }
    };
    st.finished += 1;
    drop(running);
    match next {
        Some(lease) => {
            st.waiter = None;
            start(me, st, queue, lease);
        }
        None => {
            let _ = me.cast(JobWorkerMsg::Poll);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::ports::{BoxFuture, JobQueueError};

    /// An in-memory queue: hands out the leases it was given, records outcomes, answers renewals as told.
    #[derive(Default)]
    struct FakeQueue {
        pending: Mutex<Vec<JobLease>>,
        finished: Mutex<Vec<(i64, JobRunOutcome)>>,
        renewal: Mutex<Option<LeaseStatus>>,
        renewals: Mutex<u32>,
        /// Outcomes refused (as while the database restarts) before one is taken.
        refuse_finishes: Mutex<u32>,
        finish_calls: Mutex<u32>,
        /// The lease when not the default 60 ms.
        lease: Option<Duration>,
    }

    fn lease(job_id: i64, kind: &str) -> JobLease {
        JobLease {
            job_id,
            kind: kind.into(),
            attempt: 1,
            payload: String::new(),
            idempotency_key: format!("job-{job_id}"),
            conversation: None,
        }
    }

    impl JobQueuePort for FakeQueue {
        fn claim(&self, _worker: &str) -> BoxFuture<'_, Result<Option<JobLease>, JobQueueError>> {
            Box::pin(async move { Ok(self.pending.lock().expect("lock").pop()) })
        }

        fn run(&self, lease: JobLease) -> BoxFuture<'static, JobRunOutcome> {
            Box::pin(async move {
                match lease.kind.as_str() {
                    "panic" => panic!("job told to panic"),
                    "forever" => std::future::pending().await,
                    _ => JobRunOutcome::Succeeded(format!("done {}", lease.job_id)),
                }
            })
        }

        fn renew(&self, _job_id: i64, _worker: &str) -> BoxFuture<'_, Result<LeaseStatus, JobQueueError>> {
            Box::pin(async move {
                *self.renewals.lock().expect("lock") += 1;
                Ok(self.renewal.lock().expect("lock").unwrap_or(LeaseStatus::Held))
            })
        }

        fn finish(
            &self,
            lease: &JobLease,
            _worker: &str,
            outcome: JobRunOutcome,
        ) -> BoxFuture<'_, Result<(), JobQueueError>> {
            let job_id = lease.job_id;
            Box::pin(async move {
                *self.finish_calls.lock().expect("lock") += 1;
                let mut refuse = self.refuse_finishes.lock().expect("lock");
                if *refuse > 0 {
                    *refuse -= 1;
                    return Err(JobQueueError { reason: "connection refused".into() });
                }
                self.finished.lock().expect("lock").push((job_id, outcome));
                Ok(())
            })
        }

        fn wait_for_work(&self) -> BoxFuture<'static, ()> {
            Box::pin(tokio::time::sleep(Duration::from_millis(10)))
        }

        fn lease(&self) -> Duration {
            self.lease.unwrap_or(Duration::from_millis(60))
        }
    }

    async fn until(what: &str, check: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !check() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_panicking_job_fails_its_attempt_and_the_worker_goes_on() {
        let queue = Arc::new(FakeQueue::default());
        queue.pending.lock().expect("lock").extend([lease(2, "ok"), lease(1, "panic")]);
        let args = JobWorkerArgs { worker: "node/0".into(), queue: Some(queue.clone()) };
        let (worker, handle) = Actor::spawn(None, JobWorker, args).await.expect("spawn");
        until("both jobs finished", || queue.finished.lock().expect("lock").len() == 2).await;
        let finished = queue.finished.lock().expect("lock").clone();
        assert!(
            matches!(&finished[0], (1, JobRunOutcome::Retryable(reason)) if reason.contains("panicked")),
            "{finished:?}"
        );
        assert_eq!(finished[1], (2, JobRunOutcome::Succeeded("done 2".into())));
        worker.stop(None);
        handle.await.expect("stopped");
    }

    #[tokio::test]
    async fn a_cancel_seen_at_renewal_stops_the_job_and_a_lost_lease_is_dropped() {
        let queue = Arc::new(FakeQueue::default());
        queue.pending.lock().expect("lock").push(lease(7, "forever"));
        let args = JobWorkerArgs { worker: "node/0".into(), queue: Some(queue.clone()) };
        let (worker, handle) = Actor::spawn(None, JobWorker, args).await.expect("spawn");
        until("renewals", || *queue.renewals.lock().expect("lock") >= 2).await;
        assert!(queue.finished.lock().expect("lock").is_empty(), "still running while the lease is held");
        *queue.renewal.lock().expect("lock") = Some(LeaseStatus::CancelRequested);
        until("cancelled", || !queue.finished.lock().expect("lock").is_empty()).await;
        assert_eq!(queue.finished.lock().expect("lock")[0], (7, JobRunOutcome::Cancelled));

        // A lost lease: the worker stops the attempt and records nothing (another node owns the job now).
        *queue.renewal.lock().expect("lock") = Some(LeaseStatus::Lost);
        queue.pending.lock().expect("lock").push(lease(8, "forever"));
        let _ = worker.cast(JobWorkerMsg::Poll);
        let before = *queue.renewals.lock().expect("lock");
        until("the lost lease is seen", || *queue.renewals.lock().expect("lock") > before).await;
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(queue.finished.lock().expect("lock").len(), 1, "nothing recorded for the lost job");
        let report = crate::health::probe(&worker).await.expect("answers");
        assert!(report.detail.starts_with("idle"), "{}", report.detail);
        worker.stop(None);
        handle.await.expect("stopped");
    }

    #[tokio::test]
    async fn an_outcome_the_queue_refuses_is_retried_while_the_lease_lasts_then_given_up() {
        // Refused three times (about 0.7 s of backoff), well inside a 30 s lease: recorded on the fourth try.
        let queue = Arc::new(FakeQueue {
            refuse_finishes: Mutex::new(3),
            lease: Some(Duration::from_secs(30)),
            ..FakeQueue::default()
        });
        queue.pending.lock().expect("lock").push(lease(1, "ok"));
        let args = JobWorkerArgs { worker: "node/0".into(), queue: Some(queue.clone()) };
        let (worker, handle) = Actor::spawn(None, JobWorker, args).await.expect("spawn");
        until("the outcome is recorded", || !queue.finished.lock().expect("lock").is_empty()).await;
        assert_eq!(*queue.finish_calls.lock().expect("lock"), 4);
        assert_eq!(queue.finished.lock().expect("lock")[0], (1, JobRunOutcome::Succeeded("done 1".into())));
        worker.stop(None);
        handle.await.expect("stopped");

        // Refused for longer than the lease (60 ms, less than the first pause): given up after one try, and the
        // worker goes on to the next job.
        let queue = Arc::new(FakeQueue { refuse_finishes: Mutex::new(1), ..FakeQueue::default() });
        queue.pending.lock().expect("lock").extend([lease(3, "ok"), lease(2, "ok")]);
        let args = JobWorkerArgs { worker: "node/0".into(), queue: Some(queue.clone()) };
        let (worker, handle) = Actor::spawn(None, JobWorker, args).await.expect("spawn");
        until("the next job is recorded", || !queue.finished.lock().expect("lock").is_empty()).await;
        assert_eq!(queue.finished.lock().expect("lock").clone(), vec![(3, JobRunOutcome::Succeeded("done 3".into()))]);
        assert_eq!(*queue.finish_calls.lock().expect("lock"), 2, "job 2's outcome was tried once");
        worker.stop(None);
        handle.await.expect("stopped");
    }
}
