//! Group commit for inbound messages on PostgreSQL: concurrent `record_inbound` calls share one statement and one commit.
//!
//! Every caller still gets its own `Inserted` or `Duplicate`, and only after the commit that made
//! its row durable. One batch is in flight at a time: what arrives while it commits goes out together
//! in the next one, so the batch size follows the load and a lone caller pays one channel hop.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sqlx::{PgConnection, PgPool};
use tokio::sync::mpsc;

use super::group_commit::{Gathered, Gathering, Pending, gather, submit};
use super::writer_connection::WriterConnection;
use super::{ConversationId, InboundOutcome, MessageId, StoreError};

/// Largest number of messages written by one statement.
const MAX_BATCH: usize = 256;
/// How often the writer yields while waiting for a batch as large as its previous one (microseconds in all).
const MAX_YIELDS: usize = 64;
const OP: &str = "record inbound message";

/// One inbound message ready to write; the body is already sealed.
pub(crate) struct InboundRow {
    pub(crate) channel: String,
    pub(crate) external_conversation_id: String,
    pub(crate) platform_message_id: String,
    pub(crate) sender: Option<String>,
    pub(crate) body: Vec<u8>,
    pub(crate) now_ms: i64,
}

/// A row and the caller waiting for its outcome.
type PendingInbound = Pending<InboundRow, InboundOutcome>;

/// Handle to the writer task; the task ends when the last handle is dropped.
#[derive(Clone)]
pub(crate) struct InboundBatcher {
    sender: mpsc::Sender<PendingInbound>,
}

impl InboundBatcher {
    pub(crate) fn spawn(pool: PgPool) -> InboundBatcher {
        let (sender, receiver) = mpsc::channel(MAX_BATCH * 4);
        tokio::spawn(run(pool, receiver));
        InboundBatcher { sender }
    }

    /// Queues the row for the next batch and waits until that batch committed (or failed).
    pub(crate) async fn submit(&self, row: InboundRow) -> Result<InboundOutcome, StoreError> {
        submit(&self.sender, row, OP).await
    }
}

/// The writer: gathers what is queued (see [`gather`]) and writes it in one statement, on a connection it keeps
/// while there is work (see [`WriterConnection`]).
///
/// One batch at a time, because a commit waits for its WAL flush and PostgreSQL flushes one after the other:
/// a second batch in flight only splits the callers that would have shared the next flush. With 16 concurrent
/// callers, two writers made batches of 7 on average and wrote 22–26k rows/s using 78 % of the machine's two
/// cores; one writer makes batches of 16 and wrote 29–30k rows/s using 44 % (docs/storage.md).
async fn run(pool: PgPool, mut receiver: mpsc::Receiver<PendingInbound>) {
    let gathering = Gathering { max_batch: MAX_BATCH, max_yields: MAX_YIELDS };
    let mut connection = WriterConnection::new(pool.clone());
    let mut previous_size = 1;
    loop {
        match gather(&mut receiver, previous_size, gathering, connection.idle()).await {
            Gathered::Batch(batch) => {
                previous_size = batch.len();
                write_batch(&pool, &mut connection, batch).await;
            }
            Gathered::Idle => connection.release(),
            Gathered::Closed => return,
        }
    }
}

