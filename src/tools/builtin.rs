//! Built-in tools that need no service: `time` and `echo` (the memory tools are in `memory.rs`).

use std::sync::Arc;

use serde_json::{Value, json};

use super::{BoxFuture, Tool, ToolContext, ToolError};
use crate::llm::ToolSpec;

pub fn builtin_tools() -> Vec<Arc<dyn Tool>> {
    vec![Arc::new(TimeTool::new()), Arc::new(EchoTool::new())]
}

/// The current date and time, so the model does not guess it.
pub struct TimeTool {
    spec: ToolSpec,
}

impl TimeTool {
    pub fn new() -> Self {
        Self {
            spec: ToolSpec {
                name: "time".into(),
                description: "Current date and time (UTC, RFC 3339) and the Unix timestamp.".into(),
                parameters: json!({"type": "object", "properties": {}, "additionalProperties": false}),
            },
        }
    }
}

impl Default for TimeTool {
    fn default() -> Self {
        Self::new()
    }
}

impl Tool for TimeTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call<'a>(&'a self, _context: &'a ToolContext, _parameters: Value) -> BoxFuture<'a, Result<String, ToolError>> {
        Box::pin(async {
            let now = chrono::Utc::now();
            Ok(json!({"utc": now.to_rfc3339(), "unix": now.timestamp()}).to_string())
        })
    }
}

/// Returns its `text` parameter unchanged; outside checks use it to observe tool calls end to end.
pub struct EchoTool {
    spec: ToolSpec,
}

impl EchoTool {
    pub fn new() -> Self {
        Self {
            spec: ToolSpec {
                name: "echo".into(),
                description: "Return the given text unchanged.".into(),
                parameters: json!({
                    "type": "object",
                    "properties": {"text": {"type": "string", "description": "Text to return."}},
                    "required": ["text"],
                    "additionalProperties": false
                }),
            },
        }
    }
}

impl Default for EchoTool {
    fn default() -> Self {
        Self::new()
    }
}

impl Tool for EchoTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call<'a>(&'a self, _context: &'a ToolContext, parameters: Value) -> BoxFuture<'a, Result<String, ToolError>> {
        Box::pin(async move {
            parameters
                .get("text")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| ToolError::Failed { tool: "echo".into(), reason: "text is not a string".into() })
        })
    }
}
