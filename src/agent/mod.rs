//! The agent behind every session: turns, approvals and compaction, on top of the store, the model and the tools.

mod approvals;
mod compaction;
pub mod guard;
pub mod identity;
pub mod prompt;
pub mod recall;
pub mod review;
mod sessions;
pub mod turn;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chitin_actors::ports::{BoxFuture, TurnError, TurnRunner};
use chitin_actors::{ConversationId, FinalReply, Inbound, ReplyEvent, ReplyHub, ReplyUsage};
use tracing::{info, warn};

use crate::llm::LlmProvider;
use crate::store::{
    ConversationId as StoredConversationId, MessageId, MessageStatus, QueuedReply, ReplyOutcome, Role, Store,
    StoreError, TokenUsage,
};
use crate::tools::ToolRegistry;

use guard::OutputGuard;
use sessions::{HeldMessage, SessionMemory, Sessions};
use turn::{PendingApproval, TurnContext, TurnEnd, TurnLimits};

/// What the user is told when no model is configured, instead of silence.
pub const NO_MODEL_REPLY: &str = "No language model is configured yet. Set llm.api_key (and llm.model, llm.base_url \
     if you use a self-hosted server) in your config file or as CHITIN_LLM__API_KEY, then restart Chitin.";

/// Tunables of the agent, from the `agent` config section.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    pub max_steps: usize,
    /// Prompt budget; older turns are summarised when history would exceed it.
    pub context_tokens: usize,
    /// Messages loaded from the store per turn (before compaction).
    pub history_messages: i64,
    pub tool_timeout: Duration,
    pub workspace: PathBuf,
}

/// Runs turns for every session. Shared by all session actors; what it remembers per conversation between turns
/// (see [`sessions`]) is a cache of the store, dropped whenever a session starts or stops.
pub struct Agent {
    store: Store,
    sessions: Sessions,
    llm: Option<Arc<dyn LlmProvider>>,
    tools: Arc<ToolRegistry>,
    hub: ReplyHub,
    settings: AgentSettings,
    guard: OutputGuard,
    /// Searched before each turn (and written to by compaction); `None` runs without memory.
    memory: Option<recall::Recall>,
}

impl Agent {
    pub fn new(
        store: Store,
        llm: Option<Arc<dyn LlmProvider>>,
        tools: Arc<ToolRegistry>,
        hub: ReplyHub,
        settings: AgentSettings,
        stored_secrets: &[crate::safety::StoredSecret],
    ) -> Result<Self, crate::safety::SafetyError> {
        Ok(Self {
            store,
            sessions: Sessions::default(),
            llm,
            tools,
            hub,
            settings,
            guard: OutputGuard::new(stored_secrets)?,
            memory: None,
        })
    }

    /// Gives the agent memory: the top memories for each message go into the prompt (within
    /// `prompt_tokens`), and compaction summaries are saved to it.
    pub fn with_memory(mut self, service: crate::memory::MemoryService, prompt_tokens: usize) -> Self {
        self.memory = Some(recall::Recall::new(service, prompt_tokens));
        self
    }

    /// Keeps a compaction summary findable after the conversation moves on.
    async fn remember_summary(&self, conversation: &ConversationId, summary: &str) {
        let Some(memory) = &self.memory else { return };
        let name: String = conversation
            .as_str()
            .chars()
            .map(|character| if character.is_alphanumeric() || character == '-' { character } else { '_' })
            .collect();
        let entry = format!("## {}\n\n{}\n", chrono::Utc::now().format("%Y-%m-%d %H:%M"), summary.trim());
        let path = format!("summaries/{name}.md");
        let source = crate::memory::workspace::source::COMPACTION;
        if let Err(error) = memory.service().write_workspace_file(&path, &entry, true, source).await {
            warn!(%error, "could not save the conversation summary to memory");
        }
    }

    async fn stored_conversation(&self, conversation: &ConversationId) -> Result<StoredConversationId, StoreError> {
        self.store.conversations().get_or_create(conversation.channel_name(), conversation.external_id()).await
    }

