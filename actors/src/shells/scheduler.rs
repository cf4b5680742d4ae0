//! Scheduler: the clock of routines and the heartbeat; what fires and how lives behind its port.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tracing::{Instrument, debug, info, warn};

use crate::health::{HealthProbe, SelfReport};
use crate::ports::SchedulerPort;

pub struct Scheduler;

pub enum SchedulerMsg {
    /// Timer: evaluate what is due.
    Tick,
    /// Timer: read HEARTBEAT.md and act on it.
    Heartbeat,
    Health(RpcReplyPort<SelfReport>),
}

impl HealthProbe for SchedulerMsg {
    fn health_probe(reply: RpcReplyPort<SelfReport>) -> Self {
        SchedulerMsg::Health(reply)
    }
}

/// Kept by the supervisor's spawn closure; a restarted scheduler keeps its port and timing.
#[derive(Clone)]
pub struct SchedulerArgs {
    /// How often the scheduler looks for due work.
    pub tick: Duration,
    /// `None` leaves the scheduler ticking with nothing to fire.
    pub port: Option<Arc<dyn SchedulerPort>>,
}

pub struct SchedulerState {
    port: Option<Arc<dyn SchedulerPort>>,
    ticks: u64,
    fired: u64,
    heartbeats: u64,
    last_tick: Option<SystemTime>,
    last_error: Option<String>,
}

impl Actor for Scheduler {
    type Msg = SchedulerMsg;
    type State = SchedulerState;
    type Arguments = SchedulerArgs;

    async fn pre_start(
        &self,
        me: ActorRef<SchedulerMsg>,
        args: SchedulerArgs,
    ) -> Result<SchedulerState, ActorProcessingErr> {
        me.send_interval(args.tick, || SchedulerMsg::Tick);
        if let Some(every) = args.port.as_ref().and_then(|port| port.heartbeat_every()) {
            me.send_interval(every, || SchedulerMsg::Heartbeat);
        }
        Ok(SchedulerState { port: args.port, ticks: 0, fired: 0, heartbeats: 0, last_tick: None, last_error: None })
    }

    async fn handle(
        &self,
        me: ActorRef<SchedulerMsg>,
        msg: SchedulerMsg,
        st: &mut SchedulerState,
    ) -> Result<(), ActorProcessingErr> {
        let span = crate::span::actor_span("scheduler", me.get_id());
        async move {
            match msg {
                SchedulerMsg::Tick => {
                    st.ticks += 1;
                    st.last_tick = Some(SystemTime::now());
                    let Some(port) = &st.port else { return };
                    match port.tick().await {
                        Ok(fired) => {
                            st.fired += fired;
                            st.last_error = None;
                            if fired > 0 {
                                debug!(fired, "routines fired");
                            }
                        }
                        Err(error) => {
                            warn!(%error, "scheduler tick failed; trying again at the next one");
                            st.last_error = Some(error.to_string());
                        }
                    }
                }
                SchedulerMsg::Heartbeat => {
                    let Some(port) = &st.port else { return };
                    match port.heartbeat().await {
                        Ok(true) => {
                            st.heartbeats += 1;
                            info!("heartbeat queued");
                        }
                        Ok(false) => debug!("heartbeat skipped: HEARTBEAT.md is empty"),
                        Err(error) => warn!(%error, "heartbeat failed"),
                    }
                }
                SchedulerMsg::Health(reply) => {
                    let detail =
                        format!("{} ticks, {} routines fired, {} heartbeats", st.ticks, st.fired, st.heartbeats);
                    let report = match &st.last_error {
                        None => SelfReport::running(detail),
                        Some(error) => SelfReport {
                            state: crate::health::ActorState::Degraded,
                            detail: format!("{detail}; last tick failed: {error}"),
                            children: Vec::new(),
                        },
                    };
                    let _ = reply.send(report);
                }
            }
        }
        .instrument(span)
        .await;
        Ok(())
    }
}
