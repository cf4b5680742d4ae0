//! Replies owed to a platform: written with the assistant message, leased to a sender, marked delivered after the platform accepts.

use std::time::Duration;

use serde::Serialize;

use super::conversations::{TokenUsage, body_context};
use super::db::{BeginWrite, Db, Shared, SqlitePools, millis, now_ms, on_db, on_db_read};
use super::turn_write_batch::{DeliveryMark, ReplyWrite, TurnWrite, TurnWritten};
use super::{ConversationId, MessageId, MessageStatus, OutboxId, StoreError};

// A statement both backends run, as a macro so the SQLite turn-write scripts (`turn_write_batch`) can `concat!` it in.

/// Files a reply (`$1`–`$8`: conversation, channel, external id, sealed body, now, answered message, input and output
/// tokens); returns its id, or nothing when the answered message already has a reply.
/// `insert_reply_sql!(with_follows)` also returns the id of the conversation's message before the reply (SQLite's
/// turn writes, see `InboundOutcome::Inserted`).
macro_rules! insert_reply_sql {
    () => {
        concat!(insert_reply_sql!(@insert), " RETURNING id")
    };
    (with_follows) => {
        concat!(
            insert_reply_sql!(@insert),
            " RETURNING id, (SELECT max(earlier.id) FROM messages earlier \
               WHERE earlier.conversation_id = messages.conversation_id AND earlier.id < messages.id)"
        )
    };
    (@insert) => {
        "INSERT INTO messages (conversation_id, channel, external_conversation_id, direction, role, status, body, \
         created_at_ms, in_reply_to, input_tokens, output_tokens) \
         VALUES ($1, $2, $3, 'outbound', 'assistant', 'pending', $4, $5, $6, $7, $8) \
         ON CONFLICT (in_reply_to) DO NOTHING"
    };
}
pub(crate) use insert_reply_sql;

/// Marks outbox entry `$1` delivered at `$2` (the first time only); returns its reply's message id. PostgreSQL's;
/// SQLite marks several at once (see `turn_write_batch`).
const MARK_OUTBOX_DELIVERED: &str = "UPDATE outbox SET delivered_at_ms = COALESCE(delivered_at_ms, $2), \
     lease_until_ms = NULL WHERE id = $1 RETURNING message_id";

/// The reply already filed for message `$1` and its outbox entry.
const QUEUED_REPLY_TO: &str =
    "SELECT m.id, o.id FROM messages m JOIN outbox o ON o.message_id = m.id WHERE m.in_reply_to = $1";

/// Ids of a reply just queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QueuedReply {
    pub message_id: MessageId,
    pub outbox_id: OutboxId,
    /// For a reply filed just now on SQLite, the conversation's message before it (see [`InboundOutcome::Inserted`]).
    #[serde(skip)]
    pub follows: Option<MessageId>,
}

/// Whether `enqueue_reply` stored a new reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ReplyOutcome {
    Queued(QueuedReply),
    /// The inbound message already has a reply (a redone turn); nothing new was stored.
    AlreadyQueued(QueuedReply),
}

impl ReplyOutcome {
    pub fn reply(self) -> QueuedReply {
        match self {
            ReplyOutcome::Queued(reply) | ReplyOutcome::AlreadyQueued(reply) => reply,
        }
    }
}

/// A reply leased to one sender until `lease_until_ms`; after that another sender may take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub outbox_id: OutboxId,
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub channel: String,
    pub external_conversation_id: String,
    pub body: String,
    /// Including this one.
    pub attempts: i64,
    pub lease_until_ms: i64,
}

impl OutboxItem {
    /// Stable per reply across retries: give it to platforms that deduplicate sends by a client key.
    pub fn idempotency_key(&self) -> String {
        format!("chitin-outbox-{}", self.outbox_id)
    }
}

/// The outbox of replies.
#[derive(Clone)]
pub struct Outbox {
    shared: Shared,
}

impl Outbox {
    pub(crate) fn new(shared: Shared) -> Outbox {
        Outbox { shared }
    }

    /// Stores the assistant's reply and the duty to deliver it in one transaction, so a crash
    /// leaves either both or neither.
    ///
    /// `in_reply_to` names the inbound message this answers; at most one reply per message is
    /// stored, so a turn redone after a crash gets `AlreadyQueued` instead of filing a second reply.
    pub async fn enqueue_reply(
        &self,
        conversation_id: ConversationId,
        in_reply_to: Option<MessageId>,
        body: &str,
    ) -> Result<ReplyOutcome, StoreError> {
        self.enqueue_answer(conversation_id, in_reply_to, body, None, None).await
    }

