//! Group commit of a turn's writes on SQLite: inbound messages, filed replies and delivery marks queued while the
//! writer is busy share one transaction.
//!
//! Each was a commit of its own. A commit appends every page it touched to the WAL, and SQLCipher encrypts and
//! authenticates each of those pages: under load the newest pages of `messages` and `outbox` and their indexes
//! were encrypted and written again for every single message, which made the WAL appends over a third of the
//! single writer thread's time. Here the writes that queue behind a running batch go out together as one command
//! (`turn_write_script`), so a batch costs one commit and one round trip to the writer thread. A lone write, and a
//! batch holding a reply that answers no message, go command by command (the first also begins the transaction,
//! the last also commits it; all the batch's delivery marks are one command). Each caller is answered only once its
//! batch has committed.
//!
//! When a command of a batch fails, the batch is rolled back and its writes are retried one by one, so one bad
//! write fails only its own caller.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::StoreError;
use super::group_commit::{Gathered, Gathering, Pending, gather, submit};
use super::inbound_batch::InboundRow;
use super::outbox::insert_reply_sql;
use super::sqlite_script::{ScriptConnection, TransactionPart};
use super::turn_write_script;

/// Most writes one transaction carries.
const MAX_BATCH: usize = 64;
/// How often the gatherer yields while waiting for a batch as large as its previous one.
const MAX_YIELDS: usize = 8;
/// Longest a delivery mark nobody waits for is held for others to join it (a little longer under load: until the
/// batch in hand is written).
const LATER_WAIT: Duration = Duration::from_millis(20);

/// A reply with its outbox entry and the answered message's new status (see `outbox`).
pub(crate) struct ReplyWrite {
    pub(crate) conversation_id: i64,
    pub(crate) channel: String,
    pub(crate) external_conversation_id: String,
    pub(crate) sealed: Vec<u8>,
    pub(crate) now_ms: i64,
    pub(crate) in_reply_to: Option<i64>,
    pub(crate) input_tokens: Option<i64>,
    pub(crate) output_tokens: Option<i64>,
    pub(crate) answered_status: Option<&'static str>,
}

/// A reply to mark delivered (see `outbox`).
pub(crate) struct DeliveryMark {
    pub(crate) outbox_id: i64,
    pub(crate) platform_message_id: Option<String>,
    pub(crate) at_ms: i64,
}

/// One write of a turn.
pub(crate) enum TurnWrite {
    /// A new message for a conversation that may already exist (see `inbound`).
    Inbound(InboundRow),
    Reply(ReplyWrite),
    Mark(DeliveryMark),
}

/// What a write's statements returned: for an inbound message its id and its conversation's (none when the
/// conversation is new or the message a redelivery); for a reply its id and its outbox entry's (none when the
/// message already had a reply); for a delivery mark whether its outbox entry exists.
#[derive(Debug)]
pub(crate) enum TurnWritten {
    Inbound(Option<(i64, i64, Option<i64>)>),
    Reply(Option<(i64, i64, Option<i64>)>),
    Mark(bool),
}

/// A write's outcome as the gatherer sends it: a driver error is the write's own (a failed batch is rewritten write
/// by write), and the caller sorts it (disk full, read-only, transient) under its own operation's name.
type Outcome = Result<TurnWritten, sqlx::Error>;

type PendingWrite = Pending<TurnWrite, Outcome>;

/// Handle to the gathering task; it ends when the last handle is dropped.
#[derive(Clone, Debug)]
pub(crate) struct TurnWriteBatcher {
    writes: mpsc::Sender<PendingWrite>,
    /// Asks the gatherer to write the marks it holds now; answered once they are written.
    flushes: mpsc::Sender<oneshot::Sender<()>>,
}

impl TurnWriteBatcher {
    pub(crate) fn spawn(writer: SqlitePool) -> TurnWriteBatcher {
        let (writes, receiver) = mpsc::channel(MAX_BATCH * 4);
        let (flushes, flush_requests) = mpsc::channel(4);
        tokio::spawn(run(receiver, flush_requests, writer));
        TurnWriteBatcher { writes, flushes }
    }

