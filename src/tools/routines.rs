//! `routine_create` (asks the owner first) and `routine_list`: the agent schedules work for later.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{BoxFuture, Tool, ToolContext, ToolError};
use crate::error_chain::describe;
use crate::jobs::{JobLimits, ReplyTarget};
use crate::llm::ToolSpec;
use crate::routines::{CatchUp, NewRoutineRequest, RoutineAction, TriggerInput, create, parse_duration};
use crate::store::Store;

pub fn routine_tools(store: Store, limits: JobLimits) -> Vec<Arc<dyn Tool>> {
    vec![Arc::new(RoutineCreateTool::new(store.clone(), limits)), Arc::new(RoutineListTool::new(store))]
}

fn failed(tool: &str, reason: impl Into<String>) -> ToolError {
    ToolError::Failed { tool: tool.into(), reason: reason.into() }
}

/// Creates a routine whose prompt answers in this conversation; the owner approves each creation.
pub struct RoutineCreateTool {
    spec: ToolSpec,
    store: Store,
    limits: JobLimits,
}

impl RoutineCreateTool {
    pub fn new(store: Store, limits: JobLimits) -> Self {
        Self {
            spec: ToolSpec {
                name: "routine_create".into(),
                description: "Schedule a prompt to run later and repeatedly: give `name`, `prompt` and either `cron` \
                              (5 or 6 fields, with optional `time_zone`) or `every` (e.g. 30m). The owner approves it."
                    .into(),
                parameters: json!({
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "prompt": {"type": "string"},
                        "cron": {"type": "string"},
                        "time_zone": {"type": "string"},
                        "every": {"type": "string"}
                    },
                    "required": ["name", "prompt"],
                    "additionalProperties": false
                }),
            },
            store,
            limits,
        }
    }
}

impl Tool for RoutineCreateTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    /// A routine acts on the owner's behalf long after this turn: the owner says yes first.
    fn requires_approval(&self) -> bool {
        true
    }

    fn call<'a>(&'a self, context: &'a ToolContext, parameters: Value) -> BoxFuture<'a, Result<String, ToolError>> {
        Box::pin(async move {
            let text = |key: &str| parameters[key].as_str().map(str::to_string);
            let trigger = match (text("cron"), text("every")) {
                (Some(expression), None) => {
                    TriggerInput::Cron { expression, time_zone: text("time_zone").unwrap_or_else(|| "UTC".into()) }
                }
                (None, Some(every)) => TriggerInput::Every(
                    parse_duration(&every).map_err(|error| failed("routine_create", error.to_string()))?,
                ),
                _ => return Err(failed("routine_create", "give either `cron` or `every`")),
            };
            let reply_to = context
                .conversation
                .split_once(':')
                .map(|(channel, id)| ReplyTarget { channel: channel.into(), external_id: id.into() });
            let request = NewRoutineRequest {
                name: text("name").unwrap_or_default(),
                trigger,
                action: RoutineAction::Prompt { text: text("prompt").unwrap_or_default(), reply_to },
                catch_up: CatchUp::Skip,
            };
            let created = create(&self.store, &request, &self.limits)
                .await
                .map_err(|error| failed("routine_create", describe(&error)))?;
            Ok(json!({ "routine_id": created.id.0, "next_fire_at_ms": created.next_fire_at_ms }).to_string())
        })
    }
}

/// The routines that exist, with their triggers and whether they are active.
pub struct RoutineListTool {
    spec: ToolSpec,
    store: Store,
}

impl RoutineListTool {
    pub fn new(store: Store) -> Self {
        Self {
            spec: ToolSpec {
                name: "routine_list".into(),
                description: "List scheduled routines: name, trigger, active or paused, next run.".into(),
                parameters: json!({"type": "object", "properties": {}, "additionalProperties": false}),
            },
            store,
        }
    }
}

impl Tool for RoutineListTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call<'a>(&'a self, _context: &'a ToolContext, _parameters: Value) -> BoxFuture<'a, Result<String, ToolError>> {
        Box::pin(async move {
            let routines =
                self.store.routines().list().await.map_err(|error| failed("routine_list", describe(&error)))?;
            let listed: Vec<Value> = routines
                .iter()
                .map(|routine| {
                    json!({
                        "name": routine.name,
                        "trigger": routine.trigger_kind.as_str(),
                        "spec": routine.trigger_spec,
                        "active": routine.enabled,
                        "next_fire_at_ms": routine.next_fire_at_ms,
                    })
                })
                .collect();
            Ok(Value::Array(listed).to_string())
        })
    }
}
