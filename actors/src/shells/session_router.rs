//! SessionRouter: spawns one SessionActor per conversation on first message, supervises them, keeps the registry.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, ActorStatus, RpcReplyPort, SupervisionEvent};
use tracing::{Instrument, info, info_span, warn};

use crate::admission::{AdmissionGate, OverloadPolicy};
use crate::error::{BusError, call_outcome};
use crate::health::{ActorState, HealthNode, HealthProbe, SelfReport};
use crate::message::{ConversationId, Inbound};
use crate::ports::TurnRunner;
use crate::shells::session::{SessionActor, SessionArgs, SessionMsg};
use crate::supervision::policy::{RestartDecision, RestartHistory, RestartPolicy};

/// Longest a stopping session may take to finish its turn in flight.
const SESSION_STOP_TIMEOUT: Duration = Duration::from_secs(300);

/// How long a sender waits for the router to open a session.
const OPEN_TIMEOUT_MS: u64 = 5_000;

/// A live session and the gate that bounds its queue.
#[derive(Clone)]
pub struct SessionHandle {
    pub actor: ActorRef<SessionMsg>,
    pub gate: AdmissionGate<SessionMsg>,
}

/// Live session actors by conversation, shared by channels (to deliver) and the router (to maintain).
///
/// Lookups clone the handle out; no map guard is ever held across an `.await`.
#[derive(Clone, Default)]
pub struct SessionRegistry {
    sessions: Arc<DashMap<ConversationId, SessionHandle>>,
}

impl SessionRegistry {
    pub fn get(&self, conversation: &ConversationId) -> Option<SessionHandle> {
        self.sessions.get(conversation).map(|entry| entry.value().clone())
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

/// Configuration of every session the router starts.
#[derive(Clone)]
pub struct SessionRouterArgs {
    pub runner: Arc<dyn TurnRunner>,
    pub registry: SessionRegistry,
    pub idle_after: Duration,
    /// Messages one conversation may have waiting before senders are refused.
    pub queue_capacity: usize,
    pub overload: OverloadPolicy,
    pub restart: RestartPolicy,
}

pub struct SessionRouter;

pub enum RouterMsg {
    /// Return the conversation's session, starting it if needed.
    Open {
        conversation: ConversationId,
        reply: RpcReplyPort<Result<SessionHandle, String>>,
    },
    /// A failed session's backoff expired.
    Restart {
        conversation: ConversationId,
    },
    Health(RpcReplyPort<SelfReport>),
}

impl HealthProbe for RouterMsg {
    fn health_probe(reply: RpcReplyPort<SelfReport>) -> Self {
        RouterMsg::Health(reply)
    }
}

pub struct RouterState {
    args: SessionRouterArgs,
    /// Which conversation each live actor serves, to interpret supervision events.
    by_actor: HashMap<ActorId, ConversationId>,
    histories: HashMap<ConversationId, RestartHistory>,
}

impl Actor for SessionRouter {
    type Msg = RouterMsg;
    type State = RouterState;
    type Arguments = SessionRouterArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<RouterMsg>,
        args: SessionRouterArgs,
    ) -> Result<RouterState, ActorProcessingErr> {
        Ok(RouterState { args, by_actor: HashMap::new(), histories: HashMap::new() })
    }

    async fn handle(
        &self,
        me: ActorRef<RouterMsg>,
        msg: RouterMsg,
        st: &mut RouterState,
    ) -> Result<(), ActorProcessingErr> {
        let span = crate::span::actor_span("session_router", me.get_id());
        handle_router_msg(&me, msg, st).instrument(span).await;
        Ok(())
    }

    /// Stops every session and waits for its turn in flight: on shutdown, work already started is finished (the
    /// caller bounds the whole stop with its grace period) instead of being killed with the router.
    async fn post_stop(&self, _me: ActorRef<RouterMsg>, st: &mut RouterState) -> Result<(), ActorProcessingErr> {
        let sessions: Vec<_> = st.args.registry.sessions.iter().map(|entry| entry.value().actor.clone()).collect();
        let stops =
            sessions.iter().map(|actor| actor.stop_and_wait(Some("shutdown".into()), Some(SESSION_STOP_TIMEOUT)));
        futures::future::join_all(stops).await;
        st.args.registry.sessions.clear();
        info!(sessions = sessions.len(), "sessions stopped");
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        me: ActorRef<RouterMsg>,
        event: SupervisionEvent,
        st: &mut RouterState,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorFailed(cell, reason) => {
                let Some(conversation) = st.by_actor.remove(&cell.get_id()) else { return Ok(()) };
                let history = st.histories.entry(conversation.clone()).or_default();
                match history.on_failure(&st.args.restart, Instant::now()) {
                    RestartDecision::RestartAfter(delay) => {
                        warn!(%conversation, %reason, delay_ms = delay.as_millis() as u64, "session failed; restarting");
                        me.send_after(delay, move || RouterMsg::Restart { conversation });
                    }
                    RestartDecision::Escalate => {
                        // One broken conversation must not take the others down: give up on it alone, and tell
                        // whoever waits on it.
                        warn!(%conversation, %reason, "session keeps failing; dropping it until its next message");
                        st.args.registry.sessions.remove(&conversation);
                        let runner = Arc::clone(&st.args.runner);
                        let reason = reason.to_string();
                        tokio::spawn(async move {
                            if let Err(error) = runner.abandon(&conversation, &reason).await {
                                warn!(%error, "could not answer the abandoned conversation");
                            }
                        });
                    }
                }
            }
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                if let Some(conversation) = st.by_actor.remove(&cell.get_id()) {
                    st.args.registry.sessions.remove(&conversation);
                }
            }
            SupervisionEvent::ActorStarted(_) | SupervisionEvent::ProcessGroupChanged(_) => {}
        }
        Ok(())
    }
}