    /// Writes the delivery marks queued by [`TurnWriteBatcher::write_later`] now (before the store closes).
    pub(crate) async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.flushes.send(done).await.is_ok() {
            let _ = written.await;
        }
    }

    /// Writes `write` in the next batch and returns what its statements returned once that batch committed.
    /// `op` names the caller's operation in its errors.
    pub(crate) async fn write(&self, write: TurnWrite, op: &'static str) -> Result<TurnWritten, StoreError> {
        submit(&self.writes, write, op).await?.map_err(StoreError::query(op))
    }

    /// Queues a delivery mark without waiting for it: it is written with other such marks within about
    /// [`LATER_WAIT`], or by [`TurnWriteBatcher::flush`]. Fails only when the writer has stopped.
    pub(crate) async fn write_later(&self, mark: DeliveryMark, op: &'static str) -> Result<(), StoreError> {
        // The answer's receiver is dropped at once, which is how the gatherer knows nobody waits.
        let (reply, _) = oneshot::channel();
        self.writes
            .send(Pending { row: TurnWrite::Mark(mark), reply })
            .await
            .map_err(|_| StoreError::WriterStopped { op })
    }
}

/// Gathers what is queued, writes it as one transaction and answers every caller. SQLite has one writer, so one
/// gatherer: writes that arrive while a batch waits for the writer join the next one.
///
/// Delivery marks nobody waits for ([`TurnWriteBatcher::write_later`]) are held back and written together, after the
/// batch in hand, once [`MAX_BATCH`] of them are held or the oldest has waited [`LATER_WAIT`], when no other write
/// comes for that long, or when the store closes. Written with each turn's other writes, a mark dirtied pages of
/// `outbox`, `messages` and their indexes that the turn's reply had just written, so each was encrypted and
/// appended to the WAL again; held, many marks share those pages and one commit, and no reply waits for them.
async fn run(
    mut receiver: mpsc::Receiver<PendingWrite>,
    mut flush_requests: mpsc::Receiver<oneshot::Sender<()>>,
    writer: SqlitePool,
) {
    let gathering = Gathering { max_batch: MAX_BATCH, max_yields: MAX_YIELDS };
    let mut previous_size = 1;
    let mut later: Vec<PendingWrite> = Vec::new();
    // When the oldest of `later` was queued.
    let mut held_since = Instant::now();
    loop {
        let mut flush_request = None;
        let idle = async {
            let due = async {
                if later.is_empty() {
                    std::future::pending::<()>().await;
                }
                tokio::time::sleep(LATER_WAIT).await;
            };
            tokio::select! {
                Some(request) = flush_requests.recv() => flush_request = Some(request),
                () = due => {}
            }
        };
        match gather(&mut receiver, previous_size, gathering, idle).await {
            Gathered::Batch(batch) => {
                let (waited_for, not_waited_for): (Vec<_>, Vec<_>) = batch.into_iter().partition(is_waited_for);
                if later.is_empty() && !not_waited_for.is_empty() {
                    held_since = Instant::now();
                }
                later.extend(not_waited_for);
                if !waited_for.is_empty() {
                    previous_size = waited_for.len();
                    write_batch(&writer, waited_for).await;
                }
                if later.len() >= MAX_BATCH || (!later.is_empty() && held_since.elapsed() >= LATER_WAIT) {
                    write_batch(&writer, std::mem::take(&mut later)).await;
                }
            }
            Gathered::Idle => {
                if !later.is_empty() {
                    write_batch(&writer, std::mem::take(&mut later)).await;
                }
                if let Some(done) = flush_request {
                    let _ = done.send(());
                }
            }
            Gathered::Closed => {
                if !later.is_empty() {
                    write_batch(&writer, later).await;
                }
                return;
            }
        }
    }
}

