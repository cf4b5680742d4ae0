//! Installed WASM tools as agent tools: each call runs in the sandbox with the tool's manifest limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use tracing::{info, warn};

use super::{BoxFuture, Tool, ToolContext, ToolError};
use crate::llm::ToolSpec;
use crate::sandbox::{CallContext, CallId, JsonFileCatalog, Sandbox, ToolCatalog, ToolName, load_installed};

/// One installed, approved component.
pub struct WasmTool {
    sandbox: Sandbox,
    name: ToolName,
    spec: ToolSpec,
}

/// Call ids unique within the process, for the sandbox's logs and usage records.
static NEXT_CALL: AtomicU64 = AtomicU64::new(1);

impl Tool for WasmTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call<'a>(&'a self, context: &'a ToolContext, parameters: Value) -> BoxFuture<'a, Result<String, ToolError>> {
        Box::pin(async move {
            let call = CallId(format!("{}-{}", context.conversation, NEXT_CALL.fetch_add(1, Ordering::Relaxed)));
            match self.sandbox.execute(&self.name, &parameters, CallContext::new(call)).await {
                Ok(outcome) => Ok(outcome.output.to_string()),
                Err(failure) => {
                    Err(ToolError::Failed { tool: self.name.to_string(), reason: failure.error.to_string() })
                }
            }
        })
    }
}

/// Loads every approved tool of the catalog; a tool that fails to load (changed binary, bad manifest) is skipped
/// with a warning so one broken tool does not keep Chitin from starting.
pub async fn installed_tools(sandbox: &Sandbox, catalog: &JsonFileCatalog) -> Vec<Arc<dyn Tool>> {
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
            sandbox: sandbox.clone(),
            name: tool.name.clone(),
            spec: ToolSpec {
                name: tool.name.to_string(),
                description: description.description,
                parameters: description.parameters_schema,
            },
        }));
    }
    tools
}
