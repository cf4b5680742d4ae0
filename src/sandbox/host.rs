//! Per-call host state and the `host` imports a tool may call, each checked against its grants.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use wasmtime::{ResourceLimiter, StoreLimits};
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};

use super::bindings::{HostError, HttpRequest, HttpResponse, LogLevel, chitin};
use super::call::CallContext;
use super::runtime::{LoadedTool, Sandbox};
use super::usage::{Refusal, RefusalKind, ResourceUsage};

/// Log lines from tools are cut to this, so a tool cannot fill the host's logs.
const MAX_LOG_LINE_BYTES: usize = 1024;

/// The tool and call a store belongs to; absent while `describe` runs, which denies everything.
pub(crate) struct CallScope {
    pub tool: Arc<LoadedTool>,
    pub sandbox: Sandbox,
    pub context: CallContext,
}

pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub limiter: CallLimiter,
    pub scope: Option<CallScope>,
    pub usage: ResourceUsage,
}

impl HostState {
    pub(crate) fn new(limits: StoreLimits, scope: Option<CallScope>) -> Self {
        HostState {
            // No preopens, env, args, stdio or network: WASI is linked only because Rust std
            // guests import it.
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limiter: CallLimiter { inner: limits, memory_refused: false, table_refused: false },
            scope,
            usage: ResourceUsage::default(),
        }
    }

