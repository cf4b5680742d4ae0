//! Submitting a job: everything that can be checked is checked here, so a bad job fails when it is submitted,
//! not when a worker picks it up at night.

use crate::store::{ConversationId, EnqueueOutcome, NewJob, Store, StoreError, now_ms};

use super::kinds::JobSpec;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("invalid {kind} job: {reason}")]
    Invalid { kind: String, reason: String },
    #[error("unknown job kind `{kind}`; known kinds: tool, agent, maintenance")]
    UnknownKind { kind: String },
    #[error("the job payload is {bytes} bytes, over the limit of {limit} bytes (jobs.max_payload_bytes)")]
    PayloadTooLarge { bytes: usize, limit: usize },
    #[error("there is no tool named {tool}")]
    UnknownTool { tool: String },
    #[error("max attempts must be at least 1, got {0}")]
    MaxAttempts(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a submission is checked against.
#[derive(Debug, Clone)]
pub struct JobLimits {
    pub max_payload_bytes: usize,
    pub default_max_attempts: i64,
    /// Tool names a tool job may call; `None` skips the check (the worker checks again anyway).
    pub known_tools: Option<Vec<String>>,
}

/// A job as the CLI, the agent's `job_spawn` tool or a routine asks for it.
#[derive(Debug, Clone)]
pub struct JobSubmission {
    pub spec: JobSpec,
    pub idempotency_key: Option<String>,
    pub max_attempts: Option<i64>,
    pub priority: i64,
    pub delay_ms: i64,
    pub max_runtime_ms: Option<i64>,
    pub conversation_id: Option<ConversationId>,
}

impl JobSubmission {
    pub fn new(spec: JobSpec) -> Self {
        Self {
            spec,
            idempotency_key: None,
            max_attempts: None,
            priority: 0,
            delay_ms: 0,
            max_runtime_ms: None,
            conversation_id: None,
        }
    }
}

/// Checks and stores the job; a repeated idempotency key returns the existing job instead of a second one.
pub async fn submit(store: &Store, submission: &JobSubmission, limits: &JobLimits) -> Result<EnqueueOutcome, JobError> {
    let payload = submission.spec.payload();
    if payload.len() > limits.max_payload_bytes {
        return Err(JobError::PayloadTooLarge { bytes: payload.len(), limit: limits.max_payload_bytes });
    }
    if let (JobSpec::Tool(job), Some(known)) = (&submission.spec, &limits.known_tools)
        && !known.iter().any(|name| name == &job.tool)
    {
        return Err(JobError::UnknownTool { tool: job.tool.clone() });
    }
    let max_attempts = submission.max_attempts.unwrap_or(limits.default_max_attempts);
    if max_attempts < 1 {
        return Err(JobError::MaxAttempts(max_attempts));
    }
    let job = NewJob {
        kind: submission.spec.kind(),
        idempotency_key: submission.idempotency_key.as_deref(),
        conversation_id: submission.conversation_id,
        payload: &payload,
        max_attempts,
        run_after_ms: now_ms().saturating_add(submission.delay_ms.max(0)),
        priority: submission.priority,
        max_runtime_ms: submission.max_runtime_ms,
    };
    Ok(store.jobs().enqueue(&job).await?)
}

/// Parses a kind and raw payload the way `submit` would store them, for callers that start from text.
pub fn parse_spec(kind: &str, payload: &str) -> Result<JobSpec, JobError> {
    if !JobSpec::KINDS.contains(&kind) {
        return Err(JobError::UnknownKind { kind: kind.to_string() });
    }
    JobSpec::parse(kind, payload).map_err(|reason| JobError::Invalid { kind: kind.to_string(), reason })
}
