//! Background indexing through the store's queue: callers enqueue files (bounded, `Overloaded`
//! when full) and the `MemoryIndexer` actor drains the queue in batches.
//!
//! A file leaves the queue only after it is indexed (or refused for good), and indexing replaces
//! a document's chunks in one transaction, so a crash at any point re-indexes at most the file
//! in hand: no chunk is lost or stored twice.

use std::path::{Path, PathBuf};

use super::service::{IndexOutcome, MemoryError, MemoryService};
use super::workspace::source;

/// What one batch did, for progress and the indexer's health line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub indexed: usize,
    pub unchanged: usize,
    pub removed: usize,
    pub skipped: usize,
    /// Files still queued after this batch.
    pub remaining: usize,
}

impl MemoryService {
    /// Queues files for the indexer. Refuses the whole request with [`MemoryError::Overloaded`]
    /// when it would take the queue past `capacity`, so a flood of file events cannot grow it
    /// without bound; the caller retries later (the watcher rescans).
    pub async fn enqueue(&self, files: &[PathBuf], capacity: usize) -> Result<usize, MemoryError> {
        let queued = self.store().count_pending().await?;
        if queued + files.len() > capacity {
            return Err(MemoryError::Overloaded { queued, capacity });
        }
        let entries: Vec<(String, String)> =
            files.iter().map(|file| (file.to_string_lossy().into_owned(), self.source_of(file).to_string())).collect();
        self.store().enqueue_pending(&entries).await?;
        Ok(queued + files.len())
    }

    /// Indexes up to `limit` queued files, oldest first. A file that no longer exists is removed
    /// from memory; one that is not text or too large is skipped with a warning; a storage or
    /// embedding failure stops the batch and leaves the file queued for the next attempt.
    pub async fn index_queued(&self, limit: usize) -> Result<BatchReport, MemoryError> {
        let mut report = BatchReport::default();
        for (path, _) in self.store().pending(limit).await? {
            let file = PathBuf::from(&path);
            if file.exists() {
                match self.index_file(&file).await {
                    Ok((_, IndexOutcome::Indexed { .. })) => report.indexed += 1,
                    Ok((_, IndexOutcome::Unchanged)) => report.unchanged += 1,
                    Err(MemoryError::Document(error)) => {
                        tracing::warn!(%error, "file skipped");
                        report.skipped += 1;
                    }
                    Err(error) => return Err(error),
                }
            } else if self.forget(&self.stored_path_of_missing(&file)).await? {
                report.removed += 1;
            }
            self.store().remove_pending(&path).await?;
        }
        report.remaining = self.store().count_pending().await?;
        Ok(report)
    }

    fn source_of(&self, file: &Path) -> &'static str {
        if file.starts_with(self.workspace_dir()) { source::WORKSPACE } else { source::IMPORT }
    }

    /// The document path a deleted file was stored under (it can no longer be canonicalised).
    fn stored_path_of_missing(&self, file: &Path) -> String {
        match file.strip_prefix(self.workspace_dir()) {
            Ok(relative) => {
                let parts: Vec<String> =
                    relative.components().map(|part| part.as_os_str().to_string_lossy().into_owned()).collect();
                parts.join("/")
            }
            Err(_) => file.to_string_lossy().into_owned(),
        }
    }
}
