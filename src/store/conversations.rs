//! Conversations and their message history.

use serde::Serialize;

use super::columns::{Direction, MessageStatus, Role};
use super::db::{Shared, now_ms, on_db, on_db_read, returned_row};
use super::{ConversationId, MessageId, StoreError};

/// One conversation: a chat, channel or thread on one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub channel: String,
    pub external_id: String,
    pub created_at_ms: i64,
    pub last_activity_at_ms: i64,
}

/// A message the session adds to history itself (tool results, system notes, a user message
/// that did not come through a platform). Inbound platform messages go through
/// [`super::Inbound::record_inbound`] and replies through [`super::Outbox::enqueue_reply`].
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub role: Role,
    pub direction: Direction,
    pub status: MessageStatus,
    pub sender: Option<&'a str>,
    pub body: &'a str,
}

/// A message as history returns it, body already decrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredMessage {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub channel: String,
    pub platform_message_id: Option<String>,
    pub direction: Direction,
    pub role: Role,
    pub status: MessageStatus,
    pub sender: Option<String>,
    pub body: String,
    /// For assistant replies: the inbound message answered.
    pub in_reply_to: Option<MessageId>,
    pub created_at_ms: i64,
    /// For assistant replies written by a model turn: the tokens that turn was billed.
    pub usage: Option<TokenUsage>,
}

/// Tokens billed for one turn, summed over its model calls (tool steps included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TokenUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    id: i64,
    conversation_id: i64,
    channel: String,
    external_conversation_id: String,
    platform_message_id: Option<String>,
    direction: String,
    role: String,
    status: String,
    sender: Option<String>,
    body: Vec<u8>,
    in_reply_to: Option<i64>,
    created_at_ms: i64,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
}

/// The messages a restarted node must still answer, oldest first, read through `messages_received_idx`.
pub(crate) const UNPROCESSED_FILTER: &str = "FROM messages WHERE status = 'received' ORDER BY id LIMIT $1";

/// The columns [`MessageRow`] reads, in order.
pub(crate) const MESSAGE_COLUMNS: &str = "id, conversation_id, channel, external_conversation_id, \
     platform_message_id, direction, role, status, sender, body, in_reply_to, created_at_ms, input_tokens, output_tokens";

/// Associated data for a message body: a body moved to another conversation will not open.
///
/// Built from (channel, external id) rather than the row id so PostgreSQL can seal a body before
/// the single statement that creates its conversation runs.
pub(crate) fn body_context(channel: &str, external_conversation_id: &str) -> String {
    format!("messages.body:{}:{channel}:{external_conversation_id}", channel.len())
}

impl MessageRow {
    pub(crate) fn decode(self, shared: &Shared, op: &'static str) -> Result<StoredMessage, StoreError> {
        Ok(StoredMessage {
            id: MessageId(self.id),
            conversation_id: ConversationId(self.conversation_id),
            body: shared.sealer.open_text(
                &self.body,
                &body_context(&self.channel, &self.external_conversation_id),
                op,
            )?,
            channel: self.channel,
            platform_message_id: self.platform_message_id,
            direction: Direction::parse(&self.direction, op)?,
            role: Role::parse(&self.role, op)?,
            status: MessageStatus::parse(&self.status, op)?,
            sender: self.sender,
            in_reply_to: self.in_reply_to.map(MessageId),
            created_at_ms: self.created_at_ms,
            usage: match (self.input_tokens, self.output_tokens) {
                (None, None) => None,
                (input, output) => Some(TokenUsage {
                    input_tokens: input.unwrap_or(0).max(0) as u64,
                    output_tokens: output.unwrap_or(0).max(0) as u64,
                }),
            },
        })
    }
}

/// Conversations with their last activity: the later of the stored column and the newest message. Inbound
/// batches on PostgreSQL leave existing conversation rows alone (row locks would serialize them; see
/// `inbound_batch.rs`), so the newest message is the up-to-date answer. `messages_conversation_idx` makes the
/// lookup one index probe per conversation.
pub(crate) const SELECT_CONVERSATIONS: &str = "SELECT id, channel, external_id, created_at_ms, \
     CASE WHEN newest_message_at_ms > last_activity_at_ms THEN newest_message_at_ms ELSE last_activity_at_ms END \
     FROM (SELECT c.id, c.channel, c.external_id, c.created_at_ms, c.last_activity_at_ms, \
         COALESCE((SELECT m.created_at_ms FROM messages m WHERE m.conversation_id = c.id ORDER BY m.id DESC LIMIT 1), 0) \
         AS newest_message_at_ms \
     FROM conversations c) AS conversation";

