//! `chitin routine add|list|show|pause|resume|remove|run-now`: routines in the shared database.

use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};

use super::report;
use crate::config::Config;
use crate::jobs::ReplyTarget;
use crate::routines::{
    CatchUp, Fired, NewRoutineRequest, RoutineAction, TriggerInput, create, definition, fire, parse_duration,
    schedule_of,
};
use crate::store::{Routine, Store, now_ms};

#[derive(Debug, clap::Subcommand)]
pub enum RoutineCommand {
    /// Create (or replace) a routine.
    #[command(
        after_help = "Examples:\n  chitin routine add --name standup --cron '0 9 * * 1-5' --tz Europe/Berlin --prompt 'Plan my day'\n  chitin routine add --name ping --every 5m --tool echo --params '{\"text\": \"ping\"}'\n  chitin routine add --name on-fail --event 'job:failed' --prompt 'A job failed; look into it'\n  chitin routine add --name deploy --webhook --prompt 'A deploy finished'   # prints the trigger token once"
    )]
    Add {
        #[arg(long)]
        name: String,
        /// A 5-field (minute) or 6-field (seconds first) cron expression.
        #[arg(long, group = "trigger")]
        cron: Option<String>,
        /// A fixed interval: 30s, 5m, 2h, 1d.
        #[arg(long, group = "trigger")]
        every: Option<String>,
        /// `message:<regex>` over inbound messages, or `job:<succeeded|failed|cancelled>[:<kind>]`.
        #[arg(long, group = "trigger")]
        event: Option<String>,
        /// Fired by POST /routines/{id}/trigger with the printed token.
        #[arg(long, group = "trigger")]
        webhook: bool,
        /// IANA time zone of the cron expression.
        #[arg(long, default_value = "UTC")]
        tz: String,
        /// An agent prompt to run when it fires.
        #[arg(long, group = "action")]
        prompt: Option<String>,
        /// A tool to call when it fires (with --params).
        #[arg(long, group = "action", requires = "params")]
        tool: Option<String>,
        #[arg(long)]
        params: Option<String>,
        /// Where a prompt's answer goes, as channel:conversation (e.g. telegram:123456).
        #[arg(long)]
        reply_to: Option<String>,
        /// Ticks missed while no node ran: skip them, or fire once.
        #[arg(long, value_enum, default_value_t = CatchUp::Skip)]
        catch_up: CatchUp,
    },
    /// List routines.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A routine with its latest runs.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Stop firing until resumed.
    Pause {
        name: String,
    },
    /// Fire again from the next tick on (missed ticks are not fired).
    Resume {
        name: String,
    },
    Remove {
        name: String,
    },
    /// Fire once now, whatever the trigger; prints the queued job's id.
    RunNow {
        name: String,
    },
}

pub async fn run(config: Config, master_key: Option<String>, command: RoutineCommand) -> ExitCode {
    report(
        async {
            let store = super::open_store(&config, master_key.as_deref()).await?;
            let result = dispatch(&config, &store, command).await;
            store.close().await;
            result
        }
        .await,
    )
}

async fn routine(store: &Store, name: &str) -> anyhow::Result<Routine> {
    store.routines().get(name).await?.ok_or_else(|| anyhow!("there is no routine named {name}"))
}

fn describe_trigger(routine: &Routine) -> String {
    let spec = &routine.trigger_spec;
    match routine.trigger_kind.as_str() {
        "cron" => match spec.strip_prefix("@every ") {
            Some(interval) => format!("every {interval}"),
            None => {
                let zone = definition(routine).map(|d| d.time_zone).unwrap_or_default();
                format!("cron {spec} ({zone})")
            }
        },
        "event" => format!("event {spec}"),
        _ => format!("webhook POST /routines/{}/trigger", routine.id.0),
    }
}

fn routine_json(routine: &Routine) -> Value {
    json!({
        "id": routine.id.0,
        "name": routine.name,
        "trigger": describe_trigger(routine),
        "enabled": routine.enabled,
        "next_fire_at_ms": routine.next_fire_at_ms,
        "action": definition(routine).map(|d| json!(d.action)).unwrap_or(Value::Null),
        "catch_up": definition(routine).map(|d| json!(d.catch_up)).unwrap_or(Value::Null),
    })
}

