//! The reply hub: live events of each conversation's turns, for channels that answer in-band (REPL, HTTP).
//!
//! Durable delivery goes through the outbox; the hub only lets a waiting caller see tokens as they stream and
//! learn at once that its reply is stored.

use std::sync::Arc;

use crate::message::ConversationId;
use dashmap::DashMap;
use tokio::sync::{Notify, broadcast};

/// How many events a slow subscriber may fall behind before it misses some (it then reads the store).
const EVENT_BUFFER: usize = 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum ReplyEvent {
    /// A piece of the answer to inbound message `in_reply_to`, as the model streams it.
    Delta { in_reply_to: i64, text: String },
    /// The whole answer, stored (and queued in the outbox) as message `reply_id`.
    Final { in_reply_to: i64, reply_id: i64, outbox_id: i64, text: String, usage: Option<ReplyUsage> },
}

/// Tokens the model was billed for the turn behind a reply (all its steps), as stored with the reply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplyUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// Per-conversation broadcast channels, created on first subscribe or publish.
#[derive(Clone, Default)]
pub struct ReplyHub {
    channels: Arc<DashMap<ConversationId, broadcast::Sender<ReplyEvent>>>,
    /// Per channel kind (`telegram`, `slack`, …): wakes that channel's outbox sender when a reply is filed.
    filed: Arc<DashMap<String, Arc<Notify>>>,
}

impl ReplyHub {
    pub fn subscribe(&self, conversation: &ConversationId) -> broadcast::Receiver<ReplyEvent> {
        self.sender(conversation).subscribe()
    }

    pub fn publish(&self, conversation: &ConversationId, event: ReplyEvent) {
        if matches!(event, ReplyEvent::Final { .. }) {
            self.filed_signal(conversation.channel_name()).notify_one();
        }
        // No subscriber is normal (the channel delivers from the outbox).
        let _ = self.sender(conversation).send(event);
    }

    /// Notified each time a reply for a conversation of `channel` is filed in the outbox.
    pub fn filed_signal(&self, channel: &str) -> Arc<Notify> {
        self.filed.entry(channel.to_string()).or_default().clone()
    }

    fn sender(&self, conversation: &ConversationId) -> broadcast::Sender<ReplyEvent> {
        self.channels.entry(conversation.clone()).or_insert_with(|| broadcast::channel(EVENT_BUFFER).0).clone()
    }
}
