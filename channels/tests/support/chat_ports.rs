//! In-memory store behind the channel ports: dedup by key, outbox leases, pairing codes, and an echo agent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chitin_actors::ports::BoxFuture;
use chitin_actors::{ChannelKind, Inbound, ReplyHub};
use chitin_channels::ports::{
    ChannelPorts, InboundSink, NewMessage, OwedReply, PairingCode, PairingStore, PortError, Recorded, ReplyId,
    ReplySource,
};
use tokio::sync::Notify;
use tokio::time::Instant;

/// How long a claimed reply stays invisible to other claims, as the real store will do.
const LEASE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq)]
pub enum OutboxState {
    Pending { due: Instant },
    Leased { until: Instant },
    Delivered { platform_message_id: String },
}

#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub channel: ChannelKind,
    pub reply: OwedReply,
    pub state: OutboxState,
    pub errors: Vec<String>,
}

#[derive(Default)]
struct Inner {
    dedup: HashMap<(String, String), i64>,
    recorded: Vec<Inbound>,
    delivered: Vec<Inbound>,
    outbox: Vec<OutboxRow>,
    pairing: HashMap<(ChannelKind, String), (PairingCode, bool)>,
    next_id: i64,
    record_failures_left: u32,
}

/// What the real store and session router will be, in memory. With `echo` set, every delivered message gets
/// the reply `echo: <text>` written to the outbox, as a turn would.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    wakeups: Mutex<HashMap<ChannelKind, Arc<Notify>>>,
    echo: bool,
    /// Live turn events, as the session actors publish them; tests publish here to play a streaming turn.
    hub: ReplyHub,
}

impl MemoryStore {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn with_echo_agent() -> Arc<Self> {
        Arc::new(Self { echo: true, ..Self::default() })
    }

    pub fn ports(self: &Arc<Self>) -> ChannelPorts {
        ChannelPorts { inbound: self.clone(), replies: self.clone(), pairing: self.clone(), live: self.hub.clone() }
    }

    pub fn hub(&self) -> &ReplyHub {
        &self.hub
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes a reply to the outbox, as a finished turn does, and wakes the channel.
    pub fn push_reply(&self, channel: ChannelKind, conversation: &str, body: &str, reply_to: Option<&str>) -> ReplyId {
        let id = {
            let mut inner = self.lock();
            inner.next_id += 1;
            let id = ReplyId(inner.next_id);
            inner.outbox.push(OutboxRow {
                channel,
                reply: OwedReply {
                    id,
                    external_conversation_id: conversation.to_string(),
                    body: body.to_string(),
                    reply_to_platform_message_id: reply_to.map(str::to_string),
                    idempotency_key: format!("reply-{}", id.0),
                },
                state: OutboxState::Pending { due: Instant::now() },
                errors: Vec::new(),
            });
            id
        };
        self.wakeup(channel).notify_one();
        id
    }

    pub fn recorded(&self) -> Vec<Inbound> {
        self.lock().recorded.clone()
    }

    pub fn recorded_count(&self) -> usize {
        self.lock().recorded.len()
    }

    pub fn delivered_to_sessions(&self) -> Vec<Inbound> {
        self.lock().delivered.clone()
    }

    pub fn outbox(&self) -> Vec<OutboxRow> {
        self.lock().outbox.clone()
    }

    pub fn row(&self, id: ReplyId) -> Option<OutboxRow> {
        self.lock().outbox.iter().find(|row| row.reply.id == id).cloned()
    }

    /// The next `count` calls to `record` fail, as an unreachable database would.
    pub fn fail_next_records(&self, count: u32) {
        self.lock().record_failures_left = count;
    }

    pub fn pending_codes(&self) -> Vec<(ChannelKind, String, PairingCode)> {
        let inner = self.lock();
        inner.pairing.iter().map(|((channel, user), (code, _))| (*channel, user.clone(), code.clone())).collect()
    }

    /// What `chitin pairing approve CODE` will do.
    pub fn approve(&self, code: &PairingCode) -> bool {
        let mut inner = self.lock();
        let found = inner.pairing.values_mut().find(|(pending, _)| pending == code);
        found.map(|(_, approved)| *approved = true).is_some()
    }
}

impl InboundSink for MemoryStore {
    fn record(&self, message: NewMessage) -> BoxFuture<'_, Result<Recorded, PortError>> {
        Box::pin(async move {
            let mut inner = self.lock();
            if inner.record_failures_left > 0 {
                inner.record_failures_left -= 1;
                return Err(PortError { operation: "record inbound", reason: "database unreachable".into() });
            }
            let key = (message.conversation().to_string(), message.platform_message_id.clone());
            if inner.dedup.contains_key(&key) {
                return Ok(Recorded::Duplicate);
            }
            inner.next_id += 1;
            let record_id = inner.next_id;
            inner.dedup.insert(key, record_id);
            let inbound = Inbound {
                conversation: message.conversation(),
                channel: message.channel,
                platform_message_id: message.platform_message_id,
                record_id,
                sender: message.sender,
                text: message.text,
                follows: None,
            };
            inner.recorded.push(inbound.clone());
            Ok(Recorded::Inserted(inbound))
        })
    }

