//! A batch of turn writes as one command on the SQLite writer thread.
//!
//! sqlx runs each command on the thread that owns the connection and hands its rows back to the async side, so a
//! batch written command by command (see `turn_write_batch`) costs two thread wake-ups per write, and the gathering
//! task, which waits for each answer, queues behind every other ready task before it sends the next. Under load
//! that chain, not the CPU, bounded the commit rate: at 256 conversations the cores sat a fifth idle. Here a batch
//! goes as JSON arrays to one fixed script (`BATCH_SCRIPT`, prepared once): all inbound messages, then all replies
//! with their outbox entries and the answered messages' statuses, then all delivery marks, in one transaction.
//!
//! Writes that share a batch were all queued before any of them committed, so any order among them is one their
//! callers could have seen; each caller still gets the id of the conversation's message before its own, read in
//! the same statement that stored it. Rows come back tagged with what they are and are matched to writes by key,
//! the first write in queue order first: a second write of the same message or of a second reply to the same
//! message finds nothing, exactly as it would have after the first in a batch of its own.

use std::collections::{HashMap, HashSet};

use sqlx::SqlitePool;

use super::sqlite_script::{ScriptConnection, TransactionPart};
use super::turn_write_batch::{ReplyWrite, TurnWrite, TurnWritten};

/// Whether `write` can go into the script. A reply is found again by the message it answers, so one that answers
/// none is written by the per-write path.
pub(super) fn fits(write: &TurnWrite) -> bool {
    !matches!(write, TurnWrite::Reply(ReplyWrite { in_reply_to: None, .. }))
}

/// A row the script returns: what it is (one of the `KIND_` constants, which `BATCH_SCRIPT` writes as the first
/// `RETURNING` column of each statement), then that kind's fields.
type Returned = (i64, i64, Option<i64>, Option<i64>, Option<String>, Option<String>);

/// An inbound message the script stored: its channel and platform message id, then its id, its conversation's and
/// the id of the message before it.
type StoredInbound = (String, String, (i64, i64, Option<i64>));

const KIND_INBOUND: i64 = 0;
const KIND_REPLY: i64 = 1;
const KIND_OUTBOX: i64 = 2;
const KIND_MARK: i64 = 3;

/// Runs `writes` (each of which [`fits`]) as one transaction in one command and returns what each returned, in
/// queue order, as the per-write path would have.
pub(super) async fn write_batch(writer: &SqlitePool, writes: &[TurnWrite]) -> Result<Vec<TurnWritten>, sqlx::Error> {
    // Tuples serialize as JSON arrays, borrowing the writes' text.
    let (mut inbound, mut replies, mut marks) = (Vec::new(), Vec::new(), Vec::new());
    let mut marked_at_ms = i64::MAX;
    for write in writes {
        match write {
            TurnWrite::Inbound(row) => inbound.push((
                &row.channel,
                &row.external_conversation_id,
                &row.platform_message_id,
                &row.sender,
                hex::encode(&row.body),
                row.now_ms,
            )),
            TurnWrite::Reply(reply) => replies.push((
                reply.conversation_id,
                &reply.channel,
                &reply.external_conversation_id,
                hex::encode(&reply.sealed),
                reply.now_ms,
                reply.in_reply_to,
                reply.input_tokens,
                reply.output_tokens,
                reply.answered_status,
            )),
            TurnWrite::Mark(mark) => {
                // A mark's time is the earliest of the batch's: they were all handed over by then.
                marked_at_ms = marked_at_ms.min(mark.at_ms);
                marks.push((mark.outbox_id, &mark.platform_message_id));
            }
        }
    }
    let query = sqlx::query_as(BATCH_SCRIPT)
        .bind(json_rows(&inbound)?)
        .bind(json_rows(&replies)?)
        .bind(json_rows(&marks)?)
        .bind(marked_at_ms);
    let mut connection = ScriptConnection::acquire(writer).await?;
    let returned: Vec<Returned> = connection.fetch_part(query, TransactionPart::Whole).await?;
    Ok(match_to_writes(writes, returned))
}

/// `rows` as the JSON array of arrays `BATCH_SCRIPT` reads.
fn json_rows(rows: &impl serde::Serialize) -> Result<String, sqlx::Error> {
    serde_json::to_string(rows).map_err(|error| sqlx::Error::Encode(Box::new(error)))
}

/// What each write returned, in queue order, from the script's rows.
fn match_to_writes(writes: &[TurnWrite], returned: Vec<Returned>) -> Vec<TurnWritten> {
    // A batch is small, so the stored inbound messages are a list searched by channel and platform message id.
    let mut inbound: Vec<StoredInbound> = Vec::new();
    let mut replies: HashMap<i64, (i64, Option<i64>)> = HashMap::new();
    let mut outbox: HashMap<i64, i64> = HashMap::new();
    let mut marked: HashSet<i64> = HashSet::new();
    for (kind, id, other, follows, channel, platform_message_id) in returned {
        match (kind, other, channel, platform_message_id) {
            (KIND_INBOUND, Some(conversation_id), Some(channel), Some(platform_message_id)) => {
                inbound.push((channel, platform_message_id, (id, conversation_id, follows)));
            }
            (KIND_REPLY, Some(in_reply_to), ..) => {
                replies.insert(in_reply_to, (id, follows));
            }
            (KIND_OUTBOX, Some(message_id), ..) => {
                outbox.insert(message_id, id);
            }
            (KIND_MARK, ..) => {
                marked.insert(id);
            }
            unexpected => tracing::warn!(?unexpected, "the turn-write script returned a row it does not write"),
        }
    }
    writes
        .iter()
        .map(|write| match write {
            TurnWrite::Inbound(row) => TurnWritten::Inbound(
                inbound
                    .iter()
                    .position(|(channel, platform_message_id, _)| {
                        *channel == row.channel && *platform_message_id == row.platform_message_id
                    })
                    .map(|found| inbound.swap_remove(found).2),
            ),
            TurnWrite::Reply(reply) => TurnWritten::Reply(reply.in_reply_to.and_then(|answered| {
                let (message_id, follows) = replies.remove(&answered)?;
                Some((message_id, *outbox.get(&message_id)?, follows))
            })),
            TurnWrite::Mark(mark) => TurnWritten::Mark(marked.contains(&mark.outbox_id)),
        })
        .collect()
}

