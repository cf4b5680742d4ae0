//! Types that travel between actors: ids, inbound messages, channel kinds.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Identifies one conversation across restarts: `channel:external-id` (e.g. `telegram:42`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConversationId(Arc<str>);

impl ConversationId {
    pub fn new(channel: ChannelKind, external_id: &str) -> Self {
        Self(format!("{channel}:{external_id}").into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The channel name the id starts with (`telegram` in `telegram:42`).
    pub fn channel_name(&self) -> &str {
        self.0.split_once(':').map_or("", |(channel, _)| channel)
    }

    /// The channel the id starts with, when it is one Chitin knows.
    pub fn channel(&self) -> Option<ChannelKind> {
        ChannelKind::from_name(self.channel_name())
    }

    /// The platform's own id of the conversation (chat, channel, thread): everything after `channel:`.
    pub fn external_id(&self) -> &str {
        self.0.split_once(':').map_or(&self.0, |(_, external)| external)
    }
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The channels Chitin speaks; a closed set, so a typo is a compile error and not a lost message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Repl,
    Webhook,
    Gateway,
    Telegram,
    Slack,
    /// The OpenAI-compatible HTTP API.
    Api,
    /// Work started by Chitin itself (routines, heartbeat, jobs).
    Internal,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 7] = [
        ChannelKind::Repl,
        ChannelKind::Webhook,
        ChannelKind::Gateway,
        ChannelKind::Telegram,
        ChannelKind::Slack,
        ChannelKind::Api,
        ChannelKind::Internal,
    ];

    /// The kind a stored channel name stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Repl => "repl",
            ChannelKind::Webhook => "webhook",
            ChannelKind::Gateway => "gateway",
            ChannelKind::Telegram => "telegram",
            ChannelKind::Slack => "slack",
            ChannelKind::Api => "api",
            ChannelKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user's message as a channel accepted it.
///
/// Stored before the session sees it, so a crash mid-turn loses nothing: the restarted session finds it in the
/// store unanswered. Its `Debug` leaves the text out, because message text never goes into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Inbound {
    pub conversation: ConversationId,
    pub channel: ChannelKind,
    /// The platform's own id for the message, used for deduplication.
    pub platform_message_id: String,
    /// The store's id of this message, under which the reply is filed.
    pub record_id: i64,
    /// The platform's id for the sender.
    pub sender: String,
    pub text: String,
    /// The store's id of the conversation's message just before this one, when the store read it while storing
    /// this one (SQLite); `None` when unknown. A session that holds that message adds this one to its history
    /// without reading the store again.
    pub follows: Option<i64>,
}

impl fmt::Debug for Inbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbound")
            .field("conversation", &self.conversation)
            .field("channel", &self.channel)
            .field("platform_message_id", &self.platform_message_id)
            .field("record_id", &self.record_id)
            .field("sender", &self.sender)
            .field("text_bytes", &self.text.len())
            .field("follows", &self.follows)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbound_debug_never_shows_text() {
        let inbound = Inbound {
            conversation: ConversationId::new(ChannelKind::Telegram, "42"),
            channel: ChannelKind::Telegram,
            platform_message_id: "7".into(),
            record_id: 1,
            sender: "42".into(),
            text: "my bank pin is 1234".into(),
            follows: None,
        };
        let printed = format!("{inbound:?}");
        assert!(!printed.contains("1234"), "{printed}");
        assert!(printed.contains("telegram:42"), "{printed}");
    }

    #[test]
    fn conversation_ids_split_into_channel_and_external_id() {
        let id = ConversationId::new(ChannelKind::Slack, "C1:thread");
        assert_eq!((id.channel(), id.external_id()), (Some(ChannelKind::Slack), "C1:thread"));
        for kind in ChannelKind::ALL {
            assert_eq!(ChannelKind::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(ChannelKind::from_name("fax"), None);
    }
}
