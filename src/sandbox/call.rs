//! What a call is from the outside: its id and context, its outcome, and the services and
//! counters a `Sandbox` is built with and reports.

use std::sync::Arc;

use serde::Serialize;

use super::cache::ComponentHash;
use super::manifest::ToolName;
use super::ports::{LeakGuard, SecretSource};
use super::usage::ResourceUsage;

/// Identifies one top-level call across the audit log and nested `invoke-tool` calls.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct CallId(pub String);

impl std::fmt::Display for CallId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// Who is calling; `depth` counts `invoke-tool` nesting and is 0 for a call from outside.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub call_id: CallId,
    pub(crate) depth: u32,
}

impl CallContext {
    pub fn new(call_id: CallId) -> Self {
        CallContext { call_id, depth: 0 }
    }
}

/// A successful call: the tool's JSON result and what it cost.
#[derive(Debug, Clone, Serialize)]
pub struct ToolOutcome {
    pub output: serde_json::Value,
    pub usage: ResourceUsage,
}

/// What a tool says about itself through `describe`, checked against its manifest at load.
#[derive(Debug, Clone, Serialize)]
pub struct ToolDescription {
    pub name: ToolName,
    pub description: String,
    pub parameters_schema: serde_json::Value,
}

/// A component checked by [`super::Sandbox::inspect`] but not loaded.
#[derive(Debug, Clone)]
pub struct InspectedComponent {
    pub description: ToolDescription,
    pub hash: ComponentHash,
}

/// Services a call may reach, shared by every tool.
#[derive(Clone)]
pub struct SandboxServices {
    pub secrets: Arc<dyn SecretSource>,
    pub leak_guard: Arc<dyn LeakGuard>,
}

/// Counters for `chitin status` and for tests that check the cache was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SandboxStats {
    /// Whether the wasmtime engine exists yet: it starts with the first tool loaded or inspected.
    pub engine_started: bool,
    pub components_compiled: u64,
    pub components_loaded_from_cache: u64,
    pub tools_loaded: usize,
}
