//! The gathering step of a group commit: take what callers queued, so one statement and one commit serve them all.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

use super::StoreError;

/// One caller's request to a group-commit writer, and where its own answer goes.
pub(crate) struct Pending<R, O> {
    pub(crate) row: R,
    pub(crate) reply: oneshot::Sender<Result<O, StoreError>>,
}

/// Queues `row` for the writer behind `sender` and waits for the answer of the batch that carried it.
pub(crate) async fn submit<R, O>(
    sender: &mpsc::Sender<Pending<R, O>>,
    row: R,
    op: &'static str,
) -> Result<O, StoreError> {
    let (reply, answer) = oneshot::channel();
    sender.send(Pending { row, reply }).await.map_err(|_| StoreError::WriterStopped { op })?;
    answer.await.map_err(|_| StoreError::WriterStopped { op })?
}

/// How a gatherer sizes its batches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gathering {
    /// Most requests one statement carries.
    pub(crate) max_batch: usize,
    /// How often a gatherer yields while waiting for a batch as large as its previous one.
    pub(crate) max_yields: usize,
}

/// What a gatherer found.
pub(crate) enum Gathered<T> {
    /// Requests to write together.
    Batch(Vec<T>),
    /// Nothing arrived before the `idle` future passed to [`gather`] completed.
    Idle,
    /// Every sender is gone.
    Closed,
}

/// Waits for the first queued request, then takes what else is queued. Gives up with [`Gathered::Idle`] when
/// `idle` completes before a request arrives; no request is lost then. (Writers of a pipeline share the receiver
/// behind a lock, which each holds only while gathering, so the others take the next batches.)
///
/// Callers answered by the previous batch are usually about to ask again; a gatherer that finds fewer requests
/// than `previous_size` yields a few times to let them, so a steady load keeps full batches instead of a full batch
/// followed by many single rows. A lone caller never waits: its previous batch held one request.
pub(crate) async fn gather<T>(
    receiver: &mut mpsc::Receiver<T>,
    previous_size: usize,
    gathering: Gathering,
    idle: impl Future<Output = ()>,
) -> Gathered<T> {
    // `recv` is cancel-safe: a request not yet received stays queued.
    let first = tokio::select! {
        biased;
        first = receiver.recv() => first,
        () = idle => return Gathered::Idle,
    };
    let Some(first) = first else {
        return Gathered::Closed;
    };
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
    Gathered::Batch(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GATHERING: Gathering = Gathering { max_batch: 4, max_yields: 0 };

    #[tokio::test]
    async fn takes_what_is_queued_up_to_the_batch_limit() {
        let (sender, mut receiver) = mpsc::channel(16);
        for n in 0..6 {
            sender.send(n).await.unwrap();
        }
        let Gathered::Batch(batch) = gather(&mut receiver, 1, GATHERING, std::future::pending()).await else {
            panic!("expected a batch");
        };
        assert_eq!(batch, vec![0, 1, 2, 3]);
        let Gathered::Batch(batch) = gather(&mut receiver, 1, GATHERING, std::future::pending()).await else {
            panic!("expected a batch");
        };
        assert_eq!(batch, vec![4, 5]);
        drop(sender);
        assert!(matches!(gather(&mut receiver, 1, GATHERING, std::future::pending()).await, Gathered::Closed));
    }

    #[tokio::test]
    async fn idle_ends_the_wait_and_loses_no_request() {
        let (sender, mut receiver) = mpsc::channel(16);
        let idle = tokio::time::sleep(std::time::Duration::from_millis(10));
        assert!(matches!(gather(&mut receiver, 1, GATHERING, idle).await, Gathered::Idle));
        sender.send(7).await.unwrap();
        // A queued request wins over an idle signal that is ready too.
        let Gathered::Batch(batch) = gather(&mut receiver, 1, GATHERING, std::future::ready(())).await else {
            panic!("expected a batch");
        };
        assert_eq!(batch, vec![7]);
    }
}
