//! The job pool end to end in one process: JobWorker actors claim, retry with backoff, fail by policy, cancel.

use std::time::Duration;

use chitin::jobs::{JobError, JobSpec, JobSubmission, ToolJob, parse_spec};
use chitin::store::JobState;
use serde_json::json;

use super::support::{Backend, drill, ended, service, start, wait_for};

async fn runs_retries_fails_and_cancels(backend: Backend) {
    let Some(chitin) = start(backend, &[]).await else { return };
    let service = service(&chitin);
    let store = service.store().clone();

    // A tool call through the registry.
    let echo = JobSpec::Tool(ToolJob { tool: "echo".into(), params: json!({"text": "from a job"}) });
    let echo_id = service.submit_job(&JobSubmission::new(echo)).await.unwrap().job_id();
    let done = wait_for(&store, echo_id, Duration::from_secs(10), ended).await;
    assert_eq!((done.state, done.result.as_deref(), done.attempts), (JobState::Succeeded, Some("from a job"), 1));
    assert!(done.node.is_some(), "the node that ran it is recorded");

    // Two failed attempts, then success: the retries wait 200 ms, then 400 ms (±20 %).
    let flaky_id = service.submit_job(&drill(0, 2, 3)).await.unwrap().job_id();
    let flaky = wait_for(&store, flaky_id, Duration::from_secs(10), ended).await;
    assert_eq!((flaky.state, flaky.attempts), (JobState::Succeeded, 3));
    let events = store.jobs().events(flaky_id).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|event| event.kind.as_str()).collect();
    assert_eq!(kinds, vec!["retry", "retry", "succeeded"]);
    let first_gap = events[1].at_ms - events[0].at_ms;
    let second_gap = events[2].at_ms - events[1].at_ms;
    assert!(first_gap >= 160, "first retry waited {first_gap} ms, backoff is 200 ms ± 20 %");
    assert!(second_gap >= 320, "second retry waited {second_gap} ms, backoff is 400 ms ± 20 %");
    assert!(second_gap > first_gap, "backoff grows: {first_gap} ms then {second_gap} ms");

    // Out of attempts: failed, with the last error kept.
    let doomed_id = service.submit_job(&drill(0, 5, 2)).await.unwrap().job_id();
    let doomed = wait_for(&store, doomed_id, Duration::from_secs(10), ended).await;
    assert_eq!((doomed.state, doomed.attempts), (JobState::Failed, 2));
    assert!(doomed.result.as_deref().unwrap_or_default().contains("fails on purpose"), "{doomed:?}");

    // Cancel a queued job (not due for a minute) and a running one (sleeping for a minute).
    let mut later = drill(0, 0, 1);
    later.delay_ms = 60_000;
    let later_id = service.submit_job(&later).await.unwrap().job_id();
    assert_eq!(store.jobs().cancel(later_id).await.unwrap(), chitin::store::CancelOutcome::Cancelled);
    let long_id = service.submit_job(&drill(60_000, 0, 1)).await.unwrap().job_id();
    wait_for(&store, long_id, Duration::from_secs(10), |job| job.state == JobState::Running).await;
    assert_eq!(store.jobs().cancel(long_id).await.unwrap(), chitin::store::CancelOutcome::Requested);
    let cancelled = wait_for(&store, long_id, Duration::from_secs(5), ended).await;
    assert_eq!(cancelled.state, JobState::Cancelled, "stopped at the next renewal (every 500 ms)");
    assert_eq!(store.jobs().get(later_id).await.unwrap().unwrap().state, JobState::Cancelled);

    // The pool is free again after the cancellation.
    let after_id = service.submit_job(&drill(0, 0, 1)).await.unwrap().job_id();
    assert_eq!(wait_for(&store, after_id, Duration::from_secs(10), ended).await.state, JobState::Succeeded);
    chitin.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_on_sqlite() {
    runs_retries_fails_and_cancels(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_on_postgres() {
    let _shared = crate::support::store_backends::postgres_shared_lock().await;
    runs_retries_fails_and_cancels(Backend::Postgres).await;
}

/// Unknown kinds and tools and oversized payloads are refused when submitted, with errors that say why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_jobs_are_refused_at_submit_time() {
    let Some(chitin) = start(Backend::Sqlite, &[("CHITIN_JOBS__MAX_PAYLOAD_BYTES", "1024")]).await else { return };
    let service = service(&chitin);
    let nope = JobSpec::Tool(ToolJob { tool: "nope".into(), params: json!({}) });
    let error = service.submit_job(&JobSubmission::new(nope)).await.unwrap_err();
    assert!(matches!(&error, JobError::UnknownTool { tool } if tool == "nope"), "{error}");

    let big = JobSpec::Tool(ToolJob { tool: "echo".into(), params: json!({"text": "x".repeat(2000)}) });
    let error = service.submit_job(&JobSubmission::new(big)).await.unwrap_err();
    assert!(error.to_string().contains("over the limit of 1024 bytes"), "{error}");

    let error = parse_spec("shell", r#"{"cmd": "rm -rf /"}"#).unwrap_err();
    assert!(matches!(&error, JobError::UnknownKind { kind } if kind == "shell"), "{error}");
    let error = parse_spec("tool", r#"{"tool": "echo", "params": "not an object"}"#).unwrap_err();
    assert!(error.to_string().contains("JSON object"), "{error}");
    assert_eq!(service.store().jobs().list(None, 10).await.unwrap().len(), 0, "nothing was stored");
    chitin.stop().await;
}
