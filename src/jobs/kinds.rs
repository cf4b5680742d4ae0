//! The closed set of job kinds and their payloads; the `kind` column names one, the payload is its JSON.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A tool call run through the tool registry (WASM tools go through the sandbox pool).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolJob {
    pub tool: String,
    /// A JSON object; checked against the tool's schema before the call.
    pub params: Value,
}

/// Where an agent task's answer is posted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyTarget {
    /// Channel name (`telegram`, `api`, …).
    pub channel: String,
    pub external_id: String,
}

/// A prompt run by a fresh session with tools; the answer is posted back to the conversation that asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentJob {
    pub prompt: String,
    #[serde(default)]
    pub reply_to: Option<ReplyTarget>,
}

/// Internal housekeeping; nothing here runs a shell or leaves the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "snake_case", deny_unknown_fields)]
pub enum MaintenanceTask {
    /// Put jobs whose lease ran out back in the queue (what the repairer does, on demand).
    RequeueExpired,
    /// Succeeds at once: measures the pool itself (benchmarks, pickup latency).
    Noop,
    /// A drill for checking the pool end to end: sleeps, and fails the first `fail_attempts` attempts.
    Drill {
        #[serde(default)]
        sleep_ms: u64,
        #[serde(default)]
        fail_attempts: i64,
    },
}

/// A job's kind with its payload.
#[derive(Debug, Clone, PartialEq)]
pub enum JobSpec {
    Tool(ToolJob),
    Agent(AgentJob),
    Maintenance(MaintenanceTask),
}

impl JobSpec {
    pub const KINDS: [&'static str; 3] = ["tool", "agent", "maintenance"];

    pub fn kind(&self) -> &'static str {
        match self {
            JobSpec::Tool(_) => "tool",
            JobSpec::Agent(_) => "agent",
            JobSpec::Maintenance(_) => "maintenance",
        }
    }

    pub fn payload(&self) -> String {
        let value = match self {
            JobSpec::Tool(job) => serde_json::to_value(job),
            JobSpec::Agent(job) => serde_json::to_value(job),
            JobSpec::Maintenance(task) => serde_json::to_value(task),
        };
        value.map(|value| value.to_string()).unwrap_or_default()
    }

    /// Reads a stored (or submitted) kind and payload; `Err` says what is wrong in words for the submitter.
    pub fn parse(kind: &str, payload: &str) -> Result<JobSpec, String> {
        let spec = match kind {
            "tool" => JobSpec::Tool(serde_json::from_str(payload).map_err(|error| error.to_string())?),
            "agent" => JobSpec::Agent(serde_json::from_str(payload).map_err(|error| error.to_string())?),
            "maintenance" => JobSpec::Maintenance(serde_json::from_str(payload).map_err(|error| error.to_string())?),
            other => return Err(format!("unknown job kind `{other}`; known kinds: {}", JobSpec::KINDS.join(", "))),
        };
        if let JobSpec::Tool(job) = &spec
            && !job.params.is_object()
        {
            return Err("`params` must be a JSON object".into());
        }
        if let JobSpec::Agent(job) = &spec
            && job.prompt.trim().is_empty()
        {
            return Err("`prompt` is empty".into());
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_bad_ones_are_named() {
        let spec = JobSpec::Tool(ToolJob { tool: "echo".into(), params: serde_json::json!({"text": "hi"}) });
        assert_eq!(JobSpec::parse("tool", &spec.payload()), Ok(spec));
        let drill = JobSpec::Maintenance(MaintenanceTask::Drill { sleep_ms: 5, fail_attempts: 1 });
        assert_eq!(JobSpec::parse("maintenance", &drill.payload()), Ok(drill));
        assert!(JobSpec::parse("shell", "{}").unwrap_err().contains("unknown job kind `shell`"));
        assert!(JobSpec::parse("tool", r#"{"tool":"echo","params":[1]}"#).unwrap_err().contains("JSON object"));
        assert!(JobSpec::parse("maintenance", r#"{"task":"rm_rf"}"#).is_err());
    }
}
