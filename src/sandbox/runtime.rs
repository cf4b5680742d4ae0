//! `Sandbox`: loads tools into the shared engine and runs each call in a fresh, limited store.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::sync::Semaphore;
use tracing::Instrument;
use wasmtime::component::Linker;
use wasmtime::{Engine, Store, StoreLimitsBuilder, UpdateDeadline};

use super::bindings::ToolPre;
use super::cache::{CacheOutcome, ComponentCache, ComponentHash, content_hash};
use super::call::{CallContext, InspectedComponent, SandboxServices, SandboxStats, ToolDescription, ToolOutcome};
use super::config::SandboxConfig;
use super::engine::{self, EpochTicker};
use super::error::{ExecutionFailure, SandboxError};
use super::host::{CallScope, HostState};
use super::http::HttpGateway;
use super::limits::{Limits, RateWindow};
use super::manifest::{Manifest, ToolName};
use super::outcome::{WallClockExpired, check_output, classify_tool_error, classify_trap};

/// A loaded tool: compiled once, pre-linked once, instantiated fresh for every call.
pub(crate) struct LoadedTool {
    pub name: ToolName,
    pub manifest: Manifest,
    pub hash: ComponentHash,
    pub description: ToolDescription,
    pre: ToolPre<HostState>,
    pub http: HttpGateway,
    calls: RateWindow,
}

/// The wasmtime engine, its linker and the compiled-component cache. Built when the first component is
/// prepared: an install with no WASM tools would otherwise keep the engine's code and heap resident (about
/// 2 MiB) and its epoch thread waking every tick, for nothing.
struct WasmEngine {
    engine: Engine,
    linker: Linker<HostState>,
    cache: ComponentCache,
    // Kept for its Drop, which stops the ticker thread with the last handle.
    _ticker: EpochTicker,
}

impl WasmEngine {
    fn build(config: &SandboxConfig) -> Result<WasmEngine, SandboxError> {
        let parts = engine::build(config)?;
        let cache = ComponentCache::new(config.cache_dir.clone(), &parts.engine);
        tracing::debug!(cache = %config.cache_dir.display(), "wasm engine started");
        Ok(WasmEngine { engine: parts.engine, linker: parts.linker, cache, _ticker: parts.ticker })
    }
}

struct SandboxInner {
    wasm: OnceLock<Arc<WasmEngine>>,
    /// Held while the engine is built, so two first loads build it once.
    wasm_building: Mutex<()>,
    permits: Arc<Semaphore>,
    tools: RwLock<HashMap<ToolName, Arc<LoadedTool>>>,
    services: SandboxServices,
    config: SandboxConfig,
}

/// The WASM tool runtime. Cheap to clone (one `Arc`), `Send + Sync`; a trap, timeout or host
/// failure fails only the call it happened in.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<SandboxInner>,
}

impl Sandbox {
    /// A sandbox with no tools. The engine is started by the first `inspect` or `load_tool`, so a bad engine
    /// configuration is reported there.
    pub fn new(config: SandboxConfig, services: SandboxServices) -> Sandbox {
        Sandbox {
            inner: Arc::new(SandboxInner {
                wasm: OnceLock::new(),
                wasm_building: Mutex::new(()),
                permits: Arc::new(Semaphore::new(config.max_concurrent_calls.max(1))),
                tools: RwLock::new(HashMap::new()),
                services,
                config,
            }),
        }
    }

    pub fn stats(&self) -> SandboxStats {
        let cache = self.inner.wasm.get().map(|wasm| &wasm.cache);
        SandboxStats {
            engine_started: cache.is_some(),
            components_compiled: cache.map_or(0, ComponentCache::compiled_count),
            components_loaded_from_cache: cache.map_or(0, ComponentCache::loaded_count),
            tools_loaded: self.read_tools().len(),
        }
    }

    /// Checks a component against the world and its manifest (compiling or loading it from the
    /// cache and running `describe` with no capabilities) without making it callable.
    pub async fn inspect(&self, wasm_path: &Path, manifest: &Manifest) -> Result<InspectedComponent, SandboxError> {
        let (_pre, description, hash) = self.prepare(wasm_path, manifest).await?;
        Ok(InspectedComponent { description, hash })
    }

