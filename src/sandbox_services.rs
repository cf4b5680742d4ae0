//! The sandbox's ports backed by the real services: the safety layer's leak scanner, and (until the encrypted
//! secret store exists) a secret source that has no secrets, so a tool that needs one fails with a clear error.

use secrecy::SecretString;

use crate::safety::{LeakScanner, SafetyError};
use crate::sandbox::{LeakBlocked, LeakDirection, LeakGuard, SecretSource};

/// Blocks any credential the leak scanner finds in a tool's traffic, in either direction.
pub struct ScannerLeakGuard {
    scanner: LeakScanner,
}

impl ScannerLeakGuard {
    pub fn new() -> Result<Self, SafetyError> {
        Ok(Self { scanner: LeakScanner::shared_default()? })
    }
}

impl LeakGuard for ScannerLeakGuard {
    fn check(&self, direction: LeakDirection, bytes: &[u8]) -> Result<(), LeakBlocked> {
        let text = String::from_utf8_lossy(bytes);
        let findings = self.scanner.scan(&text);
        match findings.first() {
            None => Ok(()),
            Some(finding) => Err(LeakBlocked {
                direction,
                reason: format!("{} credential(s) found, first a {}", findings.len(), finding.kind.as_str()),
            }),
        }
    }
}

/// No secrets yet: the encrypted secret store arrives with the safety issue's remaining work.
pub struct NoSecrets;

impl SecretSource for NoSecrets {
    fn get(&self, _name: &str) -> Option<SecretString> {
        None
    }
}
