//! Ports: what channels need from the rest of Chitin — durable intake of messages, the replies owed to them,
//! pairing — as traits that `chitin` implements on its store and session router (and tests implement in memory).
//!
//! The channels know platforms; they do not know SQL or the agent.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use chitin_actors::ports::BoxFuture;
use chitin_actors::{ChannelKind, ConversationId, Inbound, ReplyHub, ReplyUsage};
use tokio::sync::Notify;

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
    /// Tokens the turn was billed, when a model wrote the reply.
    pub usage: Option<ReplyUsage>,
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

    /// Whether `record_id` is an inbound message that came in on `channel` (so a caller asking for its reply
    /// can be told "no such message" instead of "pending" forever).
    fn received_on(&self, channel: ChannelKind, record_id: i64) -> BoxFuture<'_, Result<bool, IntakeError>>;

    /// Records that a reply reached the user in-band (an HTTP response, the terminal).
    fn delivered(&self, outbox_id: i64) -> BoxFuture<'_, Result<(), IntakeError>>;

    /// Like [`Intake::delivered`], but returns once the record is queued rather than written: for a channel that
    /// hands over many replies a second and waits for nothing after the hand-over.
    fn delivered_later(&self, outbox_id: i64) -> BoxFuture<'_, Result<(), IntakeError>>;

    /// Live events of every conversation's turns.
    fn replies(&self) -> &ReplyHub;
}

/// A port call that failed; the channel retries later and reports itself degraded meanwhile.
#[derive(Debug, thiserror::Error)]
#[error("{operation} failed: {reason}")]
pub struct PortError {
    /// What the channel asked for, e.g. `record inbound`.
    pub operation: &'static str,
    pub reason: String,
}

/// A message a channel accepted and wants stored; the store turns it into an [`Inbound`] with its record id.
#[derive(Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub channel: ChannelKind,
    /// The platform's conversation id (Telegram chat id, Slack `channel` or `channel/thread_ts`).
    pub external_conversation_id: String,
    /// The platform's id of the message, unique within the conversation; the dedup key with it.
    pub platform_message_id: String,
    /// The platform's id for the sender.
    pub sender: String,
    pub text: String,
}

impl NewMessage {
    /// The conversation this message belongs to: always `channel:external-id`.
    pub fn conversation(&self) -> ConversationId {
        ConversationId::new(self.channel, &self.external_conversation_id)
    }
}

impl fmt::Debug for NewMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Message text never goes into logs.
        f.debug_struct("NewMessage")
            .field("channel", &self.channel)
            .field("external_conversation_id", &self.external_conversation_id)
            .field("platform_message_id", &self.platform_message_id)
            .field("sender", &self.sender)
            .field("text_bytes", &self.text.len())
            .finish()
    }
}

/// Whether `record` stored a new message or found it already stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Newly stored; carries the message with the id the store gave it, ready for `deliver`.
    Inserted(Inbound),
    /// The platform sent this message again (a retry, a redelivery after a crash); nobody must answer it twice.
    Duplicate,
}

/// Where accepted user messages go: first into durable storage, then to the sessions.
pub trait InboundSink: Send + Sync + 'static {
    /// Stores `message` unless one with the same `(conversation, platform_message_id)` is already stored.
    ///
    /// Must be durable when it returns `Ok`: the channel acknowledges the platform (moves the Telegram offset, acks
    /// the Slack envelope, answers the Events API request) right after, and the platform will not send it again.
    fn record(&self, message: NewMessage) -> BoxFuture<'_, Result<Recorded, PortError>>;

    /// Hands a freshly recorded message to its session; called once per `Inserted`.
    fn deliver(&self, inbound: Inbound) -> BoxFuture<'_, Result<(), PortError>>;
}

/// The store's id of one outbox entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyId(pub i64);

impl fmt::Display for ReplyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A reply the agent wrote that this channel owes the platform.
#[derive(Clone, PartialEq, Eq)]
pub struct OwedReply {
    pub id: ReplyId,
    /// The platform's conversation id, as the channel put it into `Inbound.conversation` after `channel:`.
    pub external_conversation_id: String,
    /// Markdown as the agent wrote it; the channel renders it for its platform.
    pub body: String,
    /// Answer this platform message (Telegram reply, Slack thread) when set.
    pub reply_to_platform_message_id: Option<String>,
    /// Stable across redeliveries of the same reply; the channel keys its progress on it so a retried reply
    /// does not repeat the parts that already went out.
    pub idempotency_key: String,
}

impl fmt::Debug for OwedReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwedReply")
            .field("id", &self.id)
            .field("external_conversation_id", &self.external_conversation_id)
            .field("body_bytes", &self.body.len())
            .field("reply_to_platform_message_id", &self.reply_to_platform_message_id)
            .finish()
    }
}

/// The outbox of one channel.
pub trait ReplySource: Send + Sync + 'static {
    /// Leases up to `limit` undelivered replies of `channel` whose retry time has come, oldest first.
    ///
    /// A claimed reply is not returned again until `retry_later` is called for it or its lease expires (the store
    /// picks the lease, say a minute), so two channel instances never send the same reply at once.
    fn claim(&self, channel: ChannelKind, limit: usize) -> BoxFuture<'_, Result<Vec<OwedReply>, PortError>>;

    /// The platform accepted the whole reply; `platform_message_id` is the id of its last part.
    fn delivered(&self, id: ReplyId, platform_message_id: String) -> BoxFuture<'_, Result<(), PortError>>;

    /// Sending failed; release the lease so `claim` returns the reply again after `after`.
    fn retry_later(&self, id: ReplyId, after: Duration, error: String) -> BoxFuture<'_, Result<(), PortError>>;

    /// Notified whenever a reply for `channel` is written, so it goes out at once rather than at the next poll.
    fn wakeup(&self, channel: ChannelKind) -> Arc<Notify>;
}

/// A one-time code an unknown user shows the owner, who approves it with `chitin pairing approve CODE`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PairingCode(pub String);

impl fmt::Display for PairingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Pairing of users who are not in the configured allowlist.
pub trait PairingStore: Send + Sync + 'static {
    /// Returns the pending code of `user` on `channel`, creating one if there is none, so a user who writes
    /// twice sees the same code.
    fn pending_code<'a>(&'a self, channel: ChannelKind, user: &'a str)
    -> BoxFuture<'a, Result<PairingCode, PortError>>;

    /// True once the owner approved a code of `user` on `channel`.
    fn is_approved<'a>(&'a self, channel: ChannelKind, user: &'a str) -> BoxFuture<'a, Result<bool, PortError>>;
}

/// The ports a channel needs, cloned into every (re)start of its actor.
#[derive(Clone)]
pub struct ChannelPorts {
    pub inbound: Arc<dyn InboundSink>,
    pub replies: Arc<dyn ReplySource>,
    pub pairing: Arc<dyn PairingStore>,
    /// Live events of turns (text as the model streams it), for channels that show an answer growing
    /// (Telegram's draft). Best effort: the reply itself always comes through `replies`.
    pub live: ReplyHub,
}
