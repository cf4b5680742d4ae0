//! Helpers for the job tests: a whole Chitin in-process on either backend, and waiting for a job's state.

use std::time::{Duration, Instant};

use chitin::jobs::{JobSpec, JobSubmission, MaintenanceTask};
use chitin::store::{JobId, JobState, NewJob, Store, StoredJob, now_ms};

use crate::support::chitin::TestChitin;
use crate::support::store_backends::{database_url, fresh_postgres_schema};

/// Short timings so retries, leases and polling are observable within a test.
pub const FAST_JOBS: [(&str, &str); 5] = [
    ("CHITIN_JOBS__LEASE_MS", "1500"),
    ("CHITIN_JOBS__POLL_MS", "100"),
    ("CHITIN_JOBS__RETRY_INITIAL_MS", "200"),
    ("CHITIN_JOBS__RETRY_MAX_MS", "5000"),
    ("CHITIN_JOBS__WORKERS", "2"),
];

pub enum Backend {
    Sqlite,
    Postgres,
}

/// Starts Chitin with fast job timings on `backend`; None (with a skip line) when PostgreSQL is not configured.
pub async fn start(backend: Backend, extra: &[(&str, &str)]) -> Option<TestChitin> {
    let mut settings: Vec<(String, String)> =
        FAST_JOBS.iter().chain(extra.iter()).map(|(k, v)| (k.to_string(), v.to_string())).collect();
    if let Backend::Postgres = backend {
        let (_, url) = fresh_postgres_schema(&database_url()?).await;
        settings.push(("CHITIN_DATABASE__URL".into(), url));
    }
    let borrowed: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Some(TestChitin::start(None, &borrowed).await)
}

pub fn service(chitin: &TestChitin) -> &chitin::service::Service {
    chitin.service.as_ref().expect("running")
}

pub fn drill(sleep_ms: u64, fail_attempts: i64, max_attempts: i64) -> JobSubmission {
    let mut submission = JobSubmission::new(JobSpec::Maintenance(MaintenanceTask::Drill { sleep_ms, fail_attempts }));
    submission.max_attempts = Some(max_attempts);
    submission
}

