//! Turn bookkeeping: which inbound messages still await an answer, and the reply filed for one.

use super::conversations::{MESSAGE_COLUMNS, MessageRow};
use super::db::on_db_read;
use super::{ConversationId, Conversations, MessageId, OutboxId, StoreError, StoredMessage};

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

    /// The platform's id of a stored message (what a reply threads under), if it has one.
    pub async fn platform_message_id(&self, message_id: MessageId) -> Result<Option<String>, StoreError> {
        let op = "find platform message id";
        let shared = self.shared();
        let id: Option<Option<String>> =
            on_db_read!(&shared.db, pool => sqlx::query_scalar("SELECT platform_message_id FROM messages WHERE id = $1")
                .bind(message_id.0)
                .fetch_optional(pool)
                .await)
            .map_err(StoreError::query(op))?;
        Ok(id.flatten())
    }

    /// The inbound message a stored reply answers.
    pub async fn answered_by(&self, reply_id: MessageId) -> Result<Option<MessageId>, StoreError> {
        let op = "find answered message";
        let shared = self.shared();
        let id: Option<Option<i64>> =
            on_db_read!(&shared.db, pool => sqlx::query_scalar("SELECT in_reply_to FROM messages WHERE id = $1")
                .bind(reply_id.0)
                .fetch_optional(pool)
                .await)
            .map_err(StoreError::query(op))?;
        Ok(id.flatten().map(MessageId))
    }
}
