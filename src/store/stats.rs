//! Counts for monitoring (`/metrics`): jobs by state and the work still waiting, read at scrape time.

use super::StoreError;
use super::db::{Shared, on_db_read};

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
        on_db_read!(&self.shared.db, pool => sqlx::query_scalar(
            "SELECT count(*) FROM messages WHERE direction = 'inbound' AND status = 'received'",
        )
        .fetch_one(pool)
        .await)
        .map_err(StoreError::query(op))
    }
}
