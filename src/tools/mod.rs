//! Tools the agent can call: one trait, one registry, parameter validation against each tool's JSON schema.
//!
//! Built-in tools live here; WASM tools (the sandbox) and MCP tools plug into the same registry.

mod builtin;
mod jobs;
mod memory;
mod routines;
mod wasm;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::llm::ToolSpec;

pub use builtin::{EchoTool, TimeTool, builtin_tools};
pub use jobs::{JobCancelTool, JobSpawnTool, JobStatusTool, JobTools, job_tools};
pub use memory::{MemoryReadTool, MemorySearchTool, MemoryWriteTool, memory_tools};
pub use routines::{RoutineCreateTool, RoutineListTool, routine_tools};
pub use wasm::{PoolRoute, SandboxExecutor, WasmTool, installed_tools};

pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ToolError {
    #[error("there is no tool named {name}")]
    Unknown { name: String },
    #[error("invalid parameters for {tool}: {problems}")]
    InvalidParameters { tool: String, problems: String },
    #[error("{tool} is not available: {reason}")]
    Unavailable { tool: String, reason: String },
    #[error("{tool} failed: {reason}")]
    Failed { tool: String, reason: String },
}

/// Who is calling, for tools that act on behalf of a conversation.
#[derive(Debug, Clone)]
pub struct ToolContext {
    pub conversation: String,
}

/// Something the model can call.
pub trait Tool: Send + Sync {
    fn spec(&self) -> &ToolSpec;

    /// Tools with side effects the owner should see first ask on the conversation's channel before running.
    fn requires_approval(&self) -> bool {
        false
    }

    /// Runs with parameters already validated against `spec().parameters`.
    fn call<'a>(&'a self, context: &'a ToolContext, parameters: Value) -> BoxFuture<'a, Result<String, ToolError>>;
}

/// A tool and its compiled parameter schema.
struct Registered {
    tool: Arc<dyn Tool>,
    validator: jsonschema::Validator,
}

/// The tools of one Chitin instance, by name.
#[derive(Default)]
pub struct ToolRegistry {
    tools: BTreeMap<String, Registered>,
    /// Every tool's spec in name order, shared by each model request: copying every schema twice per turn
    /// (and freeing the copies) was about 5 % of a turn's CPU in the agent bench.
    specs: Arc<[ToolSpec]>,
    /// Length of the specs as JSON, for the per-turn prompt size estimate.
    specs_bytes: usize,
    /// Tools the owner wants to confirm before each run (`agent.require_approval`), besides those that always ask.
    approval_required: Vec<String>,
}

impl ToolRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tool; its schema must itself be valid, so a broken tool fails at start-up and not mid-turn.
    pub fn register(&mut self, tool: Arc<dyn Tool>) -> Result<(), ToolError> {
        let name = tool.spec().name.clone();
        let validator =
            jsonschema::validator_for(&tool.spec().parameters).map_err(|error| ToolError::InvalidParameters {
                tool: name.clone(),
                problems: format!("the tool's own parameter schema is invalid: {error}"),
            })?;
        self.tools.insert(name, Registered { tool, validator });
        self.specs = self.tools.values().map(|registered| registered.tool.spec().clone()).collect();
        self.specs_bytes = self.specs.iter().map(|spec| serde_json::to_string(spec).map_or(0, |json| json.len())).sum();
        Ok(())
    }

    /// Makes these tools ask the owner before running, whatever the tool itself declares.
    pub fn require_approval(&mut self, names: impl IntoIterator<Item = String>) {
        self.approval_required.extend(names);
    }

    /// Whether a call to `name` must wait for the owner's yes.
    pub fn needs_approval(&self, name: &str) -> bool {
        self.approval_required.iter().any(|required| required == name)
            || self.tools.get(name).is_some_and(|registered| registered.tool.requires_approval())
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn Tool>> {
        self.tools.get(name).map(|registered| Arc::clone(&registered.tool))
    }

    pub fn specs(&self) -> Arc<[ToolSpec]> {
        Arc::clone(&self.specs)
    }

    /// Length of [`ToolRegistry::specs`] as JSON.
    pub fn specs_bytes(&self) -> usize {
        self.specs_bytes
    }

    pub fn names(&self) -> Vec<String> {
        self.tools.keys().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.tools.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// Checks parameters against the tool's schema; the error lists every problem with its JSON path, so the
    /// model can correct its call.
    pub fn validate(&self, name: &str, parameters: &Value) -> Result<Arc<dyn Tool>, ToolError> {
        let registered = self.tools.get(name).ok_or_else(|| ToolError::Unknown { name: name.to_string() })?;
        let problems: Vec<String> = registered
            .validator
            .iter_errors(parameters)
            .map(|error| {
                let path = error.instance_path().to_string();
                let at = if path.is_empty() { "parameters".to_string() } else { path };
                format!("{at}: {error}")
            })
            .collect();
        if problems.is_empty() {
            Ok(Arc::clone(&registered.tool))
        } else {
            Err(ToolError::InvalidParameters { tool: name.to_string(), problems: problems.join("; ") })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn registry() -> ToolRegistry {
        let mut registry = ToolRegistry::new();
        for tool in builtin_tools() {
            registry.register(tool).expect("valid schema");
        }
        registry
    }

    #[test]
    fn schema_violations_name_the_field() {
        let registry = registry();
        let error = registry.validate("echo", &json!({"text": 5})).err().expect("wrong type");
        assert!(error.to_string().contains("/text"), "{error}");
        let error = registry.validate("echo", &json!({})).err().expect("missing field");
        assert!(error.to_string().contains("text"), "{error}");
        assert!(registry.validate("echo", &json!({"text": "hi"})).is_ok());
        assert_eq!(registry.validate("nope", &json!({})).err(), Some(ToolError::Unknown { name: "nope".into() }));
    }

    #[tokio::test]
    async fn echo_returns_its_text() {
        let registry = registry();
        let tool = registry.validate("echo", &json!({"text": "héllo"})).expect("valid");
        let context = ToolContext { conversation: "test:1".into() };
        assert_eq!(tool.call(&context, json!({"text": "héllo"})).await, Ok("héllo".to_string()));
    }
}
