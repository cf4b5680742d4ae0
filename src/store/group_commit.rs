//! The gathering step of a group commit: take what callers queued, so one statement and one commit serve them all.

use tokio::sync::{Mutex, mpsc};

/// How a gatherer sizes its batches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gathering {
    /// Most requests one statement carries.
    pub(crate) max_batch: usize,
    /// How often a gatherer yields while waiting for a batch as large as its previous one.
    pub(crate) max_yields: usize,
}

/// Waits for the first queued request, then takes what else is queued (holding the receiver only while taking,
/// so the other gatherers of a pipeline take the next batches). `None` once every sender is gone.
///
/// Callers answered by the previous batch are usually about to ask again; a gatherer that finds fewer requests
/// than `previous_size` yields a few times to let them, so a steady load keeps full batches instead of a full batch
/// followed by many single rows. A lone caller never waits: its previous batch held one request.
pub(crate) async fn gather<T>(
    receiver: &Mutex<mpsc::Receiver<T>>,
    previous_size: usize,
    gathering: Gathering,
) -> Option<Vec<T>> {
    let mut receiver = receiver.lock().await;
    let first = receiver.recv().await?;
    let target = previous_size.min(gathering.max_batch);
    let mut batch = Vec::with_capacity(target.max(receiver.len() + 1));
    batch.push(first);
    let mut yields = 0;
    while batch.len() < gathering.max_batch {
        match receiver.try_recv() {
            Ok(pending) => batch.push(pending),
            Err(mpsc::error::TryRecvError::Empty) if batch.len() < target && yields < gathering.max_yields => {
                yields += 1;
                tokio::task::yield_now().await;
            }
            Err(_) => break,
        }
    }
    Some(batch)
}
