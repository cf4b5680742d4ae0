//! Routines: work started by a schedule (cron, every), an event (inbound message, job outcome) or a webhook.
//!
//! Every fire queues a job, so the action runs in the job pool with its retries and leases. A fire is claimed
//! through its run key (the schedule slot, the event id or the webhook request) in `routine_runs`, whose unique
//! key makes each tick fire once however many nodes see it.

pub mod schedule;
mod scheduler;
pub mod webhook;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::jobs::{AgentJob, JobError, JobLimits, JobSpec, JobSubmission, ReplyTarget, ToolJob, parse_spec, submit};
use crate::store::{JobId, NewRoutine, RoutineId, RunStart, RunState, Store, StoreError, TriggerKind, now_ms};

pub use schedule::{Schedule, ScheduleError, parse_duration};
pub use scheduler::{HeartbeatSettings, MISSED_AFTER_MS, RoutineScheduler};

#[derive(Debug, thiserror::Error)]
pub enum RoutineError {
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error("invalid event pattern `{pattern}`: {reason}")]
    Event { pattern: String, reason: String },
    #[error("invalid action: {0}")]
    Action(#[from] JobError),
    #[error("there is no routine named {0}")]
    NotFound(String),
    #[error("the stored routine {name} is unreadable: {reason}")]
    Corrupt { name: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a routine does when it fires; each becomes one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RoutineAction {
    /// An agent prompt run by a fresh session; the answer goes to `reply_to` when set.
    Prompt {
        text: String,
        #[serde(default)]
        reply_to: Option<ReplyTarget>,
    },
    Tool {
        tool: String,
        params: Value,
    },
    /// Any job kind with its payload.
    Job {
        kind: String,
        payload: Value,
    },
}

impl RoutineAction {
    pub fn job_spec(&self) -> Result<JobSpec, JobError> {
        match self {
            RoutineAction::Prompt { text, reply_to } => {
                let job = AgentJob { prompt: text.clone(), reply_to: reply_to.clone() };
                parse_spec("agent", &serde_json::to_string(&job).unwrap_or_default())
            }
            RoutineAction::Tool { tool, params } => {
                let job = ToolJob { tool: tool.clone(), params: params.clone() };
                parse_spec("tool", &serde_json::to_string(&job).unwrap_or_default())
            }
            RoutineAction::Job { kind, payload } => parse_spec(kind, &payload.to_string()),
        }
    }
}

/// What happens to ticks missed while no node ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Forget missed ticks; fire again at the next one.
    #[default]
    Skip,
    /// Fire once for all missed ticks, then go on as scheduled.
    RunOnce,
}

/// The routine's definition as stored in its `action` column (the store leaves the shape to this module).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutineDefinition {
    pub action: RoutineAction,
    #[serde(default)]
    pub catch_up: CatchUp,
    #[serde(default = "utc")]
    pub time_zone: String,
    /// SHA-256 (hex) of the webhook trigger's token; the token itself is shown once, at creation.
    #[serde(default)]
    pub webhook_token_sha256: Option<String>,
}

fn utc() -> String {
    "UTC".into()
}

/// What makes a routine fire, as the user gives it.
#[derive(Debug, Clone)]
pub enum TriggerInput {
    Cron {
        expression: String,
        time_zone: String,
    },
    Every(std::time::Duration),
    /// `message:<regex>` over inbound message text, or `job:<state>[:<kind>]` over job outcomes.
    Event(String),
    Webhook,
}

/// An event pattern, checked when the routine is created.
#[derive(Debug, Clone)]
pub enum EventPattern {
    Message(Regex),
    Job { state: String, kind: Option<String> },
}

impl EventPattern {
    pub fn parse(pattern: &str) -> Result<EventPattern, RoutineError> {
        let bad = |reason: &str| RoutineError::Event { pattern: pattern.into(), reason: reason.into() };
        if let Some(regex) = pattern.strip_prefix("message:") {
            let regex = Regex::new(regex).map_err(|error| bad(&error.to_string()))?;
            return Ok(EventPattern::Message(regex));
        }
        if let Some(rest) = pattern.strip_prefix("job:") {
            let (state, kind) = match rest.split_once(':') {
                Some((state, kind)) => (state, Some(kind.to_string())),
                None => (rest, None),
            };
            if !["succeeded", "failed", "cancelled"].contains(&state) {
                return Err(bad("the job state must be succeeded, failed or cancelled"));
            }
            if let Some(kind) = &kind
                && !JobSpec::KINDS.contains(&kind.as_str())
            {
                return Err(bad("unknown job kind"));
            }
            return Ok(EventPattern::Job { state: state.into(), kind });
        }
        Err(bad("use message:<regex> or job:<state>[:<kind>]"))
    }
}

/// A routine to create.
#[derive(Debug, Clone)]
pub struct NewRoutineRequest {
    pub name: String,
    pub trigger: TriggerInput,
    pub action: RoutineAction,
    pub catch_up: CatchUp,
}