    /// [`Outbox::enqueue_reply`] for the end of a turn, in the same one transaction: the turn's token usage is
    /// stored on the reply, and the answered message gets `answered_status` (processed or failed). One commit per
    /// turn on the single SQLite writer instead of two, and no window where a reply exists for a message still
    /// marked received.
    pub async fn enqueue_answer(
        &self,
        conversation_id: ConversationId,
        in_reply_to: Option<MessageId>,
        body: &str,
        usage: Option<TokenUsage>,
        answered_status: Option<MessageStatus>,
    ) -> Result<ReplyOutcome, StoreError> {
        let op = "enqueue reply";
        let input_tokens = usage.map(|usage| i64::try_from(usage.input_tokens).unwrap_or(i64::MAX));
        let output_tokens = usage.map(|usage| i64::try_from(usage.output_tokens).unwrap_or(i64::MAX));
        let now = now_ms();
        // A conversation's channel and external id never change, so they are read before the write transaction
        // (on SQLite that is one round trip less while the single writer is held), and only once per process.
        let (channel, external_conversation_id) = match self.shared.addresses.get(conversation_id.0) {
            Some(address) => (address.channel.to_string(), address.external_id.to_string()),
            None => {
                let conversation: Option<(String, String)> = on_db_read!(&self.shared.db, pool => {
                    sqlx::query_as("SELECT channel, external_id FROM conversations WHERE id = $1")
                        .bind(conversation_id.0)
                        .fetch_optional(pool)
                        .await
                        .map_err(StoreError::query(op))?
                });
                let (channel, external_id) = conversation.ok_or(StoreError::NotFound {
                    op,
                    what: "conversation",
                    id: conversation_id.to_string(),
                })?;
                self.shared.addresses.remember(conversation_id.0, &channel, &external_id);
                (channel, external_id)
            }
        };
        let sealed = self.shared.sealer.seal(body.as_bytes(), &body_context(&channel, &external_conversation_id));
        let pool = match &self.shared.db {
            Db::Sqlite(pools) => {
                let reply = ReplyWrite {
                    conversation_id: conversation_id.0,
                    channel,
                    external_conversation_id,
                    sealed,
                    now_ms: now,
                    in_reply_to: in_reply_to.map(|id| id.0),
                    input_tokens,
                    output_tokens,
                    answered_status: answered_status.map(|status| status.as_str()),
                };
                return enqueue_answer_sqlite(pools, reply).await;
            }
            Db::Postgres(pool) => pool,
        };
        {
            let mut tx = pool.begin_write().await.map_err(StoreError::query(op))?;
            let message_id: Option<i64> = sqlx::query_scalar(insert_reply_sql!())
                .bind(conversation_id.0)
                .bind(&channel)
                .bind(&external_conversation_id)
                .bind(&sealed)
                .bind(now)
                .bind(in_reply_to.map(|id| id.0))
                .bind(input_tokens)
                .bind(output_tokens)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::query(op))?;
            let Some(message_id) = message_id else {
                // Rolled back on drop; the first reply stands.
                let (message_id, outbox_id): (i64, i64) = sqlx::query_as(QUEUED_REPLY_TO)
                    .bind(in_reply_to.map(|id| id.0))
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(StoreError::query(op))?;
                return Ok(ReplyOutcome::AlreadyQueued(QueuedReply {
                    message_id: MessageId(message_id),
                    outbox_id: OutboxId(outbox_id),
                    follows: None,
                }));
            };
            let outbox_id: i64 = sqlx::query_scalar(
                "INSERT INTO outbox (message_id, channel, external_conversation_id, next_attempt_at_ms, created_at_ms) \
                 VALUES ($1, $2, $3, $4, $4) RETURNING id",
            )
            .bind(message_id)
            .bind(&channel)
            .bind(&external_conversation_id)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::query(op))?;
            if let (Some(answered), Some(status)) = (in_reply_to, answered_status) {
                sqlx::query("UPDATE messages SET status = $2 WHERE id = $1")
                    .bind(answered.0)
                    .bind(status.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query(op))?;
            }
            tx.commit().await.map_err(StoreError::query(op))?;
            Ok(ReplyOutcome::Queued(QueuedReply {
                message_id: MessageId(message_id),
                outbox_id: OutboxId(outbox_id),
                follows: None,
            }))
        }
    }

    /// Leases up to `limit` due, undelivered replies for `lease`, oldest first.
    ///
    /// PostgreSQL skips rows another node is claiming (`FOR UPDATE SKIP LOCKED`); SQLite has one
    /// writer at a time, so the claim statement is atomic there by construction.
    pub async fn claim_due(&self, lease: Duration, limit: i64) -> Result<Vec<OutboxItem>, StoreError> {
        self.claim_due_for(None, lease, limit).await
    }

    /// Like [`Outbox::claim_due`], restricted to one channel's replies when `channel` is given.
    pub async fn claim_due_for(
        &self,
        channel: Option<&str>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let op = "claim outbox";
        let now = now_ms();
        let lease_until = now.saturating_add(millis(lease));
        const CLAIM_POSTGRES: &str = "UPDATE outbox SET lease_until_ms = $2, attempts = attempts + 1 WHERE id IN ( \
             SELECT id FROM outbox WHERE delivered_at_ms IS NULL AND next_attempt_at_ms <= $1 \
             AND (lease_until_ms IS NULL OR lease_until_ms <= $1) AND ($4::text IS NULL OR channel = $4) \
             ORDER BY next_attempt_at_ms, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING id, message_id, channel, external_conversation_id, attempts";
        const CLAIM_SQLITE: &str = "UPDATE outbox SET lease_until_ms = $2, attempts = attempts + 1 WHERE id IN ( \
             SELECT id FROM outbox WHERE delivered_at_ms IS NULL AND next_attempt_at_ms <= $1 \
             AND (lease_until_ms IS NULL OR lease_until_ms <= $1) AND ($4 IS NULL OR channel = $4) \
             ORDER BY next_attempt_at_ms, id LIMIT $3) \
             RETURNING id, message_id, channel, external_conversation_id, attempts";
        const BODY: &str = "SELECT conversation_id, body FROM messages WHERE id = $1";
        let mut claimed = Vec::new();
        on_db!(&self.shared.db, pool => {
            let claim = if matches!(&self.shared.db, super::db::Db::Postgres(_)) { CLAIM_POSTGRES } else { CLAIM_SQLITE };
            let mut tx = pool.begin_write().await.map_err(StoreError::query(op))?;
            let rows: Vec<(i64, i64, String, String, i64)> = sqlx::query_as(claim)
                .bind(now)
                .bind(lease_until)
                .bind(limit)
                .bind(channel)
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::query(op))?;
            for (outbox_id, message_id, channel, external_conversation_id, attempts) in rows {
                let (conversation_id, body): (i64, Vec<u8>) =
                    sqlx::query_as(BODY).bind(message_id).fetch_one(&mut *tx).await.map_err(StoreError::query(op))?;
                claimed.push(OutboxItem {
                    outbox_id: OutboxId(outbox_id),
                    message_id: MessageId(message_id),
                    conversation_id: ConversationId(conversation_id),
                    body: self.shared.sealer.open_text(&body, &body_context(&channel, &external_conversation_id), op)?,
                    channel,
                    external_conversation_id,
                    attempts,
                    lease_until_ms: lease_until,
                });
            }
            tx.commit().await.map_err(StoreError::query(op))?;
        });
        claimed.sort_by_key(|item| item.outbox_id);
        Ok(claimed)
    }

    /// Records that the reply was handed over in-band (put into the response of the request that asked for it),
    /// without waiting for the record to be written. On SQLite it is held and written with other such records within
    /// about 20 ms or when the store closes (see `turn_write_batch`), so a hand-over costs no commit of its own; an
    /// unknown `outbox_id` is ignored there. On PostgreSQL it is [`Outbox::mark_delivered`]. Only a crash within
    /// those 20 ms loses the record; the reply then stays undelivered, which the repairer ignores for in-band
    /// channels.
    pub async fn mark_delivered_later(&self, outbox_id: OutboxId) -> Result<(), StoreError> {
        match &self.shared.db {
            Db::Sqlite(pools) => {
                let mark = DeliveryMark { outbox_id: outbox_id.0, platform_message_id: None, at_ms: now_ms() };
                pools.turn_writes.write_later(mark, "mark reply delivered").await
            }
            Db::Postgres(_) => self.mark_delivered(outbox_id, None).await,
        }
    }

    /// Records that the platform accepted the reply. Idempotent: a second call changes nothing.
    pub async fn mark_delivered(
        &self,
        outbox_id: OutboxId,
        platform_message_id: Option<&str>,
    ) -> Result<(), StoreError> {
        let op = "mark reply delivered";
        let now = now_ms();
        let pool = match &self.shared.db {
            Db::Sqlite(pools) => {
                let mark = DeliveryMark {
                    outbox_id: outbox_id.0,
                    platform_message_id: platform_message_id.map(str::to_owned),
                    at_ms: now,
                };
                return match pools.turn_writes.write(TurnWrite::Mark(mark), op).await? {
                    TurnWritten::Mark(true) => Ok(()),
                    _ => Err(StoreError::NotFound { op, what: "outbox entry", id: outbox_id.to_string() }),
                };
            }
            Db::Postgres(pool) => pool,
        };
        {
            let mut tx = pool.begin_write().await.map_err(StoreError::query(op))?;
            let message_id: Option<i64> = sqlx::query_scalar(MARK_OUTBOX_DELIVERED)
                .bind(outbox_id.0)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::query(op))?;
            let message_id =
                message_id.ok_or(StoreError::NotFound { op, what: "outbox entry", id: outbox_id.to_string() })?;
            sqlx::query(
                "UPDATE messages SET status = 'delivered', platform_message_id = COALESCE($2, platform_message_id) WHERE id = $1",
            )
            .bind(message_id)
            .bind(platform_message_id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(op))?;
            tx.commit().await.map_err(StoreError::query(op))?;
        }
        Ok(())
    }

    /// Gives a failed attempt back with its next try at `retry_at_ms` (the caller computes the backoff).
    pub async fn reschedule(&self, outbox_id: OutboxId, retry_at_ms: i64, error: &str) -> Result<(), StoreError> {
        let op = "reschedule reply";
        let done = on_db!(&self.shared.db, pool => sqlx::query(
            "UPDATE outbox SET next_attempt_at_ms = $2, lease_until_ms = NULL, last_error = $3 \
             WHERE id = $1 AND delivered_at_ms IS NULL",
        )
        .bind(outbox_id.0)
        .bind(retry_at_ms)
        .bind(error)
        .execute(pool)
        .await.map(|result| result.rows_affected()))
        .map_err(StoreError::query(op))?;
        if done == 0 {
            return Err(StoreError::NotFound { op, what: "undelivered outbox entry", id: outbox_id.to_string() });
        }
        Ok(())
    }

    /// Replies not yet accepted by their platform.
    /// Undelivered replies for `channels` that have waited past `older_than_ms` with no live lease (their
    /// sender died or missed the wake-up): made due now and returned as (id, channel) so their senders get woken.
    pub async fn release_stuck(
        &self,
        channels: &[&str],
        older_than_ms: i64,
    ) -> Result<Vec<(OutboxId, String)>, StoreError> {
        let op = "release stuck outbox rows";
        let now = now_ms();
        let cutoff = now.saturating_sub(older_than_ms);
        let mut released = Vec::new();
        for channel in channels {
            let rows: Vec<(i64, String)> = on_db!(&self.shared.db, pool => sqlx::query_as(
                "UPDATE outbox SET next_attempt_at_ms = $1, lease_until_ms = NULL WHERE delivered_at_ms IS NULL \
                 AND channel = $3 AND created_at_ms <= $2 AND next_attempt_at_ms <= $2 \
                 AND (lease_until_ms IS NULL OR lease_until_ms <= $2) RETURNING id, channel",
            )
            .bind(now)
            .bind(cutoff)
            .bind(channel)
            .fetch_all(pool)
            .await)
            .map_err(StoreError::query(op))?;
            released.extend(rows.into_iter().map(|(id, channel)| (OutboxId(id), channel)));
        }
        Ok(released)
    }

    pub async fn undelivered_count(&self) -> Result<i64, StoreError> {
        let op = "count undelivered replies";
        on_db_read!(&self.shared.db, pool => sqlx::query_scalar("SELECT count(*) FROM outbox WHERE delivered_at_ms IS NULL")
            .fetch_one(pool)
            .await)
        .map_err(StoreError::query(op))
    }
}

/// [`Outbox::enqueue_answer`] on SQLite: the reply, its outbox entry and the answered message's status in one
/// transaction, shared with the other turn writes queued at the time (see `turn_write_batch`).
async fn enqueue_answer_sqlite(pools: &SqlitePools, reply: ReplyWrite) -> Result<ReplyOutcome, StoreError> {
    let in_reply_to = reply.in_reply_to;
    if let TurnWritten::Reply(Some((message_id, outbox_id, follows))) =
        pools.turn_writes.write(TurnWrite::Reply(reply), "enqueue reply").await?
    {
        return Ok(ReplyOutcome::Queued(QueuedReply {
            message_id: MessageId(message_id),
            outbox_id: OutboxId(outbox_id),
            follows: follows.map(MessageId),
        }));
    }
    let (message_id, outbox_id): (i64, i64) = sqlx::query_as(QUEUED_REPLY_TO)
        .bind(in_reply_to)
        .fetch_one(&pools.writer)
        .await
        .map_err(StoreError::query("enqueue reply"))?;
    Ok(ReplyOutcome::AlreadyQueued(QueuedReply {
        message_id: MessageId(message_id),
        outbox_id: OutboxId(outbox_id),
        follows: None,
    }))
}