    async fn answer(
        &self,
        inbound: &Inbound,
        conversation_id: StoredConversationId,
        mut history: prompt::PromptHistory,
        session: &mut SessionMemory,
    ) -> Result<TurnAnswer, TurnError> {
        let fail = |reason: String| TurnError { conversation: inbound.conversation.clone(), reason };
        let Some(llm) = self.llm.as_deref() else {
            return Ok(TurnAnswer { text: NO_MODEL_REPLY.to_string(), status: MessageStatus::Processed, usage: None });
        };
        let pending = self.pending_approval(&inbound.conversation, session).await.map_err(|e| fail(describe(&e)))?;
        let always = approvals::AlwaysApproved::new(&self.store);

        history.messages.retain(|(id, _)| *id <= inbound.record_id);
        let specs = self.tools.specs();
        let mut system = prompt::system_prompt(&self.settings.workspace, &specs, history.summary.as_deref());
        if let Some(summary) = compaction::compact_if_needed(
            llm,
            &self.store,
            conversation_id,
            &history,
            &self.settings,
            &system,
            self.tools.specs_bytes(),
        )
        .await
        {
            if let Some(text) = &summary.summary {
                self.remember_summary(&inbound.conversation, text).await;
            }
            history = summary;
            system = prompt::system_prompt(&self.settings.workspace, &specs, history.summary.as_deref());
        }
        if let Some(memory) = &self.memory
            && let Some(memories) = memory.context(&inbound.text).await
        {
            system.push_str(&memories);
        }
        let audit = self.store.audit();
        let held = review::HeldOutputs::default();
        let limits = TurnLimits { max_steps: self.settings.max_steps, tool_timeout: self.settings.tool_timeout };
        let context = TurnContext {
            llm,
            tools: &self.tools,
            hub: &self.hub,
            conversation: &inbound.conversation,
            in_reply_to: inbound.record_id,
            system,
            limits: &limits,
            always_approved: &always,
            guard: &self.guard,
            audit: &audit,
            held: &held,
        };

        let outcome = match pending.map(|pending| (pending, approval_answer(&inbound.text))) {
            Some((pending, Some(answer))) => {
                self.clear_pending(&inbound.conversation, session).await.map_err(|e| fail(describe(&e)))?;
                let decision = serde_json::json!({ "answer": format!("{answer:?}").to_lowercase() });
                let entry = crate::store::AuditEntry {
                    actor: inbound.conversation.as_str(),
                    action: "approval",
                    target: &pending.tool,
                    detail: &decision,
                };
                if let Err(error) = audit.append(&entry).await {
                    warn!(%error, "could not write the audit entry");
                }
                // A review question is about one output, never a standing grant for its tool.
                if answer == ApprovalAnswer::Always && pending.held.is_empty() {
                    approvals::approve_always(&self.store, &pending.tool).await.map_err(|e| fail(describe(&e)))?;
                }
                turn::resume(&context, pending, answer != ApprovalAnswer::No).await
            }
            Some((_, None)) => {
                // Any other reply drops the question; the new message is a turn of its own.
                self.clear_pending(&inbound.conversation, session).await.map_err(|e| fail(describe(&e)))?;
                turn::run(&context, history.messages.into_iter().map(|(_, m)| m).collect()).await
            }
            None => turn::run(&context, history.messages.into_iter().map(|(_, m)| m).collect()).await,
        };
        match outcome {
            Ok(TurnEnd::Answer { text, usage }) => {
                info!(input_tokens = usage.input_tokens, output_tokens = usage.output_tokens, "turn answered");
                Ok(TurnAnswer { text, status: MessageStatus::Processed, usage: Some(stored_usage(usage)) })
            }
            Ok(TurnEnd::NeedsApproval { question, pending, usage }) => {
                info!(input_tokens = usage.input_tokens, output_tokens = usage.output_tokens, tool = %pending.tool, "turn paused for approval");
                self.save_pending(&inbound.conversation, &pending, session).await.map_err(|e| fail(describe(&e)))?;
                Ok(TurnAnswer { text: question, status: MessageStatus::Processed, usage: Some(stored_usage(usage)) })
            }
            Err(error) => {
                warn!(%error, "model call failed");
                Ok(TurnAnswer {
                    text: format!("Sorry, I could not answer: {error}. Your message is saved; send it again later."),
                    status: MessageStatus::Failed,
                    usage: None,
                })
            }
        }
    }

    /// The paused turn waiting for the owner's answer, read from the store once per session and then remembered
    /// (only this conversation's turns change it, and they write it through).
    async fn pending_approval(
        &self,
        conversation: &ConversationId,
        session: &mut SessionMemory,
    ) -> Result<Option<PendingApproval>, StoreError> {
        if let Some(pending) = &session.pending {
            return Ok(pending.clone());
        }
        let value = self.store.settings().get(&pending_key(conversation)).await?;
        let pending: Option<PendingApproval> = value.and_then(|value| serde_json::from_value(value).ok());
        session.pending = Some(pending.clone());
        Ok(pending)
    }

    async fn save_pending(
        &self,
        conversation: &ConversationId,
        pending: &PendingApproval,
        session: &mut SessionMemory,
    ) -> Result<(), StoreError> {
        let value = serde_json::to_value(pending).unwrap_or_default();
        session.pending = None;
        self.store.settings().set(&pending_key(conversation), &value).await?;
        session.pending = Some(Some(pending.clone()));
        Ok(())
    }

