//! Store throughput: inbound records/s with dedup and outbox claim+deliver/s, on SQLite and PostgreSQL, 1 and 16 writers.
//!
//! PostgreSQL runs when `DATABASE_URL` is set (scripts/setup-postgres.sh prints one); each run uses
//! its own schema. Goal: ≥ 5,000 inbound records/s on PostgreSQL with 16 writers on 2 cores.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chitin::crypto::MasterKey;
use chitin::store::{DatabaseConfig, InboundMessage, Store};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sqlx::Connection;

const WRITER_COUNTS: [u64; 2] = [1, 16];

/// The 1-, 5- and 15-minute load averages, printed with every figure: on a shared 2-core machine a figure means
/// little without them.
fn load_average() -> String {
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    loadavg.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// The load average when a benchmark started, kept only if it ran (criterion skips filtered-out benchmarks).
#[derive(Default)]
struct LoadWindow {
    started: std::cell::RefCell<Option<String>>,
}

impl LoadWindow {
    fn start(&self) {
        self.started.borrow_mut().get_or_insert_with(load_average);
    }

    fn print(&self, name: &str) {
        if let Some(started) = self.started.borrow().as_deref() {
            eprintln!("{name}: load average {started} -> {}", load_average());
        }
    }
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// The stores to measure, and the PostgreSQL schema created for this run (base URL, schema) to drop at the end.
async fn open_stores(data_dir: &std::path::Path) -> (Vec<(&'static str, Store)>, Option<(String, String)>) {
    let key = MasterKey::from_bytes([9; 32]);
    let sqlite_config = DatabaseConfig { max_connections: 16, ..DatabaseConfig::default() };
    let mut stores = vec![("sqlite", Store::connect(&sqlite_config, data_dir, &key).await.expect("open sqlite"))];
    match std::env::var("DATABASE_URL") {
        Ok(base_url) if !base_url.is_empty() => {
            let schema = format!("bench_{}", std::process::id());
            let mut connection = sqlx::PgConnection::connect(&base_url).await.expect("connect postgres");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
            )))
            .execute(&mut connection)
            .await
            .expect("create bench schema");
            let separator = if base_url.contains('?') { '&' } else { '?' };
            let url = format!("{base_url}{separator}options=-c%20search_path%3D{schema}%2Cpublic");
            let config = DatabaseConfig { url: Some(url.into()), max_connections: 16, ..DatabaseConfig::default() };
            stores.push(("postgres", Store::connect(&config, data_dir, &key).await.expect("open postgres")));
            return (stores, Some((base_url, schema)));
        }
        _ => eprintln!("SKIP postgres benches: DATABASE_URL is unset"),
    }
    (stores, None)
}

/// Closes the stores and drops the run's PostgreSQL schema, which would otherwise keep every row the run wrote.
async fn close_stores(stores: Vec<(&'static str, Store)>, postgres_schema: Option<(String, String)>) {
    for (_, store) in stores {
        store.close().await;
    }
    if let Some((base_url, schema)) = postgres_schema {
        let mut connection = sqlx::PgConnection::connect(&base_url).await.expect("connect postgres");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&mut connection)
            .await
            .expect("drop bench schema");
    }
}

/// `iterations` inbound records spread over `writers` tasks; every 10th is a redelivery of the one
/// before it, so the dedup path is measured too. Returns the wall time.
async fn record_inbound(store: &Store, writers: u64, iterations: u64) -> Duration {
    let run = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|writer| {
            let inbound = store.inbound();
            let share = iterations / writers + u64::from(writer < iterations % writers);
            tokio::spawn(async move {
                for n in 0..share {
                    let id = if n % 10 == 9 { n - 1 } else { n };
                    let platform_message_id = format!("{run}-{writer}-{id}");
                    let chat = format!("chat-{writer}");
                    let message = InboundMessage {
                        channel: "bench",
                        external_conversation_id: &chat,
                        platform_message_id: &platform_message_id,
                        sender: Some("user"),
                        body: "a typical short chat message of about sixty bytes in length",
                    };
                    inbound.record_inbound(&message).await.expect("record inbound");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer task");
    }
    started.elapsed()
}

/// Queues `iterations` replies (untimed), then times `writers` senders claiming and marking them delivered.
async fn claim_and_deliver(store: &Store, writers: u64, iterations: u64) -> Duration {
    let conversation_id = store.conversations().get_or_create("bench", "outbox").await.expect("conversation");
    for _ in 0..iterations {
        store.outbox().enqueue_reply(conversation_id, None, "a reply of modest length").await.expect("enqueue");
    }
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|_| {
            let outbox = store.outbox();
            tokio::spawn(async move {
                loop {
                    let claimed = outbox.claim_due(Duration::from_secs(60), 8).await.expect("claim");
                    if claimed.is_empty() {
                        break;
                    }
                    for item in claimed {
                        outbox.mark_delivered(item.outbox_id, None).await.expect("mark delivered");
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("sender task");
    }
    started.elapsed()
}

fn store_throughput(criterion: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let data_dir = tempfile::tempdir().expect("temp dir");
    let (stores, postgres_schema) = runtime.block_on(open_stores(data_dir.path()));
    for (backend, store) in &stores {
        let mut group = criterion.benchmark_group(format!("store/{backend}"));
        group.throughput(Throughput::Elements(1)).sample_size(10).measurement_time(Duration::from_secs(5));
        for writers in WRITER_COUNTS {
            let name = format!("inbound_with_dedup/{writers}_writers");
            let load = LoadWindow::default();
            group.bench_function(&name, |bencher| {
                load.start();
                bencher.iter_custom(|iterations| runtime.block_on(record_inbound(store, writers, iterations)))
            });
            load.print(&format!("store/{backend}/{name}"));
            let name = format!("outbox_claim_deliver/{writers}_writers");
            let load = LoadWindow::default();
            group.bench_function(&name, |bencher| {
                load.start();
                bencher.iter_custom(|iterations| runtime.block_on(claim_and_deliver(store, writers, iterations)))
            });
            load.print(&format!("store/{backend}/{name}"));
        }
        group.finish();
    }
    runtime.block_on(close_stores(stores, postgres_schema));
}

criterion_group!(benches, store_throughput);
criterion_main!(benches);
