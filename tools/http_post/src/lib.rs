//! `http_post`: sends a JSON body to a URL on the tool's allowlist, with an `Idempotency-Key` header when given.
//!
//! Run as a job, the job runner fills `idempotency_key` with the job's key, so a target that honours the header
//! applies a retried request once.

wit_bindgen::generate!({ world: "tool", path: "../../wit" });

use chitin::tool::host::{self, HostError, HttpRequest};
use serde_json::{Value, json};

/// Bodies longer than this are cut, so one answer cannot flood the model's context.
const MAX_BODY_CHARS: usize = 32 * 1024;

struct HttpPost;

impl Guest for HttpPost {
    fn describe() -> ToolInfo {
        ToolInfo {
            name: "http_post".to_string(),
            description: "POST a JSON body to a URL (only hosts the user allowed) and return the status and text."
                .to_string(),
            parameters_schema: r#"{"type":"object","properties":{"url":{"type":"string","format":"uri"},"body":{},"idempotency_key":{"type":"string"}},"required":["url"]}"#
                .to_string(),
        }
    }

    fn execute(params: String) -> Result<String, ToolError> {
        let params: Value = serde_json::from_str(&params)
            .map_err(|error| ToolError::InvalidParams(format!("params are not JSON: {error}")))?;
        let url = params
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| ToolError::InvalidParams("`url` must be a string".to_string()))?;
        let body = params.get("body").cloned().unwrap_or(Value::Null).to_string();
        let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
        if let Some(key) = params.get("idempotency_key").and_then(Value::as_str) {
            headers.push(("idempotency-key".to_string(), key.to_string()));
        }
        let response = host::http_fetch(&HttpRequest {
            method: "POST".to_string(),
            url: url.to_string(),
            headers,
            body: Some(body.into_bytes()),
        })
        .map_err(|error| ToolError::Failed(describe_host_error(&error)))?;
        if response.status >= 500 {
            return Err(ToolError::Failed(format!("the server answered {}", response.status)));
        }
        let text = String::from_utf8_lossy(&response.body);
        let body: String = text.chars().take(MAX_BODY_CHARS).collect();
        Ok(json!({ "status": response.status, "body": body }).to_string())
    }
}

fn describe_host_error(error: &HostError) -> String {
    match error {
        HostError::Denied(message) => format!("denied: {message}"),
        HostError::RateLimited(message) => format!("rate limited: {message}"),
        HostError::Blocked(message) => format!("blocked: {message}"),
        HostError::Failed(message) => format!("failed: {message}"),
    }
}

export!(HttpPost);
