//! `http_get`: fetches a URL on the tool's allowlist and returns the status and text body.

wit_bindgen::generate!({ world: "tool", path: "../../wit" });

use chitin::tool::host::{self, HostError, HttpRequest};
use serde_json::{Value, json};

/// Bodies longer than this are cut, so one page cannot flood the model's context.
const MAX_BODY_CHARS: usize = 32 * 1024;

struct HttpGet;

impl Guest for HttpGet {
    fn describe() -> ToolInfo {
        ToolInfo {
            name: "http_get".to_string(),
            description: "Fetch a web page or API URL (only hosts the user allowed) and return its text.".to_string(),
            parameters_schema:
                r#"{"type":"object","properties":{"url":{"type":"string","format":"uri"}},"required":["url"]}"#
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
        let response = host::http_fetch(&HttpRequest {
            method: "GET".to_string(),
            url: url.to_string(),
            headers: vec![("accept".to_string(), "text/*, application/json".to_string())],
            body: None,
        })
        .map_err(|error| ToolError::Failed(describe_host_error(&error)))?;
        let text = String::from_utf8_lossy(&response.body);
        let truncated = text.chars().count() > MAX_BODY_CHARS;
        let body: String = text.chars().take(MAX_BODY_CHARS).collect();
        Ok(json!({ "status": response.status, "body": body, "truncated": truncated }).to_string())
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

export!(HttpGet);
