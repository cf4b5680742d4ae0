//! `chitin job submit|list|show|wait|cancel|retry`: the persisted job queue from the command line.
//!
//! These commands talk to the database directly (no running instance needed), so they work against any node of
//! a multi-node deployment; on PostgreSQL the insert's NOTIFY wakes the workers of every node.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};

use super::report;
use crate::config::Config;
use crate::jobs::{AgentJob, JobSpec, JobSubmission, MaintenanceTask, ToolJob, parse_spec, submit};
use crate::store::{CancelOutcome, EnqueueOutcome, JobId, JobState, Store};

#[derive(Debug, clap::Subcommand)]
pub enum JobCommand {
    /// Queue a job and print its id.
    #[command(
        after_help = "Examples:\n  chitin job submit --tool echo --params '{\"text\": \"hi\"}'\n  chitin job submit --prompt 'Summarise today' --idempotency-key daily-2026-11-26\n  chitin job submit --maintenance '{\"task\": \"noop\"}'\n\nA repeated --idempotency-key prints the existing job's id instead of queueing a second one."
    )]
    Submit {
        /// Run this tool (with --params).
        #[arg(long, conflicts_with_all = ["prompt", "maintenance"], requires = "params")]
        tool: Option<String>,
        /// The tool's parameters as a JSON object.
        #[arg(long)]
        params: Option<String>,
        /// Run this prompt in a fresh session.
        #[arg(long, conflicts_with = "maintenance")]
        prompt: Option<String>,
        /// An internal maintenance task as JSON, e.g. '{"task": "requeue_expired"}'.
        #[arg(long)]
        maintenance: Option<String>,
        /// Same key, same job: a repeated submission does not queue it twice.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Attempts before the job fails for good (default jobs.max_attempts).
        #[arg(long)]
        max_attempts: Option<i64>,
        /// Higher runs first.
        #[arg(long, default_value_t = 0)]
        priority: i64,
        /// Fail the job when one attempt runs longer than this many seconds.
        #[arg(long)]
        max_runtime_secs: Option<i64>,
        /// Print {"id", "existing"} instead of the bare id.
        #[arg(long)]
        json: bool,
    },
    /// List jobs, newest first.
    #[command(after_help = "Example:\n  chitin job list --state failed --json")]
    List {
        /// Only jobs in this state (queued, running, succeeded, failed, cancelled).
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// An array of {id, kind, state, attempts, max_attempts, node, created_at_ms, updated_at_ms}.
        #[arg(long)]
        json: bool,
    },
    /// A job with its history.
    #[command(after_help = "Example:\n  chitin job show 42 --json")]
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Wait until the job ends; exits 0 only if it succeeded.
    #[command(after_help = "Example:\n  chitin job wait 42 && echo done")]
    Wait {
        id: i64,
        /// Give up (exit 1) after this many seconds; default: wait as long as it takes.
        #[arg(long)]
        timeout_secs: Option<u64>,
    },
    /// Cancel a queued job, or ask a running one to stop.
    Cancel { id: i64 },
    /// Queue a failed or cancelled job again with fresh attempts.
    Retry { id: i64 },
}

pub async fn run(config: Config, master_key: Option<String>, command: JobCommand) -> ExitCode {
    let store = match super::open_store(&config, master_key.as_deref()).await {
        Ok(store) => store,
        Err(error) => return report(Err(error)),
    };
    let outcome = match command {
        JobCommand::Wait { id, timeout_secs } => wait(&store, JobId(id), timeout_secs.map(Duration::from_secs)).await,
        other => report(dispatch(&config, &store, other).await),
    };
    store.close().await;
    outcome
}

