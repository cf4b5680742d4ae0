//! The chat channels' ports (inbound, outbox, pairing) over the store, the actor tree and the reply hub.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chitin_actors::{ActorTree, ChannelKind, Inbound, ReplyHub};
use chitin_channels::ports::{
    BoxFuture, ChannelPorts, InboundSink, Incoming, NewMessage, OwedReply, PairingCode, PairingStore, PortError,
    Recorded, ReplyId, ReplySource,
};
use rand::Rng;
use serde_json::json;
use tokio::sync::Notify;

use crate::agent::describe;
use crate::intake;
use crate::store::{OutboxId, Store, StoreError, now_ms};

/// How long a claimed reply stays leased to one sender before another may take it.
const REPLY_LEASE: Duration = Duration::from_secs(60);

fn port_error(operation: &'static str) -> impl Fn(StoreError) -> PortError {
    move |error| PortError { operation, reason: describe(&error) }
}

/// The actor tree, set once it has started: channels are children of the tree, so their ports exist before it.
pub type TreeCell = Arc<OnceLock<Arc<ActorTree>>>;

/// Builds the ports every chat channel gets.
pub fn channel_ports(store: Store, tree: TreeCell, hub: ReplyHub) -> ChannelPorts {
    let ports = Arc::new(StorePorts { store, tree, hub: hub.clone() });
    ChannelPorts { inbound: ports.clone(), replies: ports.clone(), pairing: ports, live: hub }
}

struct StorePorts {
    store: Store,
    tree: TreeCell,
    hub: ReplyHub,
}

impl InboundSink for StorePorts {
    fn record(&self, message: NewMessage) -> BoxFuture<'_, Result<Recorded, PortError>> {
        Box::pin(async move {
            let incoming = Incoming {
                channel: message.channel,
                external_conversation_id: message.external_conversation_id,
                platform_message_id: message.platform_message_id,
                sender: message.sender,
                text: message.text,
            };
            match intake::record(&self.store, incoming).await.map_err(port_error("record inbound message"))? {
                intake::Recorded::New(inbound) => Ok(Recorded::Inserted(inbound)),
                intake::Recorded::Duplicate { .. } => Ok(Recorded::Duplicate),
            }
        })
    }

    fn deliver(&self, inbound: Inbound) -> BoxFuture<'_, Result<(), PortError>> {
        Box::pin(async move {
            // Stored already; if the tree is not up yet, start-up's resume of unanswered messages answers it.
            let tree = self.tree.get().ok_or_else(|| PortError {
                operation: "deliver to session",
                reason: "chitin is still starting".into(),
            })?;
            tree.deliver(inbound)
                .await
                .map_err(|error| PortError { operation: "deliver to session", reason: error.to_string() })
        })
    }
}

impl ReplySource for StorePorts {
    fn claim(&self, channel: ChannelKind, limit: usize) -> BoxFuture<'_, Result<Vec<OwedReply>, PortError>> {
        Box::pin(async move {
            let items = self
                .store
                .outbox()
                .claim_due_for(Some(channel.as_str()), REPLY_LEASE, limit as i64)
                .await
                .map_err(port_error("claim replies"))?;
            let conversations = self.store.conversations();
            let mut owed = Vec::with_capacity(items.len());
            for item in items {
                let answered = conversations.answered_by(item.message_id).await.map_err(port_error("claim replies"))?;
                let reply_to = match answered {
                    Some(inbound) => {
                        conversations.platform_message_id(inbound).await.map_err(port_error("claim replies"))?
                    }
                    None => None,
                };
                owed.push(OwedReply {
                    id: ReplyId(item.outbox_id.0),
                    idempotency_key: item.idempotency_key(),
                    external_conversation_id: item.external_conversation_id,
                    body: item.body,
                    reply_to_platform_message_id: reply_to,
                });
            }
            Ok(owed)
        })
    }

    fn delivered(&self, id: ReplyId, platform_message_id: String) -> BoxFuture<'_, Result<(), PortError>> {
        Box::pin(async move {
            self.store
                .outbox()
                .mark_delivered(OutboxId(id.0), Some(&platform_message_id))
                .await
                .map_err(port_error("mark reply delivered"))?;
            crate::metrics::reply_delivered();
            Ok(())
        })
    }

    fn retry_later(&self, id: ReplyId, after: Duration, error: String) -> BoxFuture<'_, Result<(), PortError>> {
        Box::pin(async move {
            let at = now_ms().saturating_add(after.as_millis() as i64);
            self.store.outbox().reschedule(OutboxId(id.0), at, &error).await.map_err(port_error("reschedule reply"))
        })
    }

    fn wakeup(&self, channel: ChannelKind) -> Arc<Notify> {
        self.hub.filed_signal(channel.as_str())
    }
}

/// Settings keys: `pairing.user.<channel>.<user>` → {code, approved}; `pairing.code.<CODE>` → {channel, user}.
fn user_key(channel: ChannelKind, user: &str) -> String {
    format!("pairing.user.{channel}.{user}")
}

impl PairingStore for StorePorts {
    fn pending_code<'a>(
        &'a self,
        channel: ChannelKind,
        user: &'a str,
    ) -> BoxFuture<'a, Result<PairingCode, PortError>> {
        Box::pin(async move {
            let settings = self.store.settings();
            let key = user_key(channel, user);
            if let Some(entry) = settings.get(&key).await.map_err(port_error("read pairing"))?
                && let Some(code) = entry["code"].as_str()
            {
                return Ok(PairingCode(code.to_string()));
            }
            let code: String = {
                let mut rng = rand::rng();
                (0..8).map(|_| char::from(b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789"[rng.random_range(0..32)])).collect()
            };
            settings
                .set(&format!("pairing.code.{code}"), &json!({"channel": channel.as_str(), "user": user}))
                .await
                .map_err(port_error("store pairing code"))?;
            settings
                .set(&key, &json!({"code": code, "approved": false}))
                .await
                .map_err(port_error("store pairing code"))?;
            Ok(PairingCode(code))
        })
    }

    fn is_approved<'a>(&'a self, channel: ChannelKind, user: &'a str) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(async move {
            let entry =
                self.store.settings().get(&user_key(channel, user)).await.map_err(port_error("read pairing"))?;
            Ok(entry.is_some_and(|entry| entry["approved"] == true))
        })
    }
}

/// `chitin pairing approve CODE`: marks the code's user approved; returns `channel:user`.
pub async fn approve_pairing(store: &Store, code: &str) -> Result<Option<String>, StoreError> {
    let settings = store.settings();
    let code = code.trim().to_ascii_uppercase();
    let Some(entry) = settings.get(&format!("pairing.code.{code}")).await? else { return Ok(None) };
    let (Some(channel), Some(user)) = (entry["channel"].as_str(), entry["user"].as_str()) else { return Ok(None) };
    settings.set(&format!("pairing.user.{channel}.{user}"), &json!({"code": code, "approved": true})).await?;
    settings.delete(&format!("pairing.code.{code}")).await?;
    Ok(Some(format!("{channel}:{user}")))
}