    fn deliver(&self, inbound: Inbound) -> BoxFuture<'_, Result<(), PortError>> {
        Box::pin(async move {
            self.lock().delivered.push(inbound.clone());
            if self.echo {
                let external = inbound.conversation.as_str().split_once(':').map(|(_, id)| id).unwrap_or_default();
                let body = format!("echo: {}", inbound.text);
                self.push_reply(inbound.channel, external, &body, Some(&inbound.platform_message_id));
            }
            Ok(())
        })
    }
}

impl ReplySource for MemoryStore {
    fn claim(&self, channel: ChannelKind, limit: usize) -> BoxFuture<'_, Result<Vec<OwedReply>, PortError>> {
        Box::pin(async move {
            let now = Instant::now();
            let mut inner = self.lock();
            let mut claimed = Vec::new();
            for row in inner.outbox.iter_mut().filter(|row| row.channel == channel) {
                if claimed.len() >= limit {
                    break;
                }
                let claimable = match row.state {
                    OutboxState::Pending { due } => due <= now,
                    OutboxState::Leased { until } => until <= now,
                    OutboxState::Delivered { .. } => false,
                };
                if claimable {
                    row.state = OutboxState::Leased { until: now + LEASE };
                    claimed.push(row.reply.clone());
                }
            }
            Ok(claimed)
        })
    }

    fn delivered(&self, id: ReplyId, platform_message_id: String) -> BoxFuture<'_, Result<(), PortError>> {
        Box::pin(async move {
            let mut inner = self.lock();
            let row = inner.outbox.iter_mut().find(|row| row.reply.id == id);
            let row = row.ok_or(PortError { operation: "mark delivered", reason: format!("no reply {id}") })?;
            row.state = OutboxState::Delivered { platform_message_id };
            Ok(())
        })
    }

    fn retry_later(&self, id: ReplyId, after: Duration, error: String) -> BoxFuture<'_, Result<(), PortError>> {
        Box::pin(async move {
            let mut inner = self.lock();
            let row = inner.outbox.iter_mut().find(|row| row.reply.id == id);
            let row = row.ok_or(PortError { operation: "retry later", reason: format!("no reply {id}") })?;
            row.state = OutboxState::Pending { due: Instant::now() + after };
            row.errors.push(error);
            Ok(())
        })
    }

    fn wakeup(&self, channel: ChannelKind) -> Arc<Notify> {
        let mut wakeups = self.wakeups.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(wakeups.entry(channel).or_default())
    }
}

impl PairingStore for MemoryStore {
    fn pending_code<'a>(
        &'a self,
        channel: ChannelKind,
        user: &'a str,
    ) -> BoxFuture<'a, Result<PairingCode, PortError>> {
        Box::pin(async move {
            let mut inner = self.lock();
            let next = inner.pairing.len() + 1;
            let (code, _) = inner
                .pairing
                .entry((channel, user.to_string()))
                .or_insert_with(|| (PairingCode(format!("PAIR-{next:04}")), false));
            Ok(code.clone())
        })
    }

    fn is_approved<'a>(&'a self, channel: ChannelKind, user: &'a str) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(async move {
            let inner = self.lock();
            Ok(inner.pairing.get(&(channel, user.to_string())).is_some_and(|(_, approved)| *approved))
        })
    }
}
