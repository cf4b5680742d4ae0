//! Faults: bad configuration, PostgreSQL unreachable at start or cut mid-run, and a real server restart.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chitin::store::{DatabaseConfig, InboundMessage, InboundOutcome, StorageHealth, Store, StoreError};
use sqlx::Connection;
use sqlx::postgres::PgConnectOptions;

use crate::support::store_backends::{
    database_url, fresh_postgres_schema, postgres_exclusive_lock, postgres_shared_lock, postgres_store, test_config,
    test_master_key,
};
use crate::support::store_fake_postgres::PasswordRejectingServer;
use crate::support::store_log_capture::CapturedLogs;
use crate::support::store_tcp_proxy::TcpProxy;

const RETRY_LINE: &str = "postgresql unreachable, retrying";

async fn poll_until<F: AsyncFnMut() -> bool>(what: &str, deadline: Duration, mut condition: F) {
    let started = Instant::now();
    while !condition().await {
        assert!(started.elapsed() < deadline, "timed out after {deadline:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn postgres_address(url: &str) -> std::net::SocketAddr {
    let options = PgConnectOptions::from_str(url).unwrap();
    format!("{}:{}", options.get_host(), options.get_port()).parse().unwrap()
}

fn message(platform_message_id: &str) -> InboundMessage<'_> {
    InboundMessage {
        channel: "telegram",
        external_conversation_id: "chat-fault",
        platform_message_id,
        sender: None,
        body: "hello",
    }
}

#[tokio::test]
async fn unknown_url_scheme_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(Some("mysql://localhost/chitin".to_owned()));
    let error = Store::connect(&config, dir.path(), &test_master_key()).await.unwrap_err();
    assert!(matches!(&error, StoreError::UnknownScheme { scheme } if scheme == "mysql"), "{error:?}");
    assert!(error.to_string().contains("`mysql`"), "{error}");
}

#[tokio::test]
async fn unusable_sqlite_location_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(Some("sqlite:///proc/chitin-store-test/chitin.db".to_owned()));
    let error = Store::connect(&config, dir.path(), &test_master_key()).await.unwrap_err();
    assert!(matches!(error, StoreError::CreateDir { .. }), "{error:?}");
    assert!(error.to_string().contains("/proc/chitin-store-test"), "{error}");
}

#[tokio::test]
async fn unknown_postgres_role_is_an_authentication_error() {
    let Some(base_url) = database_url() else { return };
    let options = PgConnectOptions::from_str(&base_url).unwrap();
    let url = format!(
        "postgres://no_such_role_chitin:wrong@{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("postgres")
    );
    let dir = tempfile::tempdir().unwrap();
    let error = Store::connect(&test_config(Some(url)), dir.path(), &test_master_key()).await.unwrap_err();
    assert!(matches!(error, StoreError::AuthenticationFailed { .. }), "{error:?}");
    assert!(!error.is_retryable());
    assert!(!error.to_string().contains("wrong"), "the password must not appear in the message: {error}");
}

/// A PostgreSQL migration that fails halfway (a table it creates late already exists) leaves nothing of itself
/// behind: each migration runs in one transaction.
#[tokio::test]
async fn postgres_migration_failing_halfway_keeps_no_partial_schema() {
    let _shared = postgres_shared_lock().await;
    let Some(base_url) = database_url() else { return };
    let (schema, url) = fresh_postgres_schema(&base_url).await;
    let mut raw = sqlx::PgConnection::connect(&url).await.unwrap();
    // `audit_log` comes late in the first migration, after a dozen other tables.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE TABLE {schema}.audit_log (planted int)")))
        .execute(&mut raw)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let error = Store::connect(&test_config(Some(url)), dir.path(), &test_master_key()).await.unwrap_err();
    assert!(matches!(error, StoreError::Migrate { .. }), "{error:?}");
    assert!(error.to_string().contains("no partial migration was kept"), "{error}");

    let leftovers: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 \
         AND table_name NOT IN ('audit_log', '_sqlx_migrations') ORDER BY 1",
    )
    .bind(&schema)
    .fetch_all(&mut raw)
    .await
    .unwrap();
    assert!(leftovers.is_empty(), "tables of the failed migration were kept: {leftovers:?}");
    let applied: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {schema}._sqlx_migrations WHERE success"
    )))
    .fetch_one(&mut raw)
    .await
    .unwrap_or(0);
    assert_eq!(applied, 0);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(&mut raw).await.unwrap();
    raw.close().await.unwrap();
}

