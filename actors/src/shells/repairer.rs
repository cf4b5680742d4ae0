//! Repairer: periodically looks for stuck work and heals it (the checks land with the work issue).

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tracing::debug;

use crate::health::{HealthProbe, SelfReport};

pub struct Repairer;

pub enum RepairMsg {
    /// Timer: look for expired leases, undelivered replies, unanswered turns.
    Sweep,
    Health(RpcReplyPort<SelfReport>),
}

impl HealthProbe for RepairMsg {
    fn health_probe(reply: RpcReplyPort<SelfReport>) -> Self {
        RepairMsg::Health(reply)
    }
}

pub struct RepairState {
    sweeps: u64,
}

impl Actor for Repairer {
    type Msg = RepairMsg;
    type State = RepairState;
    /// Time between sweeps.
    type Arguments = Duration;

    async fn pre_start(&self, me: ActorRef<RepairMsg>, every: Duration) -> Result<RepairState, ActorProcessingErr> {
        me.send_interval(every, || RepairMsg::Sweep);
        Ok(RepairState { sweeps: 0 })
    }

    async fn handle(
        &self,
        me: ActorRef<RepairMsg>,
        msg: RepairMsg,
        st: &mut RepairState,
    ) -> Result<(), ActorProcessingErr> {
        let _span = crate::span::actor_span("repairer", me.get_id()).entered();
        match msg {
            RepairMsg::Sweep => {
                st.sweeps += 1;
                debug!(sweeps = st.sweeps, "repair sweep; nothing is tracked yet");
            }
            RepairMsg::Health(reply) => {
                let _ = reply.send(SelfReport::running(format!("{} sweeps; nothing tracked yet", st.sweeps)));
            }
        }
        Ok(())
    }
}