    async fn clear_pending(
        &self,
        conversation: &ConversationId,
        session: &mut SessionMemory,
    ) -> Result<(), StoreError> {
        session.pending = None;
        self.store.settings().delete(&pending_key(conversation)).await?;
        session.pending = Some(None);
        Ok(())
    }
}

impl Agent {
    /// Runs `prompt` as one turn of the internal conversation `task` (its own history and tools, nothing else of
    /// the asker's) and returns the answer. The prompt is stored under `task_id` first, so an attempt repeated
    /// after a crash answers from the stored reply instead of asking the model again.
    pub async fn run_task(&self, task: &ConversationId, task_id: &str, prompt: &str) -> Result<String, TurnError> {
        let fail = |error: StoreError| TurnError { conversation: task.clone(), reason: describe(&error) };
        let message = crate::store::InboundMessage {
            channel: task.channel_name(),
            external_conversation_id: task.external_id(),
            platform_message_id: task_id,
            sender: Some("job"),
            body: prompt,
        };
        let (message_id, follows) = match self.store.inbound().record_inbound(&message).await.map_err(fail)? {
            crate::store::InboundOutcome::Inserted { message_id, follows, .. } => (message_id, follows),
            crate::store::InboundOutcome::Duplicate { message_id, .. } => (message_id, None),
        };
        if self.store.conversations().reply_to(message_id).await.map_err(fail)?.is_none() {
            let inbound = Inbound {
                conversation: task.clone(),
                channel: chitin_actors::ChannelKind::Internal,
                platform_message_id: task_id.to_string(),
                record_id: message_id.0,
                sender: "job".into(),
                text: prompt.to_string(),
                follows: follows.map(|message| message.0),
            };
            self.run_turn(inbound).await?;
        }
        let Some((reply, outbox_id)) = self.store.conversations().reply_to(message_id).await.map_err(fail)? else {
            return Err(TurnError { conversation: task.clone(), reason: "the turn filed no reply".into() });
        };
        // Nobody reads an internal conversation's outbox: its reply is "delivered" once the job has it.
        self.store.outbox().mark_delivered(outbox_id, None).await.map_err(fail)?;
        self.sessions.forget(task);
        Ok(reply.body)
    }
}

/// What a turn produced: the reply text, the inbound message's new status, and the tokens billed (when a model
/// answered).
struct TurnAnswer {
    text: String,
    status: MessageStatus,
    usage: Option<TokenUsage>,
}

fn stored_usage(usage: crate::llm::Usage) -> TokenUsage {
    TokenUsage { input_tokens: usage.input_tokens, output_tokens: usage.output_tokens }
}

fn event_usage(usage: Option<TokenUsage>) -> Option<ReplyUsage> {
    usage.map(|usage| ReplyUsage { input_tokens: usage.input_tokens, output_tokens: usage.output_tokens })
}

pub use crate::error_chain::describe;

