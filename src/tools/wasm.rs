//! Installed WASM tools as agent tools: each call goes through the sandbox pool to the sandbox, with the tool's
//! manifest limits, and every refused capability lands in the audit log.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chitin_actors::ports::{BoxFuture as PortFuture, ToolExecution, ToolExecutionError, ToolExecutor};
use serde_json::Value;
use tracing::{info, warn};

use super::{BoxFuture, Tool, ToolContext, ToolError};
use crate::channel_ports::TreeCell;
use crate::llm::ToolSpec;
use crate::safety::LeakScanner;
use crate::sandbox::{CallContext, CallId, JsonFileCatalog, Sandbox, ToolCatalog, ToolName, load_installed};
use crate::security_audit;
use crate::store::AuditLog;

/// One installed, approved component.
pub struct WasmTool {
    name: ToolName,
    spec: ToolSpec,
    /// The sandbox pool in the running service; the sandbox itself where there is no actor tree.
    executor: Arc<dyn ToolExecutor>,
}

/// Call ids unique within the process, for the sandbox's logs and usage records.
static NEXT_CALL: AtomicU64 = AtomicU64::new(1);

impl Tool for WasmTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call<'a>(&'a self, context: &'a ToolContext, parameters: Value) -> BoxFuture<'a, Result<String, ToolError>> {
        Box::pin(async move {
            let execution = ToolExecution {
                tool: self.name.to_string(),
                params: parameters.to_string(),
                call_id: format!("{}-{}", context.conversation, NEXT_CALL.fetch_add(1, Ordering::Relaxed)),
                session: context.conversation.clone(),
            };
            self.executor
                .execute(execution)
                .await
                .map_err(|error| ToolError::Failed { tool: self.name.to_string(), reason: error.to_string() })
        })
    }
}

/// The sandbox as the pool's executor: runs the call, then appends each refused capability to the audit log.
pub struct SandboxExecutor {
    pub sandbox: Sandbox,
    pub audit: AuditLog,
    /// Redacts what a tool asked for (tool-controlled text) before it is written down.
    pub scanner: LeakScanner,
}

impl ToolExecutor for SandboxExecutor {
    fn execute(&self, execution: ToolExecution) -> PortFuture<'static, Result<String, ToolExecutionError>> {
        let (sandbox, audit, scanner) = (self.sandbox.clone(), self.audit.clone(), self.scanner.clone());
        Box::pin(async move {
            let failed = |reason: String| ToolExecutionError::Failed { tool: execution.tool.clone(), reason };
            let name = ToolName::new(&execution.tool).map_err(|reason| failed(reason.to_string()))?;
            let params: Value = serde_json::from_str(&execution.params)
                .map_err(|error| failed(format!("parameters are not JSON: {error}")))?;
            let context = CallContext::new(CallId(execution.call_id.clone()));
            let result = sandbox.execute(&name, &params, context).await;
            let usage = match &result {
                Ok(outcome) => &outcome.usage,
                Err(failure) => &failure.usage,
            };
            security_audit::record_refusals(
                &audit,
                &scanner,
                &execution.session,
                &execution.tool,
                &execution.call_id,
                &usage.refusals,
            )
            .await;
            match result {
                Ok(outcome) => Ok(outcome.output.to_string()),
                Err(failure) => Err(failed(failure.error.to_string())),
            }
        })
    }
}

/// Routes calls to the sandbox pool of the actor tree, which exists only after the tools are registered.
pub struct PoolRoute {
    pub tree: TreeCell,
    /// How long a caller waits for the pool's answer; the sandbox's own limits end a call well before.
    pub timeout: Duration,
}

impl ToolExecutor for PoolRoute {
    fn execute(&self, execution: ToolExecution) -> PortFuture<'static, Result<String, ToolExecutionError>> {
        let (tree, timeout) = (self.tree.get().cloned(), self.timeout);
        Box::pin(async move {
            match tree {
                Some(tree) => tree.execute_tool(execution, timeout).await,
                None => Err(ToolExecutionError::Unavailable {
                    tool: execution.tool,
                    reason: "the actor tree is not running yet".into(),
                }),
            }
        })
    }
}

/// Loads every approved tool of the catalog; a tool that fails to load (changed binary, bad manifest) is skipped
/// with a warning so one broken tool does not keep Chitin from starting.
pub async fn installed_tools(
    sandbox: &Sandbox,
    catalog: &JsonFileCatalog,
    executor: Arc<dyn ToolExecutor>,
) -> Vec<Arc<dyn Tool>> {
    let installed = match catalog.list().await {
        Ok(installed) => installed,
        Err(error) => {
            warn!(%error, "cannot read the installed tools");
            return Vec::new();
        }
    };
    let mut tools: Vec<Arc<dyn Tool>> = Vec::new();
    for tool in installed.into_iter().filter(|tool| tool.approved) {
        if let Err(error) = load_installed(sandbox, catalog, &tool.name).await {
            warn!(tool = %tool.name, %error, "installed tool not loaded");
            continue;
        }
        let Some(description) = sandbox.description(&tool.name) else { continue };
        info!(tool = %tool.name, "wasm tool loaded");
        tools.push(Arc::new(WasmTool {
            name: tool.name.clone(),
            executor: Arc::clone(&executor),
            spec: ToolSpec {
                name: tool.name.to_string(),
                description: description.description,
                parameters: description.parameters_schema,
            },
        }));
    }
    tools
}
