//! What channels need from the rest of Chitin: durable intake of messages and the replies owed to them.

use std::future::Future;
use std::pin::Pin;

use chitin_actors::{ChannelKind, ConversationId, ReplyHub};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A message as a channel received it from its platform.
#[derive(Clone)]
pub struct Incoming {
    pub channel: ChannelKind,
    /// The platform's id of the chat, channel or thread.
    pub external_conversation_id: String,
    /// The platform's id of this message: the deduplication key.
    pub platform_message_id: String,
    pub sender: String,
    pub text: String,
}

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming")
            .field("channel", &self.channel)
            .field("external_conversation_id", &self.external_conversation_id)
            .field("platform_message_id", &self.platform_message_id)
            .field("text_bytes", &self.text.len())
            .finish()
    }
}

/// The outcome of handing a message in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// Stored now and handed to its session.
    Accepted { record_id: i64, conversation: ConversationId },
    /// The platform sent this message before; nothing new happens.
    Duplicate { record_id: i64, conversation: ConversationId },
}

impl Submitted {
    pub fn record_id(&self) -> i64 {
        match self {
            Submitted::Accepted { record_id, .. } | Submitted::Duplicate { record_id, .. } => *record_id,
        }
    }

    pub fn conversation(&self) -> &ConversationId {
        match self {
            Submitted::Accepted { conversation, .. } | Submitted::Duplicate { conversation, .. } => conversation,
        }
    }
}

/// A reply filed for an inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiledReply {
    pub reply_id: i64,
    pub outbox_id: i64,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The conversation's queue is full; the message is stored and will be answered, but the caller should slow down.
    #[error("busy: {0}")]
    Overloaded(String),
    /// The message could not be stored; nothing was accepted and the platform may send it again.
    #[error("could not store the message: {reason}")]
    Storage { reason: String, retryable: bool },
}

/// Durable intake: store (deduplicated) first, then hand to the sessions.
pub trait Intake: Send + Sync + 'static {
    fn submit(&self, incoming: Incoming) -> BoxFuture<'_, Result<Submitted, IntakeError>>;

    /// The reply to inbound message `record_id`, once its turn is done.
    fn reply_for(&self, record_id: i64) -> BoxFuture<'_, Result<Option<FiledReply>, IntakeError>>;

    /// Records that a reply reached the user in-band (an HTTP response, the terminal).
    fn delivered(&self, outbox_id: i64) -> BoxFuture<'_, Result<(), IntakeError>>;

    /// Live events of every conversation's turns.
    fn replies(&self) -> &ReplyHub;
}
