//! Every transition of a job row on both backends: claim, renew, finish, retry, cancel, expiry, max runtime.

use std::time::Duration;

use chitin::store::{CancelOutcome, JobOutcome, JobState, LeaseCheck, NewJob, now_ms};

use crate::on_both_backends;
use crate::support::store_backends::TestStore;

fn job(key: &str, max_attempts: i64) -> NewJob<'_> {
    NewJob {
        kind: "maintenance",
        idempotency_key: Some(key),
        conversation_id: None,
        payload: r#"{"task":"noop"}"#,
        max_attempts,
        run_after_ms: now_ms() - 1,
        priority: 0,
        max_runtime_ms: None,
    }
}

const LEASE: Duration = Duration::from_secs(60);

async fn every_transition(t: &TestStore) {
    let jobs = t.store.jobs();

    // queued -> running -> succeeded, with the node recorded and kept after the lease ends.
    let ok = jobs.enqueue(&job("ok", 3)).await.unwrap().job_id();
    let claimed = jobs.claim("node-a/0", "node-a", LEASE, 5).await.unwrap();
    assert_eq!(claimed.iter().map(|c| c.id).collect::<Vec<_>>(), vec![ok]);
    assert_eq!(claimed[0].idempotency_key, "ok");
    let running = jobs.get(ok).await.unwrap().unwrap();
    assert_eq!((running.state, running.attempts, running.node.as_deref()), (JobState::Running, 1, Some("node-a")));
    assert!(jobs.finish(ok, "node-a/0", JobOutcome::Succeeded { result: "done" }).await.unwrap());
    let done = jobs.get(ok).await.unwrap().unwrap();
    assert_eq!(
        (done.state, done.result.as_deref(), done.node.as_deref()),
        (JobState::Succeeded, Some("done"), Some("node-a"))
    );
    assert!(done.finished_at_ms.is_some() && done.lease_owner.is_none());

    // running -> queued (retry with backoff) -> not claimable before it is due.
    let flaky = jobs.enqueue(&job("flaky", 2)).await.unwrap().job_id();
    jobs.claim("node-a/0", "node-a", LEASE, 1).await.unwrap();
    let due = now_ms() + 400;
    assert!(jobs.finish(flaky, "node-a/0", JobOutcome::Retry { error: "503", run_after_ms: due }).await.unwrap());
    let queued = jobs.get(flaky).await.unwrap().unwrap();
    assert_eq!((queued.state, queued.result.as_deref(), queued.run_after_ms), (JobState::Queued, Some("503"), due));
    assert!(jobs.claim("node-b/0", "node-b", LEASE, 1).await.unwrap().is_empty(), "not due during its backoff");
    assert_eq!(jobs.next_due_ms().await.unwrap(), Some(due));
    tokio::time::sleep(Duration::from_millis(450)).await;
    // Max attempts: the second attempt's retry fails the job for good.
    let second = jobs.claim("node-b/0", "node-b", LEASE, 1).await.unwrap();
    assert_eq!((second[0].id, second[0].attempts), (flaky, 2));
    assert!(
        jobs.finish(flaky, "node-b/0", JobOutcome::Retry { error: "503 again", run_after_ms: now_ms() }).await.unwrap()
    );
    let failed = jobs.get(flaky).await.unwrap().unwrap();
    assert_eq!((failed.state, failed.attempts, failed.node.as_deref()), (JobState::Failed, 2, Some("node-b")));
    let kinds: Vec<String> = jobs.events(flaky).await.unwrap().into_iter().map(|event| event.kind).collect();
    assert_eq!(kinds, vec!["retry", "failed"], "the last retry, with no attempts left, is the failure");

    // failed -> queued again by an explicit retry, with fresh attempts.
    assert!(jobs.retry(flaky).await.unwrap());
    let again = jobs.get(flaky).await.unwrap().unwrap();
    assert_eq!((again.state, again.attempts), (JobState::Queued, 0));
    assert!(!jobs.retry(ok).await.unwrap(), "a succeeded job is not retried");

    // Cancel a queued job: at once. Cancelling again reports it ended.
    assert_eq!(jobs.cancel(flaky).await.unwrap(), CancelOutcome::Cancelled);
    assert_eq!(jobs.get(flaky).await.unwrap().unwrap().state, JobState::Cancelled);
    assert_eq!(jobs.cancel(flaky).await.unwrap(), CancelOutcome::AlreadyEnded(JobState::Cancelled));
    assert_eq!(jobs.cancel(ok).await.unwrap(), CancelOutcome::AlreadyEnded(JobState::Succeeded));
    assert_eq!(jobs.cancel(chitin::store::JobId(i64::MAX)).await.unwrap(), CancelOutcome::NotFound);

    // Cancel a running job: requested; the worker learns it at renewal and finishes it as cancelled.
    let long = jobs.enqueue(&job("long", 3)).await.unwrap().job_id();
    jobs.claim("node-a/1", "node-a", LEASE, 1).await.unwrap();
    assert_eq!(jobs.renew_lease(long, "node-a/1", LEASE).await.unwrap(), LeaseCheck::Held);
    assert_eq!(jobs.cancel(long).await.unwrap(), CancelOutcome::Requested);
    assert_eq!(jobs.get(long).await.unwrap().unwrap().state, JobState::Running, "still running until its worker stops");
    assert_eq!(jobs.renew_lease(long, "node-a/1", LEASE).await.unwrap(), LeaseCheck::CancelRequested);
    assert!(jobs.finish(long, "node-a/1", JobOutcome::Cancelled).await.unwrap());
    assert_eq!(jobs.get(long).await.unwrap().unwrap().state, JobState::Cancelled);

    // A lease that runs out goes back to the queue; the old worker's renewal and finish are refused.
    let orphan = jobs.enqueue(&job("orphan", 3)).await.unwrap().job_id();
    jobs.claim("node-a/2", "node-a", Duration::ZERO, 1).await.unwrap();
    let expired = jobs.requeue_expired().await.unwrap();
    assert_eq!(
        expired.iter().map(|lease| (lease.id, lease.state)).collect::<Vec<_>>(),
        vec![(orphan, JobState::Queued)]
    );
    assert_eq!(jobs.renew_lease(orphan, "node-a/2", LEASE).await.unwrap(), LeaseCheck::Lost);
    assert!(!jobs.finish(orphan, "node-a/2", JobOutcome::Succeeded { result: "late" }).await.unwrap());
    let retaken = jobs.claim("node-b/2", "node-b", LEASE, 1).await.unwrap();
    assert_eq!((retaken[0].id, retaken[0].attempts), (orphan, 2));
    assert!(jobs.finish(orphan, "node-b/2", JobOutcome::Succeeded { result: "once" }).await.unwrap());

    // Higher priority first among due jobs.
    let low = jobs.enqueue(&job("low", 1)).await.unwrap().job_id();
    let high = jobs.enqueue(&NewJob { priority: 10, ..job("high", 1) }).await.unwrap().job_id();
    let order: Vec<_> =
        [jobs.claim("w", "n", LEASE, 1).await.unwrap()[0].id, jobs.claim("w", "n", LEASE, 1).await.unwrap()[0].id]
            .into();
    assert_eq!(order, vec![high, low]);

    // A job past its max runtime fails, and its worker finds the lease lost.
    let slow = jobs.enqueue(&NewJob { max_runtime_ms: Some(1), ..job("slow", 3) }).await.unwrap().job_id();
    jobs.claim("node-a/3", "node-a", LEASE, 1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(jobs.fail_overdue().await.unwrap(), vec![slow]);
    assert_eq!(jobs.get(slow).await.unwrap().unwrap().state, JobState::Failed);
    assert_eq!(jobs.renew_lease(slow, "node-a/3", LEASE).await.unwrap(), LeaseCheck::Lost);

    let listed = jobs.list(Some(JobState::Cancelled), 10).await.unwrap();
    assert_eq!(listed.iter().map(|job| job.id).collect::<Vec<_>>(), vec![long, flaky]);
    assert_eq!(jobs.list(None, 100).await.unwrap().len(), 7);
}

/// Workers claiming and finishing at the same time (on PostgreSQL their requests share statements): each job is
/// leased once, to the worker that got it, and each outcome is recorded once, only by the lease holder.
async fn concurrent_claims_and_outcomes(t: &TestStore) {
    const JOBS: usize = 300;
    const WORKERS: usize = 24;
    let jobs = t.store.jobs();
    for n in 0..JOBS {
        jobs.enqueue(&job(&format!("many-{n}"), 3)).await.unwrap();
    }
    let mut tasks = tokio::task::JoinSet::new();
    for slot in 0..WORKERS {
        let jobs = jobs.clone();
        tasks.spawn(async move {
            let worker = format!("node-{}/{slot}", slot % 3);
            let node = format!("node-{}", slot % 3);
            let mut done = Vec::new();
            while let Some(claimed) = jobs.claim_next(&worker, &node, LEASE).await.unwrap() {
                let row = jobs.get(claimed.id).await.unwrap().unwrap();
                assert_eq!(
                    (row.lease_owner.as_deref(), row.node.as_deref()),
                    (Some(worker.as_str()), Some(node.as_str()))
                );
                assert_eq!(claimed.attempts, 1);
                // Another worker's outcome is refused, even when it goes out in the same batch as the holder's.
                let (stranger, holder) = tokio::join!(
                    jobs.finish(claimed.id, "someone-else/0", JobOutcome::Failed { error: "not mine" }),
                    jobs.finish(claimed.id, &worker, JobOutcome::Succeeded { result: "mine" }),
                );
                assert_eq!((stranger.unwrap(), holder.unwrap()), (false, true));
                assert!(!jobs.finish(claimed.id, &worker, JobOutcome::Succeeded { result: "again" }).await.unwrap());
                done.push(claimed.id);
            }
            done
        });
    }
    let mut seen = std::collections::HashSet::new();
    while let Some(done) = tasks.join_next().await {
        for id in done.unwrap() {
            assert!(seen.insert(id), "job {} claimed twice", id.0);
        }
    }
    assert_eq!(seen.len(), JOBS);
    for id in seen {
        let row = jobs.get(id).await.unwrap().unwrap();
        assert_eq!((row.state, row.attempts, row.result.as_deref()), (JobState::Succeeded, 1, Some("mine")));
        let kinds: Vec<String> = jobs.events(id).await.unwrap().into_iter().map(|event| event.kind).collect();
        assert_eq!(kinds, vec!["succeeded"]);
    }
}

/// Workers that record each outcome and take their next job in one step (one statement per batch on
/// PostgreSQL): every job runs once, retries come back for a later turn, and a lost lease takes no outcome.
async fn outcome_and_next_claim_in_one_step(t: &TestStore) {
    const JOBS: usize = 200;
    const WORKERS: usize = 16;
    let jobs = t.store.jobs();
    for n in 0..JOBS {
        jobs.enqueue(&job(&format!("turn-{n}"), 2)).await.unwrap();
    }
    let mut tasks = tokio::task::JoinSet::new();
    for slot in 0..WORKERS {
        let jobs = jobs.clone();
        tasks.spawn(async move {
            let worker = format!("node-{}/{slot}", slot % 2);
            let node = format!("node-{}", slot % 2);
            let mut runs = Vec::new();
            let mut next = jobs.claim_next(&worker, &node, LEASE).await.unwrap();
            while let Some(claimed) = next {
                let row = jobs.get(claimed.id).await.unwrap().unwrap();
                assert_eq!(row.lease_owner.as_deref(), Some(worker.as_str()));
                runs.push((claimed.id, claimed.attempts));
                // Every job's first attempt asks for a retry (due at once); its second succeeds.
                let outcome = if claimed.attempts == 1 {
                    JobOutcome::Retry { error: "once more", run_after_ms: now_ms() }
                } else {
                    JobOutcome::Succeeded { result: "done" }
                };
                let (held, following) =
                    jobs.finish_and_claim_next(claimed.id, &worker, outcome, &node, LEASE).await.unwrap();
                assert!(held, "job {} was {worker}'s", claimed.id.0);
                next = following;
                if next.is_none() {
                    // Retries queued by the last turns of other workers may still be waiting.
                    next = jobs.claim_next(&worker, &node, LEASE).await.unwrap();
                }
            }
            runs
        });
    }
    let mut runs = std::collections::HashMap::new();
    while let Some(done) = tasks.join_next().await {
        for (id, attempt) in done.unwrap() {
            assert!(runs.insert((id, attempt), ()).is_none(), "job {} attempt {attempt} ran twice", id.0);
        }
    }
    assert_eq!(runs.len(), JOBS * 2, "two attempts per job");
    for (id, _) in runs.keys().filter(|(_, attempt)| *attempt == 2) {
        let row = jobs.get(*id).await.unwrap().unwrap();
        assert_eq!((row.state, row.attempts), (JobState::Succeeded, 2));
        let kinds: Vec<String> = jobs.events(*id).await.unwrap().into_iter().map(|event| event.kind).collect();
        assert_eq!(kinds, vec!["retry", "succeeded"]);
    }

    // A worker whose lease was taken back records nothing, and still gets its next job.
    let lost = jobs.enqueue(&job("lost", 3)).await.unwrap().job_id();
    let waiting = jobs.enqueue(&job("waiting", 3)).await.unwrap().job_id();
    let claimed = jobs.claim("node-0/0", "node-0", Duration::ZERO, 1).await.unwrap();
    assert_eq!(claimed[0].id, lost);
    assert_eq!(jobs.requeue_expired().await.unwrap().len(), 1);
    let retaken = jobs.claim_next("node-1/0", "node-1", LEASE).await.unwrap().unwrap();
    assert_eq!(retaken.id, lost);
    let (held, next) = jobs
        .finish_and_claim_next(lost, "node-0/0", JobOutcome::Succeeded { result: "late" }, "node-0", LEASE)
        .await
        .unwrap();
    assert_eq!((held, next.map(|job| job.id)), (false, Some(waiting)));
    assert_eq!(jobs.get(lost).await.unwrap().unwrap().state, JobState::Running, "still the new holder's");
}

on_both_backends!(every_transition, concurrent_claims_and_outcomes, outcome_and_next_claim_in_one_step);
