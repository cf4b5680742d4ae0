//! What the browser UI reads and changes, answered from the store, the memory service and the tool catalog.

use std::sync::Arc;

use chitin_channels::gateway::web::{
    AuditView, ConversationView, JobView, MemoryDocumentView, MemoryHitView, MessageView, RoutineView, ToolView,
    WebPort,
};
use chitin_channels::ports::BoxFuture;

use crate::memory::MemoryService;
use crate::memory::rank::SearchFilter;
use crate::routines::schedule_of;
use crate::sandbox::{JsonFileCatalog, Manifest, ToolCatalog};
use crate::store::{CancelOutcome, ConversationId, JobId, RoutineId, Store, now_ms};

/// The service's answer to the UI's questions.
pub struct ServiceWebPort {
    pub store: Store,
    pub memory: MemoryService,
    pub catalog: Arc<JsonFileCatalog>,
}

impl WebPort for ServiceWebPort {
    fn conversations(&self, limit: i64) -> BoxFuture<'_, Result<Vec<ConversationView>, String>> {
        Box::pin(async move {
            let conversations = self.store.conversations().list(limit).await.map_err(|error| error.to_string())?;
            Ok(conversations
                .into_iter()
                .map(|conversation| ConversationView {
                    id: conversation.id.0,
                    channel: conversation.channel,
                    external_id: conversation.external_id,
                    last_activity_at_ms: conversation.last_activity_at_ms,
                })
                .collect())
        })
    }

    fn messages(&self, conversation: i64, limit: i64) -> BoxFuture<'_, Result<Vec<MessageView>, String>> {
        Box::pin(async move {
            let history = self
                .store
                .conversations()
                .history(ConversationId(conversation), limit)
                .await
                .map_err(|error| error.to_string())?;
            Ok(history
                .into_iter()
                .map(|message| MessageView {
                    id: message.id.0,
                    role: message.role.as_str().to_string(),
                    direction: message.direction.as_str().to_string(),
                    status: message.status.as_str().to_string(),
                    body: message.body,
                    created_at_ms: message.created_at_ms,
                })
                .collect())
        })
    }

    fn memory_search(&self, query: String, limit: i64) -> BoxFuture<'_, Result<Vec<MemoryHitView>, String>> {
        Box::pin(async move {
            let limit = usize::try_from(limit).unwrap_or(10);
            let hits =
                self.memory.search(&query, limit, &SearchFilter::default()).await.map_err(|error| error.to_string())?;
            Ok(hits
                .into_iter()
                .map(|hit| MemoryHitView { path: hit.document_path, text: hit.text, score: hit.scores.score })
                .collect())
        })
    }

    fn memory_document(&self, path: String) -> BoxFuture<'_, Result<Option<MemoryDocumentView>, String>> {
        Box::pin(async move {
            // Only documents memory holds: the workspace may have files that were never indexed (hidden, too large).
            if self.memory.store().document_hash(&path).await.map_err(|error| error.to_string())?.is_none() {
                return Ok(None);
            }
            let content = self.memory.read_workspace_file(&path).await.map_err(|error| error.to_string())?;
            Ok(Some(MemoryDocumentView { path, content }))
        })
    }

    fn tools(&self) -> BoxFuture<'_, Result<Vec<ToolView>, String>> {
        Box::pin(async move {
            let installed = self.catalog.list().await.map_err(|error| error.to_string())?;
            installed
                .into_iter()
                .map(|tool| {
                    let manifest =
                        Manifest::parse(&tool.manifest, tool.name.as_str()).map_err(|error| error.to_string())?;
                    Ok(ToolView {
                        name: tool.name.to_string(),
                        version: tool.version,
                        hash: tool.hash.to_string(),
                        approved: tool.approved,
                        capabilities: manifest.capabilities(),
                    })
                })
                .collect()
        })
    }

    fn audit(&self, limit: i64) -> BoxFuture<'_, Result<Vec<AuditView>, String>> {
        Box::pin(async move {
            let entries = self.store.audit().latest(limit).await.map_err(|error| error.to_string())?;
            Ok(entries
                .into_iter()
                .map(|entry| AuditView {
                    id: entry.id.0,
                    at_ms: entry.at_ms,
                    kind: entry.action,
                    subject: if entry.target.is_empty() {
                        entry.actor
                    } else {
                        format!("{} → {}", entry.actor, entry.target)
                    },
                    detail: entry.detail,
                })
                .collect())
        })
    }

    fn jobs(&self, limit: i64) -> BoxFuture<'_, Result<Vec<JobView>, String>> {
        Box::pin(async move {
            let jobs = self.store.jobs().list(None, limit).await.map_err(|error| error.to_string())?;
            Ok(jobs
                .into_iter()
                .map(|job| JobView {
                    id: job.id.0,
                    kind: job.kind,
                    state: job.state.as_str().to_string(),
                    attempts: job.attempts,
                    node: job.node,
                    updated_at_ms: job.updated_at_ms,
                })
                .collect())
        })
    }

    fn cancel_job(&self, id: i64) -> BoxFuture<'_, Result<bool, String>> {
        Box::pin(async move {
            let outcome = self.store.jobs().cancel(JobId(id)).await.map_err(|error| error.to_string())?;
            Ok(matches!(outcome, CancelOutcome::Cancelled | CancelOutcome::Requested))
        })
    }

    fn routines(&self) -> BoxFuture<'_, Result<Vec<RoutineView>, String>> {
        Box::pin(async move {
            let routines = self.store.routines().list().await.map_err(|error| error.to_string())?;
            Ok(routines
                .into_iter()
                .map(|routine| RoutineView {
                    id: routine.id.0,
                    name: routine.name,
                    trigger: format!("{} {}", routine.trigger_kind.as_str(), routine.trigger_spec),
                    paused: !routine.enabled,
                    next_fire_at_ms: routine.next_fire_at_ms,
                })
                .collect())
        })
    }

    fn set_routine_paused(&self, id: i64, paused: bool) -> BoxFuture<'_, Result<bool, String>> {
        Box::pin(async move {
            let routines = self.store.routines();
            let Some(routine) = routines.get_by_id(RoutineId(id)).await.map_err(|error| error.to_string())? else {
                return Ok(false);
            };
            // A resumed cron routine fires at its next slot from now, not at the ones missed while paused.
            let next_fire_at_ms = if paused {
                None
            } else {
                schedule_of(&routine)
                    .map_err(|error| error.to_string())?
                    .and_then(|schedule| schedule.next_after(now_ms()))
            };
            routines.set_enabled(&routine.name, !paused, next_fire_at_ms).await.map_err(|error| error.to_string())
        })
    }
}
