//! The `database` config section.

use serde::{Deserialize, Serialize};

use crate::config::SecretValue;

/// Where Chitin keeps its data and how hard it tries to reach it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://USER:PASS@HOST:PORT/DB`. Unset means an encrypted SQLite
    /// file `chitin.db` in the data directory, created on first run, so a new user needs no server.
    pub url: Option<SecretValue>,
    /// Pool size. PostgreSQL writes in parallel; SQLite serialises writers, so extra connections
    /// there only help concurrent readers, and its reader pool also stops at twice the CPU count
    /// (at least four), past which readers only wait for a core.
    pub max_connections: u32,
    /// Connections kept open when idle, so the first request after a quiet hour is not slower.
    pub min_connections: u32,
    /// How long one connection attempt may take before it counts as failed.
    pub connect_timeout_secs: u64,
    /// How long an operation waits for a free pooled connection before failing as retryable.
    pub acquire_timeout_secs: u64,
    /// Attempts to reach PostgreSQL at start before giving up; a server that starts a little
    /// after Chitin (boot order, container restart) should not be fatal.
    pub connect_attempts: u32,
    /// First wait between start-up attempts; doubles each time, capped at 30 s.
    pub connect_backoff_ms: u64,
    /// How long SQLite waits on a lock held by another writer before failing as retryable.
    pub busy_timeout_ms: u64,
    /// Length of memory embeddings. Must match the `vector(N)` column on PostgreSQL.
    pub embedding_dims: usize,
    /// Apply pending migrations when opening. `chitin db migrate` is the manual path when off.
    pub run_migrations: bool,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: None,
            max_connections: 16,
            min_connections: 1,
            connect_timeout_secs: 5,
            acquire_timeout_secs: 10,
            connect_attempts: 8,
            connect_backoff_ms: 250,
            busy_timeout_ms: 5_000,
            embedding_dims: 384,
            run_migrations: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_keys_take_defaults_and_unknown_keys_are_named() {
        let config: DatabaseConfig =
            serde_json::from_str(r#"{ "url": "postgres://h/db", "max_connections": 4 }"#).unwrap();
        assert_eq!(
            config,
            DatabaseConfig { url: Some("postgres://h/db".into()), max_connections: 4, ..DatabaseConfig::default() }
        );
        let error = serde_json::from_str::<DatabaseConfig>(r#"{ "max_conections": 4 }"#).unwrap_err();
        assert!(error.to_string().contains("max_conections"), "{error}");
    }
}
