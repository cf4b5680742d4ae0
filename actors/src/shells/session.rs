//! SessionActor: one per conversation; runs its turns one at a time, in arrival order.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tracing::{Instrument, debug, info, info_span, warn};

use crate::admission::Ticket;
use crate::health::{HealthProbe, SelfReport};
use crate::message::{ConversationId, Inbound};
use crate::metric_names;
use crate::ports::TurnRunner;

pub struct SessionActor;

pub enum SessionMsg {
    /// A user's message, already stored by its channel.
    Inbound {
        inbound: Inbound,
        ticket: Ticket,
    },
    /// A message a crashed predecessor left unanswered, queued by `pre_start` ahead of anything new.
    Resumed(Inbound),
    /// Timer: stop if nothing happened for the idle limit.
    IdleCheck,
    Health(RpcReplyPort<SelfReport>),
}

impl HealthProbe for SessionMsg {
    fn health_probe(reply: RpcReplyPort<SelfReport>) -> Self {
        SessionMsg::Health(reply)
    }
}

pub struct SessionArgs {
    pub conversation: ConversationId,
    pub runner: Arc<dyn TurnRunner>,
    /// Stop after this long without a message; the next message starts a fresh actor.
    pub idle_after: Duration,
}

pub struct SessionState {
    conversation: ConversationId,
    runner: Arc<dyn TurnRunner>,
    idle_after: Duration,
    last_active: Instant,
    turns: u64,
    /// Messages answered through `Resumed`: the same message may also arrive as `Inbound` (it was stored, then
    /// delivered to this new actor while `pre_start` found it unanswered), and must not run a second turn.
    resumed_done: HashSet<i64>,
}

impl Actor for SessionActor {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionArgs;

    async fn pre_start(&self, me: ActorRef<SessionMsg>, args: SessionArgs) -> Result<SessionState, ActorProcessingErr> {
        let check_every = (args.idle_after / 4).max(Duration::from_millis(10));
        me.send_interval(check_every, || SessionMsg::IdleCheck);
        // Queued before `spawn` returns, so they run before any new message; run as messages, so a panic while
        // answering one is a handled failure like any other.
        let unanswered = args.runner.resume(&args.conversation).await?;
        if !unanswered.is_empty() {
            info!(conversation = %args.conversation, count = unanswered.len(), "resuming unanswered messages");
        }
        for inbound in unanswered {
            me.cast(SessionMsg::Resumed(inbound))?;
        }
        Ok(SessionState {
            conversation: args.conversation,
            runner: args.runner,
            idle_after: args.idle_after,
            last_active: Instant::now(),
            turns: 0,
            resumed_done: HashSet::new(),
        })
    }

    async fn post_stop(&self, _me: ActorRef<SessionMsg>, st: &mut SessionState) -> Result<(), ActorProcessingErr> {
        st.runner.stopped(&st.conversation);
        Ok(())
    }

    async fn handle(
        &self,
        me: ActorRef<SessionMsg>,
        msg: SessionMsg,
        st: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        let span = tracing::info_span!("actor", kind = "session", id = %me.get_id(), conversation = %st.conversation);
        async move {
            match msg {
                SessionMsg::Inbound { inbound, ticket } => {
                    if st.resumed_done.remove(&inbound.record_id) {
                        debug!(record_id = inbound.record_id, "already answered on resume");
                    } else {
                        run_turn(st, inbound).await;
                    }
                    drop(ticket);
                }
                SessionMsg::Resumed(inbound) => {
                    let record_id = inbound.record_id;
                    run_turn(st, inbound).await;
                    st.resumed_done.insert(record_id);
                }
                SessionMsg::IdleCheck => {
                    if st.last_active.elapsed() >= st.idle_after {
                        info!(conversation = %st.conversation, turns = st.turns, "session idle; stopping");
                        me.stop(Some("idle".into()));
                    }
                }
                SessionMsg::Health(reply) => {
                    let _ = reply.send(SelfReport::running(format!("{} turns", st.turns)));
                }
            }
            Ok(())
        }
        .instrument(span)
        .await
    }
}

async fn run_turn(st: &mut SessionState, inbound: Inbound) {
    let span = info_span!("turn", conversation = %st.conversation, channel = %inbound.channel, message = %inbound.platform_message_id);
    st.last_active = Instant::now();
    let channel = inbound.channel;
    let outcome = match st.runner.run_turn(inbound).instrument(span).await {
        Ok(()) => {
            metrics::counter!(metric_names::MESSAGES_SENT, "channel" => channel.as_str()).increment(1);
            "answered"
        }
        Err(error) => {
            // The runner already told the user; a failed turn must not take the conversation down.
            warn!(%error, "turn failed");
            "failed"
        }
    };
    metrics::histogram!(metric_names::TURN_SECONDS, "outcome" => outcome)
        .record(st.last_active.elapsed().as_secs_f64());
    st.turns += 1;
    st.last_active = Instant::now();
}
