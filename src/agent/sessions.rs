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
use crate::store::{ConversationId as StoredConversationId, MessageId, Role, Store, StoreError, StoredMessage};

/// A history row as the prompt needs it (id, role, what it answers, body). A session holds up to
/// `agent.history_messages` of these between turns, so the stored row's other fields (channel, sender, platform
/// id, status, usage: about 130 bytes a row) are not kept.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldMessage {
    pub id: MessageId,
    pub role: Role,
    /// For assistant replies, the id of the inbound message answered; 0 for none (store ids start at 1). A bare id
    /// is 8 bytes where `Option<MessageId>` is 16, which makes a held row 40 bytes instead of 48: 200 rows are held
    /// for every live conversation.
    in_reply_to: i64,
    pub body: Box<str>,
}

impl HeldMessage {
    /// A row as the store holds it, from what the session itself stored.
    pub fn new(id: MessageId, role: Role, in_reply_to: Option<MessageId>, body: &str) -> HeldMessage {
        HeldMessage { id, role, in_reply_to: in_reply_to.map_or(0, |answered| answered.0), body: body.into() }
    }

    /// The inbound message this one answers, if it is a reply.
    pub fn in_reply_to(&self) -> Option<MessageId> {
        (self.in_reply_to != 0).then_some(MessageId(self.in_reply_to))
    }
}

impl From<StoredMessage> for HeldMessage {
    fn from(message: StoredMessage) -> Self {
        HeldMessage {
            id: message.id,
            role: message.role,
            in_reply_to: message.in_reply_to.map_or(0, |answered| answered.0),
            body: message.body.into_boxed_str(),
        }
    }
}

/// One conversation's remembered state. Only its session actor runs turns, one at a time, so the lock is
/// uncontended; it exists because the agent is shared.
#[derive(Default)]
pub struct SessionMemory {
    pub stored_id: Option<StoredConversationId>,
    /// The newest `history_messages` rows, oldest first; `None` until first loaded.
    history: Option<VecDeque<HeldMessage>>,
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
    ///
    /// `arrived` is `current`'s row when the store said which message it follows (see [`Stored`]): when that is
    /// the last row held, nothing else can be newer, and the row is appended without reading the store.
    pub async fn history(
        &mut self,
        store: &Store,
        conversation_id: StoredConversationId,
        limit: i64,
        current: MessageId,
        arrived: Option<Stored>,
    ) -> Result<&mut VecDeque<HeldMessage>, StoreError> {
        let conversations = store.conversations();
        let capacity = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut held = match self.history.take() {
            Some(mut held) if arrived.as_ref().is_some_and(|arrived| arrived.continues(&held)) => {
                held.extend(arrived.map(|arrived| arrived.row));
                held
            }
            Some(mut held) => {
                let after = held.back().map(|message| message.id).unwrap_or(MessageId(0));
                held.extend(
                    conversations
                        .history_after(conversation_id, after, limit)
                        .await?
                        .into_iter()
                        .map(HeldMessage::from),
                );
                held
            }
            None => VecDeque::new(),
        };
        if !held.iter().rev().any(|message| message.id == current) {
            held = VecDeque::with_capacity(capacity.saturating_add(TOP_UP_ROOM).min(MAX_PREALLOCATED));
            held.extend(conversations.history(conversation_id, limit).await?.into_iter().map(HeldMessage::from));
        }
        while held.len() > capacity {
            held.pop_front();
        }
        Ok(self.history.insert(held))
    }

    /// Adds a row this session just stored (its reply) when it directly follows the last row held; otherwise the
    /// next turn's read picks it up with whatever came in between.
    pub fn add_stored(&mut self, stored: Stored) {
        if let Some(held) = &mut self.history
            && stored.continues(held)
        {
            held.push_back(stored.row);
        }
    }
}

/// A row the session stored or was handed, with the id of the conversation's message before it, as the store read
/// it in the transaction that stored the row (`InboundOutcome::Inserted::follows`).
pub struct Stored {
    pub row: HeldMessage,
    pub follows: MessageId,
}

impl Stored {
    /// Whether the row comes right after the newest one `held`: then the held window plus this row is still the
    /// conversation's newest rows, with none missing.
    fn continues(&self, held: &VecDeque<HeldMessage>) -> bool {
        held.back().is_some_and(|newest| newest.id == self.follows)
    }
}

/// Whether `held` shows a reply to `message`: `None` when `message` itself is not held (older than the window), so
/// the history cannot tell.
pub fn reply_in(held: &VecDeque<HeldMessage>, message: MessageId) -> Option<bool> {
    held.iter()
        .rev()
        .any(|stored| stored.id == message)
        .then(|| held.iter().any(|stored| stored.in_reply_to() == Some(message)))
}

/// Room beyond the window for the rows a turn's top-up appends before the oldest are dropped, so a full history
/// does not double its allocation to take them.
const TOP_UP_ROOM: usize = 16;

/// The most rows a history is given room for up front; a larger `agent.history_messages` grows as rows arrive.
const MAX_PREALLOCATED: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    fn held(id: i64, in_reply_to: Option<i64>) -> HeldMessage {
        HeldMessage {
            id: MessageId(id),
            role: if in_reply_to.is_some() { Role::Assistant } else { Role::User },
            in_reply_to: in_reply_to.unwrap_or(0),
            body: "".into(),
        }
    }

    #[test]
    fn a_held_row_stays_small_and_keeps_what_it_answers() {
        assert!(std::mem::size_of::<HeldMessage>() <= 40, "{} bytes", std::mem::size_of::<HeldMessage>());
        assert_eq!(held(2, Some(1)).in_reply_to(), Some(MessageId(1)));
        assert_eq!(held(1, None).in_reply_to(), None);
    }

    #[test]
    fn a_stored_row_is_added_only_right_after_the_newest_held_row() {
        let stored = |id: i64, follows: i64| Stored { row: held(id, Some(follows)), follows: MessageId(follows) };
        let mut memory = SessionMemory::default();
        memory.add_stored(stored(2, 1));
        assert!(memory.history.is_none(), "nothing is held before the first read");

        memory.history = Some([held(1, None)].into_iter().collect());
        memory.add_stored(stored(2, 1));
        memory.add_stored(stored(5, 4));
        let ids: Vec<i64> = memory.history.iter().flatten().map(|row| row.id.0).collect();
        assert_eq!(ids, [1, 2], "row 5 follows row 4, which is not held: the next turn reads 3 to 5");
    }

    #[test]
    fn the_history_tells_whether_a_held_message_was_answered() {
        let window: VecDeque<HeldMessage> =
            [held(1, None), held(2, Some(1)), held(3, None), held(4, None)].into_iter().collect();
        assert_eq!(reply_in(&window, MessageId(1)), Some(true));
        assert_eq!(reply_in(&window, MessageId(3)), Some(false));
        assert_eq!(reply_in(&window, MessageId(0)), None, "a message outside the window is for the store to answer");
    }
}
