//! Errors of the message bus, shared by every actor.

use ractor::{ActorProcessingErr, SpawnErr};

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("{actor} is overloaded ({capacity} messages waiting); try again shortly")]
    Overloaded { actor: String, capacity: usize },
    #[error("{actor} is not running")]
    ActorDown { actor: String },
    #[error("{actor} did not answer within {timeout_ms} ms")]
    Timeout { actor: String, timeout_ms: u64 },
    #[error("could not start {actor}")]
    Spawn {
        actor: String,
        #[source]
        source: SpawnErr,
    },
    #[error("{actor} failed: {reason}")]
    Failed { actor: String, reason: String },
}

impl BusError {
    /// Wraps an actor-processing error, which ractor boxes without `Sync`, as a message.
    pub fn failed(actor: impl Into<String>, error: &ActorProcessingErr) -> Self {
        BusError::Failed { actor: actor.into(), reason: error.to_string() }
    }
}

/// Turns ractor's call outcome into a [`BusError`] that names the actor.
pub fn call_outcome<T, E: std::fmt::Display>(
    actor: &str,
    timeout_ms: u64,
    result: Result<ractor::rpc::CallResult<T>, E>,
) -> Result<T, BusError> {
    match result {
        Ok(ractor::rpc::CallResult::Success(value)) => Ok(value),
        Ok(ractor::rpc::CallResult::Timeout) => Err(BusError::Timeout { actor: actor.into(), timeout_ms }),
        Ok(ractor::rpc::CallResult::SenderError) | Err(_) => Err(BusError::ActorDown { actor: actor.into() }),
    }
}
