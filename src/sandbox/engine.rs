//! The one wasmtime `Engine` and `Linker`: pooling allocator, fuel, and an epoch ticker thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

use super::bindings::Tool;
use super::config::SandboxConfig;
use super::error::SandboxError;
use super::host::HostState;

/// Each pooled component instance of a Rust wasip2 tool uses a few core instances (the
/// program plus WASI adapter shims), tables and one or two memories.
const CORE_INSTANCES_PER_COMPONENT: u32 = 8;

/// Elements any one table may grow to. Rust tools need a few hundred (one per address-taken
/// function); the cap stops a tool that grows tables to exhaust host memory.
pub(crate) const MAX_TABLE_ELEMENTS: usize = 10_000;

/// Bytes of each pooled linear memory reset with `memset` (to the module's initial image) when a call ends,
/// instead of `madvise`. A small tool touches its shadow stack and a little heap on every call; keeping those
/// pages mapped saves the page faults that otherwise dominate a warm call. Memory is still reset between
/// calls, so nothing one call leaves behind is visible to the next.
const MEMORY_KEEP_RESIDENT_BYTES: usize = 2 << 20;
/// The same for tables (a few hundred function references in a Rust tool).
const TABLE_KEEP_RESIDENT_BYTES: usize = 64 << 10;

pub(crate) struct EngineParts {
    pub engine: Engine,
    pub linker: Linker<HostState>,
    pub ticker: EpochTicker,
}

pub(crate) fn build(config: &SandboxConfig) -> Result<EngineParts, SandboxError> {
    let engine_error = |error: wasmtime::Error| SandboxError::Engine { reason: format!("{error:#}") };
    // Nested `invoke-tool` calls hold an instance each while their caller waits.
    let instances = (config.max_concurrent_calls.max(1) as u32) * (config.max_invoke_depth + 1) + 4;
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .total_component_instances(instances)
        .total_core_instances(instances * CORE_INSTANCES_PER_COMPONENT)
        .total_memories(instances * 2)
        .total_tables(instances * CORE_INSTANCES_PER_COMPONENT)
        .total_stacks(instances)
        .table_elements(MAX_TABLE_ELEMENTS)
        .max_memory_size(config.max_memory_bytes as usize)
        .linear_memory_keep_resident(MEMORY_KEEP_RESIDENT_BYTES)
        .table_keep_resident(TABLE_KEEP_RESIDENT_BYTES)
        // Linux 6.7+: reset only the pages a call actually dirtied.
        .pagemap_scan(Enabled::Auto);
    let mut wasm_config = Config::new();
    wasm_config
        .wasm_component_model(true)
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(1 << 20)
        .cranelift_opt_level(if config.optimize { OptLevel::Speed } else { OptLevel::None })
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    let engine = Engine::new(&wasm_config).map_err(engine_error)?;
    let mut linker = Linker::<HostState>::new(&engine);
    // Rust std guests import WASI interfaces; each store gets an empty WASI context, so there
    // are no files, environment, sockets or DNS behind them.
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(engine_error)?;
    Tool::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state).map_err(engine_error)?;
    let ticker = EpochTicker::start(engine.clone(), Duration::from_millis(config.epoch_tick_ms.max(1)))?;
    Ok(EngineParts { engine, linker, ticker })
}

/// Advances the engine's epoch every tick, which is how running wasm notices its deadline.
/// Stops when dropped.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: Engine, tick: Duration) -> Result<Self, SandboxError> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while !thread_stop.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .map_err(|error| SandboxError::Engine {
                reason: format!("could not start the epoch ticker thread: {error}"),
            })?;
        Ok(EpochTicker { stop })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
