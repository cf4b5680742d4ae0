//! The sandbox's ports backed by the real services: the safety layer's leak scanner and the encrypted secret store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::SecretString;

use crate::safety::{LeakScanner, SafetyError, StoredSecret};
use crate::sandbox::{
    JsonFileCatalog, LeakBlocked, LeakDirection, LeakGuard, Sandbox, SandboxConfig, SandboxServices, SecretSource,
};
use crate::secrets::stored_for_scanner;

/// The sandbox of one data dir: compiled cache in `cache/wasm`, installed tools and their catalog in `tools/`.
pub fn open_sandbox(
    data_dir: &Path,
    max_concurrent: usize,
    secrets: BTreeMap<String, SecretString>,
) -> Result<(Sandbox, JsonFileCatalog, PathBuf), String> {
    let tools_dir = data_dir.join("tools");
    let config = SandboxConfig {
        cache_dir: data_dir.join("cache").join("wasm"),
        tools_dir: tools_dir.clone(),
        max_concurrent_calls: max_concurrent,
        ..SandboxConfig::default()
    };
    let leak_guard = ScannerLeakGuard::new(&stored_for_scanner(&secrets)).map_err(|error| error.to_string())?;
    let services = SandboxServices { secrets: Arc::new(SecretSnapshot(secrets)), leak_guard: Arc::new(leak_guard) };
    Ok((Sandbox::new(config, services), JsonFileCatalog::new(tools_dir.join("catalog.json")), tools_dir))
}

/// Blocks any credential the leak scanner finds in a tool's traffic, in either direction.
pub struct ScannerLeakGuard {
    scanner: LeakScanner,
}

impl ScannerLeakGuard {
    pub fn new(stored: &[StoredSecret]) -> Result<Self, SafetyError> {
        Ok(Self { scanner: LeakScanner::shared_default()?.with_stored(stored)? })
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

/// The secret store's values as loaded at start; the host injects them into a tool's requests, never the tool.
pub struct SecretSnapshot(pub BTreeMap<String, SecretString>);

impl SecretSource for SecretSnapshot {
    fn get(&self, name: &str) -> Option<SecretString> {
        self.0.get(name).cloned()
    }
}
