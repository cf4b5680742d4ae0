//! Group commit for delivery marks on SQLite: the marks that arrive while the writer is busy go out together.
//!
//! Every in-band reply (API, REPL, web) and every reply a platform accepted is marked delivered once, a
//! transaction of its own on the single writer connection: under load that was a quarter of the writer's
//! commands and commits, each a hand-off to the connection's thread and a WAL append of freshly encrypted pages.
//! Here each caller still waits until its mark is committed, but the marks queued behind a running batch share
//! the next one (one script, one commit): the batch size follows the load, and a lone mark pays one channel hop.

use std::collections::HashSet;
use std::sync::Arc;

use sqlx::SqlitePool;
use tokio::sync::mpsc;

use super::StoreError;
use super::group_commit::{Gathered, Gathering, Pending, gather, submit};
use super::sqlite_script::ScriptConnection;

/// Most marks one script carries.
const MAX_BATCH: usize = 256;
/// How often the gatherer yields while waiting for a batch as large as its previous one.
const MAX_YIELDS: usize = 8;
const OP: &str = "mark reply delivered";

/// Marks the outbox entries listed in `$1` (a JSON array of `[outbox id, platform message id or null]`) delivered at
/// `$2` (the first time only) and returns the ids of those that exist; their replies become `delivered`, keeping
/// the platform's message id when one is given.
const MARK_BATCH_SQLITE: &str = "BEGIN IMMEDIATE; \
     UPDATE outbox SET delivered_at_ms = COALESCE(delivered_at_ms, $2), lease_until_ms = NULL \
     WHERE id IN (SELECT json_extract(value, '$[0]') FROM json_each($1)) RETURNING id; \
     UPDATE messages SET status = 'delivered', \
         platform_message_id = COALESCE(marks.platform_message_id, messages.platform_message_id) \
     FROM (SELECT o.message_id, json_extract(j.value, '$[1]') AS platform_message_id \
           FROM json_each($1) j JOIN outbox o ON o.id = json_extract(j.value, '$[0]')) AS marks \
     WHERE messages.id = marks.message_id; \
     COMMIT";

/// One reply to mark delivered.
pub(crate) struct DeliveryMark {
    pub(crate) outbox_id: i64,
    pub(crate) platform_message_id: Option<String>,
    pub(crate) at_ms: i64,
}

/// A mark and its caller's answer: whether the outbox entry exists.
type PendingMark = Pending<DeliveryMark, bool>;

/// Handle to the gathering task; it ends when the last handle is dropped.
#[derive(Clone, Debug)]
pub(crate) struct DeliveryBatcher {
    marks: mpsc::Sender<PendingMark>,
}

impl DeliveryBatcher {
    pub(crate) fn spawn(writer: SqlitePool) -> DeliveryBatcher {
        let (marks, receiver) = mpsc::channel(MAX_BATCH * 4);
        tokio::spawn(run(receiver, writer));
        DeliveryBatcher { marks }
    }

    /// Marks one reply delivered in the next batch; false when its outbox entry does not exist.
    pub(crate) async fn mark(&self, mark: DeliveryMark) -> Result<bool, StoreError> {
        submit(&self.marks, mark, OP).await
    }
}

/// Gathers what is queued, writes it as one script and answers every caller. SQLite has one writer, so one
/// gatherer: marks that arrive while its script waits for the writer join the next batch.
async fn run(mut receiver: mpsc::Receiver<PendingMark>, writer: SqlitePool) {
    let gathering = Gathering { max_batch: MAX_BATCH, max_yields: MAX_YIELDS };
    let mut previous_size = 1;
    loop {
        let Gathered::Batch(batch) = gather(&mut receiver, previous_size, gathering, std::future::pending()).await
        else {
            return;
        };
        previous_size = batch.len();
        let (marks, replies): (Vec<DeliveryMark>, Vec<_>) =
            batch.into_iter().map(|pending| (pending.row, pending.reply)).unzip();
        match write(&writer, &marks).await {
            Ok(found) => {
                for (mark, reply) in marks.iter().zip(replies) {
                    // The caller may have given up waiting; the mark is committed regardless.
                    let _ = reply.send(Ok(found.contains(&mark.outbox_id)));
                }
            }
            Err(error) => {
                tracing::debug!(size = marks.len(), %error, "delivery marks failed; their callers see the error");
                let retryable = super::error::is_transient(&error);
                let error = Arc::new(error);
                for reply in replies {
                    let _ = reply.send(Err(StoreError::QueryShared { op: OP, retryable, source: Arc::clone(&error) }));
                }
            }
        }
    }
}

/// Commits `marks` and returns the outbox ids that exist. A mark's time is the earliest of the batch's: they were
/// all handed over by then.
async fn write(writer: &SqlitePool, marks: &[DeliveryMark]) -> Result<HashSet<i64>, sqlx::Error> {
    let listed = serde_json::Value::Array(
        marks.iter().map(|mark| serde_json::json!([mark.outbox_id, mark.platform_message_id])).collect(),
    );
    let at_ms = marks.iter().map(|mark| mark.at_ms).min().unwrap_or_default();
    let mut connection = ScriptConnection::acquire(writer).await?;
    let found =
        connection.fetch_ids(sqlx::query_scalar(MARK_BATCH_SQLITE).bind(listed.to_string()).bind(at_ms)).await?;
    Ok(found.into_iter().collect())
}
