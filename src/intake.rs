//! Durable intake for channels: store the message (deduplicated), then hand it to its session.

use std::sync::Arc;

use chitin_actors::{ActorTree, BusError, ChannelKind, ConversationId, Inbound, ReplyHub};
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

/// The outcome of storing a platform message.
pub enum Recorded {
    /// Stored now: the message as the sessions get it, with the store's id.
    New(Inbound),
    /// Sent before; `record_id` is the stored copy.
    Duplicate { record_id: i64 },
}

/// Stores a platform message, deduplicated by `(channel, platform id)`: the first step of every channel.
pub async fn record(store: &Store, incoming: Incoming) -> Result<Recorded, StoreError> {
    let message = InboundMessage {
        channel: incoming.channel.as_str(),
        external_conversation_id: &incoming.external_conversation_id,
        platform_message_id: &incoming.platform_message_id,
        sender: Some(&incoming.sender),
        body: &incoming.text,
    };
    Ok(match store.inbound().record_inbound(&message).await? {
        InboundOutcome::Duplicate { message_id, .. } => {
            crate::metrics::message_duplicate(incoming.channel.as_str());
            Recorded::Duplicate { record_id: message_id.0 }
        }
        InboundOutcome::Inserted { message_id, follows, .. } => {
            crate::metrics::message_received(incoming.channel.as_str());
            Recorded::New(Inbound {
                conversation: ConversationId::new(incoming.channel, &incoming.external_conversation_id),
                channel: incoming.channel,
                platform_message_id: incoming.platform_message_id,
                record_id: message_id.0,
                sender: incoming.sender,
                text: incoming.text,
                follows: follows.map(|message| message.0),
            })
        }
    })
}

impl Intake for StoreIntake {
    fn submit(&self, incoming: Incoming) -> BoxFuture<'_, Result<Submitted, IntakeError>> {
        Box::pin(async move {
            let conversation = ConversationId::new(incoming.channel, &incoming.external_conversation_id);
            let inbound = match record(&self.store, incoming).await.map_err(storage)? {
                Recorded::Duplicate { record_id } => return Ok(Submitted::Duplicate { record_id, conversation }),
                Recorded::New(inbound) => inbound,
            };
            let record_id = inbound.record_id;
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
                usage: message.usage.map(|usage| chitin_actors::ReplyUsage {
                    input_tokens: usage.input_tokens,
                    output_tokens: usage.output_tokens,
                }),
                text: message.body,
            }))
        })
    }

    fn received_on(&self, channel: ChannelKind, record_id: i64) -> BoxFuture<'_, Result<bool, IntakeError>> {
        Box::pin(async move {
            let found = self.store.conversations().inbound_channel(MessageId(record_id)).await.map_err(storage)?;
            Ok(found.as_deref() == Some(channel.as_str()))
        })
    }

    fn delivered(&self, outbox_id: i64) -> BoxFuture<'_, Result<(), IntakeError>> {
        Box::pin(async move { self.store.outbox().mark_delivered(OutboxId(outbox_id), None).await.map_err(storage) })
    }

    fn delivered_later(&self, outbox_id: i64) -> BoxFuture<'_, Result<(), IntakeError>> {
        Box::pin(async move { self.store.outbox().mark_delivered_later(OutboxId(outbox_id)).await.map_err(storage) })
    }

    fn replies(&self) -> &ReplyHub {
        &self.hub
    }
}
