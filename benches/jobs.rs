//! The job pool: no-op jobs/s with 2, 8 and 32 workers on SQLite and PostgreSQL, and pickup latency (insert to
//! start) p50/p99 with LISTEN/NOTIFY and with polling only.
//!
//! Runs the whole service in-process (the real JobWorker actors, queue and waker). PostgreSQL runs when
//! `DATABASE_URL` is set; each run uses its own schema. Goals (issue 9): ≥ 5,000 jobs/s on PostgreSQL, pickup
//! p50 ≤ 5 ms with NOTIFY.

use std::time::{Duration, Instant};

use chitin::config::{ConfigSources, load};
use chitin::crypto::MasterKey;
use chitin::service::{Service, ServiceEnv};
use chitin::store::{DatabaseConfig, JobState, NewJob, Store, now_ms};
use sqlx::Connection;

const MASTER_KEY: &str = "3123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const THROUGHPUT_JOBS: usize = 5_000;
const LATENCY_JOBS: usize = 200;

#[derive(Clone, Copy, PartialEq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A fresh PostgreSQL schema's URL.
async fn postgres_url(base_url: &str, tag: &str) -> String {
    let schema = format!("bench_jobs_{}_{tag}", std::process::id());
    let mut connection = sqlx::PgConnection::connect(base_url).await.expect("connect postgres");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")))
        .execute(&mut connection)
        .await
        .expect("create bench schema");
    let separator = if base_url.contains('?') { '&' } else { '?' };
    format!("{base_url}{separator}options=-c%20search_path%3D{schema}%2Cpublic")
}

/// Where one run keeps its data: a temp dir, and its own PostgreSQL schema on that backend.
struct Place {
    dir: tempfile::TempDir,
    url: Option<String>,
}

async fn place(backend: Backend, tag: &str) -> Place {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = match backend {
        Backend::Postgres => Some(postgres_url(&std::env::var("DATABASE_URL").expect("DATABASE_URL"), tag).await),
        Backend::Sqlite => None,
    };
    Place { dir, url }
}

/// A store handle that inserts and reads jobs the way another process would (it also creates the schema).
async fn client(place: &Place) -> Store {
    let key = MasterKey::load(Some(MASTER_KEY), place.dir.path()).expect("key");
    let config =
        DatabaseConfig { url: place.url.clone().map(Into::into), max_connections: 4, ..DatabaseConfig::default() };
    Store::connect(&config, &place.dir.path().join("data"), &key).await.expect("client store")
}

/// The whole service on `place`, with `settings` on top of bench defaults.
async fn start(place: &Place, settings: &[(&str, &str)]) -> Service {
    let mut env: Vec<(String, String)> = vec![
        ("CHITIN_DATA_DIR".into(), place.dir.path().join("data").display().to_string()),
        ("CHITIN_GATEWAY__BIND".into(), "127.0.0.1:0".into()),
        ("CHITIN_HEARTBEAT__INTERVAL_SECS".into(), "0".into()),
        ("CHITIN_MEMORY__EMBEDDING__PROVIDER".into(), "none".into()),
        ("CHITIN_DATABASE__MAX_CONNECTIONS".into(), "40".into()),
    ];
    if let Some(url) = &place.url {
        env.push(("CHITIN_DATABASE__URL".into(), url.clone()));
    }
    env.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = load(&ConfigSources { explicit_file: None, default_file: None, env }).expect("bench config");
    Service::start(&config, &ServiceEnv { master_key: Some(MASTER_KEY.into()) }).await.expect("start")
}

fn noop(key: &str, run_after_ms: i64) -> NewJob<'_> {
    NewJob {
        kind: "maintenance",
        idempotency_key: Some(key),
        conversation_id: None,
        payload: r#"{"task":"noop"}"#,
        max_attempts: 3,
        run_after_ms,
        priority: 0,
        max_runtime_ms: None,
    }
}

async fn succeeded(store: &Store) -> usize {
    let counts = store.stats().jobs_by_state().await.expect("count jobs");
    counts.iter().find(|(state, _)| state == JobState::Succeeded.as_str()).map_or(0, |(_, count)| *count as usize)
}

