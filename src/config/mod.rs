//! Chitin's configuration: the typed schema, its sources in order, and validation.
//!
//! Sources, later ones winning: `config/default.toml` (embedded), the user's file, `CHITIN_*` variables.

mod load;
mod secret;

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use load::{ConfigError, ConfigSources, load};
pub use secret::{REDACTED, SecretValue};

/// The whole configuration, as deserialized from the merged sources.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the database, keys and workspace live; `None` means `$XDG_DATA_HOME/chitin`.
    pub data_dir: Option<PathBuf>,
    pub database: crate::store::DatabaseConfig,
    pub llm: crate::llm::LlmConfig,
    pub gateway: GatewayConfig,
    pub agent: AgentConfig,
    pub jobs: JobsConfig,
    pub routines: RoutinesConfig,
    pub heartbeat: HeartbeatConfig,
    pub repair: RepairConfig,
    pub sandbox: SandboxConfig,
    pub supervision: SupervisionConfig,
    pub shutdown: ShutdownConfig,
    pub channels: ChannelsConfig,
    /// `[memory]`: workspace, chunking, embeddings, search.
    #[serde(default)]
    pub memory: crate::memory::MemoryConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    pub bind: SocketAddr,
    /// Required before binding beyond loopback, so the gateway is never open to a network unauthenticated.
    /// Also the bearer token of the webhook and the OpenAI-compatible API.
    pub token: Option<SecretValue>,
    /// Key of `X-Chitin-Signature: sha256=…` webhook signatures; unset means the token is the key.
    pub webhook_secret: Option<SecretValue>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    pub idle_secs: u64,
    pub queue_capacity: usize,
    pub queue_wait_ms: u64,
    /// Model calls per turn before the agent stops and asks how to go on.
    pub max_steps: usize,
    /// Prompt budget in tokens; older turns are summarised beyond it.
    pub context_tokens: usize,
    /// Messages loaded from history per turn.
    pub history_messages: i64,
    pub tool_timeout_secs: u64,
    /// Tools that ask the owner (yes / no / always) on the conversation's channel before each run.
    pub require_approval: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobsConfig {
    pub workers: usize,
    /// This node's name among nodes sharing one database; empty means `<hostname>:<pid>`.
    #[serde(default)]
    pub node: String,
    /// How long a claimed job stays leased without a renewal; a dead worker's jobs run again after it.
    pub lease_ms: u64,
    /// Longest an idle worker waits before looking at the queue without a notification.
    pub poll_ms: u64,
    /// Wake idle workers with PostgreSQL LISTEN/NOTIFY (SQLite always polls).
    pub notify: bool,
    /// Attempts per job unless the submitter says otherwise.
    pub max_attempts: i64,
    /// Delay before the second attempt; doubles per attempt up to `retry_max_ms`.
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
    /// Largest payload a job may be submitted with.
    pub max_payload_bytes: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RoutinesConfig {
    /// How often the scheduler looks for due routines and new events.
    pub tick_ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatConfig {
    /// How often the agent reads HEARTBEAT.md from the workspace; 0 turns the heartbeat off.
    pub interval_secs: u64,
    /// Where its answers go, as `channel:conversation` (e.g. `telegram:123456`); empty keeps them in the job.
    pub reply_to: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RepairConfig {
    /// Time between repair sweeps.
    pub every_secs: u64,
    /// An undelivered reply older than this (with no live lease) is handed back to its sender.
    pub outbox_after_secs: u64,
    /// An inbound message unanswered for this long gets its session started again.
    pub unanswered_after_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    pub max_concurrent: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisionConfig {
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    pub max_restarts: u32,
    pub window_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownConfig {
    pub grace_secs: u64,
}

#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelsConfig {
    pub telegram: chitin_channels::telegram::TelegramConfig,
    pub slack: chitin_channels::slack::SlackConfig,
    pub webhook: chitin_channels::webhook_callback::WebhookConfig,
}

impl std::fmt::Debug for ChannelsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelsConfig")
            .field("telegram", &self.telegram)
            .field("slack", &self.slack)
            .field("webhook", &self.webhook)
            .finish()
    }
}
