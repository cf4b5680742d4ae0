//! Repairer: periodically looks for stuck work (expired leases, jobs past their max runtime, undelivered replies,
//! unanswered turns, missed routine ticks) and heals it through its port.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tracing::{Instrument, info, warn};

use crate::health::{HealthProbe, SelfReport};
use crate::ports::{RepairPort, RepairReport};

pub struct Repairer;

pub enum RepairMsg {
    /// Timer: look for expired leases, undelivered replies, unanswered turns.
    Sweep,
    /// Everything healed since start, for status and tests.
    Totals(RpcReplyPort<RepairReport>),
    Health(RpcReplyPort<SelfReport>),
}

impl HealthProbe for RepairMsg {
    fn health_probe(reply: RpcReplyPort<SelfReport>) -> Self {
        RepairMsg::Health(reply)
    }
}

#[derive(Clone)]
pub struct RepairerArgs {
    /// Time between sweeps.
    pub every: Duration,
    /// `None` leaves the repairer sweeping nothing.
    pub port: Option<Arc<dyn RepairPort>>,
}

pub struct RepairState {
    port: Option<Arc<dyn RepairPort>>,
    sweeps: u64,
    totals: RepairReport,
}

impl Actor for Repairer {
    type Msg = RepairMsg;
    type State = RepairState;
    type Arguments = RepairerArgs;

    async fn pre_start(&self, me: ActorRef<RepairMsg>, args: RepairerArgs) -> Result<RepairState, ActorProcessingErr> {
        me.send_interval(args.every, || RepairMsg::Sweep);
        Ok(RepairState { port: args.port, sweeps: 0, totals: RepairReport::default() })
    }

    async fn handle(
        &self,
        me: ActorRef<RepairMsg>,
        msg: RepairMsg,
        st: &mut RepairState,
    ) -> Result<(), ActorProcessingErr> {
        let span = crate::span::actor_span("repairer", me.get_id());
        async move {
            match msg {
                RepairMsg::Sweep => {
                    st.sweeps += 1;
                    let Some(port) = &st.port else { return };
                    match port.sweep().await {
                        Ok(report) => {
                            if report.total() > 0 {
                                info!(?report, "repair sweep healed stuck work");
                            }
                            let totals = &mut st.totals;
                            totals.jobs_requeued += report.jobs_requeued;
                            totals.jobs_failed += report.jobs_failed;
                            totals.replies_redelivered += report.replies_redelivered;
                            totals.turns_resumed += report.turns_resumed;
                            totals.routines_rescheduled += report.routines_rescheduled;
                        }
                        Err(error) => warn!(%error, "repair sweep failed; trying again at the next one"),
                    }
                }
                // The asker may have timed out; not our failure.
                RepairMsg::Totals(reply) => {
                    let _ = reply.send(st.totals);
                }
                RepairMsg::Health(reply) => {
                    let _ =
                        reply.send(SelfReport::running(format!("{} sweeps, {} repairs", st.sweeps, st.totals.total())));
                }
            }
        }
        .instrument(span)
        .await;
        Ok(())
    }
}