pub(crate) const UPSERT_CONVERSATION: &str = "INSERT INTO conversations (channel, external_id, created_at_ms, last_activity_at_ms) \
     VALUES ($1, $2, $3, $3) \
     ON CONFLICT (channel, external_id) DO UPDATE SET last_activity_at_ms = excluded.last_activity_at_ms \
     RETURNING id";

/// Conversations and message history.
#[derive(Clone)]
pub struct Conversations {
    shared: Shared,
}

impl Conversations {
    pub(crate) fn new(shared: Shared) -> Conversations {
        Conversations { shared }
    }

    pub(super) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The conversation for (channel, external id), created when first seen.
    pub async fn get_or_create(&self, channel: &str, external_id: &str) -> Result<ConversationId, StoreError> {
        let op = "get or create conversation";
        let id: i64 = on_db!(&self.shared.db, pool => sqlx::query_scalar(UPSERT_CONVERSATION)
            .bind(channel)
            .bind(external_id)
            .bind(now_ms())
            .fetch_one(pool)
            .await)
        .map_err(StoreError::query(op))?;
        Ok(ConversationId(id))
    }

    pub async fn get(&self, id: ConversationId) -> Result<Option<Conversation>, StoreError> {
        let op = "get conversation";
        let sql = format!("{SELECT_CONVERSATIONS} WHERE id = $1");
        let row: Option<(i64, String, String, i64, i64)> = on_db_read!(&self.shared.db, pool => sqlx::query_as(
            sqlx::AssertSqlSafe(sql),
        )
        .bind(id.0)
        .fetch_optional(pool)
        .await)
        .map_err(StoreError::query(op))?;
        Ok(row.map(conversation_from_row))
    }

    /// Most recently active first.
    pub async fn list(&self, limit: i64) -> Result<Vec<Conversation>, StoreError> {
        let op = "list conversations";
        let sql = format!("{SELECT_CONVERSATIONS} ORDER BY 5 DESC, id DESC LIMIT $1");
        let rows: Vec<(i64, String, String, i64, i64)> = on_db_read!(&self.shared.db, pool => sqlx::query_as(
            sqlx::AssertSqlSafe(sql),
        )
        .bind(limit)
        .fetch_all(pool)
        .await)
        .map_err(StoreError::query(op))?;
        Ok(rows.into_iter().map(conversation_from_row).collect())
    }