/// The id of the conversation's message before the one just stored (its `follows`), as a `RETURNING` column.
macro_rules! follows_sql {
    () => {
        "(SELECT max(earlier.id) FROM messages earlier \
          WHERE earlier.conversation_id = messages.conversation_id AND earlier.id < messages.id)"
    };
}

/// The batch's writes: `$1` inbound messages `[channel, external conversation id, platform message id, sender, body
/// (hex), now]`, `$2` replies `[conversation id, channel, external conversation id, body (hex), now, answered
/// message, input tokens, output tokens, answered message's new status]`, `$3` delivery marks `[outbox id, platform
/// message id]` at `$4`. Each statement keeps its single-write counterpart's rules (see `turn_write_batch`): an
/// inbound message joins only a conversation that exists and is stored once; a message gets one reply, and an
/// outbox entry goes with the reply this batch stored (its sealed body is unique), never with one filed earlier;
/// the answered message's status is set either way, the last write's when two set it.
const BATCH_SCRIPT: &str = concat!(
    "BEGIN IMMEDIATE; ",
    "INSERT INTO messages (conversation_id, channel, external_conversation_id, platform_message_id, direction, \
     role, status, sender, body, created_at_ms) \
     SELECT c.id, c.channel, c.external_id, json_extract(w.value, '$[2]'), 'inbound', 'user', 'received', \
         json_extract(w.value, '$[3]'), unhex(json_extract(w.value, '$[4]')), json_extract(w.value, '$[5]') \
     FROM json_each($1) w \
     JOIN conversations c \
         ON c.channel = json_extract(w.value, '$[0]') AND c.external_id = json_extract(w.value, '$[1]') \
     WHERE true ORDER BY w.key \
     ON CONFLICT (channel, platform_message_id) DO NOTHING \
     RETURNING 0, id, conversation_id, ",
    follows_sql!(),
    ", channel, platform_message_id; ",
    "INSERT INTO messages (conversation_id, channel, external_conversation_id, direction, role, status, body, \
     created_at_ms, in_reply_to, input_tokens, output_tokens) \
     SELECT json_extract(w.value, '$[0]'), json_extract(w.value, '$[1]'), json_extract(w.value, '$[2]'), \
         'outbound', 'assistant', 'pending', unhex(json_extract(w.value, '$[3]')), json_extract(w.value, '$[4]'), \
         json_extract(w.value, '$[5]'), json_extract(w.value, '$[6]'), json_extract(w.value, '$[7]') \
     FROM json_each($2) w WHERE true ORDER BY w.key \
     ON CONFLICT (in_reply_to) DO NOTHING \
     RETURNING 1, id, in_reply_to, ",
    follows_sql!(),
    ", NULL, NULL; ",
    "INSERT INTO outbox (message_id, channel, external_conversation_id, next_attempt_at_ms, created_at_ms) \
     SELECT m.id, m.channel, m.external_conversation_id, json_extract(w.value, '$[4]'), json_extract(w.value, '$[4]') \
     FROM json_each($2) w \
     JOIN messages m \
         ON m.in_reply_to = json_extract(w.value, '$[5]') AND m.body = unhex(json_extract(w.value, '$[3]')) \
     WHERE true ORDER BY w.key \
     ON CONFLICT (message_id) DO NOTHING \
     RETURNING 2, id, message_id, NULL, NULL, NULL; ",
    // One pass over the replies: with `max(key)` the bare `status` column is the last write's (SQLite's rule for a
    // lone min/max aggregate). A subquery per answered message would read the whole array once per message.
    "UPDATE messages SET status = answered.status \
     FROM (SELECT json_extract(value, '$[5]') AS id, json_extract(value, '$[8]') AS status, max(key) \
           FROM json_each($2) WHERE json_extract(value, '$[8]') IS NOT NULL GROUP BY 1) AS answered \
     WHERE messages.id = answered.id; ",
    "UPDATE outbox SET delivered_at_ms = COALESCE(delivered_at_ms, $4), lease_until_ms = NULL \
     WHERE id IN (SELECT json_extract(value, '$[0]') FROM json_each($3)) \
     RETURNING 3, id, NULL, NULL, NULL, NULL; ",
    "UPDATE messages SET status = 'delivered', \
         platform_message_id = COALESCE(marks.platform_message_id, messages.platform_message_id) \
     FROM (SELECT o.message_id, json_extract(j.value, '$[1]') AS platform_message_id \
           FROM json_each($3) j JOIN outbox o ON o.id = json_extract(j.value, '$[0]')) AS marks \
     WHERE messages.id = marks.message_id; ",
    "COMMIT"
);
