//! Notices files added, changed or deleted in the workspace by comparing scans (size and
//! modification time), and feeds them to the indexing queue.
//!
//! A scan rather than inotify: it works the same on every platform and filesystem (network
//! mounts, editors that replace files by rename), needs no extra dependency, and the indexer
//! already wakes every second; a workspace of notes is a few thousand files, a scan of which
//! takes milliseconds.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use chitin_actors::ports::{BoxFuture, IndexError, IndexProgress, MemoryIndexPort};

use super::service::{MemoryError, MemoryService};
use super::workspace::{collect_files, source};

/// (modification time, size) of every file seen by the last scan.
type Snapshot = HashMap<PathBuf, (Option<SystemTime>, u64)>;

/// Scans one folder and reports what changed since the previous scan.
pub struct WorkspaceScanner {
    dir: PathBuf,
    seen: Snapshot,
}

impl WorkspaceScanner {
    /// A scanner that has seen nothing yet, so its first scan reports every file (they are then
    /// checked against the stored content hashes, which is cheap for unchanged files).
    pub fn new(dir: &Path) -> Self {
        Self { dir: dir.to_path_buf(), seen: Snapshot::new() }
    }

    /// Files added, changed or deleted since the last accepted scan, and the snapshot to accept
    /// once they are safely queued.
    pub fn scan(&self) -> (Vec<PathBuf>, Snapshot) {
        let (files, _) =
            if self.dir.is_dir() { collect_files(std::slice::from_ref(&self.dir)) } else { Default::default() };
        let mut current = Snapshot::with_capacity(files.len());
        for file in files {
            if let Ok(metadata) = std::fs::metadata(&file) {
                current.insert(file, (metadata.modified().ok(), metadata.len()));
            }
        }
        let mut changed: Vec<PathBuf> = current
            .iter()
            .filter(|(path, stamp)| self.seen.get(*path) != Some(stamp))
            .map(|(path, _)| path.clone())
            .collect();
        changed.extend(self.seen.keys().filter(|path| !current.contains_key(*path)).cloned());
        changed.sort();
        (changed, current)
    }

    pub fn accept(&mut self, snapshot: Snapshot) {
        self.seen = snapshot;
    }
}

/// The indexer's port: each batch first queues what changed in the workspace, then indexes.
pub struct WorkspaceIndexing {
    memory: MemoryService,
    scanner: Mutex<WorkspaceScanner>,
    queue_capacity: usize,
    /// Set once stored documents have been checked against the disk, which catches files
    /// deleted while Chitin was not running (a scan only sees deletions between two scans).
    reconciled: AtomicBool,
}

impl WorkspaceIndexing {
    pub fn new(memory: MemoryService, queue_capacity: usize) -> Self {
        let scanner = Mutex::new(WorkspaceScanner::new(memory.workspace_dir()));
        Self { memory, scanner, queue_capacity, reconciled: AtomicBool::new(false) }
    }

    /// Workspace documents in the store whose file is gone.
    async fn deleted_while_away(&self) -> Result<Vec<PathBuf>, MemoryError> {
        let workspace = self.memory.workspace_dir();
        Ok(self
            .memory
            .list()
            .await?
            .into_iter()
            .filter(|document| document.source == source::WORKSPACE)
            .map(|document| workspace.join(&document.path))
            .filter(|file| !file.exists())
            .collect())
    }

    async fn batch(&self, limit: usize) -> Result<IndexProgress, MemoryError> {
        let (mut changed, snapshot) = self.scanner.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).scan();
        if !self.reconciled.load(Ordering::SeqCst) {
            changed.extend(self.deleted_while_away().await?);
        }
        if changed.is_empty() {
            self.reconciled.store(true, Ordering::SeqCst);
        } else {
            match self.memory.enqueue(&changed, self.queue_capacity).await {
                Ok(_) => {
                    self.scanner.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).accept(snapshot);
                    self.reconciled.store(true, Ordering::SeqCst);
                }
                // Not accepted: the same changes are found again by the next scan.
                Err(MemoryError::Overloaded { queued, capacity }) => {
                    tracing::debug!(queued, capacity, "indexing queue full; workspace changes wait");
                }
                Err(error) => return Err(error),
            }
        }
        let report = self.memory.index_queued(limit).await?;
        let done = report.indexed + report.unchanged + report.removed + report.skipped;
        Ok(IndexProgress { done, remaining: report.remaining })
    }
}

impl MemoryIndexPort for WorkspaceIndexing {
    fn index_batch(&self, limit: usize) -> BoxFuture<'_, Result<IndexProgress, IndexError>> {
        Box::pin(async move { self.batch(limit).await.map_err(|error| IndexError { reason: format!("{error:#}") }) })
    }
}