fn pending_key(conversation: &ConversationId) -> String {
    format!("approvals.pending.{conversation}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ApprovalAnswer {
    Yes,
    No,
    Always,
}

fn approval_answer(text: &str) -> Option<ApprovalAnswer> {
    match text.trim().trim_end_matches(['.', '!']).to_lowercase().as_str() {
        "yes" | "y" | "ok" | "approve" => Some(ApprovalAnswer::Yes),
        "no" | "n" | "deny" | "cancel" => Some(ApprovalAnswer::No),
        "always" | "always for this tool" | "always allow" => Some(ApprovalAnswer::Always),
        _ => None,
    }
}

impl TurnRunner for Agent {
    fn resume(&self, conversation: &ConversationId) -> BoxFuture<'_, Result<Vec<Inbound>, TurnError>> {
        let conversation = conversation.clone();
        Box::pin(async move {
            // A (re)started session rebuilds everything from the store.
            self.sessions.forget(&conversation);
            let fail = |error: StoreError| TurnError { conversation: conversation.clone(), reason: describe(&error) };
            let id = self.stored_conversation(&conversation).await.map_err(fail)?;
            let unanswered = self.store.conversations().unanswered(id).await.map_err(fail)?;
            let channel_kind = conversation.channel();
            Ok(unanswered
                .into_iter()
                .filter_map(|message| {
                    Some(Inbound {
                        conversation: conversation.clone(),
                        channel: channel_kind?,
                        platform_message_id: message.platform_message_id.unwrap_or_default(),
                        record_id: message.id.0,
                        sender: message.sender.unwrap_or_default(),
                        text: message.body,
                        follows: None,
                    })
                })
                .collect())
        })
    }

    fn stopped(&self, conversation: &ConversationId) {
        self.sessions.forget(conversation);
    }

    fn abandon(&self, conversation: &ConversationId, reason: &str) -> BoxFuture<'_, Result<(), TurnError>> {
        let conversation = conversation.clone();
        let reason = reason.to_string();
        Box::pin(async move {
            self.sessions.forget(&conversation);
            let fail = |error: StoreError| TurnError { conversation: conversation.clone(), reason: describe(&error) };
            let id = self.stored_conversation(&conversation).await.map_err(fail)?;
            let text = "Sorry, something keeps failing while I work on this conversation, so I stopped. Your \
                        message is saved; send a new one to try again.";
            for message in self.store.conversations().unanswered(id).await.map_err(fail)? {
                warn!(%conversation, %reason, message = message.id.0, "answering an abandoned message with an error");
                let queued = self.store.outbox().enqueue_reply(id, Some(message.id), text).await.map_err(fail)?.reply();
                self.store.conversations().set_status(message.id, MessageStatus::Failed).await.map_err(fail)?;
                self.hub.publish(
                    &conversation,
                    ReplyEvent::final_reply(FinalReply {
                        in_reply_to: message.id.0,
                        reply_id: queued.message_id.0,
                        outbox_id: queued.outbox_id.0,
                        text: text.to_string(),
                        usage: None,
                    }),
                );
            }
            Ok(())
        })
    }

    fn run_turn(&self, inbound: Inbound) -> BoxFuture<'_, Result<(), TurnError>> {
        Box::pin(async move {
            let fail =
                |error: StoreError| TurnError { conversation: inbound.conversation.clone(), reason: describe(&error) };
            let in_reply_to = MessageId(inbound.record_id);
            let entry = self.sessions.entry(&inbound.conversation);
            let mut session = entry.lock().await;
            let conversation_id = match session.stored_id {
                Some(id) => id,
                None => {
                    let id = self.stored_conversation(&inbound.conversation).await.map_err(fail)?;
                    *session.stored_id.insert(id)
                }
            };
            let arrived = inbound.follows.map(|follows| sessions::Stored {
                row: HeldMessage::new(in_reply_to, Role::User, None, &inbound.text),
                follows: MessageId(follows),
            });
            let held = session
                .history(&self.store, conversation_id, self.settings.history_messages, in_reply_to, arrived)
                .await
                .map_err(fail)?;
            // A message resumed after a crash may also arrive from its channel: answer it once. Its reply, if
            // filed, is newer than it, so it is in the history whenever the message is.
            let answered = match sessions::reply_in(held, in_reply_to) {
                Some(answered) => answered,
                None => self.store.conversations().reply_to(in_reply_to).await.map_err(fail)?.is_some(),
            };
            if answered {
                drop(session);
                // Filed before a crash that came before the status update: finish that update.
                self.store.conversations().set_status(in_reply_to, MessageStatus::Processed).await.map_err(fail)?;
                return Ok(());
            }
            let history = prompt::history_since_summary(held.make_contiguous());
            let TurnAnswer { text, status, usage } =
                self.answer(&inbound, conversation_id, history, &mut session).await?;
            drop(session);
            let (text, decision) = self.guard.reply(&text);
            if let Some(decision) = decision {
                let audit = self.store.audit();
                crate::security_audit::record(&audit, inbound.conversation.as_str(), "reply", &decision).await;
            }
            // The reply, its usage, its outbox entry and the answered message's status commit together; a redone
            // turn finds its reply already filed.
            let outcome = self
                .store
                .outbox()
                .enqueue_answer(conversation_id, Some(in_reply_to), &text, usage, Some(status))
                .await
                .map_err(fail)?;
            match &outcome {
                ReplyOutcome::AlreadyQueued(_) => {
                    self.store.conversations().set_status(in_reply_to, status).await.map_err(fail)?
                }
                // The next turn need not read its own reply back from the store.
                ReplyOutcome::Queued(QueuedReply { message_id, follows: Some(follows), .. }) => {
                    let row = HeldMessage::new(*message_id, Role::Assistant, Some(in_reply_to), &text);
                    entry.lock().await.add_stored(sessions::Stored { row, follows: *follows });
                }
                ReplyOutcome::Queued(_) => {}
            }
            let queued = outcome.reply();
            self.hub.publish(
                &inbound.conversation,
                ReplyEvent::final_reply(FinalReply {
                    in_reply_to: inbound.record_id,
                    reply_id: queued.message_id.0,
                    outbox_id: queued.outbox_id.0,
                    text,
                    usage: event_usage(usage),
                }),
            );
            Ok(())
        })
    }
}
