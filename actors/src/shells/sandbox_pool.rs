//! SandboxPool: bounds how many WASM tool executions run at once (the engine lands with the sandbox issue).

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::Semaphore;

use crate::health::{HealthProbe, SelfReport};

pub struct SandboxPool;

pub enum SandboxPoolMsg {
    Health(RpcReplyPort<SelfReport>),
}

impl HealthProbe for SandboxPoolMsg {
    fn health_probe(reply: RpcReplyPort<SelfReport>) -> Self {
        SandboxPoolMsg::Health(reply)
    }
}

pub struct SandboxPoolState {
    permits: Arc<Semaphore>,
    capacity: usize,
}

impl Actor for SandboxPool {
    type Msg = SandboxPoolMsg;
    type State = SandboxPoolState;
    /// Executions allowed at once.
    type Arguments = usize;

    async fn pre_start(
        &self,
        _me: ActorRef<SandboxPoolMsg>,
        capacity: usize,
    ) -> Result<SandboxPoolState, ActorProcessingErr> {
        Ok(SandboxPoolState { permits: Arc::new(Semaphore::new(capacity)), capacity })
    }

    async fn handle(
        &self,
        me: ActorRef<SandboxPoolMsg>,
        msg: SandboxPoolMsg,
        st: &mut SandboxPoolState,
    ) -> Result<(), ActorProcessingErr> {
        let _span = crate::span::actor_span("sandbox_pool", me.get_id()).entered();
        match msg {
            SandboxPoolMsg::Health(reply) => {
                let busy = st.capacity - st.permits.available_permits();
                let _ =
                    reply.send(SelfReport::running(format!("{busy}/{} executions; no tools installed", st.capacity)));
            }
        }
        Ok(())
    }
}
