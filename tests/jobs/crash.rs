//! A worker node killed mid-job: the lease expires, a second node finishes the job, and the side effect
//! (carrying the job's idempotency key) is applied once.

use std::time::{Duration, Instant};

use crate::support::process::text;
use crate::support::store_backends::{database_url, fresh_postgres_schema, postgres_shared_lock};

use super::support::{Ledger, node};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_s_job_is_finished_by_another_once() {
    let _shared = postgres_shared_lock().await;
    let Some(base_url) = database_url() else { return };
    let (_, url) = fresh_postgres_schema(&base_url).await;
    // The first request with a key applies the effect and then hangs: node A dies while waiting for it.
    let ledger = Ledger::start(Duration::from_secs(60)).await;
    let fast = [("CHITIN_JOBS__LEASE_MS", "1500"), ("CHITIN_JOBS__RETRY_INITIAL_MS", "100")];
    let node_a = tokio::task::block_in_place(|| node(&url, "node-a", ledger.port, &fast));
    let node_b = tokio::task::block_in_place(|| node(&url, "node-b", ledger.port, &fast));

    let a = tokio::task::block_in_place(|| node_a.start(&[]));
    let params = serde_json::json!({"url": ledger.url(), "body": {"amount": 42}}).to_string();
    let submit = tokio::task::block_in_place(|| {
        node_a.run(&["job", "submit", "--tool", "http_post", "--params", &params, "--idempotency-key", "pay-42"])
    });
    assert!(submit.status.success(), "{}", text(&submit.stderr));
    let job_id = text(&submit.stdout).trim().to_string();
    assert!(job_id.parse::<i64>().is_ok(), "submit prints the id: {job_id:?}");
    // Drill jobs beside it, so the kill also interrupts work that has no side effect to dedupe.
    let mut drills = Vec::new();
    for _ in 0..6 {
        let drill = tokio::task::block_in_place(|| {
            node_a.run(&["job", "submit", "--maintenance", r#"{"task":"drill","sleep_ms":400}"#])
        });
        assert!(drill.status.success(), "{}", text(&drill.stderr));
        drills.push(text(&drill.stdout).trim().to_string());
    }

    let deadline = Instant::now() + Duration::from_secs(30);
    while ledger.requests("pay-42") == 0 {
        assert!(Instant::now() < deadline, "node A never made the request");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.signal(nix::sys::signal::Signal::SIGKILL);
    drop(a);
    assert_eq!(ledger.applied("pay-42"), 1);

    let _b = tokio::task::block_in_place(|| node_b.start(&[]));
    let wait = tokio::task::block_in_place(|| node_b.run(&["job", "wait", &job_id, "--timeout-secs", "60"]));
    let show = tokio::task::block_in_place(|| node_b.run(&["job", "show", &job_id]));
    assert!(
        wait.status.success(),
        "the job succeeds on node B: {} {}\n{}",
        text(&wait.stdout),
        text(&wait.stderr),
        text(&show.stdout)
    );
    for drill in &drills {
        let wait = tokio::task::block_in_place(|| node_b.run(&["job", "wait", drill, "--timeout-secs", "60"]));
        assert!(wait.status.success(), "drill {drill} lost: {}", text(&wait.stderr));
    }
    assert_eq!(ledger.requests("pay-42"), 2, "node B repeated the request with the same key");
    assert_eq!(ledger.applied("pay-42"), 1, "the effect was applied once");

    let list = tokio::task::block_in_place(|| node_b.run(&["job", "list", "--json"]));
    assert!(list.status.success(), "{}", text(&list.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&list.stdout).expect("list --json is JSON");
    let row = rows
        .as_array()
        .expect("an array")
        .iter()
        .find(|row| row["id"].as_i64() == job_id.parse::<i64>().ok())
        .expect("listed");
    assert_eq!(row["state"], "succeeded");
    assert_eq!(row["attempts"], 2, "one attempt on each node");
    assert_eq!(row["node"], "node-b");
    let succeeded = rows.as_array().unwrap().iter().filter(|row| row["state"] == "succeeded").count();
    assert_eq!(succeeded, 7, "0 lost: {rows}");

    // `job wait` exits non-zero for a job that did not succeed.
    let failing = tokio::task::block_in_place(|| {
        node_b.run(&["job", "submit", "--maintenance", r#"{"task":"drill","fail_attempts":9}"#, "--max-attempts", "1"])
    });
    let failing_id = text(&failing.stdout).trim().to_string();
    let wait = tokio::task::block_in_place(|| node_b.run(&["job", "wait", &failing_id, "--timeout-secs", "60"]));
    assert!(!wait.status.success(), "wait fails for a failed job");
}
