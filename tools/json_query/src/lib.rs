//! `json_query`: picks a value out of a JSON document with a dotted path like `items[0].name`.

wit_bindgen::generate!({ world: "tool", path: "../../wit" });

use serde_json::Value;

struct JsonQuery;

impl Guest for JsonQuery {
    fn describe() -> ToolInfo {
        ToolInfo {
            name: "json_query".to_string(),
            description: "Select a value from a JSON document by a path such as `items[0].name`."
                .to_string(),
            parameters_schema: r#"{"type":"object","properties":{"document":{},"path":{"type":"string"}},"required":["document","path"]}"#
                .to_string(),
        }
    }

    fn execute(params: String) -> Result<String, ToolError> {
        let params: Value = serde_json::from_str(&params)
            .map_err(|error| ToolError::InvalidParams(format!("params are not JSON: {error}")))?;
        let path = params
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| ToolError::InvalidParams("`path` must be a string".to_string()))?;
        let document = match params.get("document") {
            // A document given as text is parsed, so the model can pass an HTTP body through.
            Some(Value::String(text)) => serde_json::from_str(text)
                .map_err(|error| ToolError::InvalidParams(format!("`document` text is not JSON: {error}")))?,
            Some(document) => document.clone(),
            None => return Err(ToolError::InvalidParams("`document` is missing".to_string())),
        };
        let mut current = &document;
        for step in parse_path(path).map_err(ToolError::InvalidParams)? {
            current = match step {
                Step::Key(key) => current.get(key.as_str()),
                Step::Index(index) => current.get(index),
            }
            .ok_or_else(|| ToolError::Failed(format!("path {path:?} matches nothing")))?;
        }
        serde_json::to_string(&serde_json::json!({ "value": current }))
            .map_err(|error| ToolError::Failed(error.to_string()))
    }
}

enum Step {
    Key(String),
    Index(usize),
}

fn parse_path(path: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for segment in path.split('.').filter(|segment| !segment.is_empty()) {
        let (key, mut rest) = match segment.find('[') {
            Some(bracket) => segment.split_at(bracket),
            None => (segment, ""),
        };
        if !key.is_empty() {
            steps.push(Step::Key(key.to_string()));
        }
        while let Some(inner) = rest.strip_prefix('[') {
            let close = inner.find(']').ok_or_else(|| format!("missing ']' in path segment {segment:?}"))?;
            let index =
                inner[..close].parse::<usize>().map_err(|_| format!("bad index in path segment {segment:?}"))?;
            steps.push(Step::Index(index));
            rest = &inner[close + 1..];
        }
        if !rest.is_empty() {
            return Err(format!("unexpected {rest:?} in path segment {segment:?}"));
        }
    }
    Ok(steps)
}

export!(JsonQuery);
