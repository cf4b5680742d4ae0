//! Scheduler: the clock of routines and the heartbeat (triggers and actions land with the work issue).

use std::time::{Duration, SystemTime};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tracing::debug;

use crate::health::{HealthProbe, SelfReport};

pub struct Scheduler;

pub enum SchedulerMsg {
    /// Timer: evaluate what is due.
    Tick,
    Health(RpcReplyPort<SelfReport>),
}

impl HealthProbe for SchedulerMsg {
    fn health_probe(reply: RpcReplyPort<SelfReport>) -> Self {
        SchedulerMsg::Health(reply)
    }
}

pub struct SchedulerState {
    ticks: u64,
    last_tick: Option<SystemTime>,
}

impl Actor for Scheduler {
    type Msg = SchedulerMsg;
    type State = SchedulerState;
    /// How often the scheduler looks for due work.
    type Arguments = Duration;

    async fn pre_start(
        &self,
        me: ActorRef<SchedulerMsg>,
        tick: Duration,
    ) -> Result<SchedulerState, ActorProcessingErr> {
        me.send_interval(tick, || SchedulerMsg::Tick);
        Ok(SchedulerState { ticks: 0, last_tick: None })
    }

    async fn handle(
        &self,
        me: ActorRef<SchedulerMsg>,
        msg: SchedulerMsg,
        st: &mut SchedulerState,
    ) -> Result<(), ActorProcessingErr> {
        let _span = crate::span::actor_span("scheduler", me.get_id()).entered();
        match msg {
            SchedulerMsg::Tick => {
                st.ticks += 1;
                st.last_tick = Some(SystemTime::now());
                debug!(ticks = st.ticks, "scheduler tick; no routines defined");
            }
            SchedulerMsg::Health(reply) => {
                let _ = reply.send(SelfReport::running(format!("{} ticks; no routines defined", st.ticks)));
            }
        }
        Ok(())
    }
}
