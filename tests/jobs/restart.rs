//! PostgreSQL restarted during a 1,000-job run on two nodes: every job still completes, exactly once.
//!
//! The server is a private cluster (the shared one must stay up for other tests), stopped with a fast shutdown
//! while the nodes are busy, kept down for a few seconds, and started again: every open connection drops, new
//! ones are refused, LISTEN sessions end, and outcomes being recorded at that moment fail.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chitin::store::JobState;
use sqlx::Connection;

use crate::support::process::text;
use crate::support::store_backends::{database_url, test_config};
use crate::support::store_private_postgres::PrivatePostgres;

use super::support::{Ledger, NODE_MASTER_KEY, node};

const JOBS: usize = 1000;
/// How long the server stays down: well inside the nodes' 30 s job lease (so no job may run twice), and longer
/// than a worker used to keep retrying an outcome it could not record (about 7 s).
const OUTAGE: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_mid_run_loses_and_repeats_nothing() {
    // Runs with the other PostgreSQL tests; the server it restarts is its own.
    if database_url().is_none() {
        return;
    }
    let cluster = tokio::task::block_in_place(PrivatePostgres::start);
    let url = cluster.url("postgres");
    let ledger = Ledger::start(Duration::ZERO).await;
    let names = ["node-1", "node-2"];
    let sandboxes: Vec<_> = names
        .iter()
        .map(|name| tokio::task::block_in_place(|| node(&url, name, ledger.port, &[("CHITIN_JOBS__WORKERS", "4")])))
        .collect();
    let mut running: Vec<_> =
        sandboxes.iter().map(|sandbox| tokio::task::block_in_place(|| sandbox.start(&[]))).collect();

    let dir = tempfile::tempdir().unwrap();
    let key = chitin::crypto::MasterKey::load(Some(NODE_MASTER_KEY), dir.path()).unwrap();
    let store = chitin::store::Store::connect(&test_config(Some(url.clone())), dir.path(), &key).await.unwrap();
    let mut keys = Vec::with_capacity(JOBS);
    for n in 0..JOBS {
        let key = format!("restart-job{n}");
        ledger.enqueue_post(&store, &key, n).await;
        keys.push(key);
    }

    // Restart while the nodes are in the middle of the run.
    let deadline = Instant::now() + Duration::from_secs(300);
    while ledger.all_requests().len() < JOBS / 5 {
        assert!(Instant::now() < deadline, "the nodes never got going: {} requests", ledger.all_requests().len());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::task::block_in_place(|| cluster.stop());
    let done_before_restart = ledger.all_requests().len();
    tokio::time::sleep(OUTAGE).await;
    tokio::task::block_in_place(|| cluster.start_again());
    assert!(done_before_restart < JOBS, "the restart came after the work was done");

    let deadline = Instant::now() + Duration::from_secs(600);
    let mut last_error = None;
    loop {
        // The test's own pool reconnects like the nodes'; an error right after the restart is not a verdict.
        match store.jobs().list(None, 10_000).await {
            Ok(jobs) => {
                let failed: Vec<_> = jobs.iter().filter(|job| job.state == JobState::Failed).collect();
                assert!(failed.is_empty(), "jobs failed: {failed:?}");
                if jobs.len() == JOBS && jobs.iter().all(|job| job.state == JobState::Succeeded) {
                    break;
                }
            }
            Err(error) => last_error = Some(error.to_string()),
        }
        for (name, node) in names.iter().zip(running.iter_mut()) {
            if let Some(output) = node.wait_exit(Duration::ZERO) {
                panic!("{name} exited during the run: {:?}\n{}", output.status, text(&output.stderr));
            }
        }
        let requests = ledger.all_requests().len();
        assert!(Instant::now() < deadline, "only {requests} of {JOBS} jobs done; last read error: {last_error:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Exactly once, counted twice: at the side effect's target, and in each job's history.
    let counts: HashMap<String, u32> = ledger.all_requests().into_iter().collect();
    assert_eq!(counts.len(), JOBS, "every job reached the ledger");
    let repeated: Vec<_> = counts.iter().filter(|(_, requests)| **requests != 1).collect();
    assert!(repeated.is_empty(), "jobs whose effect was requested more than once: {repeated:?}");
    assert!(keys.iter().all(|key| counts.contains_key(key)), "every submitted key was requested");
    let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
    let outcomes: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT j.id, count(e.id) FROM jobs j LEFT JOIN job_events e ON e.job_id = j.id AND e.kind = 'succeeded' \
         GROUP BY j.id",
    )
    .fetch_all(&mut connection)
    .await
    .unwrap();
    assert_eq!(outcomes.len(), JOBS);
    let not_once: Vec<_> = outcomes.iter().filter(|(_, succeeded)| *succeeded != 1).collect();
    assert!(not_once.is_empty(), "jobs recorded as succeeded other than once: {not_once:?}");
    eprintln!("restart: {done_before_restart} of {JOBS} jobs had run when PostgreSQL stopped for {OUTAGE:?}");
    connection.close().await.unwrap();
    store.close().await;
    drop(running);
}
