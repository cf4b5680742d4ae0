//! The reply hub: live events of each conversation's turns, for channels that answer in-band (REPL, HTTP).
//!
//! Durable delivery goes through the outbox; the hub only lets a waiting caller see tokens as they stream and
//! learn at once that its reply is stored.

use std::sync::Arc;

use crate::message::ConversationId;
use dashmap::DashMap;
use tokio::sync::{Notify, broadcast};

/// How many events a slow subscriber may fall behind before it misses some (it then reads the store). Every slot is
/// allocated when a conversation gains its first listener, so this is paid per conversation someone waits on: at
/// 256 slots of the old 80-byte event each open API request held about 24 KB; 64 slots of 32 bytes are about 4 KB.
/// A follower forwards each event as it comes, and one that lags loses no text (the rest of the reply comes with the
/// final event), so 64 is plenty.
const EVENT_BUFFER: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub enum ReplyEvent {
    /// A piece of the answer to inbound message `in_reply_to`, as the model streams it.
    Delta { in_reply_to: i64, text: String },
    /// The whole answer, stored (and queued in the outbox). Boxed: it is the larger variant, and every slot of a
    /// conversation's buffer is sized for the larger one (an event is then 32 bytes instead of 80).
    Final(Box<FinalReply>),
}

impl ReplyEvent {
    /// The event for a filed reply.
    pub fn final_reply(reply: FinalReply) -> Self {
        ReplyEvent::Final(Box::new(reply))
    }
}

/// A reply as filed: stored as message `reply_id` and queued in the outbox as `outbox_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct FinalReply {
    /// The inbound message answered (0: none, e.g. a job's report).
    pub in_reply_to: i64,
    pub reply_id: i64,
    pub outbox_id: i64,
    pub text: String,
    pub usage: Option<ReplyUsage>,
}

/// Tokens the model was billed for the turn behind a reply (all its steps), as stored with the reply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplyUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

type Channels = DashMap<ConversationId, broadcast::Sender<ReplyEvent>>;

/// Per-conversation broadcast channels, present only while someone listens: created by the first subscriber and
/// dropped with the last, so a process that runs for months does not keep one for every conversation it ever had.
#[derive(Clone, Default)]
pub struct ReplyHub {
    channels: Arc<Channels>,
    /// Per channel kind (`telegram`, `slack`, …): wakes that channel's outbox sender when a reply is filed.
    filed: Arc<DashMap<String, Arc<Notify>>>,
}

impl ReplyHub {
    /// Listens to `conversation`'s events from now on, until the returned subscription is dropped.
    pub fn subscribe(&self, conversation: &ConversationId) -> ReplySubscription {
        // Created and subscribed under the map's lock for this key, so the last subscriber's drop cannot remove
        // the channel in between.
        let receiver =
            self.channels.entry(conversation.clone()).or_insert_with(|| broadcast::channel(EVENT_BUFFER).0).subscribe();
        ReplySubscription {
            receiver: Some(receiver),
            conversation: conversation.clone(),
            channels: Arc::clone(&self.channels),
        }
    }

    pub fn publish(&self, conversation: &ConversationId, event: ReplyEvent) {
        if matches!(event, ReplyEvent::Final(_)) {
            self.filed_signal(conversation.channel_name()).notify_one();
        }
        // Nobody listening is normal (the channel delivers from the outbox): then there is no channel to send to.
        if let Some(sender) = self.channels.get(conversation) {
            let _ = sender.send(event);
        }
    }

    /// Notified each time a reply for a conversation of `channel` is filed in the outbox.
    pub fn filed_signal(&self, channel: &str) -> Arc<Notify> {
        self.filed.entry(channel.to_string()).or_default().clone()
    }

    /// Conversations someone is listening to now.
    pub fn listened_conversations(&self) -> usize {
        self.channels.len()
    }
}

/// One listener's view of a conversation's events; dropping the last one frees the conversation's channel.
pub struct ReplySubscription {
    /// `None` only while dropping.
    receiver: Option<broadcast::Receiver<ReplyEvent>>,
    conversation: ConversationId,
    channels: Arc<Channels>,
}

impl ReplySubscription {
    /// The next event, as [`broadcast::Receiver::recv`] gives it (cancel-safe).
    pub async fn recv(&mut self) -> Result<ReplyEvent, broadcast::error::RecvError> {
        match self.receiver.as_mut() {
            Some(receiver) => receiver.recv().await,
            None => Err(broadcast::error::RecvError::Closed),
        }
    }
}

impl Drop for ReplySubscription {
    fn drop(&mut self) {
        drop(self.receiver.take());
        // Under the key's lock, so a concurrent `subscribe` either came first (and keeps the channel) or creates
        // a new one after.
        self.channels.remove_if(&self.conversation, |_, sender| sender.receiver_count() == 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::ChannelKind;

    fn final_reply(in_reply_to: i64) -> ReplyEvent {
        ReplyEvent::final_reply(FinalReply { in_reply_to, reply_id: 0, outbox_id: 0, text: "ok".into(), usage: None })
    }

    #[test]
    fn an_event_is_no_larger_than_a_delta() {
        // Each conversation someone waits on holds `EVENT_BUFFER` slots sized for the largest event.
        assert!(std::mem::size_of::<ReplyEvent>() <= 32, "{} bytes", std::mem::size_of::<ReplyEvent>());
    }

    #[tokio::test]
    async fn a_conversation_has_a_channel_only_while_someone_listens() {
        let hub = ReplyHub::default();
        let conversation = ConversationId::new(ChannelKind::Api, "one");
        hub.publish(&conversation, final_reply(1));
        assert_eq!(hub.listened_conversations(), 0, "publishing to nobody keeps nothing");

        let mut first = hub.subscribe(&conversation);
        let mut second = hub.subscribe(&conversation);
        hub.publish(&conversation, final_reply(2));
        assert_eq!(first.recv().await.expect("first listener"), final_reply(2));
        drop(first);
        assert_eq!(hub.listened_conversations(), 1, "the second listener still holds the channel");
        assert_eq!(second.recv().await.expect("second listener"), final_reply(2));
        hub.publish(&conversation, final_reply(3));
        assert_eq!(second.recv().await.expect("second listener after the first left"), final_reply(3));
        drop(second);
        assert_eq!(hub.listened_conversations(), 0, "the last listener's drop frees the channel");

        let mut again = hub.subscribe(&conversation);
        hub.publish(&conversation, final_reply(4));
        assert_eq!(again.recv().await.expect("a new listener gets new events"), final_reply(4));
    }
}