    /// Adds a message to a conversation's history.
    pub async fn append(
        &self,
        conversation_id: ConversationId,
        message: &NewMessage<'_>,
    ) -> Result<MessageId, StoreError> {
        let op = "append message";
        let conversation = self.get(conversation_id).await?.ok_or(StoreError::NotFound {
            op,
            what: "conversation",
            id: conversation_id.to_string(),
        })?;
        let body = self
            .shared
            .sealer
            .seal(message.body.as_bytes(), &body_context(&conversation.channel, &conversation.external_id));
        let id: i64 = on_db!(&self.shared.db, pool => sqlx::query_scalar(
            "INSERT INTO messages (conversation_id, channel, external_conversation_id, direction, role, status, sender, body, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(conversation_id.0)
        .bind(&conversation.channel)
        .bind(&conversation.external_id)
        .bind(message.direction.as_str())
        .bind(message.role.as_str())
        .bind(message.status.as_str())
        .bind(message.sender)
        .bind(&body)
        .bind(now_ms())
        .fetch_all(pool)
        .await
        .and_then(|rows| returned_row(rows).ok_or(sqlx::Error::RowNotFound)))
        .map_err(StoreError::query(op))?;
        Ok(MessageId(id))
    }

    /// The last `limit` messages, oldest first, as the prompt builder wants them.
    pub async fn history(&self, conversation_id: ConversationId, limit: i64) -> Result<Vec<StoredMessage>, StoreError> {
        let op = "load history";
        let sql = format!(
            "SELECT * FROM (SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 ORDER BY id DESC LIMIT $2) \
             AS recent ORDER BY id"
        );
        let rows: Vec<MessageRow> = on_db_read!(&self.shared.db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(conversation_id.0)
        .bind(limit)
        .fetch_all(pool)
        .await)
        .map_err(StoreError::query(op))?;
        rows.into_iter().map(|row| row.decode(&self.shared, op)).collect()
    }

    /// Messages newer than `after`, oldest first (at most the newest `limit`): what a turn adds to the history
    /// its session already holds, so a turn reads and decrypts only new rows.
    pub async fn history_after(
        &self,
        conversation_id: ConversationId,
        after: MessageId,
        limit: i64,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let op = "load new history";
        let sql = format!(
            "SELECT * FROM (SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND id > $2 \
             ORDER BY id DESC LIMIT $3) AS recent ORDER BY id"
        );
        // Every turn, for the few rows since the last one: on SQLite this read goes to the writer connection, whose
        // page cache holds those rows. Any commit empties every other connection's cache, so on a reader it would
        // fetch and decrypt (SQLCipher) each page again. Only for reads of a few rows: while one runs, writes wait.
        let rows: Vec<MessageRow> = on_db!(&self.shared.db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(conversation_id.0)
        .bind(after.0)
        .bind(limit)
        .fetch_all(pool)
        .await)
        .map_err(StoreError::query(op))?;
        rows.into_iter().map(|row| row.decode(&self.shared, op)).collect()
    }

    /// Inbound messages of every conversation stored after `after`, oldest first: the feed of event routines.
    pub async fn inbound_after(&self, after: MessageId, limit: i64) -> Result<Vec<StoredMessage>, StoreError> {
        let op = "load new inbound messages";
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE direction = 'inbound' AND id > $1 ORDER BY id LIMIT $2"
        );
        let rows: Vec<MessageRow> = on_db_read!(&self.shared.db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(after.0)
        .bind(limit)
        .fetch_all(pool)
        .await)
        .map_err(StoreError::query(op))?;
        rows.into_iter().map(|row| row.decode(&self.shared, op)).collect()
    }

    /// The newest message id (0 when there is none), where a node's event feed starts.
    pub async fn last_message_id(&self) -> Result<MessageId, StoreError> {
        let op = "find the last message";
        let id: Option<i64> = on_db_read!(&self.shared.db, pool => sqlx::query_scalar("SELECT max(id) FROM messages")
            .fetch_one(pool)
            .await)
        .map_err(StoreError::query(op))?;
        Ok(MessageId(id.unwrap_or(0)))
    }

    /// The channel an inbound message came in on, or `None` when there is no inbound message `message_id`.
    pub async fn inbound_channel(&self, message_id: MessageId) -> Result<Option<String>, StoreError> {
        let op = "find an inbound message";
        on_db_read!(&self.shared.db, pool => sqlx::query_scalar(
            "SELECT channel FROM messages WHERE id = $1 AND direction = 'inbound'")
            .bind(message_id.0)
            .fetch_optional(pool)
            .await)
        .map_err(StoreError::query(op))
    }

    /// Marks an inbound message processed (or failed) once its turn is over.
    pub async fn set_status(&self, message_id: MessageId, status: MessageStatus) -> Result<(), StoreError> {
        let op = "set message status";
        let done = on_db!(&self.shared.db, pool => sqlx::query("UPDATE messages SET status = $2 WHERE id = $1")
            .bind(message_id.0)
            .bind(status.as_str())
            .execute(pool)
            .await.map(|result| result.rows_affected()))
        .map_err(StoreError::query(op))?;
        if done == 0 {
            return Err(StoreError::NotFound { op, what: "message", id: message_id.to_string() });
        }
        Ok(())
    }

    /// Inbound messages stored but not yet handled: what a restarted node must still answer.
    pub async fn unprocessed(&self, limit: i64) -> Result<Vec<StoredMessage>, StoreError> {
        let op = "list unprocessed messages";
        let sql = format!("SELECT {MESSAGE_COLUMNS} {UNPROCESSED_FILTER}");
        let rows: Vec<MessageRow> = on_db_read!(&self.shared.db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(limit)
        .fetch_all(pool)
        .await)
        .map_err(StoreError::query(op))?;
        rows.into_iter().map(|row| row.decode(&self.shared, op)).collect()
    }
}

pub(crate) fn conversation_from_row(row: (i64, String, String, i64, i64)) -> Conversation {
    let (id, channel, external_id, created_at_ms, last_activity_at_ms) = row;
    Conversation { id: ConversationId(id), channel, external_id, created_at_ms, last_activity_at_ms }
}