/// The common batch in one statement: messages of conversations that already exist are inserted, and
/// redeliveries are found and reported (`false`) from the statement's own snapshot, so a batch with a repeated
/// platform id needs no second query. Rows in neither part belong to new conversations (or raced another batch):
/// [`INSERT_BATCH`] writes those. Rows are inserted in (channel, platform id) order so overlapping batches cannot
/// deadlock; no conversation row is locked or updated.
///
/// Conversations and stored messages are looked up row by row through their unique indexes (`LATERAL` with
/// `LIMIT 1`, which the planner cannot turn into a hash join). A plain join let the planner pick a sequential
/// scan and hash join while the tables were small, and PostgreSQL keeps that generic plan for the prepared
/// statement until the table is analyzed again: without autovacuum, on a table grown to 200k rows, every batch
/// read the whole `messages` table (35 ms instead of well under 1 ms).
const INSERT_INTO_KNOWN: &str = "WITH input AS ( \
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[]) \
         AS t(channel, external_id, platform_message_id, sender, body)), \
     inserted AS ( \
         INSERT INTO messages (conversation_id, channel, external_conversation_id, platform_message_id, \
             direction, role, status, sender, body, created_at_ms) \
         SELECT c.id, i.channel, i.external_id, i.platform_message_id, 'inbound', 'user', 'received', i.sender, \
             i.body, $6 \
         FROM input i CROSS JOIN LATERAL ( \
             SELECT id FROM conversations WHERE channel = i.channel AND external_id = i.external_id LIMIT 1) c \
         ORDER BY i.channel, i.platform_message_id \
         ON CONFLICT (channel, platform_message_id) DO NOTHING \
         RETURNING id, conversation_id, channel, platform_message_id) \
     SELECT id, conversation_id, channel, platform_message_id, true FROM inserted \
     UNION ALL \
     SELECT m.id, m.conversation_id, m.channel, m.platform_message_id, false \
     FROM (SELECT DISTINCT channel, platform_message_id FROM input) k CROSS JOIN LATERAL ( \
         SELECT id, conversation_id, channel, platform_message_id FROM messages \
         WHERE channel = k.channel AND platform_message_id = k.platform_message_id LIMIT 1) m";

/// New rows are inserted in (channel, platform id) order and new conversations in (channel, external
/// id) order, so two nodes writing overlapping batches lock rows in the same order and cannot deadlock.
///
/// Existing conversation rows are only read, never updated: concurrent batches of the same chats would
/// otherwise queue on those row locks until each other's commit, and a batch pipeline would run one batch at a
/// time. A conversation's last activity is read from its newest message instead (see `conversations.rs`).
/// A conversation created by another transaction after this statement's snapshot is neither inserted nor
/// seen here; its messages are left out and [`write_batch`] writes them again on their own.
/// Stored messages and conversations are looked up by index, row by row, as in [`INSERT_INTO_KNOWN`].
const INSERT_BATCH: &str = "WITH input AS ( \
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[]) \
         WITH ORDINALITY AS t(channel, external_id, platform_message_id, sender, body, ordinal)), \
     fresh AS ( \
         SELECT DISTINCT ON (i.channel, i.platform_message_id) i.* FROM input i LEFT JOIN LATERAL ( \
             SELECT true AS stored FROM messages m \
             WHERE m.channel = i.channel AND m.platform_message_id = i.platform_message_id LIMIT 1) m ON true \
         WHERE m.stored IS NULL \
         ORDER BY i.channel, i.platform_message_id, i.ordinal), \
     wanted AS (SELECT DISTINCT channel, external_id FROM fresh), \
     known AS ( \
         SELECT c.id, w.channel, w.external_id FROM wanted w CROSS JOIN LATERAL ( \
             SELECT id FROM conversations WHERE channel = w.channel AND external_id = w.external_id LIMIT 1) c), \
     created AS ( \
         INSERT INTO conversations (channel, external_id, created_at_ms, last_activity_at_ms) \
         SELECT w.channel, w.external_id, $6::bigint, $6::bigint FROM wanted w \
         WHERE NOT EXISTS (SELECT 1 FROM known k WHERE k.channel = w.channel AND k.external_id = w.external_id) \
         ORDER BY w.channel, w.external_id \
         ON CONFLICT (channel, external_id) DO NOTHING \
         RETURNING id, channel, external_id), \
     conversation AS (SELECT * FROM known UNION ALL SELECT * FROM created) \
     INSERT INTO messages (conversation_id, channel, external_conversation_id, platform_message_id, \
         direction, role, status, sender, body, created_at_ms) \
     SELECT c.id, f.channel, f.external_id, f.platform_message_id, 'inbound', 'user', 'received', f.sender, f.body, $6 \
     FROM fresh f JOIN conversation c ON c.channel = f.channel AND c.external_id = f.external_id \
     ORDER BY f.channel, f.platform_message_id \
     ON CONFLICT (channel, platform_message_id) DO NOTHING \
     RETURNING id, conversation_id, channel, platform_message_id";

/// Looks each key up on its own (see [`INSERT_INTO_KNOWN`] on why the lookups are `LATERAL … LIMIT 1`).
const FIND_EXISTING: &str = "SELECT m.id, m.conversation_id, m.channel, m.platform_message_id \
     FROM unnest($1::text[], $2::text[]) AS k(channel, platform_message_id) CROSS JOIN LATERAL ( \
         SELECT id, conversation_id, channel, platform_message_id FROM messages \
         WHERE channel = k.channel AND platform_message_id = k.platform_message_id LIMIT 1) m";