    /// Loads (or replaces) a tool so it can be called; returns what it describes itself as.
    pub async fn load_tool(&self, wasm_path: &Path, manifest: Manifest) -> Result<ToolDescription, SandboxError> {
        let (pre, description, hash) = self.prepare(wasm_path, &manifest).await?;
        let tool = LoadedTool {
            name: manifest.name.clone(),
            http: HttpGateway::new(&manifest)?,
            calls: RateWindow::per_minute(manifest.rate_limit.calls_per_minute),
            manifest,
            hash,
            description: description.clone(),
            pre,
        };
        tracing::info!(tool = %tool.name, hash = %tool.hash, "tool loaded");
        self.inner
            .tools
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(tool.name.clone(), Arc::new(tool));
        Ok(description)
    }

    pub fn unload_tool(&self, tool: &ToolName) -> bool {
        self.inner.tools.write().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(tool).is_some()
    }

    pub fn description(&self, tool: &ToolName) -> Option<ToolDescription> {
        self.read_tools().get(tool).map(|loaded| loaded.description.clone())
    }

    /// Runs one call with the tool's limits; waits for a permit when the pool is busy.
    pub async fn execute(
        &self,
        tool: &ToolName,
        params: &serde_json::Value,
        context: CallContext,
    ) -> Result<ToolOutcome, ExecutionFailure> {
        let span = tracing::info_span!("tool_call", tool = %tool, call = %context.call_id);
        async {
            let loaded = self.loaded(tool)?;
            let params =
                serde_json::to_string(params).map_err(|source| SandboxError::Params { tool: tool.clone(), source })?;
            if !loaded.calls.try_acquire() {
                return Err(SandboxError::RateLimited {
                    tool: tool.clone(),
                    limit: format!("more than {} calls per minute", loaded.calls.capacity()),
                }
                .into());
            }
            // The semaphore is never closed, so acquire only fails if that invariant breaks.
            let permit = Arc::clone(&self.inner.permits)
                .acquire_owned()
                .await
                .map_err(|_| SandboxError::Host { tool: tool.clone(), reason: "permit pool closed".into() })?;
            // A panic anywhere in the call (a host-import bug included) fails this call and nothing else. Caught
            // in place rather than by running the call as its own task: a spawn and a cross-thread wake cost more
            // than a whole warm call.
            let call = AssertUnwindSafe(async move {
                let _permit = permit;
                self.run(loaded, params, context).await
            })
            .catch_unwind();
            let outcome = match call.await {
                Ok(outcome) => outcome,
                Err(panic) => {
                    let reason = panic_message(panic.as_ref());
                    tracing::error!(%reason, "tool call panicked");
                    Err(SandboxError::Host { tool: tool.clone(), reason: format!("the call panicked: {reason}") }
                        .into())
                }
            };
            match &outcome {
                Ok(outcome) => tracing::info!(
                    fuel = outcome.usage.fuel_consumed,
                    micros = outcome.usage.duration.as_micros() as u64,
                    "tool call succeeded"
                ),
                Err(failure) => {
                    tracing::info!(
                        kind = failure.error.kind(),
                        refusals = failure.usage.refusals.len(),
                        "tool call failed"
                    );
                    // The message can hold tool-controlled text, so it stays at debug.
                    tracing::debug!(error = %failure.error, "tool call failure detail");
                }
            }
            outcome
        }
        .instrument(span)
        .await
    }

