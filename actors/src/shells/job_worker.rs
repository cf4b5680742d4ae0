//! JobWorker: one member of the job pool; claims and runs persisted jobs (the job runner lands with the jobs issue).

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::health::{HealthProbe, SelfReport};

pub struct JobWorker;

pub enum JobWorkerMsg {
    Health(RpcReplyPort<SelfReport>),
}

impl HealthProbe for JobWorkerMsg {
    fn health_probe(reply: RpcReplyPort<SelfReport>) -> Self {
        JobWorkerMsg::Health(reply)
    }
}

/// Which pool slot this worker fills, for logs and status.
pub struct JobWorkerState {
    slot: usize,
}

impl Actor for JobWorker {
    type Msg = JobWorkerMsg;
    type State = JobWorkerState;
    type Arguments = usize;

    async fn pre_start(&self, _me: ActorRef<JobWorkerMsg>, slot: usize) -> Result<JobWorkerState, ActorProcessingErr> {
        Ok(JobWorkerState { slot })
    }

    async fn handle(
        &self,
        me: ActorRef<JobWorkerMsg>,
        msg: JobWorkerMsg,
        st: &mut JobWorkerState,
    ) -> Result<(), ActorProcessingErr> {
        let _span = crate::span::actor_span("job_worker", me.get_id()).entered();
        match msg {
            JobWorkerMsg::Health(reply) => {
                let _ = reply.send(SelfReport::running(format!("slot {}: idle, no job queue connected", st.slot)));
            }
        }
        Ok(())
    }
}