type Key = (String, String);
type Ids = (i64, i64);

/// Writes the batch and answers its callers. After a failed statement the connection goes back to the pool,
/// which checks it, so a connection the server dropped is not used for the next batch.
async fn write_batch(pool: &PgPool, connection: &mut WriterConnection, batch: Vec<PendingInbound>) {
    let written = match connection.get().await {
        Ok(held) => insert(held, &batch).await,
        Err(error) => Err(error),
    };
    if written.is_err() {
        connection.release();
    }
    match written {
        Ok(Written { inserted, mut existing }) => {
            let missing: Vec<&InboundRow> = batch
                .iter()
                .map(|p| &p.row)
                .filter(|row| !inserted.contains_key(&key(row)) && !existing.contains_key(&key(row)))
                .collect();
            let found = if missing.is_empty() { Ok(HashMap::new()) } else { find_existing(pool, &missing).await };
            let found = found.map(|found| {
                existing.extend(found);
                existing
            });
            // The same platform id twice in one batch: the first caller inserted it, the rest are redeliveries.
            let mut reported = HashSet::new();
            for pending in batch {
                let outcome = match inserted.get(&key(&pending.row)) {
                    Some(ids) => Ok(outcome(*ids, reported.insert(key(&pending.row)))),
                    None => match &found {
                        Ok(found) => match found.get(&key(&pending.row)) {
                            Some(ids) => Ok(outcome(*ids, false)),
                            // Its conversation was created by a concurrent batch after this one's snapshot.
                            None => record_one(pool, &pending.row).await,
                        },
                        Err(error) => Err(shared_error(error)),
                    },
                };
                // The caller may have given up waiting; its row is stored regardless.
                let _ = pending.reply.send(outcome);
            }
        }
        Err(error) if super::error::is_transient(&error) => {
            tracing::debug!(size = batch.len(), %error, "inbound batch failed; callers will retry");
            let error = Arc::new(error);
            for pending in batch {
                let _ = pending.reply.send(Err(shared_error(&error)));
            }
        }
        // Bad input in one message must not fail the others: write each on its own.
        Err(error) => {
            tracing::debug!(size = batch.len(), %error, "inbound batch rejected; writing one by one");
            for pending in batch {
                let outcome = record_one(pool, &pending.row).await;
                let _ = pending.reply.send(outcome);
            }
        }
    }
}

fn key(row: &InboundRow) -> Key {
    (row.channel.clone(), row.platform_message_id.clone())
}

fn outcome((message_id, conversation_id): Ids, inserted: bool) -> InboundOutcome {
    let (conversation_id, message_id) = (ConversationId(conversation_id), MessageId(message_id));
    if inserted {
        InboundOutcome::Inserted { conversation_id, message_id, follows: None }
    } else {
        InboundOutcome::Duplicate { conversation_id, message_id }
    }
}

fn shared_error(error: &Arc<sqlx::Error>) -> StoreError {
    StoreError::QueryShared { op: OP, retryable: super::error::is_transient(error), source: error.clone() }
}

/// What a batch's statements found: the rows they inserted and the rows already stored.
struct Written {
    inserted: HashMap<Key, Ids>,
    existing: HashMap<Key, Ids>,
}

async fn insert(connection: &mut PgConnection, batch: &[PendingInbound]) -> Result<Written, sqlx::Error> {
    let rows: Vec<&InboundRow> = batch.iter().map(|pending| &pending.row).collect();
    let now = rows.iter().map(|row| row.now_ms).max().unwrap_or_default();
    let mut written = Written { inserted: HashMap::new(), existing: HashMap::new() };
    let known: Vec<(i64, i64, String, String, bool)> =
        bind_rows(sqlx::query_as(INSERT_INTO_KNOWN), &rows, now).fetch_all(&mut *connection).await?;
    for (id, conversation_id, channel, platform_id, inserted) in known {
        let target = if inserted { &mut written.inserted } else { &mut written.existing };
        target.insert((channel, platform_id), (id, conversation_id));
    }
    let new_conversations: Vec<&InboundRow> = rows
        .into_iter()
        .filter(|row| !written.inserted.contains_key(&key(row)) && !written.existing.contains_key(&key(row)))
        .collect();
    if !new_conversations.is_empty() {
        let created: Vec<(i64, i64, String, String)> =
            bind_rows(sqlx::query_as(INSERT_BATCH), &new_conversations, now).fetch_all(&mut *connection).await?;
        written.inserted.extend(
            created
                .into_iter()
                .map(|(id, conversation_id, channel, platform_id)| ((channel, platform_id), (id, conversation_id))),
        );
    }
    Ok(written)
}

