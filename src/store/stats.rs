//! Counts for monitoring (`/metrics`): jobs by state and the work still waiting, read at scrape time.

use super::StoreError;
use super::db::{Shared, on_db_read};

/// Counts the backlog through `messages_received_idx`, which holds only the messages in status `received`.
pub(crate) const UNANSWERED_COUNT: &str =
    "SELECT count(*) FROM messages WHERE direction = 'inbound' AND status = 'received'";

/// Read-only counts over the whole store.
#[derive(Clone)]
pub struct Stats {
    shared: Shared,
}

impl Stats {
    pub(crate) fn new(shared: Shared) -> Stats {
        Stats { shared }
    }

    /// `(state, count)` for every job state that has at least one job.
    pub async fn jobs_by_state(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let op = "count jobs by state";
        on_db_read!(&self.shared.db, pool => sqlx::query_as(
            "SELECT state, count(*) FROM jobs GROUP BY state ORDER BY state",
        )
        .fetch_all(pool)
        .await)
        .map_err(StoreError::query(op))
    }

    /// Inbound user messages that no reply has answered yet (the sessions' backlog).
    pub async fn unanswered_inbound(&self) -> Result<i64, StoreError> {
        let op = "count unanswered messages";
        on_db_read!(&self.shared.db, pool => sqlx::query_scalar(UNANSWERED_COUNT)
        .fetch_one(pool)
        .await)
        .map_err(StoreError::query(op))
    }
}

#[cfg(test)]
mod tests {
    use super::UNANSWERED_COUNT;
    use crate::crypto::MasterKey;
    use crate::store::conversations::{MESSAGE_COLUMNS, UNPROCESSED_FILTER};
    use crate::store::db::Db;
    use crate::store::generic_plans::generic_plans;
    use crate::store::{DatabaseConfig, Store};

    /// The statements that look for unanswered messages run every repair sweep and every scrape, for as long as
    /// Chitin runs; each must find those rows through `messages_received_idx`, never by reading every message.
    /// Each comes with the number of its `$N` parameters.
    fn backlog_statements() -> [(String, usize); 2] {
        [(UNANSWERED_COUNT.to_string(), 0), (format!("SELECT {MESSAGE_COLUMNS} {UNPROCESSED_FILTER}"), 1)]
    }

    #[tokio::test]
    async fn sqlite_finds_the_backlog_through_its_index() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::connect(&DatabaseConfig::default(), dir.path(), &MasterKey::from_bytes([7; 32])).await.unwrap();
        let Db::Sqlite(pools) = &store.shared.db else { panic!("the default database is SQLite") };
        for (sql, parameters) in backlog_statements() {
            let mut explain =
                sqlx::query_as::<_, (i64, i64, i64, String)>(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
            for _ in 0..parameters {
                explain = explain.bind(10_i64);
            }
            let plan = explain.fetch_all(&pools.reader).await.unwrap();
            let steps: Vec<&str> = plan.iter().map(|(_, _, _, detail)| detail.as_str()).collect();
            let on_messages: Vec<&&str> = steps.iter().filter(|step| step.contains(" messages")).collect();
            assert!(!on_messages.is_empty(), "no step reads messages in {steps:?} for {sql}");
            for step in on_messages {
                assert!(step.contains("messages_received_idx"), "`{step}` reads messages without the index: {sql}");
            }
        }
        store.close().await;
    }

    /// PostgreSQL's generic plan, made on an empty schema and kept, must not scan the table either.
    #[tokio::test]
    async fn postgres_finds_the_backlog_through_its_index_in_generic_plans() {
        let [(count, _), (unprocessed, _)] = backlog_statements();
        let statements = [(count.as_str(), "", ""), (unprocessed.as_str(), "bigint", "10")];
        let Some(plans) = generic_plans("backlog", &statements).await else { return };
        for plan in plans {
            assert!(!plan.contains("Seq Scan on messages"), "the backlog is read by a scan:\n{plan}");
            assert!(plan.contains("messages_received_idx"), "the backlog index is not used:\n{plan}");
        }
    }
}
