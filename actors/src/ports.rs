//! Ports: the small traits through which actor shells reach the services that `chitin` implements.
//!
//! Nothing here knows HTTP, SQL or wasmtime; the root crate provides the implementations.

use std::future::Future;
use std::pin::Pin;

use crate::message::{ConversationId, Inbound};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a turn could not be completed; the session logs it and the runner has already told the user.
#[derive(Debug, thiserror::Error)]
#[error("turn in {conversation} failed: {reason}")]
pub struct TurnError {
    pub conversation: ConversationId,
    pub reason: String,
}

/// Runs one agent turn for one conversation: prompt, LLM, tools, reply.
///
/// The runner owns delivering the reply (it writes the outbox); the session actor only guarantees that turns of
/// one conversation run one at a time, in arrival order, and that conversations never wait for each other.
pub trait TurnRunner: Send + Sync + 'static {
    /// Rebuilds what a fresh session needs and returns inbound messages that were accepted but never answered,
    /// oldest first, so a session restarted after a crash answers them once.
    fn resume(&self, conversation: &ConversationId) -> BoxFuture<'_, Result<Vec<Inbound>, TurnError>>;

    fn run_turn(&self, inbound: Inbound) -> BoxFuture<'_, Result<(), TurnError>>;

    /// The conversation's session stopped (idle or shutdown): forget anything kept in memory for it.
    fn stopped(&self, _conversation: &ConversationId) {}

    /// The conversation's session kept failing and was dropped: answer what it left unanswered with an honest
    /// error, so no caller waits for a reply that will not come.
    fn abandon(&self, conversation: &ConversationId, reason: &str) -> BoxFuture<'_, Result<(), TurnError>>;
}

/// Progress of one memory indexing batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexProgress {
    /// Files taken off the queue in this batch (indexed, unchanged, removed or skipped).
    pub done: usize,
    /// Files still queued.
    pub remaining: usize,
}

/// Why a batch stopped; the files stay queued.
#[derive(Debug, thiserror::Error)]
#[error("memory indexing failed: {reason}")]
pub struct IndexError {
    pub reason: String,
}

/// The memory service's indexing queue, drained by the `MemoryIndexer`.
pub trait MemoryIndexPort: Send + Sync + 'static {
    /// Indexes up to `limit` queued files, oldest first, removing each from the queue once done.
    fn index_batch(&self, limit: usize) -> BoxFuture<'_, Result<IndexProgress, IndexError>>;
}

/// One WASM tool call as the sandbox pool sees it: names and JSON text only, so the bus knows nothing of wasmtime.
#[derive(Debug, Clone)]
pub struct ToolExecution {
    pub tool: String,
    /// The parameters as a JSON object, already validated against the tool's schema.
    pub params: String,
    /// Identifies the call in logs and the audit log.
    pub call_id: String,
    /// The conversation the call runs for.
    pub session: String,
}

/// Why a tool call produced no result; the message is the typed error the model and the owner see.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ToolExecutionError {
    /// The sandbox ran the call and it failed (denied capability, fuel exhausted, timeout, bad output, …).
    #[error("{reason}")]
    Failed { tool: String, reason: String },
    /// The call could not reach the sandbox (pool down or not answering in time).
    #[error("the sandbox could not run {tool}: {reason}")]
    Unavailable { tool: String, reason: String },
}

/// Runs WASM tool calls: the sandbox implements it; the pool actor bounds and isolates the calls it forwards.
pub trait ToolExecutor: Send + Sync + 'static {
    fn execute(&self, execution: ToolExecution) -> BoxFuture<'static, Result<String, ToolExecutionError>>;
}
