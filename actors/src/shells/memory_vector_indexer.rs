//! MemoryVectorIndexer: keeps the vector index caught up with its durable queue in the background.
//!
//! Chunks are searchable as soon as they are stored (the queue is scanned exactly by search); this
//! actor only moves them into the approximate index, step by step. A step (a batch, or a rebuild
//! that may take a minute at 100k chunks) runs in a task of its own, so health probes are answered
//! meanwhile. The queue lives in the store: a crash loses nothing, and the restarted actor resumes
//! from what is still queued (a half-done step rolls back, or is redone).

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::health::{HealthProbe, SelfReport};
use crate::ports::{IndexError, VectorIndexPort, VectorIndexProgress};

pub struct MemoryVectorIndexer;

/// What the actor is given; cloned for every restart.
#[derive(Clone)]
pub struct MemoryVectorIndexerArgs {
    /// `None` when there is no approximate index to keep (SQLite, or no memory service): the
    /// actor then only reports idle.
    pub port: Option<Arc<dyn VectorIndexPort>>,
    /// How often the queue is looked at when it was empty or a step failed.
    pub poll: Duration,
}

pub enum MemoryVectorIndexerMsg {
    /// Start a step unless one is running (the poll timer, and at start).
    Tick,
    /// The running step ended.
    StepDone(Result<VectorIndexProgress, IndexError>),
    Health(RpcReplyPort<SelfReport>),
}

pub struct MemoryVectorIndexerState {
    args: MemoryVectorIndexerArgs,
    /// The step in flight, if any; aborted when the actor stops.
    step: Option<JoinHandle<()>>,
    absorbed: u64,
    pending: u64,
    rebuilds: u64,
    last_error: Option<String>,
}

impl HealthProbe for MemoryVectorIndexerMsg {
    fn health_probe(reply: RpcReplyPort<SelfReport>) -> Self {
        MemoryVectorIndexerMsg::Health(reply)
    }
}

impl Actor for MemoryVectorIndexer {
    type Msg = MemoryVectorIndexerMsg;
    type State = MemoryVectorIndexerState;
    type Arguments = MemoryVectorIndexerArgs;

    async fn pre_start(
        &self,
        me: ActorRef<MemoryVectorIndexerMsg>,
        args: MemoryVectorIndexerArgs,
    ) -> Result<MemoryVectorIndexerState, ActorProcessingErr> {
        if args.port.is_some() {
            // Resume what a previous run (or a crash) left queued, then keep polling.
            me.send_message(MemoryVectorIndexerMsg::Tick)?;
            me.send_interval(args.poll, || MemoryVectorIndexerMsg::Tick);
        }
        Ok(MemoryVectorIndexerState { args, step: None, absorbed: 0, pending: 0, rebuilds: 0, last_error: None })
    }

    async fn handle(
        &self,
        me: ActorRef<MemoryVectorIndexerMsg>,
        msg: MemoryVectorIndexerMsg,
        state: &mut MemoryVectorIndexerState,
    ) -> Result<(), ActorProcessingErr> {
        let span = crate::span::actor_span("memory_vector_indexer", me.get_id());
        let _entered = span.enter();
        match msg {
            MemoryVectorIndexerMsg::Tick => start_step(&me, state),
            MemoryVectorIndexerMsg::StepDone(result) => {
                state.step = None;
                match result {
                    Ok(progress) => {
                        state.absorbed += progress.absorbed;
                        state.pending = progress.pending;
                        state.rebuilds += u64::from(progress.rebuilt);
                        state.last_error = None;
                        if progress.absorbed > 0 || progress.rebuilt {
                            tracing::info!(
                                absorbed = progress.absorbed,
                                pending = progress.pending,
                                rebuilt = progress.rebuilt,
                                "memory vector index caught up a step"
                            );
                        }
                        // Keep going while steps make progress; otherwise wait for the timer.
                        if progress.pending > 0 && (progress.absorbed > 0 || progress.rebuilt) && !progress.busy {
                            start_step(&me, state);
                        }
                    }
                    // Storage trouble: the chunks stay queued (and searchable) and the next tick
                    // retries; failing the actor would only burn its restart budget.
                    Err(error) => {
                        tracing::warn!(%error, "memory vector index step failed; will retry");
                        state.last_error = Some(error.to_string());
                    }
                }
            }
            MemoryVectorIndexerMsg::Health(reply) => {
                let detail = match (&state.args.port, &state.last_error) {
                    (None, _) => "idle; no approximate vector index on this backend".to_string(),
                    (Some(_), Some(error)) => format!("retrying: {error}"),
                    (Some(_), None) => format!(
                        "{} vectors indexed, {} queued, {} rebuilds{}",
                        state.absorbed,
                        state.pending,
                        state.rebuilds,
                        if state.step.is_some() { ", working" } else { "" }
                    ),
                };
                // The asker may have timed out; not our failure.
                let _ = reply.send(SelfReport::running(detail));
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _me: ActorRef<MemoryVectorIndexerMsg>,
        state: &mut MemoryVectorIndexerState,
    ) -> Result<(), ActorProcessingErr> {
        // An aborted step rolls back (or, mid-rebuild, leaves a build table the next one drops).
        if let Some(step) = state.step.take() {
            step.abort();
        }
        Ok(())
    }
}

/// Runs one step in a task of its own unless one is already running.
fn start_step(me: &ActorRef<MemoryVectorIndexerMsg>, state: &mut MemoryVectorIndexerState) {
    let Some(port) = state.args.port.clone() else { return };
    if state.step.as_ref().is_some_and(|step| !step.is_finished()) {
        return;
    }
    let me = me.clone();
    let span = tracing::info_span!("memory_vector_index_step");
    state.step = Some(tokio::spawn(
        async move {
            let result = port.absorb_step().await;
            // The actor may have stopped meanwhile; the queue keeps the work.
            let _ = me.send_message(MemoryVectorIndexerMsg::StepDone(result));
        }
        .instrument(span),
    ));
}
