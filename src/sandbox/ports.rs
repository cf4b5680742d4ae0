//! The services the sandbox needs from the rest of Chitin, seen through small traits.

use secrecy::SecretString;

/// Which way data is flowing when the leak scanner looks at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeakDirection {
    /// From the tool towards the network, before the host injects secrets.
    Request,
    /// From the network towards the tool, before the tool sees it.
    Response,
}

/// The leak scanner refused some bytes; `reason` must not contain the secret itself.
#[derive(Debug, Clone, thiserror::Error)]
#[error("leak scan blocked the {direction:?}: {reason}")]
pub struct LeakBlocked {
    pub direction: LeakDirection,
    pub reason: String,
}

/// Scans traffic for secret material (the safety module implements the real one).
pub trait LeakGuard: Send + Sync {
    fn check(&self, direction: LeakDirection, bytes: &[u8]) -> Result<(), LeakBlocked>;
}

/// Where secret values come from; the sandbox asks only for secrets a manifest grants.
pub trait SecretSource: Send + Sync {
    fn get(&self, name: &str) -> Option<SecretString>;
}
