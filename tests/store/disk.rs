//! SQLite on a disk that fills up or turns read-only: a real, size-limited tmpfs mounted for the test.
//!
//! Mounting needs root (the test command runs as root on CI machines); each mount is lazily unmounted when its
//! guard drops, also when the test fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use chitin::crypto::MasterKey;
use chitin::store::{InboundMessage, InboundOutcome, Store, StoreError};
use sqlx::Connection;

use crate::support::process::{Sandbox, text};
use crate::support::store_backends::{test_config, test_master_key};

/// A tmpfs of a fixed size on a fresh temp dir.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        mount_command(&["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs", path_str(dir.path())]);
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn remount(&self, options: &str) {
        mount_command(&["-o", &format!("remount,{options}"), path_str(self.path())]);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}

fn mount_command(args: &[&str]) {
    let output = Command::new("mount").args(args).output().expect("run mount");
    assert!(output.status.success(), "mount {args:?} failed (these tests need root): {}", text(&output.stderr));
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

fn sqlite_file(data_dir: &Path) -> PathBuf {
    data_dir.join(chitin::store::DEFAULT_SQLITE_FILE)
}

/// One integer from the raw (SQLCipher-keyed) file, beside the store.
async fn raw_scalar(data_dir: &Path, key: &MasterKey, sql: &str) -> i64 {
    let pragma = format!("\"x'{}'\"", key.sqlcipher_key_hex().as_str());
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(sqlite_file(data_dir)).pragma("key", pragma);
    let mut connection = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
    let value = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&mut connection).await.unwrap();
    connection.close().await.unwrap();
    value
}

/// Objects of a database's schema (type, name, SQL), without sqlx's bookkeeping table.
async fn schema_of(file: &Path, key: Option<&MasterKey>) -> Vec<(String, String, Option<String>)> {
    let mut options = sqlx::sqlite::SqliteConnectOptions::new().filename(file).create_if_missing(true);
    if let Some(key) = key {
        options = options.pragma("key", format!("\"x'{}'\"", key.sqlcipher_key_hex().as_str()));
    }
    let mut connection = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
    let schema = sqlx::query_as(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name NOT LIKE '\\_sqlx%' ESCAPE '\\' ORDER BY type, name",
    )
    .fetch_all(&mut connection)
    .await
    .unwrap();
    connection.close().await.unwrap();
    schema
}

/// The schema a fresh database has after the first `count` of the project's SQLite migrations.
async fn reference_schema(count: usize) -> Vec<(String, String, Option<String>)> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&source).unwrap().map(|entry| entry.unwrap().path()).collect();
    files.sort();
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    for file in files.iter().take(count) {
        std::fs::copy(file, migrations.join(file.file_name().unwrap())).unwrap();
    }
    let database = dir.path().join("reference.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&database).create_if_missing(true);
    let mut connection = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
    sqlx::migrate::Migrator::new(migrations.as_path()).await.unwrap().run(&mut connection).await.unwrap();
    connection.close().await.unwrap();
    schema_of(&database, None).await
}

fn message<'a>(id: &'a str, body: &'a str) -> InboundMessage<'a> {
    InboundMessage {
        channel: "webhook",
        external_conversation_id: "disk-test",
        platform_message_id: id,
        sender: None,
        body,
    }
}