/// Whether a caller waits for this write's outcome; only delivery marks are ever queued without one.
fn is_waited_for(pending: &PendingWrite) -> bool {
    !(matches!(pending.row, TurnWrite::Mark(_)) && pending.reply.is_closed())
}

/// Writes `batch` as one transaction (each write alone if that fails) and answers each caller still waiting.
async fn write_batch(writer: &SqlitePool, batch: Vec<PendingWrite>) {
    let (writes, replies): (Vec<TurnWrite>, Vec<_>) =
        batch.into_iter().map(|pending| (pending.row, pending.reply)).unzip();
    let outcomes: Vec<Outcome> = match write_together(writer, &writes).await {
        Ok(written) => written.into_iter().map(Ok).collect(),
        Err(error) if writes.len() == 1 => vec![Err(error)],
        Err(error) => {
            tracing::debug!(size = writes.len(), %error, "a batch of writes failed; writing each alone");
            write_each_alone(writer, &writes).await
        }
    };
    for (outcome, reply) in outcomes.into_iter().zip(replies) {
        // The caller may have given up waiting (or never waited); then only a failure is worth a line in the log.
        if let Err(Ok(Err(error))) = reply.send(Ok(outcome)) {
            tracing::warn!(%error, "a write nobody waited for failed");
        }
    }
}

/// Runs `writes` as one transaction (a single write as its own) and returns what each returned, in queue order.
/// Most batches are one command (`turn_write_script`); the rest run the inbound messages and replies in the order
/// they queued, then all delivery marks in one command.
async fn write_together(writer: &SqlitePool, writes: &[TurnWrite]) -> Result<Vec<TurnWritten>, sqlx::Error> {
    if writes.len() > 1 && writes.iter().all(turn_write_script::fits) {
        return turn_write_script::write_batch(writer, writes).await;
    }
    let marks = marks_of(writes);
    let parts = writes.len() - marks.len() + usize::from(!marks.is_empty());
    let mut connection = ScriptConnection::acquire(writer).await?;
    let mut written = Vec::with_capacity(writes.len());
    let mut index = 0;
    for write in writes.iter().filter(|write| !matches!(write, TurnWrite::Mark(_))) {
        written.push(run_part(&mut connection, write, TransactionPart::of(index, parts - 1)).await?);
        index += 1;
    }
    let found = if marks.is_empty() {
        HashSet::new()
    } else {
        run_marks(&mut connection, &marks, TransactionPart::of(index, parts - 1)).await?
    };
    // Back in queue order: each mark where it stood.
    let mut others = written.into_iter();
    Ok(writes
        .iter()
        .filter_map(|write| match write {
            TurnWrite::Mark(mark) => Some(TurnWritten::Mark(found.contains(&mark.outbox_id))),
            _ => others.next(),
        })
        .collect())
}

/// After a failed batch: each write in a transaction of its own (a failed batch is rare, so its marks go one by
/// one too), each caller with its own outcome.
async fn write_each_alone(writer: &SqlitePool, writes: &[TurnWrite]) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(writes.len());
    for write in writes {
        let outcome = match ScriptConnection::acquire(writer).await {
            Ok(mut connection) => run_part(&mut connection, write, TransactionPart::Whole).await,
            Err(error) => Err(error),
        };
        outcomes.push(outcome);
    }
    outcomes
}

/// The delivery marks among `writes`, in queue order.
fn marks_of(writes: &[TurnWrite]) -> Vec<&DeliveryMark> {
    writes
        .iter()
        .filter_map(|write| match write {
            TurnWrite::Mark(mark) => Some(mark),
            _ => None,
        })
        .collect()
}