/// Polls the job until `done` holds, for up to `limit`.
pub async fn wait_for(store: &Store, id: JobId, limit: Duration, done: impl Fn(&StoredJob) -> bool) -> StoredJob {
    let deadline = Instant::now() + limit;
    loop {
        let job = store.jobs().get(id).await.expect("read job").expect("job exists");
        if done(&job) {
            return job;
        }
        assert!(Instant::now() < deadline, "job {} stuck in {:?} after {limit:?}: {job:?}", id.0, job.state);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn ended(job: &StoredJob) -> bool {
    matches!(job.state, JobState::Succeeded | JobState::Failed | JobState::Cancelled)
}

/// A fake HTTP service that honours `Idempotency-Key`: the first request with a key applies the effect (and
/// then, when `hold` is set, takes that long to answer); later ones with the same key are answered as replays.
pub struct Ledger {
    pub port: u16,
    state: std::sync::Arc<std::sync::Mutex<LedgerState>>,
}

#[derive(Default)]
struct LedgerState {
    /// Requests seen per key, replays included.
    requests: std::collections::HashMap<String, u32>,
    /// Effects applied per key.
    applied: std::collections::HashMap<String, u32>,
}

impl Ledger {
    /// Queues a `http_post` tool job with idempotency key `key` that posts `body` to this ledger.
    pub async fn enqueue_post(&self, store: &Store, key: &str, body: usize) {
        let payload = serde_json::json!({"tool": "http_post", "params": {"url": self.url(), "body": body}}).to_string();
        let job = NewJob {
            kind: "tool",
            idempotency_key: Some(key),
            conversation_id: None,
            payload: &payload,
            max_attempts: 3,
            run_after_ms: now_ms(),
            priority: 0,
            max_runtime_ms: None,
        };
        store.jobs().enqueue(&job).await.expect("enqueue a ledger job");
    }

    pub async fn start(hold: Duration) -> Ledger {
        use axum::http::{HeaderMap, StatusCode};
        let state = std::sync::Arc::new(std::sync::Mutex::new(LedgerState::default()));
        let shared = std::sync::Arc::clone(&state);
        let app = axum::Router::new().route(
            "/apply",
            axum::routing::post(move |headers: HeaderMap| {
                let shared = std::sync::Arc::clone(&shared);
                async move {
                    let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(String::from)
                    else {
                        return (StatusCode::BAD_REQUEST, "no idempotency key".to_string());
                    };
                    let first = {
                        let mut ledger = shared.lock().expect("ledger lock");
                        *ledger.requests.entry(key.clone()).or_default() += 1;
                        let applied = ledger.applied.entry(key).or_default();
                        // A replay is answered without applying the effect again.
                        let first = *applied == 0;
                        if first {
                            *applied = 1;
                        }
                        first
                    };
                    if first && !hold.is_zero() {
                        tokio::time::sleep(hold).await;
                    }
                    (StatusCode::OK, "ok".to_string())
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind ledger");
        let port = listener.local_addr().expect("ledger address").port();
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("ledger server");
        });
        Ledger { port, state }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/apply", self.port)
    }

    pub fn requests(&self, key: &str) -> u32 {
        self.state.lock().expect("ledger lock").requests.get(key).copied().unwrap_or(0)
    }

    pub fn applied(&self, key: &str) -> u32 {
        self.state.lock().expect("ledger lock").applied.get(key).copied().unwrap_or(0)
    }

    /// (key, requests) for every key seen.
    pub fn all_requests(&self) -> Vec<(String, u32)> {
        self.state.lock().expect("ledger lock").requests.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }
}

pub const NODE_MASTER_KEY: &str = "2123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A `chitin run` node on the shared PostgreSQL `url`, named `name`, with `http_post` installed and allowed to
/// reach the ledger on `ledger_port`.
pub fn node(url: &str, name: &str, ledger_port: u16, extra: &[(&str, &str)]) -> crate::support::process::Sandbox {
    use crate::support::process::{Sandbox, text, write_file};
    let mut sandbox = Sandbox::new()
        .env("CHITIN_DATABASE__URL", url)
        // Several nodes share one test server: a small pool each keeps the suite within its connection limit.
        .env("CHITIN_DATABASE__MAX_CONNECTIONS", "8")
        .env("CHITIN_MASTER_KEY", NODE_MASTER_KEY)
        .env("CHITIN_LOG", "warn")
        .env("CHITIN_JOBS__NODE", name)
        .env("CHITIN_JOBS__POLL_MS", "200");
    for (key, value) in extra {
        sandbox = sandbox.env(key, value);
    }
    let manifest = sandbox.path("http_post.toml");
    write_file(
        &manifest,
        &format!(
            "name = \"http_post\"\nversion = \"0.1.0\"\n[[http]]\nurl = \"http://127.0.0.1:{ledger_port}/\"\nmethods = [\"POST\"]\n\
             [rate_limit]\ncalls_per_minute = 100000\nhttp_requests_per_minute = 100000\n\
             [limits]\nwall_clock_ms = 60000\nhttp_timeout_ms = 60000\n"
        ),
    );
    let wasm = crate::support::sandbox_fixture::wasm("http_post");
    let install = sandbox.run(&[
        "tool",
        "install",
        wasm.to_str().expect("utf-8"),
        "--manifest",
        manifest.to_str().expect("utf-8"),
        "--yes",
    ]);
    assert!(install.status.success(), "install http_post: {}", text(&install.stderr));
    sandbox
}

/// Chitin in-process with a given master key, so several in-process nodes can share one PostgreSQL database.
pub async fn start_node(settings: &[(&str, &str)], master_key: &str) -> TestChitin {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = crate::support::chitin::config(&dir, None, settings);
    let env = chitin::service::ServiceEnv { master_key: Some(master_key.to_string()) };
    let service = chitin::service::Service::start(&config, &env).await.expect("chitin starts");
    let addr = service.gateway_addr();
    TestChitin { service: Some(service), addr, dir, client: reqwest::Client::new() }
}

/// Jobs queued by routine `routine_id`, found by their idempotency keys.
pub async fn routine_jobs(store: &Store, routine_id: i64) -> Vec<StoredJob> {
    let mut jobs = Vec::new();
    for summary in store.jobs().list(None, 10_000).await.expect("list jobs") {
        let job = store.jobs().get(summary.id).await.expect("get job").expect("exists");
        if job.idempotency_key.as_deref().is_some_and(|key| key.starts_with(&format!("routine:{routine_id}:"))) {
            jobs.push(job);
        }
    }
    jobs
}