/// The disk fills while migrations run: the error says so, the file holds no half-made schema, and once space is
/// freed the same database migrates completely. Disks of growing size put the failure at every point from the
/// bookkeeping table to the middle of the first migration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_during_migration_names_the_cause_and_keeps_no_partial_schema() {
    let key = test_master_key();
    let config = test_config(None);
    let mut failed_inside_a_migration = false;
    for size_kib in (48..2048).step_by(16) {
        let disk = Tmpfs::mount(&format!("{size_kib}k"));
        let error = match Store::connect(&config, disk.path(), &key).await {
            Ok(store) => {
                store.close().await;
                break;
            }
            Err(error) => error,
        };
        assert!(matches!(error, StoreError::MigrateDiskFull { .. }), "{size_kib} KiB: {error:?}");
        let shown = error.to_string();
        assert!(shown.contains("disk") && shown.contains("full"), "{shown}");
        assert!(!error.is_retryable());

        // Whatever was applied is whole, and nothing else is there: the schema equals that of a fresh database
        // migrated with exactly the migrations recorded as applied.
        let bookkeeping =
            raw_scalar(disk.path(), &key, "SELECT count(*) FROM sqlite_master WHERE name = '_sqlx_migrations'").await;
        let applied = if bookkeeping > 0 {
            failed_inside_a_migration = true;
            raw_scalar(disk.path(), &key, "SELECT count(*) FROM _sqlx_migrations WHERE success").await
        } else {
            0
        };
        assert_eq!(
            schema_of(&sqlite_file(disk.path()), Some(&key)).await,
            reference_schema(applied as usize).await,
            "{size_kib} KiB: the schema must be exactly that of the {applied} applied migration(s)"
        );

        disk.remount("size=32m");
        let store = Store::connect(&config, disk.path(), &key).await.expect("migrates once space is free");
        let status = store.migration_status().await.unwrap();
        assert!(!status.is_empty() && status.iter().all(|migration| migration.applied), "{status:?}");
        let outcome = store.inbound().record_inbound(&message("after-space", "hello")).await.unwrap();
        assert!(matches!(outcome, InboundOutcome::Inserted { .. }), "{outcome:?}");
        store.close().await;
    }
    assert!(failed_inside_a_migration, "some disk size must have failed after the bookkeeping table existed");
}

/// The disk fills while messages are being recorded: the failing write is named as a full disk (not retryable
/// by waiting), every write that was acknowledged before it is still there, and writing works again once the
/// disk has room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_at_runtime_is_named_and_keeps_what_was_acknowledged() {
    let disk = Tmpfs::mount("8m");
    let key = test_master_key();
    let config = test_config(None);
    let store = Store::connect(&config, disk.path(), &key).await.unwrap();
    disk.remount("size=3m");

    let body = "x".repeat(64 * 1024);
    let mut acknowledged = 0i64;
    let mut failure = None;
    for n in 0..400 {
        match store.inbound().record_inbound(&message(&format!("m-{n}"), &body)).await {
            Ok(InboundOutcome::Inserted { .. }) => acknowledged += 1,
            Ok(other) => panic!("unexpected outcome {other:?}"),
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    let error = failure.expect("a 3 MiB disk cannot hold 400 × 64 KiB");
    assert!(matches!(error, StoreError::DiskFull { .. }), "{error:?}");
    assert!(error.to_string().contains("disk holding the database is full"), "{error}");
    assert!(acknowledged > 0, "some writes fit before the disk filled");

    disk.remount("size=64m");
    let outcome = store.inbound().record_inbound(&message("after-space", "hello")).await.unwrap();
    assert!(matches!(outcome, InboundOutcome::Inserted { .. }), "{outcome:?}");
    store.close().await;

    let stored =
        raw_scalar(disk.path(), &key, "SELECT count(*) FROM messages WHERE platform_message_id LIKE 'm-%'").await;
    assert_eq!(stored, acknowledged, "every acknowledged message survives, nothing unacknowledged appears");
}

/// A database on a read-only file system: opening names the cause instead of failing later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_file_system_is_named_at_open() {
    let disk = Tmpfs::mount("8m");
    let key = test_master_key();
    let config = test_config(None);
    let store = Store::connect(&config, disk.path(), &key).await.unwrap();
    store.close().await;
    disk.remount("ro");

    let error = Store::connect(&config, disk.path(), &key).await.unwrap_err();
    let chain = chitin::error_chain::describe(&error);
    assert!(chain.to_lowercase().contains("read-only"), "{chain}");
    assert!(chain.contains(path_str(&sqlite_file(disk.path()))), "the message names the file: {chain}");
}

/// What a user sees from the real binary when the data directory's disk is read-only.
#[test]
fn binary_reports_a_read_only_database_clearly() {
    let disk = Tmpfs::mount("8m");
    let sandbox = Sandbox::new()
        .env("CHITIN_DATA_DIR", path_str(disk.path()))
        .env("CHITIN_MASTER_KEY", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    let first = sandbox.run(&["db", "migrate"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    disk.remount("ro");

    let output = sandbox.run(&["db", "status"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.to_lowercase().contains("read-only"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