/// A password-protected server refusing the password: one attempt, a clear final error, no password shown.
#[tokio::test]
async fn wrong_postgres_password_is_named_and_not_retried() {
    let server = PasswordRejectingServer::start().await;
    let url = format!("postgres://chitin:not-the-password@{}/chitin?sslmode=prefer", server.address);
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(Some(url));
    config.connect_attempts = 5;
    let error = Store::connect(&config, dir.path(), &test_master_key()).await.unwrap_err();
    assert!(matches!(error, StoreError::AuthenticationFailed { .. }), "{error:?}");
    assert!(!error.is_retryable());
    let shown = error.to_string();
    assert!(shown.contains("rejected the user name or password"), "{shown}");
    assert!(shown.contains(&server.address.to_string()), "names where: {shown}");
    assert!(!shown.contains("not-the-password"), "the password must not appear: {shown}");
    let sent = server.passwords.lock().unwrap().clone();
    assert_eq!(sent, vec!["not-the-password".to_owned()], "exactly one attempt: a wrong password is final");
}

#[tokio::test]
async fn postgres_never_reachable_gives_up_after_configured_attempts() {
    let proxy = TcpProxy::reserve("127.0.0.1:9".parse().unwrap()).await;
    let url = format!("postgres://chitin:chitin@127.0.0.1:{}/chitin_test", proxy.port);
    let config = DatabaseConfig { connect_attempts: 3, connect_backoff_ms: 10, ..test_config(Some(url)) };
    let (logs, _guard) = CapturedLogs::install();
    let dir = tempfile::tempdir().unwrap();
    let error = Store::connect(&config, dir.path(), &test_master_key()).await.unwrap_err();
    assert!(matches!(error, StoreError::Unreachable { attempts: 3, .. }), "{error:?}");
    assert!(error.is_retryable());
    assert!(error.to_string().contains(&format!("127.0.0.1:{}", proxy.port)), "{error}");
    assert_eq!(logs.lines_containing(RETRY_LINE), 2, "one line per failed attempt before the last");
}

/// A refused connection and a server that accepts but never answers are each reported with their own cause (the
/// pool alone would only say it timed out waiting for a connection), the silent one after
/// `database.connect_timeout_secs`.
#[tokio::test]
async fn unreachable_postgres_is_reported_with_its_cause() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("postgres://chitin:chitin@127.0.0.1:{closed_port}/chitin_test");
    let config = DatabaseConfig { connect_attempts: 1, ..test_config(Some(url)) };
    let error = Store::connect(&config, dir.path(), &test_master_key()).await.unwrap_err();
    assert!(matches!(error, StoreError::Unreachable { attempts: 1, .. }), "{error:?}");
    let shown = chain(&error);
    assert!(shown.to_lowercase().contains("refused"), "names the refusal: {shown}");

    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let url = format!("postgres://chitin:chitin@127.0.0.1:{silent_port}/chitin_test");
    let config = DatabaseConfig { connect_attempts: 1, connect_timeout_secs: 1, ..test_config(Some(url)) };
    let error = Store::connect(&config, dir.path(), &test_master_key()).await.unwrap_err();
    assert!(matches!(error, StoreError::Unreachable { .. }), "{error:?}");
    let shown = chain(&error);
    assert!(shown.contains("connect_timeout_secs"), "names the setting that ran out: {shown}");
    held.abort();
}

/// An error and its sources, as the CLI prints them.
fn chain(error: &dyn std::error::Error) -> String {
    let mut shown = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        shown.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    shown
}

/// PostgreSQL down at start, then up: connect keeps retrying and succeeds. Cut later: health says
/// degraded and calls fail as retryable; restored: everything works again.
#[tokio::test]
async fn postgres_outage_is_retried_and_reported_as_degraded() {
    let _shared = postgres_shared_lock().await;
    let Some(base_url) = database_url() else { return };
    let (_schema, url) = fresh_postgres_schema(&base_url).await;
    let mut proxy = TcpProxy::reserve(postgres_address(&base_url)).await;
    let config = DatabaseConfig {
        connect_attempts: 100,
        connect_backoff_ms: 20,
        acquire_timeout_secs: 1,
        ..test_config(Some(proxy.rewrite_url(&url)))
    };
    let (logs, _guard) = CapturedLogs::install();
    let dir = tempfile::tempdir().unwrap();
    let key = test_master_key();
    let connecting = {
        let (config, path, key) = (config.clone(), dir.path().to_path_buf(), key.clone());
        tokio::spawn(async move { Store::connect(&config, &path, &key).await })
    };
    poll_until("two retry log lines", Duration::from_secs(20), async || logs.lines_containing(RETRY_LINE) >= 2).await;
    proxy.resume().await;
    let store = connecting.await.unwrap().unwrap();
    assert!(matches!(store.health().await, StorageHealth::Healthy { .. }));

    proxy.cut();
    assert!(matches!(store.health().await, StorageHealth::Degraded { .. }));
    let error = store.inbound().record_inbound(&message("during-outage")).await.unwrap_err();
    assert!(error.is_retryable(), "an outage must be retryable: {error:?}");

    proxy.resume().await;
    poll_until("healthy again", Duration::from_secs(20), async || {
        matches!(store.health().await, StorageHealth::Healthy { .. })
    })
    .await;
    let outcome = store.inbound().record_inbound(&message("during-outage")).await.unwrap();
    assert!(matches!(outcome, InboundOutcome::Inserted { .. }), "the failed attempt must not have stored anything");
}

