//! The sandbox's ports backed by the real services: the safety layer's leak scanner, and (until the encrypted
//! secret store exists) a secret source that has no secrets, so a tool that needs one fails with a clear error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::SecretString;

use crate::safety::{LeakScanner, SafetyError};
use crate::sandbox::{
    JsonFileCatalog, LeakBlocked, LeakDirection, LeakGuard, Sandbox, SandboxConfig, SandboxServices, SecretSource,
};

/// The sandbox of one data dir: compiled cache in `cache/wasm`, installed tools and their catalog in `tools/`.
pub fn open_sandbox(data_dir: &Path, max_concurrent: usize) -> Result<(Sandbox, JsonFileCatalog, PathBuf), String> {
    let tools_dir = data_dir.join("tools");
    let config = SandboxConfig {
        cache_dir: data_dir.join("cache").join("wasm"),
        tools_dir: tools_dir.clone(),
        max_concurrent_calls: max_concurrent,
        ..SandboxConfig::default()
    };
    let leak_guard = ScannerLeakGuard::new().map_err(|error| error.to_string())?;
    let services = SandboxServices { secrets: Arc::new(NoSecrets), leak_guard: Arc::new(leak_guard) };
    let sandbox = Sandbox::new(config, services).map_err(|error| error.to_string())?;
    Ok((sandbox, JsonFileCatalog::new(tools_dir.join("catalog.json")), tools_dir))
}

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
