//! Durable, deduplicated recording of messages that arrive from a platform.

use serde::Serialize;

use super::conversations::{UPSERT_CONVERSATION, body_context};
use super::db::{BeginWrite, Db, Shared, now_ms, on_db};
use super::{ConversationId, MessageId, StoreError};

/// A message as a channel received it, before any actor sees it.
#[derive(Debug, Clone)]
pub struct InboundMessage<'a> {
    pub channel: &'a str,
    /// The chat/thread id on the platform; with `channel` it names the conversation.
    pub external_conversation_id: &'a str,
    /// The platform's id for this message (Telegram update/message id, Slack `ts`, …): the dedup key.
    pub platform_message_id: &'a str,
    pub sender: Option<&'a str>,
    pub body: &'a str,
}

/// Whether the platform's message was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum InboundOutcome {
    /// Stored now; hand it to the session.
    Inserted { conversation_id: ConversationId, message_id: MessageId },
    /// Already stored by an earlier delivery; acknowledge to the platform and do nothing else.
    Duplicate { conversation_id: ConversationId, message_id: MessageId },
}

const INSERT_MESSAGE_SQLITE: &str = "INSERT INTO messages (conversation_id, channel, external_conversation_id, \
     platform_message_id, direction, role, status, sender, body, created_at_ms) \
     VALUES ($1, $2, $3, $4, 'inbound', 'user', 'received', $5, $6, $7) \
     ON CONFLICT (channel, platform_message_id) DO NOTHING RETURNING id";

/// Upserts the conversation and inserts the message in one statement. A known platform id skips
/// the conversation upsert (redeliveries change nothing) and returns no row.
const RECORD_POSTGRES: &str = "WITH conversation AS ( \
         INSERT INTO conversations (channel, external_id, created_at_ms, last_activity_at_ms) \
         SELECT $1, $2, $6, $6 \
         WHERE NOT EXISTS (SELECT 1 FROM messages WHERE channel = $1 AND platform_message_id = $3) \
         ON CONFLICT (channel, external_id) DO UPDATE SET last_activity_at_ms = excluded.last_activity_at_ms \
         RETURNING id) \
     INSERT INTO messages (conversation_id, channel, external_conversation_id, platform_message_id, \
         direction, role, status, sender, body, created_at_ms) \
     SELECT id, $1, $2, $3, 'inbound', 'user', 'received', $4, $5, $6 FROM conversation \
     ON CONFLICT (channel, platform_message_id) DO NOTHING \
     RETURNING id, conversation_id";

/// Records inbound platform messages exactly once per (channel, platform message id).
#[derive(Clone)]
pub struct Inbound {
    shared: Shared,
}

impl Inbound {
    pub(crate) fn new(shared: Shared) -> Inbound {
        Inbound { shared }
    }

    /// Stores the message (creating its conversation on first contact) or recognises a redelivery.
    ///
    /// Atomic: when this returns `Inserted`, the message is durable; when it returns an error,
    /// nothing was stored and the platform may redeliver. Two concurrent calls with the same ids
    /// get exactly one `Inserted`; the unique index decides, not a prior read.
    #[tracing::instrument(level = "debug", skip_all, fields(channel = message.channel))]
    pub async fn record_inbound(&self, message: &InboundMessage<'_>) -> Result<InboundOutcome, StoreError> {
        let op = "record inbound message";
        let now = now_ms();
        let body = self
            .shared
            .sealer
            .seal(message.body.as_bytes(), &body_context(message.channel, message.external_conversation_id));
        let inserted: Option<(i64, i64)> = match &self.shared.db {
            // One statement, so one round trip and one commit: the hot path of every channel.
            Db::Postgres(pool) => sqlx::query_as(RECORD_POSTGRES)
                .bind(message.channel)
                .bind(message.external_conversation_id)
                .bind(message.platform_message_id)
                .bind(message.sender)
                .bind(&body)
                .bind(now)
                .fetch_optional(pool)
                .await
                .map_err(StoreError::query(op))?,
            Db::Sqlite(pools) => {
                let mut tx = pools.writer.begin_write().await.map_err(StoreError::query(op))?;
                let conversation_id: i64 = sqlx::query_scalar(UPSERT_CONVERSATION)
                    .bind(message.channel)
                    .bind(message.external_conversation_id)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(StoreError::query(op))?;
                let message_id: Option<i64> = sqlx::query_scalar(INSERT_MESSAGE_SQLITE)
                    .bind(conversation_id)
                    .bind(message.channel)
                    .bind(message.external_conversation_id)
                    .bind(message.platform_message_id)
                    .bind(message.sender)
                    .bind(&body)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::query(op))?;
                // On a redelivery the transaction rolls back on drop: not even last activity changes.
                if message_id.is_some() {
                    tx.commit().await.map_err(StoreError::query(op))?;
                }
                message_id.map(|message_id| (message_id, conversation_id))
            }
        };
        if let Some((message_id, conversation_id)) = inserted {
            tracing::debug!(message_id, conversation_id, "inbound message stored");
            return Ok(InboundOutcome::Inserted {
                conversation_id: ConversationId(conversation_id),
                message_id: MessageId(message_id),
            });
        }
        // A fresh statement sees the row even when a concurrent delivery committed it a moment ago.
        let (message_id, conversation_id): (i64, i64) = on_db!(&self.shared.db, pool => sqlx::query_as(
            "SELECT id, conversation_id FROM messages WHERE channel = $1 AND platform_message_id = $2",
        )
        .bind(message.channel)
        .bind(message.platform_message_id)
        .fetch_one(pool)
        .await)
        .map_err(StoreError::query(op))?;
        tracing::debug!(message_id, "inbound message is a redelivery");
        Ok(InboundOutcome::Duplicate {
            conversation_id: ConversationId(conversation_id),
            message_id: MessageId(message_id),
        })
    }
}
