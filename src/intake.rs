//! Durable intake for channels: store the message (deduplicated), then hand it to its session.

use std::sync::Arc;

use chitin_actors::{ActorTree, BusError, ConversationId, Inbound, ReplyHub};
use chitin_channels::ports::{BoxFuture, FiledReply, Incoming, Intake, IntakeError, Submitted};
use tracing::warn;

use crate::store::{InboundMessage, InboundOutcome, MessageId, OutboxId, Store, StoreError};

/// The `Intake` port over the store and the actor tree.
pub struct StoreIntake {
    store: Store,
    tree: Arc<ActorTree>,
    hub: ReplyHub,
}

impl StoreIntake {
    pub fn new(store: Store, tree: Arc<ActorTree>, hub: ReplyHub) -> Self {
        Self { store, tree, hub }
    }
}

fn storage(error: StoreError) -> IntakeError {
    IntakeError::Storage { retryable: error.is_retryable(), reason: crate::agent::describe(&error) }
}

impl Intake for StoreIntake {
    fn submit(&self, incoming: Incoming) -> BoxFuture<'_, Result<Submitted, IntakeError>> {
        Box::pin(async move {
            let conversation = ConversationId::new(incoming.channel, &incoming.external_conversation_id);
            let message = InboundMessage {
                channel: incoming.channel.as_str(),
                external_conversation_id: &incoming.external_conversation_id,
                platform_message_id: &incoming.platform_message_id,
                sender: Some(&incoming.sender),
                body: &incoming.text,
            };
            let record_id = match self.store.inbound().record_inbound(&message).await.map_err(storage)? {
                InboundOutcome::Duplicate { message_id, .. } => {
                    return Ok(Submitted::Duplicate { record_id: message_id.0, conversation });
                }
                InboundOutcome::Inserted { message_id, .. } => message_id.0,
            };
            let inbound = Inbound {
                conversation: conversation.clone(),
                channel: incoming.channel,
                platform_message_id: incoming.platform_message_id,
                record_id,
                sender: incoming.sender,
                text: incoming.text,
            };
            match self.tree.deliver(inbound).await {
                Ok(()) => Ok(Submitted::Accepted { record_id, conversation }),
                // Stored, so not lost: the session answers it when it next resumes.
                Err(BusError::Overloaded { actor, capacity }) => {
                    Err(IntakeError::Overloaded(format!("{actor} has {capacity} messages waiting; slow down")))
                }
                Err(error) => {
                    warn!(%error, record_id, "stored message could not reach its session yet");
                    Ok(Submitted::Accepted { record_id, conversation })
                }
            }
        })
    }

    fn reply_for(&self, record_id: i64) -> BoxFuture<'_, Result<Option<FiledReply>, IntakeError>> {
        Box::pin(async move {
            let reply = self.store.conversations().reply_to(MessageId(record_id)).await.map_err(storage)?;
            Ok(reply.map(|(message, outbox_id)| FiledReply {
                reply_id: message.id.0,
                outbox_id: outbox_id.0,
                text: message.body,
            }))
        })
    }

    fn delivered(&self, outbox_id: i64) -> BoxFuture<'_, Result<(), IntakeError>> {
        Box::pin(async move { self.store.outbox().mark_delivered(OutboxId(outbox_id), None).await.map_err(storage) })
    }

    fn replies(&self) -> &ReplyHub {
        &self.hub
    }
}