async fn dispatch(config: &Config, store: &Store, command: JobCommand) -> anyhow::Result<()> {
    match command {
        JobCommand::Submit {
            tool,
            params,
            prompt,
            maintenance,
            idempotency_key,
            max_attempts,
            priority,
            max_runtime_secs,
            json,
        } => {
            let spec = match (tool, prompt, maintenance) {
                (Some(tool), None, None) => {
                    let text = params.unwrap_or_else(|| "{}".into());
                    let params: Value =
                        serde_json::from_str(&text).with_context(|| format!("--params is not JSON: {text}"))?;
                    parse_spec("tool", &json!(ToolJob { tool, params }).to_string())?
                }
                (None, Some(prompt), None) => {
                    parse_spec("agent", &json!(AgentJob { prompt, reply_to: None }).to_string())?
                }
                (None, None, Some(task)) => {
                    let _: MaintenanceTask = serde_json::from_str(&task)
                        .with_context(|| format!("--maintenance is not a known task: {task}"))?;
                    parse_spec("maintenance", &task)?
                }
                _ => bail!("give one of --tool NAME --params JSON, --prompt TEXT or --maintenance JSON"),
            };
            let mut limits = crate::service::job_limits(config);
            if let JobSpec::Tool(_) = &spec {
                limits.known_tools = Some(known_tools(config).await?);
            }
            let mut submission = JobSubmission::new(spec);
            submission.idempotency_key = idempotency_key;
            submission.max_attempts = max_attempts;
            submission.priority = priority;
            submission.max_runtime_ms = max_runtime_secs.map(|secs| secs.saturating_mul(1000));
            let outcome = submit(store, &submission, &limits).await?;
            if json {
                let existing = matches!(outcome, EnqueueOutcome::Existing(_));
                println!("{}", json!({ "id": outcome.job_id().0, "existing": existing }));
            } else {
                println!("{}", outcome.job_id().0);
            }
        }
        JobCommand::List { state, limit, json } => {
            let state = state.map(|name| parse_state(&name)).transpose()?;
            let jobs = store.jobs().list(state, limit).await?;
            if json {
                let rows: Vec<Value> = jobs
                    .iter()
                    .map(|job| {
                        json!({
                            "id": job.id.0,
                            "kind": job.kind,
                            "state": job.state.as_str(),
                            "attempts": job.attempts,
                            "max_attempts": job.max_attempts,
                            "node": job.node,
                            "created_at_ms": job.created_at_ms,
                            "updated_at_ms": job.updated_at_ms,
                        })
                    })
                    .collect();
                println!("{}", Value::Array(rows));
            } else {
                for job in jobs {
                    println!(
                        "{:>8}  {:<11} {:<10} attempts {}/{}  {}",
                        job.id.0,
                        job.kind,
                        job.state.as_str(),
                        job.attempts,
                        job.max_attempts,
                        job.node.as_deref().unwrap_or("-")
                    );
                }
            }
        }
        JobCommand::Show { id, json } => {
            let job = store.jobs().get(JobId(id)).await?.ok_or_else(|| anyhow!("there is no job {id}"))?;
            let events = store.jobs().events(JobId(id)).await?;
            if json {
                println!("{}", json!({ "job": job, "events": events }));
            } else {
                println!("job {} ({}): {}", job.id.0, job.kind, job.state.as_str());
                println!("attempts {}/{}  node {}", job.attempts, job.max_attempts, job.node.as_deref().unwrap_or("-"));
                println!("payload {}", job.payload);
                if let Some(result) = &job.result {
                    println!("result {result}");
                }
                for event in events {
                    println!("  {}  {}  {}", event.at_ms, event.kind, event.detail);
                }
            }
        }
        JobCommand::Cancel { id } => match store.jobs().cancel(JobId(id)).await? {
            CancelOutcome::Cancelled => println!("job {id} cancelled"),
            CancelOutcome::Requested => println!("job {id} is running; its worker stops it at the next lease renewal"),
            CancelOutcome::AlreadyEnded(state) => println!("job {id} already ended: {}", state.as_str()),
            CancelOutcome::NotFound => bail!("there is no job {id}"),
        },
        JobCommand::Retry { id } => {
            if !store.jobs().retry(JobId(id)).await? {
                bail!("job {id} does not exist or is not failed or cancelled");
            }
            println!("job {id} queued again");
        }
        JobCommand::Wait { .. } => bail!("wait is handled before dispatch"),
    }
    Ok(())
}

/// Tools a job may name: the built-ins, memory and job tools, plus the WASM tools installed in this data dir.
pub(super) async fn known_tools(config: &Config) -> anyhow::Result<Vec<String>> {
    use crate::sandbox::ToolCatalog;
    let mut names: Vec<String> = crate::tools::builtin_tools().iter().map(|tool| tool.spec().name.clone()).collect();
    names.extend(
        ["memory_search", "memory_write", "memory_read", "job_spawn", "job_status", "job_cancel", "routine_list"]
            .map(String::from),
    );
    let data_dir = config.data_dir.clone().unwrap_or_default();
    let catalog = crate::sandbox::JsonFileCatalog::new(data_dir.join("tools").join("catalog.json"));
    let installed = catalog.list().await.context("cannot read the installed tools")?;
    names.extend(installed.into_iter().map(|tool| tool.name.to_string()));
    Ok(names)
}

fn parse_state(name: &str) -> anyhow::Result<JobState> {
    [JobState::Queued, JobState::Running, JobState::Succeeded, JobState::Failed, JobState::Cancelled]
        .into_iter()
        .find(|state| state.as_str() == name)
        .ok_or_else(|| anyhow!("unknown state `{name}`; use queued, running, succeeded, failed or cancelled"))
}

/// Polls the job until it ends: exit 0 when it succeeded, 1 otherwise (the final state is printed either way).
async fn wait(store: &Store, id: JobId, timeout: Option<Duration>) -> ExitCode {
    let started = Instant::now();
    let mut delay = Duration::from_millis(20);
    loop {
        match store.jobs().get(id).await {
            Ok(Some(job)) => match job.state {
                JobState::Succeeded => {
                    println!("job {} succeeded", id.0);
                    return ExitCode::SUCCESS;
                }
                JobState::Failed | JobState::Cancelled => {
                    eprintln!(
                        "job {} {}: {}",
                        id.0,
                        job.state.as_str(),
                        job.result.as_deref().unwrap_or("no error recorded")
                    );
                    return ExitCode::FAILURE;
                }
                JobState::Queued | JobState::Running => {}
            },
            Ok(None) => return report(Err(anyhow!("there is no job {}", id.0))),
            Err(error) => eprintln!("warning: cannot read job {}: {error}", id.0),
        }
        if timeout.is_some_and(|limit| started.elapsed() >= limit) {
            eprintln!("error: job {} did not end within the timeout", id.0);
            return ExitCode::FAILURE;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(250));
    }
}
