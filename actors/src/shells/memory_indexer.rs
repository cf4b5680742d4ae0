//! MemoryIndexer: indexes workspace documents in the background (chunking and embedding land with the memory issue).

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::health::{HealthProbe, SelfReport};

pub struct MemoryIndexer;

pub enum MemoryIndexerMsg {
    Health(RpcReplyPort<SelfReport>),
}

impl HealthProbe for MemoryIndexerMsg {
    fn health_probe(reply: RpcReplyPort<SelfReport>) -> Self {
        MemoryIndexerMsg::Health(reply)
    }
}

impl Actor for MemoryIndexer {
    type Msg = MemoryIndexerMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _me: ActorRef<MemoryIndexerMsg>, _args: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        me: ActorRef<MemoryIndexerMsg>,
        msg: MemoryIndexerMsg,
        _st: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        let _span = crate::span::actor_span("memory_indexer", me.get_id()).entered();
        match msg {
            MemoryIndexerMsg::Health(reply) => {
                let _ = reply.send(SelfReport::running("idle; no memory store connected"));
            }
        }
        Ok(())
    }
}