/// Binds the batch's columns as the arrays both batch statements take ($1–$5) and the time ($6).
fn bind_rows<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    rows: &[&'q InboundRow],
    now: i64,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    query
        .bind(rows.iter().map(|row| row.channel.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|row| row.external_conversation_id.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|row| row.platform_message_id.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|row| row.sender.as_deref()).collect::<Vec<_>>())
        .bind(rows.iter().map(|row| row.body.as_slice()).collect::<Vec<_>>())
        .bind(now)
}

async fn find_existing(pool: &PgPool, missing: &[&InboundRow]) -> Result<HashMap<Key, Ids>, Arc<sqlx::Error>> {
    let rows: Vec<(i64, i64, String, String)> = sqlx::query_as(FIND_EXISTING)
        .bind(missing.iter().map(|row| row.channel.as_str()).collect::<Vec<_>>())
        .bind(missing.iter().map(|row| row.platform_message_id.as_str()).collect::<Vec<_>>())
        .fetch_all(pool)
        .await
        .map_err(Arc::new)?;
    Ok(rows
        .into_iter()
        .map(|(id, conversation_id, channel, platform_id)| ((channel, platform_id), (id, conversation_id)))
        .collect())
}

/// Upserts the conversation and inserts the message in one statement. A known platform id skips
/// the conversation upsert (redeliveries change nothing) and returns no row.
const RECORD_ONE: &str = "WITH conversation AS ( \
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

/// Writes one message without batching: one round trip, one commit.
pub(crate) async fn record_one(pool: &PgPool, row: &InboundRow) -> Result<InboundOutcome, StoreError> {
    let inserted: Option<Ids> = sqlx::query_as(RECORD_ONE)
        .bind(&row.channel)
        .bind(&row.external_conversation_id)
        .bind(&row.platform_message_id)
        .bind(&row.sender)
        .bind(&row.body)
        .bind(row.now_ms)
        .fetch_optional(pool)
        .await
        .map_err(StoreError::query(OP))?;
    if let Some(ids) = inserted {
        return Ok(outcome(ids, true));
    }
    let ids: Ids =
        sqlx::query_as("SELECT id, conversation_id FROM messages WHERE channel = $1 AND platform_message_id = $2")
            .bind(&row.channel)
            .bind(&row.platform_message_id)
            .fetch_one(pool)
            .await
            .map_err(StoreError::query(OP))?;
    Ok(outcome(ids, false))
}

#[cfg(test)]
mod tests {
    use super::{FIND_EXISTING, INSERT_BATCH, INSERT_INTO_KNOWN};
    use crate::store::generic_plans::generic_plans;

    /// PostgreSQL keeps a prepared statement's generic plan, made when the tables were small, until they are
    /// analyzed again; a sequential scan chosen then reads the whole table in every later batch. On a fresh,
    /// empty schema the generic plans must therefore already reach both tables through their indexes.
    #[tokio::test]
    async fn batch_statements_reach_messages_and_conversations_by_index_in_generic_plans() {
        let batch_arguments = "text[], text[], text[], text[], bytea[], bigint";
        let batch_values = "NULL, NULL, NULL, NULL, NULL, 0";
        let statements = [
            (INSERT_INTO_KNOWN, batch_arguments, batch_values),
            (INSERT_BATCH, batch_arguments, batch_values),
            (FIND_EXISTING, "text[], text[]", "NULL, NULL"),
        ];
        let Some(plans) = generic_plans("inbound", &statements).await else { return };
        for (name, plan) in ["known", "new", "find"].iter().zip(plans) {
            for table in ["messages", "conversations"] {
                assert!(!plan.contains(&format!("Seq Scan on {table}")), "{name} scans {table}:\n{plan}");
            }
        }
    }
}
