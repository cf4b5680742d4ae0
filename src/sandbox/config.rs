//! The sandbox's own config section: engine sizing, cache location and host-wide ceilings.

use std::path::PathBuf;

use serde::Deserialize;

/// Most calls a sandbox may run at once. Each one reserves address space for its instances' memories (about 4 GiB
/// each, nothing resident); at 4,096 the engine cannot reserve it on x86-64 and no tool could load.
pub const MAX_CONCURRENT_CALLS: usize = 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// Where compiled components are cached, keyed by content hash and engine; a restart
    /// loads from here instead of recompiling.
    pub cache_dir: PathBuf,
    /// Where installed tools' `.wasm` and manifest files are copied by `tool install`.
    pub tools_dir: PathBuf,
    /// Root of the files `workspace-read` may serve; unset means no tool can read files.
    pub workspace_dir: Option<PathBuf>,
    /// Calls running at once; more wait for a permit, so a burst cannot exhaust the pool.
    pub max_concurrent_calls: usize,
    /// How deep `invoke-tool` may nest, which also stops a tool that invokes itself.
    pub max_invoke_depth: u32,
    /// Epoch tick of the wall-clock enforcement, in milliseconds (the timeout's resolution).
    pub epoch_tick_ms: u64,
    /// Optimise compiled code (cranelift `speed`); off compiles faster but runs slower.
    pub optimize: bool,
    /// Highest memory any manifest may ask for; also each pooled memory slot's size.
    pub max_memory_bytes: u64,
    /// Highest fuel any manifest may ask for.
    pub max_fuel: u64,
    /// Highest wall-clock budget any manifest may ask for.
    pub max_wall_clock_ms: u64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            cache_dir: PathBuf::from("cache/wasm"),
            tools_dir: PathBuf::from("tools"),
            workspace_dir: None,
            max_concurrent_calls: 16,
            max_invoke_depth: 3,
            epoch_tick_ms: 10,
            optimize: true,
            max_memory_bytes: 256 << 20,
            max_fuel: 1_000_000_000_000,
            max_wall_clock_ms: 120_000,
        }
    }
}