/// Marks `marks` delivered as one command and returns the outbox ids that exist. A mark's time is the earliest of
/// the batch's: they were all handed over by then.
async fn run_marks(
    connection: &mut ScriptConnection,
    marks: &[&DeliveryMark],
    part: TransactionPart,
) -> Result<HashSet<i64>, sqlx::Error> {
    let listed = serde_json::Value::Array(
        marks.iter().map(|mark| serde_json::json!([mark.outbox_id, mark.platform_message_id])).collect(),
    );
    let at_ms = marks.iter().map(|mark| mark.at_ms).min().unwrap_or_default();
    let sql = match part {
        TransactionPart::Whole => MARKS_WHOLE,
        TransactionPart::First => MARKS_FIRST,
        TransactionPart::Middle => MARKS,
        TransactionPart::Last => MARKS_LAST,
    };
    let query = sqlx::query_as(sql).bind(listed.to_string()).bind(at_ms);
    let found: Vec<(i64,)> = connection.fetch_part(query, part).await?;
    Ok(found.into_iter().map(|(id,)| id).collect())
}

async fn run_part(
    connection: &mut ScriptConnection,
    write: &TurnWrite,
    part: TransactionPart,
) -> Result<TurnWritten, sqlx::Error> {
    match write {
        TurnWrite::Inbound(message) => {
            let sql = match part {
                // A single statement commits on its own.
                TransactionPart::Whole | TransactionPart::Middle => INSERT_INBOUND_SQLITE,
                TransactionPart::First => INBOUND_FIRST,
                TransactionPart::Last => INBOUND_LAST,
            };
            let query = sqlx::query_as(sql)
                .bind(&message.channel)
                .bind(&message.external_conversation_id)
                .bind(&message.platform_message_id)
                .bind(&message.sender)
                .bind(&message.body)
                .bind(message.now_ms);
            let rows: Vec<(i64, i64, Option<i64>)> = connection.fetch_part(query, part).await?;
            Ok(TurnWritten::Inbound(rows.into_iter().next()))
        }
        TurnWrite::Reply(reply) => {
            let sql = match part {
                TransactionPart::Whole => REPLY_WHOLE,
                TransactionPart::First => REPLY_FIRST,
                TransactionPart::Middle => REPLY,
                TransactionPart::Last => REPLY_LAST,
            };
            let query = sqlx::query_as(sql)
                .bind(reply.conversation_id)
                .bind(&reply.channel)
                .bind(&reply.external_conversation_id)
                .bind(&reply.sealed)
                .bind(reply.now_ms)
                .bind(reply.in_reply_to)
                .bind(reply.input_tokens)
                .bind(reply.output_tokens)
                .bind(reply.answered_status);
            let ids: Vec<(i64, Option<i64>)> = connection.fetch_part(query, part).await?;
            Ok(TurnWritten::Reply(match ids[..] {
                [(message_id, follows), (outbox_id, _)] => Some((message_id, outbox_id, follows)),
                _ => None,
            }))
        }
        TurnWrite::Mark(mark) => {
            let found = run_marks(connection, &[mark], part).await?;
            Ok(TurnWritten::Mark(found.contains(&mark.outbox_id)))
        }
    }
}

/// Stores a new inbound message in the conversation `($1, $2)` if that exists and the message `($1, $3)` is not
/// stored yet; returns the message's id, its conversation's and the id of the conversation's message before it
/// (see `InboundOutcome::Inserted`). The common case in one statement; no row back means a first message or a
/// redelivery, which `inbound` sorts out in a transaction of its own.
macro_rules! insert_inbound_sql {
    () => {
        "INSERT INTO messages (conversation_id, channel, external_conversation_id, platform_message_id, direction, \
         role, status, sender, body, created_at_ms) \
         SELECT id, channel, external_id, $3, 'inbound', 'user', 'received', $4, $5, $6 FROM conversations \
         WHERE channel = $1 AND external_id = $2 \
         ON CONFLICT (channel, platform_message_id) DO NOTHING \
         RETURNING id, conversation_id, (SELECT max(earlier.id) FROM messages earlier \
             WHERE earlier.conversation_id = messages.conversation_id AND earlier.id < messages.id)"
    };
}

