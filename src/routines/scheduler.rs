//! The scheduler port: fires due schedules (with catch-up after downtime), event routines, and the heartbeat.

use std::path::PathBuf;
use std::time::Duration;

use chitin_actors::ports::{BoxFuture, SchedulerError, SchedulerPort};
use tokio::sync::Mutex;
use tracing::{info, warn};

use crate::error_chain::describe;
use crate::jobs::{AgentJob, JobLimits, JobSignals, JobSpec, JobSubmission, ReplyTarget, submit};
use crate::store::{MessageId, Routine, Store, TriggerKind, now_ms};

use super::{CatchUp, EventPattern, Fired, RoutineError, definition, fire, schedule_of};

/// A slot later than this is "missed" (nobody ran at the time) and follows the routine's catch-up policy.
pub const MISSED_AFTER_MS: i64 = 5_000;

/// The heartbeat: what to read, how often, where answers go.
#[derive(Debug, Clone)]
pub struct HeartbeatSettings {
    pub every: Duration,
    pub file: PathBuf,
    pub reply_to: Option<ReplyTarget>,
}

/// Where the event feed of this node stands.
#[derive(Debug, Clone, Copy)]
struct Cursors {
    message: MessageId,
    job_event: i64,
}

pub struct RoutineScheduler {
    store: Store,
    limits: JobLimits,
    signals: JobSignals,
    heartbeat: Option<HeartbeatSettings>,
    cursors: Mutex<Option<Cursors>>,
}

impl RoutineScheduler {
    pub fn new(store: Store, limits: JobLimits, signals: JobSignals, heartbeat: Option<HeartbeatSettings>) -> Self {
        Self { store, limits, signals, heartbeat, cursors: Mutex::new(None) }
    }

    /// One pass: due schedules, then new events. Returns the fires this node won.
    pub async fn run_due(&self) -> Result<u64, RoutineError> {
        let now = now_ms();
        let mut fired = 0;
        for routine in self.store.routines().due(now).await? {
            match self.fire_schedule(&routine, now).await {
                Ok(count) => fired += count,
                Err(error) => warn!(routine = %routine.name, error = %describe(&error), "routine could not fire"),
            }
        }
        fired += self.fire_events().await?;
        if fired > 0 {
            self.signals.job_queued();
        }
        Ok(fired)
    }

    pub async fn fire_schedule(&self, routine: &Routine, now: i64) -> Result<u64, RoutineError> {
        let Some(schedule) = schedule_of(routine)? else { return Ok(0) };
        let Some(mut slot) = routine.next_fire_at_ms else { return Ok(0) };
        let routines = self.store.routines();
        let mut fired = 0;
        while slot <= now {
            if now - slot > MISSED_AFTER_MS {
                // Downtime: the slots between then and now were missed.
                let next = schedule.next_after(now);
                if definition(routine)?.catch_up == CatchUp::RunOnce
                    && let Fired::Queued(job) =
                        fire(&self.store, routine, &format!("catch-up:{}", run_key(slot)), &self.limits).await?
                {
                    info!(routine = %routine.name, job = job.0, "missed ticks: fired once to catch up");
                    fired += 1;
                }
                routines.advance_next_fire(routine.id, slot, next).await?;
                break;
            }
            if let Fired::Queued(_) = fire(&self.store, routine, &run_key(slot), &self.limits).await? {
                fired += 1;
            }
            let next = schedule.next_after(slot);
            if !routines.advance_next_fire(routine.id, slot, next).await? {
                break; // another node moved it on
            }
            let Some(next) = next else { break };
            slot = next;
        }
        Ok(fired)
    }

