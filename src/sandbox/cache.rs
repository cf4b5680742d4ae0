//! The on-disk cache of compiled components, so a restart loads tools without recompiling.
//!
//! A cache file is `<sha256 of the .wasm>.cwasm` holding a header (magic, the engine's
//! compatibility fingerprint, sha256 of the payload) and wasmtime's serialized component.
//! A file that is corrupt, truncated or from another engine fails the header check and is
//! recompiled; only files whose checksum matches are ever handed to the (unsafe) deserializer.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::SandboxError;

const MAGIC: &[u8; 8] = b"CHITINC1";
const HEADER_LEN: usize = MAGIC.len() + 8 + 32;

/// How a component was obtained, for logs and the restart-without-recompile test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CacheOutcome {
    Loaded,
    Compiled,
}

pub(crate) struct ComponentCache {
    dir: PathBuf,
    engine_fingerprint: u64,
    compiled: AtomicU64,
    loaded: AtomicU64,
}

impl ComponentCache {
    pub(crate) fn new(dir: PathBuf, engine: &Engine) -> Self {
        // `precompile_compatibility_hash` is stable for one wasmtime build and config, which is
        // exactly when a serialized component may be reused.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        ComponentCache {
            dir,
            engine_fingerprint: hasher.finish(),
            compiled: AtomicU64::new(0),
            loaded: AtomicU64::new(0),
        }
    }

    pub(crate) fn compiled_count(&self) -> u64 {
        self.compiled.load(Ordering::Relaxed)
    }

    pub(crate) fn loaded_count(&self) -> u64 {
        self.loaded.load(Ordering::Relaxed)
    }

    pub(crate) fn path_for(&self, wasm_hash: &ComponentHash) -> PathBuf {
        self.dir.join(format!("{wasm_hash}.cwasm"))
    }

    /// Returns the component for `wasm`, from the cache when a valid entry exists.
    pub(crate) fn load_or_compile(
        &self,
        engine: &Engine,
        wasm: &[u8],
        wasm_hash: &ComponentHash,
        source: &Path,
    ) -> Result<(Component, CacheOutcome), SandboxError> {
        let path = self.path_for(wasm_hash);
        match std::fs::read(&path) {
            Ok(bytes) => match self.verified_payload(&bytes) {
                Some(payload) => {
                    // SAFETY: the payload's checksum matches the one written with it by
                    // `store` below, from `Engine::precompile_component` of this engine's
                    // configuration, so it is a serialized component we produced ourselves.
                    match unsafe { Component::deserialize(engine, payload) } {
                        Ok(component) => {
                            self.loaded.fetch_add(1, Ordering::Relaxed);
                            tracing::debug!(cache = %path.display(), "component loaded from cache");
                            return Ok((component, CacheOutcome::Loaded));
                        }
                        Err(error) => {
                            tracing::warn!(cache = %path.display(), %error, "cached component rejected; recompiling");
                        }
                    }
                }
                None => {
                    tracing::warn!(cache = %path.display(), "cached component is corrupt or from another engine; recompiling")
                }
            },
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!(cache = %path.display(), %error, "could not read cached component; recompiling")
            }
        }
        let started = std::time::Instant::now();
        let serialized = engine
            .precompile_component(wasm)
            .map_err(|error| SandboxError::Compile { path: source.to_path_buf(), reason: format!("{error:#}") })?;
        self.compiled.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            component = %source.display(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "component compiled"
        );
        self.store(&path, &serialized)?;
        // SAFETY: `serialized` was produced a moment ago by this engine.
        let component = unsafe { Component::deserialize(engine, &serialized) }
            .map_err(|error| SandboxError::Compile { path: source.to_path_buf(), reason: format!("{error:#}") })?;
        Ok((component, CacheOutcome::Compiled))
    }

    fn verified_payload<'a>(&self, bytes: &'a [u8]) -> Option<&'a [u8]> {
        if bytes.len() < HEADER_LEN || &bytes[..MAGIC.len()] != MAGIC {
            return None;
        }
        let fingerprint = u64::from_le_bytes(bytes[MAGIC.len()..MAGIC.len() + 8].try_into().ok()?);
        if fingerprint != self.engine_fingerprint {
            return None;
        }
        let checksum = &bytes[MAGIC.len() + 8..HEADER_LEN];
        let payload = &bytes[HEADER_LEN..];
        (Sha256::digest(payload).as_slice() == checksum).then_some(payload)
    }

    /// Writes through a temporary file and a rename, so a crash never leaves half a file
    /// under the final name.
    fn store(&self, path: &Path, serialized: &[u8]) -> Result<(), SandboxError> {
        let write_error = |source| SandboxError::CacheWrite { path: path.to_path_buf(), source };
        std::fs::create_dir_all(&self.dir).map_err(write_error)?;
        let mut bytes = Vec::with_capacity(HEADER_LEN + serialized.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&self.engine_fingerprint.to_le_bytes());
        bytes.extend_from_slice(Sha256::digest(serialized).as_slice());
        bytes.extend_from_slice(serialized);
        static NEXT_TEMPORARY: AtomicU64 = AtomicU64::new(0);
        let unique = NEXT_TEMPORARY.fetch_add(1, Ordering::Relaxed);
        let temporary = path.with_extension(format!("tmp{}-{unique}", std::process::id()));
        std::fs::write(&temporary, &bytes).map_err(write_error)?;
        std::fs::rename(&temporary, path).map_err(write_error)
    }
}

/// Hex sha256 of a component's bytes: its identity in the cache, the catalog and approvals.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ComponentHash(String);

impl ComponentHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ComponentHash {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

pub fn content_hash(wasm: &[u8]) -> ComponentHash {
    ComponentHash(hex::encode(Sha256::digest(wasm)))
}
