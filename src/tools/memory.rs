//! The agent's memory tools: `memory_search`, `memory_write` and `memory_read` over the workspace.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{BoxFuture, Tool, ToolContext, ToolError};
use crate::llm::ToolSpec;
use crate::memory::MemoryService;
use crate::memory::rank::SearchFilter;
use crate::memory::workspace::source;

/// Longest text `memory_read` returns; a whole large file would crowd the model's context.
const READ_LIMIT_BYTES: usize = 16 * 1024;

/// The three tools over one memory service.
pub fn memory_tools(memory: &MemoryService) -> Vec<Arc<dyn Tool>> {
    vec![
        Arc::new(MemorySearchTool { memory: memory.clone(), spec: search_spec() }),
        Arc::new(MemoryWriteTool { memory: memory.clone(), spec: write_spec() }),
        Arc::new(MemoryReadTool { memory: memory.clone(), spec: read_spec() }),
    ]
}

fn failed(tool: &str, error: impl std::fmt::Display) -> ToolError {
    ToolError::Failed { tool: tool.into(), reason: error.to_string() }
}

fn string_parameter<'a>(parameters: &'a Value, name: &str) -> &'a str {
    parameters.get(name).and_then(Value::as_str).unwrap_or_default()
}

fn search_spec() -> ToolSpec {
    ToolSpec {
        name: "memory_search".into(),
        description: "Search the user's notes, daily logs and saved memories (full text + meaning). \
                      Returns the best matching passages with their file paths."
            .into(),
        parameters: json!({
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to look for, in plain words."},
                "limit": {"type": "integer", "minimum": 1, "maximum": 20, "description": "Results (default 5)."},
                "path_prefix": {"type": "string", "description": "Only files under this folder, e.g. logs/."}
            },
            "required": ["query"],
            "additionalProperties": false
        }),
    }
}

fn write_spec() -> ToolSpec {
    ToolSpec {
        name: "memory_write".into(),
        description: "Save something worth remembering. By default appends to MEMORY.md; `daily_log: true` \
                      appends to today's log (logs/YYYY-MM-DD.md); or name a workspace file in `path`."
            .into(),
        parameters: json!({
            "type": "object",
            "properties": {
                "text": {"type": "string", "description": "The note, in Markdown."},
                "path": {"type": "string", "description": "Workspace-relative file (default MEMORY.md)."},
                "daily_log": {"type": "boolean", "description": "Append to today's daily log instead."},
                "replace": {"type": "boolean", "description": "Overwrite the file instead of appending."}
            },
            "required": ["text"],
            "additionalProperties": false
        }),
    }
}

fn read_spec() -> ToolSpec {
    ToolSpec {
        name: "memory_read".into(),
        description: "Read a workspace file (e.g. MEMORY.md, logs/2026-03-01.md) found with memory_search.".into(),
        parameters: json!({
            "type": "object",
            "properties": {"path": {"type": "string", "description": "Workspace-relative path."}},
            "required": ["path"],
            "additionalProperties": false
        }),
    }
}

pub struct MemorySearchTool {
    memory: MemoryService,
    spec: ToolSpec,
}

impl Tool for MemorySearchTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call<'a>(&'a self, _context: &'a ToolContext, parameters: Value) -> BoxFuture<'a, Result<String, ToolError>> {
        Box::pin(async move {
            let limit = parameters.get("limit").and_then(Value::as_u64).unwrap_or(5).clamp(1, 20) as usize;
            let filter = SearchFilter {
                path_prefix: parameters.get("path_prefix").and_then(Value::as_str).map(str::to_string),
                ..SearchFilter::default()
            };
            let hits = self
                .memory
                .search(string_parameter(&parameters, "query"), limit, &filter)
                .await
                .map_err(|error| failed("memory_search", error))?;
            let results: Vec<Value> = hits
                .iter()
                .map(|hit| {
                    json!({
                        "path": hit.document_path,
                        "updated": hit.updated_at.format("%Y-%m-%d").to_string(),
                        "text": hit.text,
                    })
                })
                .collect();
            Ok(json!({ "results": results }).to_string())
        })
    }
}

pub struct MemoryWriteTool {
    memory: MemoryService,
    spec: ToolSpec,
}

impl Tool for MemoryWriteTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call<'a>(&'a self, _context: &'a ToolContext, parameters: Value) -> BoxFuture<'a, Result<String, ToolError>> {
        Box::pin(async move {
            let text = string_parameter(&parameters, "text");
            if text.trim().is_empty() {
                return Err(failed("memory_write", "text is empty"));
            }
            let daily = parameters.get("daily_log").and_then(Value::as_bool).unwrap_or(false);
            let replace = parameters.get("replace").and_then(Value::as_bool).unwrap_or(false);
            let path = match parameters.get("path").and_then(Value::as_str) {
                Some(path) => path.to_string(),
                None if daily => format!("logs/{}.md", chrono::Utc::now().format("%Y-%m-%d")),
                None => "MEMORY.md".to_string(),
            };
            let entry = if daily && !replace {
                format!("- {} {}", chrono::Utc::now().format("%H:%M"), text.trim())
            } else {
                text.trim().to_string()
            };
            self.memory
                .write_workspace_file(&path, &entry, !replace, source::AGENT)
                .await
                .map_err(|error| failed("memory_write", error))?;
            Ok(json!({ "saved": path }).to_string())
        })
    }
}

pub struct MemoryReadTool {
    memory: MemoryService,
    spec: ToolSpec,
}

impl Tool for MemoryReadTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call<'a>(&'a self, _context: &'a ToolContext, parameters: Value) -> BoxFuture<'a, Result<String, ToolError>> {
        Box::pin(async move {
            let path = string_parameter(&parameters, "path");
            let mut text = self.memory.read_workspace_file(path).await.map_err(|error| failed("memory_read", error))?;
            let truncated = text.len() > READ_LIMIT_BYTES;
            if truncated {
                let mut end = READ_LIMIT_BYTES;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
            }
            Ok(json!({ "path": path, "text": text, "truncated": truncated }).to_string())
        })
    }
}
