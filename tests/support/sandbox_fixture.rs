//! Builds the guest tools once per test run and gives each test a `Sandbox` that shares one
//! compiled-component cache, so each component is compiled once per run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use chitin::sandbox::{
    LeakBlocked, LeakDirection, LeakGuard, Manifest, Sandbox, SandboxConfig, SandboxServices, SecretSource,
};
use secrecy::SecretString;

pub const TOOLS: [&str; 4] = ["calc", "hostile", "http_get", "json_query"];

/// Runs `scripts/build-tools.sh` once and returns the folder with the built components.
pub fn tools_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasm-tools");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-tools.sh");
        let status = std::process::Command::new("bash")
            .arg(&script)
            .env("CHITIN_WASM_TOOLS_DIR", &out)
            .status()
            .expect("run scripts/build-tools.sh");
        assert!(status.success(), "scripts/build-tools.sh failed: {status}");
        out
    })
}

pub fn wasm(tool: &str) -> PathBuf {
    tools_dir().join(format!("{tool}.wasm"))
}

/// One cache dir for all tests, filled (once per process, and then from disk) with every
/// bundled component.
pub fn shared_cache_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // Reused across runs: entries are keyed by content hash and engine, so a stale one is
        // never loaded, and test processes running in parallel share the compile work.
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sandbox-cache");
        let warm_dir = dir.clone();
        // Its own runtime and thread: this may be called from inside any test's runtime.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("runtime");
            runtime.block_on(async {
                let sandbox = new_sandbox(config_with_cache(&warm_dir), Arc::new(MapSecrets::default()));
                for tool in TOOLS {
                    sandbox.load_tool(&wasm(tool), manifest(tool, "")).await.expect("warm cache");
                }
            });
        })
        .join()
        .expect("warm the component cache");
        dir
    })
}

pub fn config_with_cache(cache_dir: &Path) -> SandboxConfig {
    SandboxConfig { cache_dir: cache_dir.to_path_buf(), max_concurrent_calls: 8, ..SandboxConfig::default() }
}

pub fn test_config() -> SandboxConfig {
    config_with_cache(shared_cache_dir())
}

pub fn new_sandbox(config: SandboxConfig, secrets: Arc<MapSecrets>) -> Sandbox {
    let guard = LiteralLeakGuard { secrets: secrets.values() };
    Sandbox::new(config, SandboxServices { secrets, leak_guard: Arc::new(guard) })
}

/// A manifest for `name` with `body` appended (TOML).
pub fn manifest(name: &str, body: &str) -> Manifest {
    let text = format!("name = \"{name}\"\nversion = \"0.1.0\"\n{body}");
    Manifest::parse(&text, "test manifest").unwrap_or_else(|error| panic!("test manifest: {error}"))
}

/// A sandbox with `tool` loaded under `manifest_body`, using the shared cache.
pub async fn sandbox_with(tool: &str, manifest_body: &str, secrets: Arc<MapSecrets>) -> Sandbox {
    let sandbox = new_sandbox(test_config(), secrets);
    sandbox.load_tool(&wasm(tool), manifest(tool, manifest_body)).await.expect("load tool");
    sandbox
}

/// Secrets from a map: the test stand-in for the encrypted secret store.
#[derive(Default)]
pub struct MapSecrets {
    values: HashMap<String, String>,
}

impl MapSecrets {
    pub fn with(pairs: &[(&str, &str)]) -> Arc<MapSecrets> {
        Arc::new(MapSecrets {
            values: pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect(),
        })
    }

    fn values(&self) -> Vec<String> {
        self.values.values().cloned().collect()
    }
}

impl SecretSource for MapSecrets {
    fn get(&self, name: &str) -> Option<SecretString> {
        self.values.get(name).map(|value| SecretString::from(value.clone()))
    }
}

/// Blocks bytes containing a known secret literally or base64-encoded: a real, if simple, scan.
pub struct LiteralLeakGuard {
    secrets: Vec<String>,
}

impl LeakGuard for LiteralLeakGuard {
    fn check(&self, direction: LeakDirection, bytes: &[u8]) -> Result<(), LeakBlocked> {
        for secret in &self.secrets {
            let encoded = base64::engine::general_purpose::STANDARD.encode(secret);
            let forms = [secret.as_bytes(), encoded.trim_end_matches('=').as_bytes()];
            if forms.iter().any(|form| bytes.windows(form.len()).any(|window| window == *form)) {
                return Err(LeakBlocked { direction, reason: "contains a known secret".into() });
            }
        }
        Ok(())
    }
}