/// The inbound writer keeps its connection between batches. When that connection is cut, the batch on it fails
/// as retryable and the next one runs on a fresh connection; closing the store does not wait for the writer to
/// give its connection back on its own (it holds an idle one for a second).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_inbound_writer_replaces_a_cut_connection_and_lets_the_store_close() {
    let _shared = postgres_shared_lock().await;
    let Some(base_url) = database_url() else { return };
    let (schema, url) = fresh_postgres_schema(&base_url).await;
    let mut proxy = TcpProxy::reserve(postgres_address(&base_url)).await;
    proxy.resume().await;
    let config = DatabaseConfig { acquire_timeout_secs: 2, ..test_config(Some(proxy.rewrite_url(&url))) };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&config, dir.path(), &test_master_key()).await.unwrap();
    let inbound = store.inbound();
    assert!(matches!(inbound.record_inbound(&message("before-cut")).await, Ok(InboundOutcome::Inserted { .. })));

    proxy.cut();
    let error = inbound.record_inbound(&message("on-the-cut-connection")).await.unwrap_err();
    assert!(error.is_retryable(), "a cut connection must be retryable: {error:?}");
    proxy.resume().await;
    // The first attempt after the outage succeeds: the writer does not keep using its broken connection.
    let outcome = inbound.record_inbound(&message("on-the-cut-connection")).await.unwrap();
    assert!(matches!(outcome, InboundOutcome::Inserted { .. }), "{outcome:?}");

    // The writer holds its connection for a second after its last batch; closing must not wait for that.
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), store.close()).await.expect("store closes");
    assert!(started.elapsed() < Duration::from_millis(750), "close waited {:?}", started.elapsed());

    let mut raw = sqlx::PgConnection::connect(&base_url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(&mut raw).await.unwrap();
    raw.close().await.unwrap();
}

/// Writers keep recording while the real server restarts; whatever was acknowledged is there afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_mid_run_loses_nothing_acknowledged() {
    if database_url().is_none() {
        return;
    }
    let _exclusive = postgres_exclusive_lock().await;
    let t = postgres_store().await.unwrap();
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let retried = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let (inbound, acknowledged, retried, stop) =
                (t.store.inbound(), acknowledged.clone(), retried.clone(), stop.clone());
            tokio::spawn(async move {
                let mut sequence = 0;
                while !stop.load(Ordering::Relaxed) {
                    let platform_id = format!("w{writer}-{sequence}");
                    loop {
                        match inbound.record_inbound(&message(&platform_id)).await {
                            // Duplicate: an attempt that "failed" had in fact committed; still stored once.
                            Ok(
                                InboundOutcome::Inserted { message_id, .. }
                                | InboundOutcome::Duplicate { message_id, .. },
                            ) => {
                                acknowledged.lock().unwrap().push(message_id);
                                break;
                            }
                            Err(error) if error.is_retryable() => {
                                retried.fetch_add(1, Ordering::Relaxed);
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                            Err(error) => panic!("non-retryable error during restart: {error:?}"),
                        }
                    }
                    sequence += 1;
                }
            })
        })
        .collect();
    let count = || acknowledged.lock().unwrap().len();
    poll_until("writes before the restart", Duration::from_secs(30), async || count() >= 40).await;
    let status = tokio::process::Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", "15", "main", "restart"])
        .status()
        .await
        .unwrap();
    assert!(status.success(), "pg_ctlcluster restart failed (the test must run as root)");
    let after_restart = count();
    poll_until("writes after the restart", Duration::from_secs(60), async || count() >= after_restart + 40).await;
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }

    let acknowledged = acknowledged.lock().unwrap().clone();
    let unique: std::collections::HashSet<_> = acknowledged.iter().collect();
    assert_eq!(unique.len(), acknowledged.len(), "each platform id was acknowledged once");
    let stored = t.raw_scalar("SELECT count(*) FROM messages").await;
    assert_eq!(stored as usize, acknowledged.len(), "rows stored must equal rows acknowledged");
    let max_id = acknowledged.iter().map(|id| id.0).max().unwrap();
    let present = t.raw_scalar(&format!("SELECT count(*) FROM messages WHERE id <= {max_id}")).await;
    assert_eq!(present as usize, acknowledged.len());
    eprintln!(
        "restart: {} rows acknowledged, {} retryable failures retried",
        acknowledged.len(),
        retried.load(Ordering::Relaxed)
    );
    assert!(matches!(t.store.health().await, StorageHealth::Healthy { .. }));
    t.drop_schema().await;
}

