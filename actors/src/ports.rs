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
