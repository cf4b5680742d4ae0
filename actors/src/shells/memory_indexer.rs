//! MemoryIndexer: drains the memory service's durable indexing queue in the background, in batches.
//!
//! Work lives in the store's queue, not in this actor's mailbox: callers enqueue files there
//! (bounded; they get `Overloaded` when it is full) and this actor polls it. A crash loses
//! nothing: the restarted actor finds the same queue, and the file being indexed when it died is
//! indexed again (indexing replaces a document's chunks in one transaction, so nothing doubles).

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tracing::Instrument;

use crate::health::{HealthProbe, SelfReport};
use crate::ports::MemoryIndexPort;

pub struct MemoryIndexer;

/// What the indexer is given; cloned for every restart.
#[derive(Clone)]
pub struct MemoryIndexerArgs {
    /// `None` when this process has no memory service (the actor then only reports idle).
    pub port: Option<Arc<dyn MemoryIndexPort>>,
    /// Files per batch; between batches the actor answers health probes.
    pub batch_size: usize,
    /// How often the queue is checked when idle.
    pub poll: Duration,
}

pub enum MemoryIndexerMsg {
    /// Index queued files until the queue is empty (sent by the poll timer and at start).
    Drain,
    Health(RpcReplyPort<SelfReport>),
}

pub struct MemoryIndexerState {
    args: MemoryIndexerArgs,
    indexed: u64,
    remaining: usize,
    last_error: Option<String>,
}

impl HealthProbe for MemoryIndexerMsg {
    fn health_probe(reply: RpcReplyPort<SelfReport>) -> Self {
        MemoryIndexerMsg::Health(reply)
    }
}

impl Actor for MemoryIndexer {
    type Msg = MemoryIndexerMsg;
    type State = MemoryIndexerState;
    type Arguments = MemoryIndexerArgs;

    async fn pre_start(
        &self,
        me: ActorRef<MemoryIndexerMsg>,
        args: MemoryIndexerArgs,
    ) -> Result<MemoryIndexerState, ActorProcessingErr> {
        if args.port.is_some() {
            // Resume what a previous run (or a crash) left queued, then keep polling.
            me.send_message(MemoryIndexerMsg::Drain)?;
            me.send_interval(args.poll, || MemoryIndexerMsg::Drain);
        }
        Ok(MemoryIndexerState { args, indexed: 0, remaining: 0, last_error: None })
    }

    async fn handle(
        &self,
        me: ActorRef<MemoryIndexerMsg>,
        msg: MemoryIndexerMsg,
        state: &mut MemoryIndexerState,
    ) -> Result<(), ActorProcessingErr> {
        let span = crate::span::actor_span("memory_indexer", me.get_id());
        match msg {
            MemoryIndexerMsg::Drain => drain(state).instrument(span).await,
            MemoryIndexerMsg::Health(reply) => {
                let _entered = span.entered();
                let detail = match (&state.args.port, &state.last_error) {
                    (None, _) => "idle; no memory service".to_string(),
                    (Some(_), Some(error)) => format!("retrying: {error}"),
                    (Some(_), None) => format!("{} indexed, {} queued", state.indexed, state.remaining),
                };
                let _ = reply.send(SelfReport::running(detail));
            }
        }
        Ok(())
    }
}

/// Indexes queued files batch by batch until the queue is empty or a batch fails.
async fn drain(state: &mut MemoryIndexerState) {
    let Some(port) = state.args.port.clone() else { return };
    loop {
        match port.index_batch(state.args.batch_size.max(1)).await {
            Ok(progress) => {
                state.indexed += progress.done as u64;
                state.remaining = progress.remaining;
                state.last_error = None;
                if progress.done > 0 {
                    tracing::info!(done = progress.done, remaining = progress.remaining, "memory indexed");
                }
                if progress.remaining == 0 || progress.done == 0 {
                    break;
                }
            }
            // Storage or embedding trouble: the files stay queued and the next poll retries;
            // failing the actor would only burn its restart budget.
            Err(error) => {
                tracing::warn!(%error, "memory indexing batch failed; will retry");
                state.last_error = Some(error.to_string());
                break;
            }
        }
    }
}
