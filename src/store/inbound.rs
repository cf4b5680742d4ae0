//! Durable, deduplicated recording of messages that arrive from a platform.

use serde::Serialize;

use super::conversations::{UPSERT_CONVERSATION, body_context};
use super::db::{BeginWrite, Db, Shared, now_ms, returned_row};
use super::inbound_batch::{InboundRow, record_one};
use super::turn_write_batch::{INSERT_INBOUND_SQLITE, TurnWrite, TurnWritten};
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
    Inserted {
        conversation_id: ConversationId,
        message_id: MessageId,
        /// The conversation's message just before this one, when the store read it in the same transaction: on
        /// SQLite, whose one writer commits ids in order. A session that holds that message's row can then add this
        /// one without reading the store. `None` when unknown (PostgreSQL, whose sequences may commit out of order,
        /// and a conversation's first message).
        follows: Option<MessageId>,
    },
    /// Already stored by an earlier delivery; acknowledge to the platform and do nothing else.
    Duplicate { conversation_id: ConversationId, message_id: MessageId },
}

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
        let context = body_context(message.channel, message.external_conversation_id);
        let body = self.shared.sealer.seal(message.body.as_bytes(), &context);
        let row = InboundRow {
            channel: message.channel.to_owned(),
            external_conversation_id: message.external_conversation_id.to_owned(),
            platform_message_id: message.platform_message_id.to_owned(),
            sender: message.sender.map(str::to_owned),
            body,
            now_ms: now,
        };
        let db = match &self.shared.db {
            Db::Postgres(pool) => {
                // Group commit: one statement and one commit for all concurrent callers.
                let outcome = match &self.shared.inbound_batcher {
                    Some(batcher) => batcher.submit(row).await?,
                    None => record_one(pool, &row).await?,
                };
                tracing::debug!(?outcome, "inbound message recorded");
                return Ok(outcome);
            }
            Db::Sqlite(pools) => pools,
        };
        // The common case: a new message of a known conversation, group-committed with the other turn writes.
        let write = TurnWrite::Inbound(row);
        if let TurnWritten::Inbound(Some((message_id, conversation_id, follows))) =
            db.turn_writes.write(write, op).await?
        {
            let outcome = InboundOutcome::Inserted {
                conversation_id: ConversationId(conversation_id),
                message_id: MessageId(message_id),
                follows: follows.map(MessageId),
            };
            tracing::debug!(?outcome, "inbound message recorded");
            return Ok(outcome);
        }
        // A first message or a redelivery: the body went with the write; sealing it again on this rare path spares
        // a copy of every message.
        let body = self.shared.sealer.seal(message.body.as_bytes(), &context);
        let mut tx = db.writer.begin_write().await.map_err(StoreError::query(op))?;
        let conversation_id: i64 = sqlx::query_scalar(UPSERT_CONVERSATION)
            .bind(message.channel)
            .bind(message.external_conversation_id)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::query(op))?;
        let inserted = insert_into_known_conversation(&mut *tx, message, &body, now)
            .await
            .map_err(StoreError::query(op))?
            .map(|(message_id, _, follows)| (message_id, follows));
        let outcome = match inserted {
            Some((message_id, follows)) => {
                tx.commit().await.map_err(StoreError::query(op))?;
                InboundOutcome::Inserted {
                    conversation_id: ConversationId(conversation_id),
                    message_id: MessageId(message_id),
                    follows: follows.map(MessageId),
                }
            }
            None => {
                let message_id: i64 =
                    sqlx::query_scalar("SELECT id FROM messages WHERE channel = $1 AND platform_message_id = $2")
                        .bind(message.channel)
                        .bind(message.platform_message_id)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(StoreError::query(op))?;
                // Rolled back on drop: a redelivery changes nothing, not even last activity.
                drop(tx);
                InboundOutcome::Duplicate {
                    conversation_id: ConversationId(conversation_id),
                    message_id: MessageId(message_id),
                }
            }
        };
        tracing::debug!(?outcome, "inbound message recorded");
        Ok(outcome)
    }
}

/// Runs [`INSERT_INBOUND_SQLITE`]: the new message's id, its conversation's and the message before it, or `None` when the
/// conversation does not exist yet or the message is a redelivery. Read with `fetch_all` (see `returned_row`).
async fn insert_into_known_conversation<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Sqlite>,
    message: &InboundMessage<'_>,
    body: &[u8],
    now: i64,
) -> Result<Option<(i64, i64, Option<i64>)>, sqlx::Error> {
    let rows: Vec<(i64, i64, Option<i64>)> = sqlx::query_as(INSERT_INBOUND_SQLITE)
        .bind(message.channel)
        .bind(message.external_conversation_id)
        .bind(message.platform_message_id)
        .bind(message.sender)
        .bind(body)
        .bind(now)
        .fetch_all(executor)
        .await?;
    Ok(returned_row(rows))
}
