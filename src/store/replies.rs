//! Turn bookkeeping: which inbound messages still await an answer, and filing the answer exactly once.

use super::columns::MessageStatus;
use super::conversations::{MessageRow, body_context};
use super::db::{BeginWrite, now_ms, on_db, on_db_read};
use super::{ConversationId, Conversations, MessageId, Outbox, OutboxId, QueuedReply, StoreError, StoredMessage};

const MESSAGE_COLUMNS: &str = "id, conversation_id, channel, external_conversation_id, platform_message_id, direction, \
     role, status, sender, body, created_at_ms";

impl Outbox {
    /// Files the answer to inbound message `in_reply_to`: the assistant message, its outbox entry and the inbound
    /// message's new status (`processed` or `failed`) commit together.
    ///
    /// A second call for the same inbound message returns the reply already filed instead of a new one, so a turn
    /// that is re-run after a crash never sends twice.
    pub async fn enqueue_reply_to(
        &self,
        conversation_id: ConversationId,
        in_reply_to: MessageId,
        body: &str,
        inbound_status: MessageStatus,
    ) -> Result<QueuedReply, StoreError> {
        let op = "file reply";
        let now = now_ms();
        let shared = self.shared();
        on_db!(&shared.db, pool => {
            let mut tx = pool.begin_write().await.map_err(StoreError::query(op))?;
            let existing: Option<(i64, i64)> = sqlx::query_as(
                "SELECT m.id, o.id FROM messages m JOIN outbox o ON o.message_id = m.id WHERE m.in_reply_to = $1",
            )
            .bind(in_reply_to.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::query(op))?;
            if let Some((message_id, outbox_id)) = existing {
                return Ok(QueuedReply { message_id: MessageId(message_id), outbox_id: OutboxId(outbox_id) });
            }
            let conversation: Option<(String, String)> =
                sqlx::query_as("SELECT channel, external_id FROM conversations WHERE id = $1")
                    .bind(conversation_id.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::query(op))?;
            let (channel, external_conversation_id) =
                conversation.ok_or(StoreError::NotFound { op, what: "conversation", id: conversation_id.to_string() })?;
            let sealed = shared.sealer.seal(body.as_bytes(), &body_context(&channel, &external_conversation_id));
            let message_id: i64 = sqlx::query_scalar(
                "INSERT INTO messages (conversation_id, channel, external_conversation_id, direction, role, status, body, \
                 created_at_ms, in_reply_to) VALUES ($1, $2, $3, 'outbound', 'assistant', 'pending', $4, $5, $6) RETURNING id",
            )
            .bind(conversation_id.0)
            .bind(&channel)
            .bind(&external_conversation_id)
            .bind(&sealed)
            .bind(now)
            .bind(in_reply_to.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::query(op))?;
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
            sqlx::query("UPDATE messages SET status = $2 WHERE id = $1")
                .bind(in_reply_to.0)
                .bind(inbound_status.as_str())
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(op))?;
            tx.commit().await.map_err(StoreError::query(op))?;
            Ok(QueuedReply { message_id: MessageId(message_id), outbox_id: OutboxId(outbox_id) })
        })
    }
}

impl Conversations {
    /// Inbound messages of one conversation that were stored but never answered, oldest first.
    pub async fn unanswered(&self, conversation_id: ConversationId) -> Result<Vec<StoredMessage>, StoreError> {
        let op = "list unanswered messages";
        let shared = self.shared();
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND direction = 'inbound' \
             AND status = 'received' ORDER BY id"
        );
        let rows: Vec<MessageRow> = on_db_read!(&shared.db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(conversation_id.0)
            .fetch_all(pool)
            .await)
        .map_err(StoreError::query(op))?;
        rows.into_iter().map(|row| row.decode(shared, op)).collect()
    }

    /// The reply filed for inbound message `message_id` and its outbox entry, once the turn has finished.
    pub async fn reply_to(&self, message_id: MessageId) -> Result<Option<(StoredMessage, OutboxId)>, StoreError> {
        let op = "find reply";
        let shared = self.shared();
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE in_reply_to = $1");
        let row: Option<MessageRow> = on_db_read!(&shared.db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(message_id.0)
            .fetch_optional(pool)
            .await)
        .map_err(StoreError::query(op))?;
        let Some(row) = row else { return Ok(None) };
        let message = row.decode(shared, op)?;
        let outbox_id: i64 =
            on_db_read!(&shared.db, pool => sqlx::query_scalar("SELECT id FROM outbox WHERE message_id = $1")
            .bind(message.id.0)
            .fetch_one(pool)
            .await)
            .map_err(StoreError::query(op))?;
        Ok(Some((message, OutboxId(outbox_id))))
    }
}