async fn dispatch(config: &Config, store: &Store, command: RoutineCommand) -> anyhow::Result<()> {
    let limits = crate::service::job_limits(config);
    match command {
        RoutineCommand::Add { name, cron, every, event, webhook, tz, prompt, tool, params, reply_to, catch_up } => {
            let trigger = match (cron, every, event, webhook) {
                (Some(expression), None, None, false) => TriggerInput::Cron { expression, time_zone: tz },
                (None, Some(every), None, false) => TriggerInput::Every(parse_duration(&every)?),
                (None, None, Some(pattern), false) => TriggerInput::Event(pattern),
                (None, None, None, true) => TriggerInput::Webhook,
                _ => bail!("give one trigger: --cron EXPR, --every DURATION, --event PATTERN or --webhook"),
            };
            let reply_to = reply_to
                .map(|target| {
                    target
                        .split_once(':')
                        .map(|(channel, id)| ReplyTarget { channel: channel.into(), external_id: id.into() })
                        .ok_or_else(|| anyhow!("--reply-to must be channel:conversation, e.g. telegram:123456"))
                })
                .transpose()?;
            let action = match (prompt, tool) {
                (Some(text), None) => RoutineAction::Prompt { text, reply_to },
                (None, Some(tool)) => {
                    let text = params.unwrap_or_else(|| "{}".into());
                    let params: Value =
                        serde_json::from_str(&text).with_context(|| format!("--params is not JSON: {text}"))?;
                    RoutineAction::Tool { tool, params }
                }
                _ => bail!("give one action: --prompt TEXT or --tool NAME --params JSON"),
            };
            let mut limits = limits;
            if let RoutineAction::Tool { .. } = &action {
                limits.known_tools = Some(super::job_cmd::known_tools(config).await?);
            }
            let request = NewRoutineRequest { name: name.clone(), trigger, action, catch_up };
            let created = create(store, &request, &limits).await?;
            println!("routine {name} saved (id {})", created.id.0);
            if let Some(next) = created.next_fire_at_ms.and_then(chrono::DateTime::from_timestamp_millis) {
                println!("next fire: {}", next.to_rfc3339());
            }
            if let Some(token) = created.webhook_token {
                println!("trigger: POST /routines/{}/trigger with Authorization: Bearer {token}", created.id.0);
                println!("the token is shown only now");
            }
        }
        RoutineCommand::List { json } => {
            let routines = store.routines().list().await?;
            if json {
                println!("{}", Value::Array(routines.iter().map(routine_json).collect()));
            } else {
                for routine in routines {
                    let state = if routine.enabled { "active" } else { "paused" };
                    println!("{:<24} {:<7} {}", routine.name, state, describe_trigger(&routine));
                }
            }
        }
        RoutineCommand::Show { name, json } => {
            let routine = routine(store, &name).await?;
            let runs = store.routines().run_details(routine.id, 20).await?;
            let runs: Vec<Value> = runs
                .into_iter()
                .map(|(key, state, job, started)| {
                    json!({ "run_key": key, "state": state.as_str(), "job_id": job.map(|id| id.0), "started_at_ms": started })
                })
                .collect();
            let mut value = routine_json(&routine);
            value["runs"] = Value::Array(runs);
            if json {
                println!("{value}");
            } else {
                println!("{}", serde_json::to_string_pretty(&value)?);
            }
        }
        RoutineCommand::Pause { name } => {
            if !store.routines().set_enabled(&name, false, None).await? {
                bail!("there is no routine named {name}");
            }
            println!("routine {name} paused");
        }
        RoutineCommand::Resume { name } => {
            let routine = routine(store, &name).await?;
            let next = schedule_of(&routine)?.and_then(|schedule| schedule.next_after(now_ms()));
            store.routines().set_enabled(&name, true, next).await?;
            println!("routine {name} resumed");
        }
        RoutineCommand::Remove { name } => {
            if !store.routines().delete(&name).await? {
                bail!("there is no routine named {name}");
            }
            println!("routine {name} removed");
        }
        RoutineCommand::RunNow { name } => {
            let routine = routine(store, &name).await?;
            match fire(store, &routine, &format!("manual:{}", now_ms()), &limits).await? {
                Fired::Queued(job) => println!("{}", job.0),
                Fired::AlreadyFired => bail!("the routine was fired this very millisecond already"),
            }
        }
    }
    Ok(())
}
