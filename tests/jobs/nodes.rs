//! Three nodes on one PostgreSQL share 3,000 jobs: each is done exactly once, counted by the side effect's target.

use std::time::{Duration, Instant};

use chitin::store::JobState;

use crate::support::process::text;
use crate::support::store_backends::{database_url, fresh_postgres_schema, postgres_shared_lock, test_config};

use super::support::{Ledger, NODE_MASTER_KEY, node};

const JOBS_PER_NODE: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_do_every_job_exactly_once() {
    let _shared = postgres_shared_lock().await;
    let Some(base_url) = database_url() else { return };
    let (_, url) = fresh_postgres_schema(&base_url).await;
    let ledger = Ledger::start(Duration::ZERO).await;
    let names = ["node-1", "node-2", "node-3"];
    let sandboxes: Vec<_> = names
        .iter()
        .map(|name| tokio::task::block_in_place(|| node(&url, name, ledger.port, &[("CHITIN_JOBS__WORKERS", "4")])))
        .collect();
    let running: Vec<_> = sandboxes.iter().map(|sandbox| tokio::task::block_in_place(|| sandbox.start(&[]))).collect();

    // 1,000 jobs per node, queued straight into the shared database while the nodes run.
    let dir = tempfile::tempdir().unwrap();
    let key = chitin::crypto::MasterKey::load(Some(NODE_MASTER_KEY), dir.path()).unwrap();
    let store = chitin::store::Store::connect(&test_config(Some(url.clone())), dir.path(), &key).await.unwrap();
    let mut keys = Vec::new();
    // Timed from the first insert: the nodes start working while the rest is still being queued.
    let started = Instant::now();
    for node_index in 0..names.len() {
        for n in 0..JOBS_PER_NODE {
            let key = format!("n{node_index}-job{n}");
            ledger.enqueue_post(&store, &key, n).await;
            keys.push(key);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done = store.jobs().list(Some(JobState::Succeeded), 10_000).await.unwrap().len();
        if done == keys.len() {
            break;
        }
        let failed = store.jobs().list(Some(JobState::Failed), 10).await.unwrap();
        assert!(failed.is_empty(), "jobs failed: {failed:?}");
        assert!(Instant::now() < deadline, "only {done} of {} jobs done", keys.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elapsed = started.elapsed();
    eprintln!(
        "3 nodes x {JOBS_PER_NODE} jobs: {:.1} s, {:.0} jobs/s",
        elapsed.as_secs_f64(),
        keys.len() as f64 / elapsed.as_secs_f64()
    );

    let counts = ledger.all_requests();
    assert_eq!(counts.len(), keys.len(), "every job reached the ledger");
    let twice: Vec<_> = counts.iter().filter(|(_, requests)| *requests != 1).collect();
    assert!(twice.is_empty(), "jobs done more than once: {twice:?}");
    let per_node = store.jobs().list(Some(JobState::Succeeded), 10_000).await.unwrap();
    for name in names {
        let share = per_node.iter().filter(|job| job.node.as_deref() == Some(name)).count();
        eprintln!("{name} ran {share} jobs");
        assert!(share > 0, "{name} took part");
    }
    assert!(per_node.iter().all(|job| job.attempts == 1), "no job was claimed twice");
    drop(running);
    let status = tokio::task::block_in_place(|| sandboxes[0].run(&["job", "list", "--json", "--limit", "1"]));
    assert!(status.status.success(), "{}", text(&status.stderr));
    store.close().await;
}