/// Files a reply and its outbox entry, returning both ids (the reply's with the id of the conversation's message
/// before it), or nothing when message `$6` already has a reply: the
/// outbox insert runs only if the reply insert changed a row. The answered message's status is set either way (a
/// redone turn's caller sets it too).
macro_rules! file_reply_sql {
    () => {
        concat!(
            insert_reply_sql!(with_follows),
            "; ",
            "INSERT INTO outbox (message_id, channel, external_conversation_id, next_attempt_at_ms, created_at_ms) \
             SELECT last_insert_rowid(), $2, $3, $5, $5 WHERE changes() = 1 RETURNING id, NULL; \
             UPDATE messages SET status = $9 WHERE id = $6 AND $9 IS NOT NULL"
        )
    };
}

/// Marks the outbox entries listed in `$1` (a JSON array of `[outbox id, platform message id or null]`) delivered at
/// `$2` (the first time only) and returns the ids of those that exist; their replies become `delivered`, keeping
/// the platform's message id when one is given.
macro_rules! mark_delivered_sql {
    () => {
        "UPDATE outbox SET delivered_at_ms = COALESCE(delivered_at_ms, $2), lease_until_ms = NULL \
         WHERE id IN (SELECT json_extract(value, '$[0]') FROM json_each($1)) RETURNING id; \
         UPDATE messages SET status = 'delivered', \
             platform_message_id = COALESCE(marks.platform_message_id, messages.platform_message_id) \
         FROM (SELECT o.message_id, json_extract(j.value, '$[1]') AS platform_message_id \
               FROM json_each($1) j JOIN outbox o ON o.id = json_extract(j.value, '$[0]')) AS marks \
         WHERE messages.id = marks.message_id"
    };
}

