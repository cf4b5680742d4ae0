//! Integration tests of the WASM sandbox against real components built from `tools/`.

mod bad_input;
mod cache;
mod capabilities;
mod commands;
mod containment;
mod network;
mod pool;

use chitin::sandbox::{CallContext, CallId, ExecutionFailure, Sandbox, ToolName, ToolOutcome};

pub fn name(tool: &str) -> ToolName {
    ToolName::new(tool).expect("tool name")
}

pub async fn call(sandbox: &Sandbox, tool: &str, params: serde_json::Value) -> Result<ToolOutcome, ExecutionFailure> {
    sandbox.execute(&name(tool), &params, CallContext::new(CallId("test".into()))).await
}