/// A created routine; the webhook token is shown this once.
#[derive(Debug, Clone)]
pub struct Created {
    pub id: RoutineId,
    pub next_fire_at_ms: Option<i64>,
    pub webhook_token: Option<String>,
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Checks everything (schedule, time zone, pattern, action, tool name, payload size) and stores the routine.
pub async fn create(store: &Store, request: &NewRoutineRequest, limits: &JobLimits) -> Result<Created, RoutineError> {
    let spec = request.action.job_spec()?;
    if spec.payload().len() > limits.max_payload_bytes {
        return Err(JobError::PayloadTooLarge { bytes: spec.payload().len(), limit: limits.max_payload_bytes }.into());
    }
    if let (JobSpec::Tool(job), Some(known)) = (&spec, &limits.known_tools)
        && !known.iter().any(|name| name == &job.tool)
    {
        return Err(JobError::UnknownTool { tool: job.tool.clone() }.into());
    }
    let mut definition = RoutineDefinition {
        action: request.action.clone(),
        catch_up: request.catch_up,
        time_zone: utc(),
        webhook_token_sha256: None,
    };
    let mut webhook_token = None;
    let (kind, trigger_spec, next_fire_at_ms) = match &request.trigger {
        TriggerInput::Cron { expression, time_zone } => {
            let schedule = Schedule::cron(expression, time_zone)?;
            definition.time_zone = time_zone.clone();
            (TriggerKind::Cron, schedule.spec(), schedule.next_after(now_ms()))
        }
        TriggerInput::Every(interval) => {
            let schedule = Schedule::every(*interval)?;
            (TriggerKind::Cron, schedule.spec(), schedule.next_after(now_ms()))
        }
        TriggerInput::Event(pattern) => {
            EventPattern::parse(pattern)?;
            (TriggerKind::Event, pattern.clone(), None)
        }
        TriggerInput::Webhook => {
            let token = hex::encode(rand::random::<[u8; 24]>());
            definition.webhook_token_sha256 = Some(token_hash(&token));
            webhook_token = Some(token);
            (TriggerKind::Webhook, String::new(), None)
        }
    };
    let action = serde_json::to_value(&definition).unwrap_or_default();
    let id = store
        .routines()
        .upsert(&NewRoutine {
            name: &request.name,
            trigger_kind: kind,
            trigger_spec: &trigger_spec,
            action: &action,
            enabled: true,
            next_fire_at_ms,
        })
        .await?;
    Ok(Created { id, next_fire_at_ms, webhook_token })
}

pub fn definition(routine: &crate::store::Routine) -> Result<RoutineDefinition, RoutineError> {
    serde_json::from_value(routine.action.clone())
        .map_err(|error| RoutineError::Corrupt { name: routine.name.clone(), reason: error.to_string() })
}

/// The schedule of a time-triggered routine.
pub fn schedule_of(routine: &crate::store::Routine) -> Result<Option<Schedule>, RoutineError> {
    if routine.trigger_kind != TriggerKind::Cron {
        return Ok(None);
    }
    let definition = definition(routine)?;
    Ok(Some(Schedule::from_spec(&routine.trigger_spec, &definition.time_zone)?))
}

/// How one fire went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fired {
    /// This node won the run key and queued the job.
    Queued(JobId),
    /// Another node (or an earlier try) already fired this run key.
    AlreadyFired,
}

/// Fires `routine` for `run_key`: claims the run, queues its job (keyed by the run, so a crash between the two
/// cannot queue it twice), records the run.
pub async fn fire(
    store: &Store,
    routine: &crate::store::Routine,
    run_key: &str,
    limits: &JobLimits,
) -> Result<Fired, RoutineError> {
    let definition = definition(routine)?;
    let RunStart::Started(run_id) = store.routines().start_run(routine.id, run_key, None).await? else {
        return Ok(Fired::AlreadyFired);
    };
    let mut submission = JobSubmission::new(definition.action.job_spec()?);
    submission.idempotency_key = Some(format!("routine:{}:{run_key}", routine.id.0));
    let mut unchecked = limits.clone();
    unchecked.known_tools = None;
    match submit(store, &submission, &unchecked).await {
        Ok(outcome) => {
            store.routines().set_run_job(run_id, outcome.job_id()).await?;
            store.routines().finish_run(run_id, RunState::Succeeded).await?;
            metrics::counter!(ROUTINE_FIRES, "trigger" => routine.trigger_kind.as_str()).increment(1);
            Ok(Fired::Queued(outcome.job_id()))
        }
        Err(error) => {
            store.routines().finish_run(run_id, RunState::Failed).await?;
            Err(error.into())
        }
    }
}

/// Routine fires by trigger kind.
pub const ROUTINE_FIRES: &str = "chitin_routine_fires_total";