/// Concurrent inbound calls share one PostgreSQL statement; one message PostgreSQL rejects must fail
/// alone, with a non-retryable error, while the others are stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rejected_message_in_a_batch_fails_alone() {
    let _shared = postgres_shared_lock().await;
    let Some(t) = postgres_store().await else { return };
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|n| {
            let (inbound, barrier) = (t.store.inbound(), barrier.clone());
            tokio::spawn(async move {
                // PostgreSQL text cannot hold NUL: this one row is invalid input.
                let sender = if n == 7 { "bad\0sender" } else { "good" };
                let platform_id = format!("batch-{n}");
                let message = InboundMessage { sender: Some(sender), ..message(&platform_id) };
                barrier.wait().await;
                inbound.record_inbound(&message).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    for (n, result) in results.iter().enumerate() {
        match (n, result) {
            (7, Err(error)) => assert!(!error.is_retryable(), "invalid input is not retryable: {error:?}"),
            (7, Ok(outcome)) => panic!("the invalid row was stored: {outcome:?}"),
            (_, Ok(InboundOutcome::Inserted { .. })) => {}
            (_, other) => panic!("message {n} should be stored: {other:?}"),
        }
    }
    assert_eq!(t.raw_scalar("SELECT count(*) FROM messages").await, 15);
    t.drop_schema().await;
}

const SANDBOX_KEY: &str = "1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// `chitin db status` and `db migrate` through the binary on an empty PostgreSQL database: status lists every
/// migration as pending, migrate applies them, and the next open records and checks the master key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_commands_work_on_a_fresh_postgres_database() {
    use crate::support::process::{Sandbox, text};
    let _shared = postgres_shared_lock().await;
    let Some(base_url) = database_url() else { return };
    let (schema, url) = fresh_postgres_schema(&base_url).await;
    let sandbox = Sandbox::new().env("CHITIN_DATABASE__URL", &url).env("CHITIN_MASTER_KEY", SANDBOX_KEY);
    let (status, migrate, again) = tokio::task::block_in_place(|| {
        (sandbox.run(&["db", "status"]), sandbox.run(&["db", "migrate"]), sandbox.run(&["db", "status"]))
    });
    assert!(status.status.success(), "{}", text(&status.stderr));
    assert!(text(&status.stdout).lines().all(|line| line.contains("pending")), "{}", text(&status.stdout));
    assert!(migrate.status.success(), "{}", text(&migrate.stderr));
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(text(&again.stdout).lines().all(|line| line.contains("applied")), "{}", text(&again.stdout));

    // The status after migrating recorded the key it ran with: the same key opens, another is refused.
    let dir = tempfile::tempdir().unwrap();
    let key = chitin::crypto::MasterKey::load(Some(SANDBOX_KEY), dir.path()).unwrap();
    let store = Store::connect(&test_config(Some(url.clone())), dir.path(), &key).await.expect("same key opens");
    store.close().await;
    let other = Store::connect(&test_config(Some(url.clone())), dir.path(), &test_master_key()).await;
    assert!(matches!(other, Err(StoreError::WrongMasterKey { .. })), "{other:?}");
    let mut raw = sqlx::PgConnection::connect(&base_url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(&mut raw).await.unwrap();
    raw.close().await.unwrap();
}

/// Pooled connections the server cut while they sat idle are noticed before they are handed out
/// (the pool pings a connection idle for 2 s or more), so the first reads after a quiet spell
/// succeed instead of failing on a dead socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_pool_replaces_connections_cut_while_idle() {
    if database_url().is_none() {
        return;
    }
    // Exclusive: the cut below ends every connection named "chitin", other tests' included.
    let _exclusive = postgres_exclusive_lock().await;
    let t = postgres_store().await.unwrap();
    let memory = t.store.memory();
    let reads = (0..4).map(|_| memory.document_hash("notes/absent.md"));
    for read in futures::future::join_all(reads).await {
        assert_eq!(read.unwrap(), None);
    }
    let cut = t
        .raw_scalar(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = 'chitin' AND pid <> pg_backend_pid()) AS ended",
        )
        .await;
    assert!(cut >= 1, "no pooled connection was found to cut");
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    for attempt in 0..8 {
        let read = memory.document_hash("notes/absent.md").await;
        assert!(matches!(read, Ok(None)), "read {attempt} after the idle cut: {read:?}");
    }
    t.drop_schema().await;
}
