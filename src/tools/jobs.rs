//! `job_spawn`, `job_status`, `job_cancel`: the agent hands long work to the job pool and keeps track of it.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{BoxFuture, Tool, ToolContext, ToolError};
use crate::error_chain::describe;
use crate::jobs::{AgentJob, JobLimits, JobSignals, JobSpec, JobSubmission, ReplyTarget, ToolJob, submit};
use crate::llm::ToolSpec;
use crate::store::{CancelOutcome, JobId, Store};

/// What the job tools share: the store, this node's wake-up signal and the submit-time limits.
#[derive(Clone)]
pub struct JobTools {
    pub store: Store,
    pub signals: JobSignals,
    pub limits: JobLimits,
}

pub fn job_tools(shared: JobTools) -> Vec<Arc<dyn Tool>> {
    vec![
        Arc::new(JobSpawnTool::new(shared.clone())),
        Arc::new(JobStatusTool::new(shared.clone())),
        Arc::new(JobCancelTool::new(shared)),
    ]
}

fn failed(tool: &str, reason: impl Into<String>) -> ToolError {
    ToolError::Failed { tool: tool.into(), reason: reason.into() }
}

fn job_id(tool: &str, parameters: &Value) -> Result<JobId, ToolError> {
    parameters["job_id"].as_i64().map(JobId).ok_or_else(|| failed(tool, "job_id must be an integer"))
}

/// Starts a background job: a prompt whose answer is posted back to this conversation, or a tool call.
pub struct JobSpawnTool {
    spec: ToolSpec,
    shared: JobTools,
}

impl JobSpawnTool {
    pub fn new(shared: JobTools) -> Self {
        Self {
            spec: ToolSpec {
                name: "job_spawn".into(),
                description: "Start long work in the background and return its job id. Give `prompt` (answered by a \
                              fresh session and posted back here) or `tool` with `params`."
                    .into(),
                parameters: json!({
                    "type": "object",
                    "properties": {
                        "prompt": {"type": "string"},
                        "tool": {"type": "string"},
                        "params": {"type": "object"},
                        "idempotency_key": {"type": "string"}
                    },
                    "additionalProperties": false
                }),
            },
            shared,
        }
    }
}

impl Tool for JobSpawnTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call<'a>(&'a self, context: &'a ToolContext, parameters: Value) -> BoxFuture<'a, Result<String, ToolError>> {
        Box::pin(async move {
            let spec = match (parameters["prompt"].as_str(), parameters["tool"].as_str()) {
                (Some(prompt), None) => {
                    let (channel, external_id) =
                        context.conversation.split_once(':').unwrap_or(("internal", &context.conversation));
                    JobSpec::Agent(AgentJob {
                        prompt: prompt.to_string(),
                        reply_to: Some(ReplyTarget { channel: channel.into(), external_id: external_id.into() }),
                    })
                }
                (None, Some(tool)) => JobSpec::Tool(ToolJob {
                    tool: tool.to_string(),
                    params: parameters.get("params").cloned().unwrap_or_else(|| json!({})),
                }),
                _ => return Err(failed("job_spawn", "give either `prompt` or `tool` (with `params`)")),
            };
            let mut submission = JobSubmission::new(spec);
            submission.idempotency_key = parameters["idempotency_key"].as_str().map(str::to_string);
            let outcome = submit(&self.shared.store, &submission, &self.shared.limits)
                .await
                .map_err(|error| failed("job_spawn", describe(&error)))?;
            self.shared.signals.job_queued();
            Ok(json!({ "job_id": outcome.job_id().0 }).to_string())
        })
    }
}

/// A job's state, attempts and (when ended) its result or error.
pub struct JobStatusTool {
    spec: ToolSpec,
    shared: JobTools,
}

impl JobStatusTool {
    pub fn new(shared: JobTools) -> Self {
        Self {
            spec: ToolSpec {
                name: "job_status".into(),
                description:
                    "State of a background job (queued, running, succeeded, failed, cancelled) and its result.".into(),
                parameters: json!({
                    "type": "object",
                    "properties": {"job_id": {"type": "integer"}},
                    "required": ["job_id"],
                    "additionalProperties": false
                }),
            },
            shared,
        }
    }
}

impl Tool for JobStatusTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call<'a>(&'a self, _context: &'a ToolContext, parameters: Value) -> BoxFuture<'a, Result<String, ToolError>> {
        Box::pin(async move {
            let id = job_id("job_status", &parameters)?;
            let job = self.shared.store.jobs().get(id).await.map_err(|error| failed("job_status", describe(&error)))?;
            let Some(job) = job else { return Err(failed("job_status", format!("there is no job {}", id.0))) };
            Ok(json!({
                "job_id": job.id.0,
                "kind": job.kind,
                "state": job.state.as_str(),
                "attempts": job.attempts,
                "max_attempts": job.max_attempts,
                "result": job.result,
            })
            .to_string())
        })
    }
}

/// Cancels a queued job, or asks a running one to stop.
pub struct JobCancelTool {
    spec: ToolSpec,
    shared: JobTools,
}

impl JobCancelTool {
    pub fn new(shared: JobTools) -> Self {
        Self {
            spec: ToolSpec {
                name: "job_cancel".into(),
                description: "Cancel a background job (a running one stops at its next lease renewal).".into(),
                parameters: json!({
                    "type": "object",
                    "properties": {"job_id": {"type": "integer"}},
                    "required": ["job_id"],
                    "additionalProperties": false
                }),
            },
            shared,
        }
    }
}

impl Tool for JobCancelTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call<'a>(&'a self, _context: &'a ToolContext, parameters: Value) -> BoxFuture<'a, Result<String, ToolError>> {
        Box::pin(async move {
            let id = job_id("job_cancel", &parameters)?;
            let outcome =
                self.shared.store.jobs().cancel(id).await.map_err(|error| failed("job_cancel", describe(&error)))?;
            let text = match outcome {
                CancelOutcome::Cancelled => "cancelled".to_string(),
                CancelOutcome::Requested => "cancellation requested; the job stops shortly".to_string(),
                CancelOutcome::AlreadyEnded(state) => format!("already ended: {}", state.as_str()),
                CancelOutcome::NotFound => return Err(failed("job_cancel", format!("there is no job {}", id.0))),
            };
            Ok(json!({ "job_id": id.0, "outcome": text }).to_string())
        })
    }
}