/// The inbound insert alone (an autocommit statement, or the middle of a batch).
pub(crate) const INSERT_INBOUND_SQLITE: &str = insert_inbound_sql!();
const INBOUND_FIRST: &str = concat!("BEGIN IMMEDIATE; ", insert_inbound_sql!());
const INBOUND_LAST: &str = concat!(insert_inbound_sql!(), "; COMMIT");
const REPLY: &str = file_reply_sql!();
const REPLY_WHOLE: &str = concat!("BEGIN IMMEDIATE; ", file_reply_sql!(), "; COMMIT");
const REPLY_FIRST: &str = concat!("BEGIN IMMEDIATE; ", file_reply_sql!());
const REPLY_LAST: &str = concat!(file_reply_sql!(), "; COMMIT");
const MARKS: &str = mark_delivered_sql!();
const MARKS_WHOLE: &str = concat!("BEGIN IMMEDIATE; ", mark_delivered_sql!(), "; COMMIT");
const MARKS_FIRST: &str = concat!("BEGIN IMMEDIATE; ", mark_delivered_sql!());
const MARKS_LAST: &str = concat!(mark_delivered_sql!(), "; COMMIT");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;
    use crate::store::db::Db;
    use crate::store::{ConversationId, DatabaseConfig, InboundMessage, InboundOutcome, MessageId, Store};

    fn inbound(platform_message_id: &str) -> TurnWrite {
        TurnWrite::Inbound(InboundRow {
            channel: "api".into(),
            external_conversation_id: "batch".into(),
            platform_message_id: platform_message_id.into(),
            sender: Some("user".into()),
            body: b"\0hello".to_vec(),
            now_ms: 1,
        })
    }

    fn reply(conversation_id: i64, in_reply_to: i64) -> TurnWrite {
        TurnWrite::Reply(ReplyWrite {
            conversation_id,
            channel: "api".into(),
            external_conversation_id: "batch".into(),
            sealed: b"\0answer".to_vec(),
            now_ms: 2,
            in_reply_to: Some(in_reply_to),
            input_tokens: Some(3),
            output_tokens: Some(4),
            answered_status: Some("processed"),
        })
    }

    fn mark(outbox_id: i64) -> TurnWrite {
        TurnWrite::Mark(DeliveryMark { outbox_id, platform_message_id: None, at_ms: 3 })
    }

    /// Queues every write before the gatherer runs (one thread), so they form one batch, and returns each outcome.
    async fn write_as_one_batch(
        batcher: &TurnWriteBatcher,
        writes: Vec<TurnWrite>,
    ) -> Vec<Result<TurnWritten, StoreError>> {
        futures::future::join_all(writes.into_iter().map(|write| batcher.write(write, "test write"))).await
    }

    /// A new SQLite store in `dir` whose conversation `api`/`batch` holds message `m-1` ("hi").
    async fn store_with_first_message(dir: &std::path::Path, key: u8) -> (Store, ConversationId, MessageId) {
        let store =
            Store::connect(&DatabaseConfig::default(), dir, &MasterKey::from_bytes([key; 32])).await.expect("store");
        let first = InboundMessage {
            channel: "api",
            external_conversation_id: "batch",
            platform_message_id: "m-1",
            sender: Some("user"),
            body: "hi",
        };
        let Ok(InboundOutcome::Inserted { conversation_id, message_id, .. }) =
            store.inbound().record_inbound(&first).await
        else {
            panic!("first message not stored");
        };
        (store, conversation_id, message_id)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_batch_answers_each_write_and_a_failed_one_fails_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, conversation_id, message_id) = store_with_first_message(dir.path(), 5).await;
        let Db::Sqlite(pools) = &store.shared.db else { panic!("sqlite store expected") };
        let (conversation, answered) = (conversation_id.0, message_id.0);

        let together = write_as_one_batch(
            &pools.turn_writes,
            vec![inbound("m-2"), reply(conversation, answered), mark(i64::MAX), inbound("m-3")],
        )
        .await;
        let mut together = together.into_iter().map(|outcome| outcome.expect("each write of the batch lands"));
        let ids = |outcome: Option<TurnWritten>| match outcome {
            Some(TurnWritten::Inbound(Some(ids)) | TurnWritten::Reply(Some(ids))) => ids,
            other => panic!("nothing returned: {other:?}"),
        };
        let (second, filed) = (ids(together.next()), ids(together.next()));
        assert!(matches!(together.next(), Some(TurnWritten::Mark(false))), "an unknown outbox entry is not marked");
        let third = ids(together.next());
        assert_eq!(second.1, conversation, "the inbound message joins its conversation");
        // Writes of one batch were queued together, so they may be stored in any order; each is told the message
        // stored just before it in its conversation.
        let mut stored = [(second.0, second.2), (filed.0, filed.2), (third.0, third.2)];
        stored.sort();
        assert_eq!(stored[0].1, Some(answered), "{stored:?}");
        assert_eq!(stored[1].1, Some(stored[0].0), "{stored:?}");
        assert_eq!(stored[2].1, Some(stored[1].0), "{stored:?}");

        // A reply to a message that does not exist breaks a foreign key: the batch is undone and rewritten write by
        // write, so only that caller sees an error and the others get exactly what they would have alone.
        let mixed = write_as_one_batch(
            &pools.turn_writes,
            vec![
                inbound("m-4"),
                mark(filed.1),
                inbound("m-2"),
                reply(conversation, answered),
                reply(conversation, i64::MAX),
                inbound("m-5"),
            ],
        )
        .await;
        assert!(matches!(mixed[0], Ok(TurnWritten::Inbound(Some(_)))), "{:?}", mixed[0]);
        assert!(matches!(mixed[1], Ok(TurnWritten::Mark(true))), "{:?}", mixed[1]);
        assert!(matches!(mixed[2], Ok(TurnWritten::Inbound(None))), "a redelivery inserts nothing: {:?}", mixed[2]);
        assert!(matches!(mixed[3], Ok(TurnWritten::Reply(None))), "a second reply is not filed: {:?}", mixed[3]);
        let Err(StoreError::Query { op: "test write", source, .. }) = &mixed[4] else { panic!("{:?}", mixed[4]) };
        assert!(source.to_string().contains("FOREIGN KEY"), "the caller gets its own write's error: {source}");
        assert!(matches!(mixed[5], Ok(TurnWritten::Inbound(Some(_)))), "{:?}", mixed[5]);

        let history = store.conversations().history(conversation_id, 20).await.expect("history");
        let platform_ids: Vec<_> = history.iter().filter_map(|message| message.platform_message_id.clone()).collect();
        assert_eq!(platform_ids, ["m-1", "m-2", "m-3", "m-4", "m-5"]);
        assert_eq!(history.len(), 6, "five messages and one reply: {history:?}");
        let stored_reply = history.iter().find(|message| message.id.0 == filed.0).expect("the reply");
        assert_eq!(stored_reply.status, crate::store::MessageStatus::Delivered);
        assert_eq!(store.outbox().undelivered_count().await.expect("outbox"), 0);
        store.close().await;
    }

    /// The one-command script directly (the batcher falls back to writing each write alone when a batch fails, which
    /// would hide a broken script): repeated writes within one batch, an unknown conversation, and a mark.
    #[tokio::test(flavor = "current_thread")]
    async fn the_batch_script_answers_each_write_as_it_would_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, conversation_id, message_id) = store_with_first_message(dir.path(), 6).await;
        let Db::Sqlite(pools) = &store.shared.db else { panic!("sqlite store expected") };
        let (conversation, answered) = (conversation_id.0, message_id.0);
        let mut stranger = inbound("m-9");
        if let TurnWrite::Inbound(row) = &mut stranger {
            row.external_conversation_id = "nobody".into();
        }

        // The first reply would mark the message failed, the repeated one processed: the last write's status wins.
        let mut failing_reply = reply(conversation, answered);
        if let TurnWrite::Reply(write) = &mut failing_reply {
            write.answered_status = Some("failed");
        }

        let writes =
            [failing_reply, inbound("m-2"), inbound("m-2"), stranger, reply(conversation, answered), mark(i64::MAX)];
        let written = turn_write_script::write_batch(&pools.writer, &writes).await.expect("the script runs");
        let [
            TurnWritten::Reply(Some((reply_id, outbox_id, reply_follows))),
            TurnWritten::Inbound(Some((second_id, second_conversation, second_follows))),
            TurnWritten::Inbound(None),
            TurnWritten::Inbound(None),
            TurnWritten::Reply(None),
            TurnWritten::Mark(false),
        ] = written[..]
        else {
            panic!("the first of each repeated write is stored, the rest and the stranger are not: {written:?}");
        };
        assert_eq!(second_conversation, conversation);
        let mut stored = [(reply_id, reply_follows), (second_id, second_follows)];
        stored.sort();
        assert_eq!([stored[0].1, stored[1].1], [Some(answered), Some(stored[0].0)], "{stored:?}");
        assert_eq!(store.outbox().undelivered_count().await.expect("outbox"), 1, "one outbox entry for one reply");

        let written = turn_write_script::write_batch(&pools.writer, &[mark(outbox_id), inbound("m-3")])
            .await
            .expect("the script runs");
        let [TurnWritten::Mark(true), TurnWritten::Inbound(Some((third_id, _, third_follows)))] = written[..] else {
            panic!("the mark finds its entry and the message is stored: {written:?}");
        };
        assert_eq!(third_follows, Some(stored[1].0), "the new message follows the newest stored one");
        assert_eq!(store.outbox().undelivered_count().await.expect("outbox"), 0);

        let history = store.conversations().history(conversation_id, 20).await.expect("history");
        let summary: Vec<_> =
            history.iter().map(|message| (message.id.0, message.status, message.body.as_str())).collect();
        use crate::store::MessageStatus::{Delivered, Processed, Received};
        let expected_reply = (reply_id, Delivered, "answer");
        let last_status = (answered, Processed, "hi");
        assert!(summary.contains(&last_status), "the last write's status, processed, wins: {summary:?}");
        assert!(summary.contains(&expected_reply), "the reply is delivered: {summary:?}");
        assert!(summary.contains(&(third_id, Received, "hello")), "{summary:?}");
        assert_eq!(history.len(), 4, "{summary:?}");
        store.close().await;
    }
}
