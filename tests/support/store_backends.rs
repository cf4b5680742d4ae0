//! Opens a fresh store on a real SQLite file or in a private PostgreSQL schema, for tests that run on both.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use chitin::crypto::MasterKey;
use chitin::store::{Backend, DatabaseConfig, Store};
use sqlx::Connection;

/// A store plus what a test needs to look underneath it.
pub struct TestStore {
    pub store: Store,
    pub config: DatabaseConfig,
    pub master_key: MasterKey,
    pub data_dir: tempfile::TempDir,
    /// URL of the backing PostgreSQL schema (search_path set), None on SQLite.
    pub postgres_url: Option<String>,
    pub postgres_schema: Option<String>,
}

impl TestStore {
    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.path().join(chitin::store::DEFAULT_SQLITE_FILE)
    }

    /// Opens the same database again with `config` and `master_key` (e.g. a wrong key).
    pub async fn reopen(&self, master_key: &MasterKey) -> Result<Store, chitin::store::StoreError> {
        Store::connect(&self.config, self.data_dir.path(), master_key).await
    }

    /// Runs raw SQL beside the store (to tamper, count or install fault triggers).
    pub async fn raw_execute(&self, sql: &str) {
        match &self.postgres_url {
            Some(url) => {
                let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut connection).await.unwrap();
            }
            None => {
                let mut connection = self.raw_sqlite().await;
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut connection).await.unwrap();
                connection.close().await.unwrap();
            }
        }
    }

    /// A single `SELECT count(*)`-style integer.
    pub async fn raw_scalar(&self, sql: &str) -> i64 {
        match &self.postgres_url {
            Some(url) => {
                let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&mut connection).await.unwrap()
            }
            None => {
                let mut connection = self.raw_sqlite().await;
                let value =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&mut connection).await.unwrap();
                // Closed, not dropped: a dropped SQLCipher connection closes on its own thread and can race the
                // process's exit (SQLCipher frees its globals at exit).
                connection.close().await.unwrap();
                value
            }
        }
    }

    /// Closes the store (so no SQLite worker thread is still running when the test process exits) and removes
    /// the test's PostgreSQL schema (only after a pass, so a failure can be inspected).
    pub async fn drop_schema(&self) {
        self.store.close().await;
        if let (Some(base_url), Some(schema)) = (database_url(), &self.postgres_schema) {
            let mut connection = sqlx::PgConnection::connect(&base_url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut connection)
                .await
                .unwrap();
        }
    }

    async fn raw_sqlite(&self) -> sqlx::SqliteConnection {
        let key = format!("\"x'{}'\"", self.master_key.sqlcipher_key_hex().as_str());
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(self.sqlite_path()).pragma("key", key);
        sqlx::SqliteConnection::connect_with(&options).await.unwrap()
    }
}

static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

/// A master key that differs per test, so a test cannot pass by reading another's data.
pub fn test_master_key() -> MasterKey {
    let seed = NEXT_KEY.fetch_add(1, Ordering::Relaxed) ^ u64::from(std::process::id());
    let mut bytes = [0x5au8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    MasterKey::from_bytes(bytes)
}

pub fn test_config(url: Option<String>) -> DatabaseConfig {
    DatabaseConfig {
        url: url.map(Into::into),
        max_connections: 8,
        connect_attempts: 3,
        connect_backoff_ms: 50,
        ..DatabaseConfig::default()
    }
}

/// A new encrypted SQLite file in a temp dir (the default location: no url configured).
pub async fn sqlite_store() -> TestStore {
    let data_dir = tempfile::tempdir().unwrap();
    let master_key = test_master_key();
    let config = test_config(None);
    let store = Store::connect(&config, data_dir.path(), &master_key).await.unwrap();
    TestStore { store, config, master_key, data_dir, postgres_url: None, postgres_schema: None }
}

/// `DATABASE_URL`, or None after printing why the PostgreSQL half is skipped.
pub fn database_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("SKIP postgres: DATABASE_URL is unset; run scripts/setup-postgres.sh and export what it prints");
            None
        }
    }
}

/// Creates an empty schema and returns (schema, URL whose connections use it, then `public` for pgvector).
pub async fn fresh_postgres_schema(base_url: &str) -> (String, String) {
    let schema = format!("test_{}_{}", std::process::id(), NEXT_KEY.fetch_add(1, Ordering::Relaxed));
    let mut connection = sqlx::PgConnection::connect(base_url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut connection).await.unwrap();
    let separator = if base_url.contains('?') { '&' } else { '?' };
    let url = format!("{base_url}{separator}options=-c%20search_path%3D{schema}%2Cpublic");
    (schema, url)
}

/// A new store in its own PostgreSQL schema, or None (with a skip line) when DATABASE_URL is unset.
pub async fn postgres_store() -> Option<TestStore> {
    let base_url = database_url()?;
    let (schema, url) = fresh_postgres_schema(&base_url).await;
    let data_dir = tempfile::tempdir().unwrap();
    let master_key = test_master_key();
    let config = test_config(Some(url.clone()));
    let store = Store::connect(&config, data_dir.path(), &master_key).await.unwrap();
    Some(TestStore { store, config, master_key, data_dir, postgres_url: Some(url), postgres_schema: Some(schema) })
}

/// Declares each named `async fn(&TestStore)` as two tests: `<name>::sqlite` and `<name>::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let test_store = $crate::support::store_backends::sqlite_store().await;
                super::$name(&test_store).await;
                test_store.drop_schema().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let _shared = $crate::support::store_backends::postgres_shared_lock().await;
                let Some(test_store) = $crate::support::store_backends::postgres_store().await else { return };
                super::$name(&test_store).await;
                test_store.drop_schema().await;
            }
        }
    )*};
}

/// Held (shared) by every PostgreSQL test, and exclusively by the test that restarts the server,
/// so a restart never breaks another test. A file lock, so it also works across nextest processes.
pub struct PostgresLock(#[allow(dead_code)] std::fs::File);

const POSTGRES_LOCK_FILE: &str = "/tmp/chitin-store-tests-postgres.lock";

async fn postgres_lock(exclusive: bool) -> PostgresLock {
    tokio::task::spawn_blocking(move || {
        let file =
            std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(POSTGRES_LOCK_FILE).unwrap();
        if exclusive {
            file.lock().unwrap()
        } else {
            file.lock_shared().unwrap()
        }
        PostgresLock(file)
    })
    .await
    .unwrap()
}

pub async fn postgres_shared_lock() -> PostgresLock {
    postgres_lock(false).await
}

pub async fn postgres_exclusive_lock() -> PostgresLock {
    postgres_lock(true).await
}