async fn handle_router_msg(me: &ActorRef<RouterMsg>, msg: RouterMsg, st: &mut RouterState) {
    match msg {
        RouterMsg::Open { conversation, reply } => {
            let result = match st.args.registry.get(&conversation).filter(|handle| is_alive(&handle.actor)) {
                Some(handle) => Ok(handle),
                None => spawn_session(me, st, conversation, None).await.map_err(|error| error.to_string()),
            };
            let _ = reply.send(result);
        }
        RouterMsg::Restart { conversation } => {
            let gate = st.args.registry.get(&conversation).map(|handle| handle.gate);
            if let Err(error) = spawn_session(me, st, conversation.clone(), gate).await {
                warn!(%conversation, %error, "session restart failed; it starts again on the next message");
                st.args.registry.sessions.remove(&conversation);
            }
        }
        RouterMsg::Health(reply) => {
            let children = st
                .args
                .registry
                .sessions
                .iter()
                .map(|entry| HealthNode {
                    name: format!("session {}", entry.key()),
                    state: ActorState::Running,
                    restarts: st.histories.get(entry.key()).map_or(0, RestartHistory::total_restarts),
                    detail: format!("{} queued", entry.value().gate.depth()),
                    children: Vec::new(),
                })
                .collect();
            let mut report = SelfReport::running(format!("{} live sessions", st.args.registry.len()));
            report.children = children;
            let _ = reply.send(report);
        }
    }
}

async fn spawn_session(
    me: &ActorRef<RouterMsg>,
    st: &mut RouterState,
    conversation: ConversationId,
    gate: Option<AdmissionGate<SessionMsg>>,
) -> Result<SessionHandle, BusError> {
    let span = info_span!("session", conversation = %conversation);
    let args = SessionArgs {
        conversation: conversation.clone(),
        runner: Arc::clone(&st.args.runner),
        idle_after: st.args.idle_after,
    };
    let (actor, _join) = Actor::spawn_linked(None, SessionActor, args, me.get_cell())
        .instrument(span)
        .await
        .map_err(|source| BusError::Spawn { actor: format!("session {conversation}"), source })?;
    let gate = gate.unwrap_or_else(|| {
        AdmissionGate::new(format!("session {conversation}"), st.args.queue_capacity, st.args.overload)
    });
    let handle = SessionHandle { actor: actor.clone(), gate };
    st.by_actor.insert(actor.get_id(), conversation.clone());
    st.args.registry.sessions.insert(conversation.clone(), handle.clone());
    info!(%conversation, "session started");
    Ok(handle)
}

/// A session that stopped for idleness may linger in the registry until the router hears of it.
fn is_alive(actor: &ActorRef<SessionMsg>) -> bool {
    matches!(actor.get_status(), ActorStatus::Running | ActorStatus::Starting | ActorStatus::Upgrading)
}

/// Returns the conversation's session, starting it (and so its resume of unanswered messages) if needed.
pub async fn open(router: &ActorRef<RouterMsg>, conversation: ConversationId) -> Result<SessionHandle, BusError> {
    let result = router
        .call(|reply| RouterMsg::Open { conversation, reply }, Some(Duration::from_millis(OPEN_TIMEOUT_MS)))
        .await;
    call_outcome("session router", OPEN_TIMEOUT_MS, result)?
        .map_err(|reason| BusError::Failed { actor: "session router".into(), reason })
}

/// Delivers an inbound message to its conversation's session, starting the session if needed.
///
/// Fails with [`BusError::Overloaded`] when that conversation's queue is full (per the router's policy).
pub async fn deliver(
    router: &ActorRef<RouterMsg>,
    registry: &SessionRegistry,
    inbound: Inbound,
) -> Result<(), BusError> {
    let handle = match registry.get(&inbound.conversation).filter(|handle| is_alive(&handle.actor)) {
        Some(handle) => handle,
        None => open(router, inbound.conversation.clone()).await?,
    };
    handle.gate.send(&handle.actor, |ticket| SessionMsg::Inbound { inbound, ticket }).await
}