    async fn fire_events(&self) -> Result<u64, RoutineError> {
        let routines: Vec<(Routine, EventPattern)> = self
            .store
            .routines()
            .list()
            .await?
            .into_iter()
            .filter(|routine| routine.enabled && routine.trigger_kind == TriggerKind::Event)
            .filter_map(|routine| EventPattern::parse(&routine.trigger_spec).ok().map(|pattern| (routine, pattern)))
            .collect();
        let mut guard = self.cursors.lock().await;
        if routines.is_empty() {
            // Start from "now" when the first event routine appears, not from the beginning of time.
            *guard = None;
            return Ok(0);
        }
        let mut cursors = match *guard {
            Some(cursors) => cursors,
            None => {
                let start = Cursors {
                    message: self.store.conversations().last_message_id().await?,
                    job_event: self.store.jobs().last_event_id().await?,
                };
                *guard = Some(start);
                return Ok(0);
            }
        };
        let mut fired = 0;
        for message in self.store.conversations().inbound_after(cursors.message, 200).await? {
            cursors.message = message.id;
            for (routine, pattern) in &routines {
                if let EventPattern::Message(regex) = pattern
                    && regex.is_match(&message.body)
                    && let Fired::Queued(_) =
                        fire(&self.store, routine, &format!("message:{}", message.id.0), &self.limits).await?
                {
                    fired += 1;
                }
            }
        }
        for outcome in self.store.jobs().outcomes_after(cursors.job_event, 200).await? {
            cursors.job_event = outcome.event_id;
            for (routine, pattern) in &routines {
                let EventPattern::Job { state, kind } = pattern else { continue };
                // A routine never reacts to the jobs it queued itself (that would loop).
                let own = format!("routine:{}:", routine.id.0);
                if outcome.idempotency_key.as_deref().is_some_and(|key| key.starts_with(&own)) {
                    continue;
                }
                if outcome.state.as_str() == state
                    && kind.as_deref().is_none_or(|kind| kind == outcome.kind)
                    && let Fired::Queued(_) =
                        fire(&self.store, routine, &format!("job:{}:{}", outcome.job_id.0, state), &self.limits).await?
                {
                    fired += 1;
                }
            }
        }
        *guard = Some(cursors);
        Ok(fired)
    }

    /// Reads HEARTBEAT.md; when it has content, queues an agent job with it (once per interval across nodes).
    pub async fn run_heartbeat(&self) -> Result<bool, RoutineError> {
        let Some(heartbeat) = &self.heartbeat else { return Ok(false) };
        let text = tokio::fs::read_to_string(&heartbeat.file).await.unwrap_or_default();
        if text.trim().is_empty() {
            return Ok(false);
        }
        let prompt = format!(
            "Heartbeat. These are the standing instructions from HEARTBEAT.md in the workspace; check them now and \
             act on what is due. Answer briefly with what you did (or \"nothing to do\").\n\n{}",
            text.trim()
        );
        let every = i64::try_from(heartbeat.every.as_millis()).unwrap_or(i64::MAX).max(1);
        let mut submission =
            JobSubmission::new(JobSpec::Agent(AgentJob { prompt, reply_to: heartbeat.reply_to.clone() }));
        submission.idempotency_key = Some(format!("heartbeat:{}", now_ms() / every));
        submit(&self.store, &submission, &self.limits).await?;
        self.signals.job_queued();
        Ok(true)
    }
}

/// The run key of a schedule slot: its UTC time, the same on every node.
fn run_key(slot_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(slot_ms)
        .map(|at| at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| slot_ms.to_string())
}

fn port_error(error: RoutineError) -> SchedulerError {
    SchedulerError { reason: describe(&error) }
}

impl SchedulerPort for RoutineScheduler {
    fn tick(&self) -> BoxFuture<'_, Result<u64, SchedulerError>> {
        Box::pin(async move { self.run_due().await.map_err(port_error) })
    }

    fn heartbeat(&self) -> BoxFuture<'_, Result<bool, SchedulerError>> {
        Box::pin(async move { self.run_heartbeat().await.map_err(port_error) })
    }

    fn heartbeat_every(&self) -> Option<Duration> {
        self.heartbeat.as_ref().map(|heartbeat| heartbeat.every)
    }
}