    fn refuse(&mut self, kind: RefusalKind, detail: String) -> HostError {
        let tool = self.scope.as_ref().map(|scope| scope.tool.name.to_string()).unwrap_or_default();
        // The detail echoes what the tool asked for (its text), so it stays at debug; the audit
        // log gets it through the call's usage.
        tracing::info!(tool = %tool, kind = ?kind, "tool capability refused");
        tracing::debug!(tool = %tool, detail = %detail, "refused capability detail");
        self.usage.refusals.push(Refusal { kind, detail: detail.clone() });
        match kind {
            RefusalKind::Denied => HostError::Denied(detail),
            RefusalKind::RateLimited => HostError::RateLimited(detail),
            RefusalKind::LeakBlocked => HostError::Blocked(detail),
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl chitin::tool::host::Host for HostState {
    async fn log(&mut self, level: LogLevel, message: String) {
        let mut end = message.len().min(MAX_LOG_LINE_BYTES);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let tool = self.scope.as_ref().map(|scope| scope.tool.name.to_string()).unwrap_or_default();
        // Tool text can carry user data, so it never goes above debug.
        tracing::debug!(tool = %tool, level = ?level, message = &message[..end], "tool log");
    }

    async fn now(&mut self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_millis() as u64).unwrap_or(0)
    }

    async fn http_fetch(&mut self, request: HttpRequest) -> Result<HttpResponse, HostError> {
        let Some(scope) = &self.scope else {
            return Err(self.refuse(RefusalKind::Denied, "http-fetch during describe".into()));
        };
        let services = scope.sandbox.services();
        let result = scope
            .tool
            .http
            .fetch(request, services.secrets.as_ref(), services.leak_guard.as_ref(), &mut self.usage)
            .await;
        result.map_err(|failure| match failure.kind {
            Some(kind) => {
                let detail = match failure.error {
                    HostError::Denied(detail)
                    | HostError::RateLimited(detail)
                    | HostError::Blocked(detail)
                    | HostError::Failed(detail) => detail,
                };
                self.refuse(kind, detail)
            }
            None => failure.error,
        })
    }

    async fn secret_exists(&mut self, name: String) -> Result<bool, HostError> {
        let granted =
            self.scope.as_ref().is_some_and(|scope| scope.tool.manifest.secrets.iter().any(|grant| grant.name == name));
        match &self.scope {
            Some(scope) if granted => {
                self.usage.record_capability(format!("secret-exists {name}"));
                Ok(scope.sandbox.services().secrets.get(&name).is_some())
            }
            _ => Err(self.refuse(RefusalKind::Denied, format!("secret {name}"))),
        }
    }

    async fn workspace_read(&mut self, path: String) -> Result<String, HostError> {
        let Some(scope) = &self.scope else {
            return Err(self.refuse(RefusalKind::Denied, format!("workspace file {path}")));
        };
        let granted = !path.starts_with('/')
            && !path.split('/').any(|part| part == ".." || part == ".")
            && scope.tool.manifest.workspace_read.iter().any(|prefix| path.starts_with(prefix.as_str()));
        let root = scope.sandbox.workspace_dir();
        let (Some(root), true) = (root, granted) else {
            return Err(self.refuse(RefusalKind::Denied, format!("workspace file {path}")));
        };
        let limit = scope.tool.manifest.limits.max_response_bytes;
        match read_inside(&root, &path, limit).await {
            Ok(Some(text)) => {
                self.usage.record_capability(format!("workspace-read {path}"));
                Ok(text)
            }
            // A symlink pointing out of the workspace is a denial, not an I/O error.
            Ok(None) => Err(self.refuse(RefusalKind::Denied, format!("workspace file {path} (leaves the workspace)"))),
            Err(message) => Err(HostError::Failed(message)),
        }
    }

    async fn invoke_tool(&mut self, name: String, params: String) -> Result<String, HostError> {
        let Some(scope) = &self.scope else {
            return Err(self.refuse(RefusalKind::Denied, format!("invoke tool {name}")));
        };
        let Some(target) = scope.tool.manifest.tools.iter().find(|tool| tool.as_str() == name).cloned() else {
            return Err(self.refuse(RefusalKind::Denied, format!("invoke tool {name}")));
        };
        let depth = scope.context.depth + 1;
        if depth > scope.sandbox.max_invoke_depth() {
            return Err(self.refuse(
                RefusalKind::Denied,
                format!("invoke tool {name} beyond nesting depth {}", scope.sandbox.max_invoke_depth()),
            ));
        }
        let sandbox = scope.sandbox.clone();
        let context = CallContext { call_id: scope.context.call_id.clone(), depth };
        self.usage.record_capability(format!("invoke {name}"));
        match sandbox.execute_nested(&target, params, context).await {
            Ok(outcome) => {
                self.usage.absorb(outcome.usage);
                Ok(outcome.output.to_string())
            }
            Err(failure) => {
                self.usage.absorb(failure.usage);
                Err(HostError::Failed(format!("tool {name}: {}", failure.error)))
            }
        }
    }
}

/// Reads `relative` under `root`, refusing (Ok(None)) a path that resolves outside it.
async fn read_inside(root: &std::path::Path, relative: &str, limit: u64) -> Result<Option<String>, String> {
    let root = tokio::fs::canonicalize(root).await.map_err(|error| format!("workspace is unavailable: {error}"))?;
    let target = tokio::fs::canonicalize(root.join(relative))
        .await
        .map_err(|error| format!("cannot open {relative}: {error}"))?;
    if !target.starts_with(&root) {
        return Ok(None);
    }
    let metadata = tokio::fs::metadata(&target).await.map_err(|error| format!("cannot open {relative}: {error}"))?;
    if metadata.len() > limit {
        return Err(format!("{relative} is larger than {limit} bytes"));
    }
    let bytes = tokio::fs::read(&target).await.map_err(|error| format!("cannot read {relative}: {error}"))?;
    String::from_utf8(bytes).map(Some).map_err(|_| format!("{relative} is not UTF-8 text"))
}

/// `StoreLimits` plus a record of whether a limit was hit, so a guest that aborts after a
/// refused `memory.grow` is reported as out of memory rather than as a generic trap.
pub(crate) struct CallLimiter {
    inner: StoreLimits,
    pub memory_refused: bool,
    pub table_refused: bool,
}

impl ResourceLimiter for CallLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum);
        if !matches!(allowed, Ok(true)) {
            self.memory_refused = true;
        }
        allowed
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = self.inner.table_growing(current, desired, maximum);
        if !matches!(allowed, Ok(true)) {
            self.table_refused = true;
        }
        allowed
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}