/// Queues `THROUGHPUT_JOBS` no-op jobs while no node runs, then times a node (started inside the timing, so
/// its start-up counts against it) draining them. Returns that rate, and the steady rate between the first and
/// the last job's finish (start-up and the bench's polling excluded).
async fn throughput(backend: Backend, workers: usize) -> (f64, f64) {
    let workers_text = workers.to_string();
    let settings = [("CHITIN_JOBS__WORKERS", workers_text.as_str()), ("CHITIN_JOBS__POLL_MS", "1000")];
    let place = place(backend, &format!("tp{workers}")).await;
    let client = client(&place).await;
    for n in 0..THROUGHPUT_JOBS {
        client.jobs().enqueue(&noop(&format!("tp-{n}"), now_ms())).await.expect("enqueue");
    }
    let started = Instant::now();
    let service = start(&place, &settings).await;
    while succeeded(&client).await < THROUGHPUT_JOBS {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rate = THROUGHPUT_JOBS as f64 / started.elapsed().as_secs_f64();
    let finished = client.jobs().list(Some(JobState::Succeeded), THROUGHPUT_JOBS as i64).await.expect("list jobs");
    let first = finished.iter().map(|job| job.updated_at_ms).min().unwrap_or_default();
    let last = finished.iter().map(|job| job.updated_at_ms).max().unwrap_or_default();
    let steady = (finished.len().saturating_sub(1)) as f64 / ((last - first).max(1) as f64 / 1000.0);
    client.close().await;
    service.shutdown(Duration::from_secs(5)).await.expect("shutdown");
    (rate, steady)
}

/// Inserts jobs one at a time from another connection while the pool is idle; pickup = start - insert.
async fn pickup(backend: Backend, notify: bool) -> (f64, f64) {
    let notify_text = if notify { "true" } else { "false" };
    let settings =
        [("CHITIN_JOBS__WORKERS", "4"), ("CHITIN_JOBS__NOTIFY", notify_text), ("CHITIN_JOBS__POLL_MS", "1000")];
    let place = place(backend, if notify { "notify" } else { "poll" }).await;
    let client = client(&place).await;
    let service = start(&place, &settings).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut ids = Vec::new();
    for n in 0..LATENCY_JOBS {
        ids.push(client.jobs().enqueue(&noop(&format!("lat-{n}"), now_ms())).await.expect("enqueue").job_id());
        tokio::time::sleep(Duration::from_millis(if notify { 15 } else { 40 })).await;
    }
    while succeeded(&client).await < LATENCY_JOBS {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut latencies = Vec::new();
    for id in ids {
        let job = client.jobs().get(id).await.expect("get").expect("job");
        latencies.push((job.started_at_ms.unwrap_or(job.created_at_ms) - job.created_at_ms) as f64);
    }
    latencies.sort_by(f64::total_cmp);
    let percentile = |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1];
    let result = (percentile(0.50), percentile(0.99));
    client.close().await;
    service.shutdown(Duration::from_secs(5)).await.expect("shutdown");
    result
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let mut backends = vec![Backend::Sqlite];
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => backends.push(Backend::Postgres),
        _ => eprintln!("SKIP postgres: DATABASE_URL is unset"),
    }
    runtime.block_on(async {
        for &backend in &backends {
            for workers in [2, 8, 32] {
                let (rate, steady) = throughput(backend, workers).await;
                println!(
                    "jobs/{}/throughput/{workers} workers: {rate:.0} no-op jobs/s ({THROUGHPUT_JOBS} jobs, node start-up \
                     included); {steady:.0} jobs/s first to last finish",
                    backend.name()
                );
            }
        }
        for &backend in &backends {
            let modes: &[bool] = if backend == Backend::Postgres { &[true, false] } else { &[false] };
            for &notify in modes {
                let (p50, p99) = pickup(backend, notify).await;
                let mode = if notify { "NOTIFY" } else { "polling only (poll_ms 1000)" };
                println!(
                    "jobs/{}/pickup/{mode}: p50 {p50:.0} ms, p99 {p99:.0} ms ({LATENCY_JOBS} jobs)",
                    backend.name()
                );
            }
        }
    });
}
