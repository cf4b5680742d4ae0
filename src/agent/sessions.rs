//! What the agent remembers about a conversation between its turns, so a turn reads only what is new.
//!
//! The store stays the truth: an entry holds the stored conversation id, the recent history (topped up each turn
//! with the rows newer than the last one it holds) and the pending approval (written through to the store). A
//! session that starts, restarts after a crash or stops idle drops its entry, so a fresh session is rebuilt from
//! the store exactly as before.

use std::collections::VecDeque;
use std::sync::Arc;

use chitin_actors::ConversationId;
use dashmap::DashMap;
use tokio::sync::Mutex;

use crate::agent::turn::PendingApproval;
use crate::store::{ConversationId as StoredConversationId, MessageId, Store, StoreError, StoredMessage};

/// One conversation's remembered state. Only its session actor runs turns, one at a time, so the lock is
/// uncontended; it exists because the agent is shared.
#[derive(Default)]
pub struct SessionMemory {
    pub stored_id: Option<StoredConversationId>,
    /// The newest `history_messages` rows, oldest first; `None` until first loaded.
    history: Option<VecDeque<StoredMessage>>,
    /// `None`: not read from the store yet.
    pub pending: Option<Option<PendingApproval>>,
}

#[derive(Default)]
pub struct Sessions {
    entries: DashMap<ConversationId, Arc<Mutex<SessionMemory>>>,
}

impl Sessions {
    pub fn entry(&self, conversation: &ConversationId) -> Arc<Mutex<SessionMemory>> {
        if let Some(entry) = self.entries.get(conversation) {
            return Arc::clone(entry.value());
        }
        Arc::clone(self.entries.entry(conversation.clone()).or_default().value())
    }

    /// Drops what is remembered: the next turn rebuilds it from the store.
    pub fn forget(&self, conversation: &ConversationId) {
        self.entries.remove(conversation);
    }
}

impl SessionMemory {
    /// The newest `limit` messages of the conversation, oldest first, including `current` (the message being
    /// answered): rows newer than the last one held are read and appended; if `current` is still missing (a row
    /// committed out of id order, as PostgreSQL sequences allow), the whole window is read again.
    pub async fn history(
        &mut self,
        store: &Store,
        conversation_id: StoredConversationId,
        limit: i64,
        current: MessageId,
    ) -> Result<&mut VecDeque<StoredMessage>, StoreError> {
        let conversations = store.conversations();
        let capacity = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut held = match self.history.take() {
            Some(mut held) => {
                let after = held.back().map(|message| message.id).unwrap_or(MessageId(0));
                held.extend(conversations.history_after(conversation_id, after, limit).await?.into_iter().map(slim));
                held
            }
            None => VecDeque::new(),
        };
        if !held.iter().rev().any(|message| message.id == current) {
            held = conversations.history(conversation_id, limit).await?.into_iter().map(slim).collect();
        }
        while held.len() > capacity {
            held.pop_front();
        }
        Ok(self.history.insert(held))
    }
}

/// Whether `held` shows a reply to `message`: `None` when `message` itself is not held (older than the window), so
/// the history cannot tell.
pub fn reply_in(held: &VecDeque<StoredMessage>, message: MessageId) -> Option<bool> {
    held.iter()
        .rev()
        .any(|stored| stored.id == message)
        .then(|| held.iter().any(|stored| stored.in_reply_to == Some(message)))
}

/// Keeps what the prompt needs (id, role, body); the rest would only cost memory for every held message.
fn slim(message: StoredMessage) -> StoredMessage {
    StoredMessage { channel: String::new(), platform_message_id: None, sender: None, ..message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Direction, MessageStatus, Role};

    fn stored(id: i64, in_reply_to: Option<i64>) -> StoredMessage {
        StoredMessage {
            id: MessageId(id),
            conversation_id: StoredConversationId(1),
            channel: String::new(),
            platform_message_id: None,
            direction: if in_reply_to.is_some() { Direction::Outbound } else { Direction::Inbound },
            role: if in_reply_to.is_some() { Role::Assistant } else { Role::User },
            status: MessageStatus::Processed,
            sender: None,
            body: String::new(),
            in_reply_to: in_reply_to.map(MessageId),
            created_at_ms: 0,
            usage: None,
        }
    }

    #[test]
    fn the_history_tells_whether_a_held_message_was_answered() {
        let held: VecDeque<StoredMessage> =
            [stored(1, None), stored(2, Some(1)), stored(3, None), stored(4, None)].into_iter().collect();
        assert_eq!(reply_in(&held, MessageId(1)), Some(true));
        assert_eq!(reply_in(&held, MessageId(3)), Some(false));
        assert_eq!(reply_in(&held, MessageId(0)), None, "a message outside the window is for the store to answer");
    }
}
