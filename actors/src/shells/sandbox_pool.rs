//! SandboxPool: every WASM tool call goes through it; it bounds concurrent executions and isolates each one.
//!
//! The actor never runs a call itself. It hands each call to its own task holding one permit, so a trap, a
//! timeout, a panic or a host failure ends that call with an error while the pool keeps serving. The permits
//! live in the arguments, so a restarted pool still counts the calls its predecessor left running.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::health::{HealthProbe, SelfReport};
use crate::ports::{ToolExecution, ToolExecutionError, ToolExecutor};
use crate::slot::ChildSlot;

pub struct SandboxPool;

pub enum SandboxPoolMsg {
    /// Run one call; the reply comes from the call's own task once it ends.
    Execute(ToolExecution, RpcReplyPort<Result<String, ToolExecutionError>>),
    Health(RpcReplyPort<SelfReport>),
}

impl HealthProbe for SandboxPoolMsg {
    fn health_probe(reply: RpcReplyPort<SelfReport>) -> Self {
        SandboxPoolMsg::Health(reply)
    }
}

/// Kept by the supervisor's spawn closure and cloned into every incarnation of the pool.
#[derive(Clone)]
pub struct SandboxPoolArgs {
    pub executor: Arc<dyn ToolExecutor>,
    /// Executions allowed at once, shared across restarts.
    pub permits: Arc<Semaphore>,
    pub capacity: usize,
    /// Calls handed out since start, across restarts.
    pub started: Arc<AtomicU64>,
}

impl SandboxPoolArgs {
    pub fn new(executor: Arc<dyn ToolExecutor>, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self { executor, permits: Arc::new(Semaphore::new(capacity)), capacity, started: Arc::default() }
    }
}

impl Actor for SandboxPool {
    type Msg = SandboxPoolMsg;
    type State = SandboxPoolArgs;
    type Arguments = SandboxPoolArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<SandboxPoolMsg>,
        args: SandboxPoolArgs,
    ) -> Result<SandboxPoolArgs, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        me: ActorRef<SandboxPoolMsg>,
        msg: SandboxPoolMsg,
        st: &mut SandboxPoolArgs,
    ) -> Result<(), ActorProcessingErr> {
        let span = crate::span::actor_span("sandbox_pool", me.get_id());
        match msg {
            SandboxPoolMsg::Execute(execution, reply) => {
                st.started.fetch_add(1, Ordering::Relaxed);
                let tool = execution.tool.clone();
                let call_span =
                    tracing::info_span!(parent: &span, "wasm_call", tool = %tool, call = %execution.call_id);
                // Built here, polled in the task: a host bug that panics while building the call fails the
                // pool (and the supervisor restarts it), one that panics while running fails only the call.
                let call = st.executor.execute(execution);
                let permits = Arc::clone(&st.permits);
                tokio::spawn(
                    async move {
                        let Ok(_permit) = permits.acquire_owned().await else {
                            let _ =
                                reply.send(Err(ToolExecutionError::Unavailable { tool, reason: "pool closed".into() }));
                            return;
                        };
                        let result = match tokio::spawn(call).await {
                            Ok(result) => result,
                            Err(join_error) => {
                                tracing::error!(error = %join_error, "tool call task failed");
                                Err(ToolExecutionError::Failed {
                                    tool,
                                    reason: format!("the call crashed: {join_error}"),
                                })
                            }
                        };
                        // The caller may have timed out; not our failure.
                        let _ = reply.send(result);
                    }
                    .instrument(call_span),
                );
            }
            SandboxPoolMsg::Health(reply) => {
                let busy = st.capacity - st.permits.available_permits();
                let started = st.started.load(Ordering::Relaxed);
                let _ = reply.send(SelfReport::running(format!(
                    "{busy}/{} executions; {started} calls since start",
                    st.capacity
                )));
            }
        }
        Ok(())
    }
}

/// Runs one call through the pool currently in `slot`, waiting at most `timeout` for its result.
pub async fn execute(
    slot: &ChildSlot<SandboxPoolMsg>,
    execution: ToolExecution,
    timeout: Duration,
) -> Result<String, ToolExecutionError> {
    let tool = execution.tool.clone();
    let unavailable = |reason: String| ToolExecutionError::Unavailable { tool: tool.clone(), reason };
    let pool = slot.get().ok_or_else(|| unavailable("the sandbox pool is not running".into()))?;
    match pool.call(|reply| SandboxPoolMsg::Execute(execution, reply), Some(timeout)).await {
        Ok(ractor::rpc::CallResult::Success(result)) => result,
        Ok(ractor::rpc::CallResult::Timeout) => {
            Err(unavailable(format!("no result within {} ms", timeout.as_millis())))
        }
        Ok(ractor::rpc::CallResult::SenderError) => {
            Err(unavailable("the sandbox pool restarted during the call".into()))
        }
        Err(error) => Err(unavailable(format!("the sandbox pool is not reachable: {error}"))),
    }
}