    /// `invoke-tool` from inside a call: no new permit (the caller holds one, and waiting for
    /// a second could deadlock a full pool), and boxed because it recurses.
    pub(crate) fn execute_nested<'a>(
        &'a self,
        tool: &'a ToolName,
        params: String,
        context: CallContext,
    ) -> Pin<Box<dyn Future<Output = Result<ToolOutcome, ExecutionFailure>> + Send + 'a>> {
        Box::pin(async move {
            let loaded = self.loaded(tool)?;
            if !loaded.calls.try_acquire() {
                return Err(SandboxError::RateLimited {
                    tool: tool.clone(),
                    limit: format!("more than {} calls per minute", loaded.calls.capacity()),
                }
                .into());
            }
            self.run(loaded, params, context).await
        })
    }

    pub(crate) fn services(&self) -> &SandboxServices {
        &self.inner.services
    }

    pub(crate) fn workspace_dir(&self) -> Option<PathBuf> {
        self.inner.config.workspace_dir.clone()
    }

    pub(crate) fn max_invoke_depth(&self) -> u32 {
        self.inner.config.max_invoke_depth
    }

    /// The engine, started on first use.
    fn wasm(&self) -> Result<&Arc<WasmEngine>, SandboxError> {
        if let Some(wasm) = self.inner.wasm.get() {
            return Ok(wasm);
        }
        let _building = self.inner.wasm_building.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(wasm) = self.inner.wasm.get() {
            return Ok(wasm);
        }
        let built = WasmEngine::build(&self.inner.config)?;
        Ok(self.inner.wasm.get_or_init(|| Arc::new(built)))
    }

    fn read_tools(&self) -> std::sync::RwLockReadGuard<'_, HashMap<ToolName, Arc<LoadedTool>>> {
        self.inner.tools.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn loaded(&self, tool: &ToolName) -> Result<Arc<LoadedTool>, SandboxError> {
        self.read_tools().get(tool).cloned().ok_or_else(|| SandboxError::UnknownTool { tool: tool.clone() })
    }

    fn check_ceilings(&self, manifest: &Manifest) -> Result<(), SandboxError> {
        let config = &self.inner.config;
        let checks = [
            ("limits.fuel", manifest.limits.fuel, config.max_fuel),
            ("limits.memory_bytes", manifest.limits.memory_bytes, config.max_memory_bytes),
            ("limits.wall_clock_ms", manifest.limits.wall_clock_ms, config.max_wall_clock_ms),
        ];
        for (path, value, ceiling) in checks {
            if value > ceiling {
                return Err(super::error::ManifestError::Invalid {
                    file: manifest.name.to_string(),
                    path: path.to_string(),
                    message: format!("{value} is above this host's ceiling of {ceiling}"),
                }
                .into());
            }
        }
        Ok(())
    }

    async fn prepare(
        &self,
        wasm_path: &Path,
        manifest: &Manifest,
    ) -> Result<(ToolPre<HostState>, ToolDescription, ComponentHash), SandboxError> {
        self.check_ceilings(manifest)?;
        let wasm = tokio::fs::read(wasm_path)
            .await
            .map_err(|source| SandboxError::Read { path: wasm_path.to_path_buf(), source })?;
        match wasm.get(..8) {
            Some([0, b'a', b's', b'm', 0x0d, 0x00, 0x01, 0x00]) => {}
            Some([0, b'a', b's', b'm', 0x01, 0x00, 0x00, 0x00]) => {
                return Err(SandboxError::NotAComponent { path: wasm_path.to_path_buf() });
            }
            _ => {
                return Err(SandboxError::NotWasm { path: wasm_path.to_path_buf() });
            }
        }
        let hash = content_hash(&wasm);
        let wasm_engine = self.wasm()?;
        let compiler = Arc::clone(wasm_engine);
        let path = wasm_path.to_path_buf();
        let hash_for_compile = hash.clone();
        // Compiling is CPU-bound for up to seconds; keep it off the async workers.
        let (component, outcome) = tokio::task::spawn_blocking(move || {
            compiler.cache.load_or_compile(&compiler.engine, &wasm, &hash_for_compile, &path)
        })
        .await
        .map_err(|error| SandboxError::Compile {
            path: wasm_path.to_path_buf(),
            reason: format!("compile task failed: {error}"),
        })??;
        tracing::debug!(component = %wasm_path.display(), from_cache = (outcome == CacheOutcome::Loaded), "component ready");
        let wrong_world = |error: wasmtime::Error| SandboxError::WrongWorld {
            path: wasm_path.to_path_buf(),
            reason: format!("{error:#}"),
        };
        let instance_pre = wasm_engine.linker.instantiate_pre(&component).map_err(wrong_world)?;
        let pre = ToolPre::new(instance_pre).map_err(wrong_world)?;
        let description = self.describe(&pre, manifest, wasm_path).await?;
        Ok((pre, description, hash))
    }

    async fn describe(
        &self,
        pre: &ToolPre<HostState>,
        manifest: &Manifest,
        wasm_path: &Path,
    ) -> Result<ToolDescription, SandboxError> {
        let mut store = self.new_store(&manifest.name, &manifest.limits, None)?;
        let tool = manifest.name.clone();
        let timeout = Duration::from_millis(manifest.limits.wall_clock_ms);
        let described = tokio::time::timeout(timeout + Duration::from_secs(1), async {
            let instance = pre.instantiate_async(&mut store).await?;
            instance.call_describe(&mut store).await
        })
        .await
        .map_err(|_| SandboxError::Timeout { tool: tool.clone(), limit_ms: manifest.limits.wall_clock_ms })?
        .map_err(|error| classify_trap(&tool, error, &store.data().limiter, &manifest.limits))?;
        if described.name != manifest.name.as_str() {
            return Err(SandboxError::NameMismatch {
                path: wasm_path.to_path_buf(),
                described: described.name,
                manifest: tool,
            });
        }
        let parameters_schema = serde_json::from_str(&described.parameters_schema)
            .map_err(|source| SandboxError::BadSchema { tool: tool.clone(), source })?;
        Ok(ToolDescription { name: tool, description: described.description, parameters_schema })
    }

    fn new_store(
        &self,
        tool: &ToolName,
        limits: &Limits,
        scope: Option<CallScope>,
    ) -> Result<Store<HostState>, SandboxError> {
        let store_limits = StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes as usize)
            .table_elements(engine::MAX_TABLE_ELEMENTS)
            .instances(64)
            .tables(64)
            .memories(16)
            .build();
        let mut store = Store::new(&self.wasm()?.engine, HostState::new(store_limits, scope));
        store.limiter(|state| &mut state.limiter);
        store.set_fuel(limits.fuel).map_err(|error| SandboxError::Host {
            tool: tool.clone(),
            reason: format!("could not set fuel: {error}"),
        })?;
        let deadline = Instant::now() + Duration::from_millis(limits.wall_clock_ms);
        // Each epoch tick the guest yields to the executor (so other calls and timers run on
        // this worker) and traps once the wall-clock budget is spent.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Err(wasmtime::Error::new(WallClockExpired))
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        Ok(store)
    }

    async fn run(
        &self,
        loaded: Arc<LoadedTool>,
        params: String,
        context: CallContext,
    ) -> Result<ToolOutcome, ExecutionFailure> {
        let started = Instant::now();
        let limits = loaded.manifest.limits.clone();
        let tool = loaded.name.clone();
        let scope = CallScope { tool: Arc::clone(&loaded), sandbox: self.clone(), context };
        let mut store = self.new_store(&tool, &limits, Some(scope))?;
        // Epochs cannot interrupt the host while it is inside an import, so the whole call
        // also has a timer (with slack for the epoch trap to win when the guest is running).
        let result =
            tokio::time::timeout(Duration::from_millis(limits.wall_clock_ms) + Duration::from_millis(250), async {
                let instance = loaded.pre.instantiate_async(&mut store).await?;
                instance.call_execute(&mut store, &params).await
            })
            .await;
        let mut usage = std::mem::take(&mut store.data_mut().usage);
        usage.duration = started.elapsed();
        usage.fuel_consumed += limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        let error = match result {
            Err(_elapsed) => SandboxError::Timeout { tool, limit_ms: limits.wall_clock_ms },
            Ok(Err(error)) => classify_trap(&tool, error, &store.data().limiter, &limits),
            Ok(Ok(Err(tool_error))) => classify_tool_error(tool, tool_error, &usage),
            Ok(Ok(Ok(output))) => match check_output(&tool, &output, &limits) {
                Ok(output) => return Ok(ToolOutcome { output, usage }),
                Err(error) => error,
            },
        };
        Err(ExecutionFailure { error, usage })
    }
}

/// The text a panic was raised with, when it was a string.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(text), _) => (*text).to_string(),
        (None, Some(text)) => text.clone(),
        (None, None) => "a non-text panic payload".to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sandbox_can_be_shared_across_tasks() {
        fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
        assert_send_sync::<super::Sandbox>();
    }
}
