//! Keeps PostgreSQL's full-text index quick to search while chunks stream in.
//!
//! The GIN index on `memory_chunk_terms` takes new entries into a pending list ("fast update")
//! that every search reads in full until the list is merged into the index proper. Autovacuum
//! merges it only after thousands of inserts (and not at all where it is off), so during and after
//! a large import the list grew towards its 4 MB limit. Measured on the benchmark corpus at 100k
//! chunks: with 5,000 chunks' entries pending (1.3 MB) a full-text query took 10.0 ms p50 and
//! 81 ms p95; merged, 7.6 ms and 32 ms. Turning fast update off instead costs 0.37 ms per inserted
//! chunk (one index insertion per word), against 0.06 ms for the pending list plus a bulk merge,
//! so the list stays and the store merges it itself once this process has written
//! [`FULL_TEXT_MERGE_AFTER_CHUNKS`] chunks. SQLite's FTS5 merges its own segments; nothing to do there.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::StoreError;
use super::db::Db;
use super::memory::Memory;

/// Chunks written between merges: about 0.3 MB of pending entries, which a search reads in well
/// under a millisecond; merging them takes ~15 ms, once per ~1,000 chunks.
pub const FULL_TEXT_MERGE_AFTER_CHUNKS: usize = 1_000;

/// Chunks this process wrote since the pending list was last merged, shared by every handle of a store.
#[derive(Debug, Clone, Default)]
pub(crate) struct FullTextBacklog(Arc<AtomicUsize>);

impl FullTextBacklog {
    /// Counts `chunks` more; true for exactly one caller each time the count passes the threshold
    /// (the count then starts again), so concurrent writers do not all merge.
    fn add(&self, chunks: usize) -> bool {
        let total = self.0.fetch_add(chunks, Ordering::Relaxed).saturating_add(chunks);
        total >= FULL_TEXT_MERGE_AFTER_CHUNKS && self.0.swap(0, Ordering::Relaxed) >= FULL_TEXT_MERGE_AFTER_CHUNKS
    }
}

impl Memory {
    /// Called after a write of `chunks` committed: merges the full-text pending list when enough
    /// has accumulated. A failed merge only costs search speed, so it is logged, not returned.
    pub(super) async fn after_chunks_written(&self, chunks: usize) {
        if matches!(self.shared.db, Db::Postgres(_))
            && self.shared.full_text_backlog.add(chunks)
            && let Err(error) = self.merge_full_text_pending().await
        {
            tracing::warn!(error = %crate::error_chain::describe(&error), "could not merge the full-text index's pending entries");
        }
    }

    /// Merges the pending entries of PostgreSQL's full-text index into the index now; returns how
    /// many index pages were merged (always 0 on SQLite).
    pub async fn merge_full_text_pending(&self) -> Result<i64, StoreError> {
        let op = "merge full-text pending entries";
        match &self.shared.db {
            Db::Postgres(pool) => {
                let started = std::time::Instant::now();
                let pages: i64 =
                    sqlx::query_scalar("SELECT gin_clean_pending_list('memory_chunk_terms_tsv_idx'::regclass)")
                        .fetch_one(pool)
                        .await
                        .map_err(StoreError::query(op))?;
                tracing::debug!(pages, elapsed_ms = started.elapsed().as_millis(), "merged full-text pending entries");
                Ok(pages)
            }
            Db::Sqlite(_) => Ok(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_caller_merges_each_time_the_threshold_is_passed() {
        let backlog = FullTextBacklog::default();
        assert!(!backlog.add(FULL_TEXT_MERGE_AFTER_CHUNKS - 1));
        assert!(backlog.add(1));
        assert!(!backlog.add(1), "the count starts again after a merge");
        assert!(!backlog.add(FULL_TEXT_MERGE_AFTER_CHUNKS - 2));
        assert!(backlog.add(FULL_TEXT_MERGE_AFTER_CHUNKS));
    }
}
