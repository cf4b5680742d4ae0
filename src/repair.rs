//! The repairer's checks over the store: expired job leases, jobs past their max runtime, replies stuck in the
//! outbox, inbound messages nobody answered, routines whose tick was missed. Every repair is audited and counted.

use std::sync::Arc;
use std::time::Duration;

use chitin_actors::ports::{BoxFuture, RepairError, RepairPort, RepairReport};
use chitin_actors::{ChannelKind, ConversationId, ReplyHub};
use serde_json::json;
use tracing::warn;

use crate::channel_ports::TreeCell;
use crate::error_chain::describe;
use crate::metrics::REPAIRS;
use crate::routines::RoutineScheduler;
use crate::store::{AuditEntry, Store, StoreError, now_ms};

/// Channels whose replies are delivered from the outbox by a sender loop (in-band channels hand them over
/// themselves, and a caller that went away is not "stuck").
const OUTBOX_CHANNELS: [&str; 3] = ["telegram", "slack", "webhook"];

/// How long work may wait before the repairer calls it stuck.
#[derive(Debug, Clone, Copy)]
pub struct RepairSettings {
    /// An undelivered reply older than this with no live lease.
    pub outbox_after: Duration,
    /// An inbound message still unanswered after this long.
    pub unanswered_after: Duration,
}

pub struct StoreRepairs {
    store: Store,
    tree: TreeCell,
    hub: ReplyHub,
    scheduler: Arc<RoutineScheduler>,
    settings: RepairSettings,
}

impl StoreRepairs {
    pub fn new(
        store: Store,
        tree: TreeCell,
        hub: ReplyHub,
        scheduler: Arc<RoutineScheduler>,
        settings: RepairSettings,
    ) -> Self {
        Self { store, tree, hub, scheduler, settings }
    }

    async fn record(&self, what: &'static str, target: &str, detail: serde_json::Value) {
        metrics::counter!(REPAIRS, "what" => what).increment(1);
        let detail = json!({ "repair": what, "detail": detail });
        let entry = AuditEntry { actor: "repairer", action: "repair", target, detail: &detail };
        if let Err(error) = self.store.audit().append(&entry).await {
            warn!(error = %describe(&error), "could not audit a repair");
        }
    }

    /// One sweep over everything the repairer watches.
    pub async fn sweep_once(&self) -> Result<RepairReport, StoreError> {
        let mut report = RepairReport::default();
        for lease in self.store.jobs().requeue_expired().await? {
            warn!(job = lease.id.0, state = lease.state.as_str(), "repaired: job lease expired");
            let detail = json!({ "state": lease.state.as_str(), "node": lease.lease_owner });
            self.record("job_lease", &format!("job:{}", lease.id.0), detail).await;
            report.jobs_requeued += 1;
        }
        for job in self.store.jobs().fail_overdue().await? {
            warn!(job = job.0, "repaired: job ran past its max_runtime and was failed");
            self.record("job_runtime", &format!("job:{}", job.0), json!({ "state": "failed" })).await;
            report.jobs_failed += 1;
        }
        let outbox_after = i64::try_from(self.settings.outbox_after.as_millis()).unwrap_or(i64::MAX);
        for (outbox_id, channel) in self.store.outbox().release_stuck(&OUTBOX_CHANNELS, outbox_after).await? {
            warn!(outbox = outbox_id.0, %channel, "repaired: undelivered reply handed back to its sender");
            self.hub.filed_signal(&channel).notify_one();
            self.record("outbox", &format!("outbox:{}", outbox_id.0), json!({ "channel": channel })).await;
            report.replies_redelivered += 1;
        }
        report.turns_resumed = self.resume_unanswered().await?;
        let overdue = self.store.routines().due(now_ms() - 2 * crate::routines::MISSED_AFTER_MS).await?;
        for routine in overdue {
            // The scheduler should have fired or caught up by now; do it here so a dead scheduler loses nothing.
            if let Err(error) = self.scheduler.fire_schedule(&routine, now_ms()).await {
                warn!(routine = %routine.name, error = %describe(&error), "missed routine tick not repaired");
                continue;
            }
            self.record(
                "routine_tick",
                &format!("routine:{}", routine.name),
                json!({ "next_fire_at_ms": routine.next_fire_at_ms }),
            )
            .await;
            report.routines_rescheduled += 1;
        }
        Ok(report)
    }

    /// Conversations with a message received long ago and never answered (their session died mid-turn): their
    /// session is started again, and it answers what it finds unanswered.
    async fn resume_unanswered(&self) -> Result<u64, StoreError> {
        let Some(tree) = self.tree.get() else { return Ok(0) };
        let cutoff = now_ms() - i64::try_from(self.settings.unanswered_after.as_millis()).unwrap_or(i64::MAX);
        let mut woken: Vec<ConversationId> = Vec::new();
        for message in self.store.conversations().unprocessed(1_000).await? {
            if message.created_at_ms > cutoff {
                continue;
            }
            let Some(conversation) = self.store.conversations().get(message.conversation_id).await? else { continue };
            let Some(kind) = ChannelKind::from_name(&conversation.channel) else { continue };
            if kind == ChannelKind::Internal {
                continue; // agent tasks are answered by their job, which has its own lease
            }
            let id = ConversationId::new(kind, &conversation.external_id);
            if woken.contains(&id) {
                continue;
            }
            if let Err(error) = tree.wake(id.clone()).await {
                warn!(%error, conversation = %id, "could not resume an unanswered conversation");
                continue;
            }
            warn!(conversation = %id, message = message.id.0, "repaired: unanswered turn resumed");
            self.record("unanswered_turn", id.as_str(), json!({ "message": message.id.0 })).await;
            woken.push(id);
        }
        Ok(woken.len() as u64)
    }
}

impl RepairPort for StoreRepairs {
    fn sweep(&self) -> BoxFuture<'_, Result<RepairReport, RepairError>> {
        Box::pin(async move { self.sweep_once().await.map_err(|error| RepairError { reason: describe(&error) }) })
    }
}
