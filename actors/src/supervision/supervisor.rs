//! The supervisor actor: starts its children, restarts them by policy, escalates when a budget is spent.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tracing::{Instrument, error, info, info_span, warn};

use crate::health::{ActorState, HealthNode, HealthProbe, SelfReport};
use crate::supervision::child::ChildSpec;
use crate::supervision::policy::{RestartDecision, RestartHistory};

/// How long a stopping supervisor waits for each child before killing it.
const CHILD_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Which children restart when one fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Only the failed child restarts; siblings keep running undisturbed.
    OneForOne,
    /// Every child restarts, for groups whose members share state and must start together.
    /// The budget is the group's: the failing child's policy is applied to group restarts.
    OneForAll,
}

/// A supervisor's static description.
#[derive(Debug, Clone)]
pub struct SupervisorSpec {
    pub name: String,
    pub strategy: Strategy,
    pub children: Vec<ChildSpec>,
}

/// Behaviour of every supervisor in the tree.
pub struct Supervisor;

pub enum SupervisorMsg {
    /// A backoff timer expired: start child `index` again (or the whole group under one-for-all).
    Restart { index: usize },
    /// Health probe; the report lists every child.
    Health(RpcReplyPort<SelfReport>),
}

impl HealthProbe for SupervisorMsg {
    fn health_probe(reply: RpcReplyPort<SelfReport>) -> Self {
        SupervisorMsg::Health(reply)
    }
}

struct ChildEntry {
    spec: ChildSpec,
    cell: Option<ActorCell>,
    state: ActorState,
    history: RestartHistory,
}

pub struct SupervisorState {
    name: String,
    strategy: Strategy,
    children: Vec<ChildEntry>,
    /// Children this supervisor stopped itself (one-for-all), whose exit is not a failure.
    expected_exits: HashSet<ActorId>,
    /// Group restart bookkeeping for one-for-all.
    group_history: RestartHistory,
}

impl Actor for Supervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorSpec;

    async fn pre_start(
        &self,
        me: ActorRef<SupervisorMsg>,
        spec: SupervisorSpec,
    ) -> Result<SupervisorState, ActorProcessingErr> {
        let span = info_span!("supervisor", name = %spec.name);
        async move {
            let mut children = Vec::with_capacity(spec.children.len());
            for child in spec.children {
                let cell = (child.spawn)(me.get_cell())
                    .await
                    .map_err(|error| format!("could not start {}: {error}", child.name))?;
                children.push(ChildEntry {
                    spec: child,
                    cell: Some(cell),
                    state: ActorState::Running,
                    history: RestartHistory::default(),
                });
            }
            info!(children = children.len(), "supervisor started");
            Ok(SupervisorState {
                name: spec.name,
                strategy: spec.strategy,
                children,
                expected_exits: HashSet::new(),
                group_history: RestartHistory::default(),
            })
        }
        .instrument(span)
        .await
    }

    async fn handle(
        &self,
        me: ActorRef<SupervisorMsg>,
        msg: SupervisorMsg,
        st: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let span = info_span!("supervisor", name = %st.name);
        async move {
            match msg {
                SupervisorMsg::Restart { index } => match st.strategy {
                    Strategy::OneForOne => restart_one(&me, st, index).await,
                    Strategy::OneForAll => restart_all(&me, st, index).await,
                },
                SupervisorMsg::Health(reply) => {
                    report_health(st, reply);
                    Ok(())
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn handle_supervisor_evt(
        &self,
        me: ActorRef<SupervisorMsg>,
        event: SupervisionEvent,
        st: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let span = info_span!("supervisor", name = %st.name);
        async move {
            match event {
                SupervisionEvent::ActorFailed(cell, reason) => {
                    if st.expected_exits.remove(&cell.get_id()) {
                        return Ok(());
                    }
                    let Some(index) = child_index(st, &cell) else { return Ok(()) };
                    on_child_failed(&me, st, index, &reason.to_string())
                }
                SupervisionEvent::ActorTerminated(cell, _, reason) => {
                    if st.expected_exits.remove(&cell.get_id()) {
                        return Ok(());
                    }
                    if let Some(index) = child_index(st, &cell) {
                        let child = &mut st.children[index];
                        info!(child = %child.spec.name, reason = reason.as_deref().unwrap_or("none"), "child stopped");
                        child.cell = None;
                        child.state = ActorState::Stopped;
                    }
                    Ok(())
                }
                SupervisionEvent::ActorStarted(_) | SupervisionEvent::ProcessGroupChanged(_) => Ok(()),
            }
        }
        .instrument(span)
        .await
    }

    async fn post_stop(
        &self,
        _me: ActorRef<SupervisorMsg>,
        st: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        // Children first, last-started first, so nothing outlives what it depends on.
        for child in st.children.iter_mut().rev() {
            if let Some(cell) = child.cell.take()
                && cell.stop_and_wait(Some("supervisor stopping".into()), Some(CHILD_STOP_TIMEOUT)).await.is_err()
            {
                warn!(child = %child.spec.name, "child did not stop in time; killing it");
                cell.kill();
            }
            child.state = ActorState::Stopped;
        }
        info!(name = %st.name, "supervisor stopped");
        Ok(())
    }
}

fn child_index(st: &SupervisorState, cell: &ActorCell) -> Option<usize> {
    st.children.iter().position(|child| child.cell.as_ref().is_some_and(|c| c.get_id() == cell.get_id()))
}

fn on_child_failed(
    me: &ActorRef<SupervisorMsg>,
    st: &mut SupervisorState,
    index: usize,
    reason: &str,
) -> Result<(), ActorProcessingErr> {
    let now = Instant::now();
    let decision = match st.strategy {
        Strategy::OneForOne => {
            let child = &mut st.children[index];
            child.cell = None;
            child.history.on_failure(&child.spec.policy, now)
        }
        Strategy::OneForAll => {
            let policy = st.children[index].spec.policy.clone();
            st.children[index].cell = None;
            for sibling in st.children.iter_mut() {
                if let Some(cell) = sibling.cell.take() {
                    st.expected_exits.insert(cell.get_id());
                    cell.stop(Some("sibling failed; restarting the group".into()));
                }
            }
            st.group_history.on_failure(&policy, now)
        }
    };
    let name = st.children[index].spec.name.clone();
    match decision {
        RestartDecision::RestartAfter(delay) => {
            warn!(child = %name, %reason, delay_ms = delay.as_millis() as u64, "child failed; restarting after backoff");
            let affected: Vec<usize> = match st.strategy {
                Strategy::OneForOne => vec![index],
                Strategy::OneForAll => (0..st.children.len()).collect(),
            };
            for i in affected {
                st.children[i].state = ActorState::Restarting;
            }
            if delay.is_zero() {
                me.cast(SupervisorMsg::Restart { index })?;
            } else {
                me.send_after(delay, move || SupervisorMsg::Restart { index });
            }
            Ok(())
        }
        RestartDecision::Escalate => {
            error!(child = %name, %reason, "child exceeded its restart budget; escalating");
            st.children[index].state = ActorState::Failed;
            Err(format!("{}: child {name} exceeded its restart budget (last failure: {reason})", st.name).into())
        }
    }
}

async fn restart_one(
    me: &ActorRef<SupervisorMsg>,
    st: &mut SupervisorState,
    index: usize,
) -> Result<(), ActorProcessingErr> {
    let Some(child) = st.children.get_mut(index) else { return Ok(()) };
    if child.state != ActorState::Restarting {
        return Ok(());
    }
    match (child.spec.spawn)(me.get_cell()).await {
        Ok(cell) => {
            info!(child = %child.spec.name, restarts = child.history.total_restarts(), "child restarted");
            child.cell = Some(cell);
            child.state = ActorState::Running;
            Ok(())
        }
        Err(error) => on_child_failed(me, st, index, &format!("restart failed: {error}")),
    }
}

async fn restart_all(
    me: &ActorRef<SupervisorMsg>,
    st: &mut SupervisorState,
    failed_index: usize,
) -> Result<(), ActorProcessingErr> {
    if st.children.iter().all(|child| child.state != ActorState::Restarting) {
        return Ok(());
    }
    for index in 0..st.children.len() {
        let child = &mut st.children[index];
        match (child.spec.spawn)(me.get_cell()).await {
            Ok(cell) => {
                child.cell = Some(cell);
                child.state = ActorState::Running;
            }
            Err(error) => return on_child_failed(me, st, index, &format!("group restart failed: {error}")),
        }
    }
    info!(trigger = %st.children[failed_index].spec.name, restarts = st.group_history.total_restarts(), "group restarted");
    Ok(())
}

/// Answers a health probe without blocking the supervisor: children are probed from a separate task.
fn report_health(st: &SupervisorState, reply: RpcReplyPort<SelfReport>) {
    let snapshot: Vec<_> = st
        .children
        .iter()
        .map(|child| {
            let restarts = match st.strategy {
                Strategy::OneForOne => child.history.total_restarts(),
                Strategy::OneForAll => st.group_history.total_restarts(),
            };
            (child.spec.name.clone(), child.state, restarts, child.cell.clone(), child.spec.probe.clone())
        })
        .collect();
    let strategy = st.strategy;
    tokio::spawn(async move {
        let mut children = Vec::with_capacity(snapshot.len());
        let probes = snapshot.into_iter().map(|(name, state, restarts, cell, probe)| async move {
            let mut node = HealthNode { name, state, restarts, detail: String::new(), children: Vec::new() };
            if let (ActorState::Running, Some(cell)) = (state, cell) {
                match probe(cell).await {
                    Some(report) => {
                        node.state = report.state;
                        node.detail = report.detail;
                        node.children = report.children;
                    }
                    None => node.state = ActorState::Unresponsive,
                }
            }
            node
        });
        children.extend(futures::future::join_all(probes).await);
        let state = if children.iter().all(|c| c.state == ActorState::Running) {
            ActorState::Running
        } else {
            ActorState::Degraded
        };
        let detail = match strategy {
            Strategy::OneForOne => "one-for-one",
            Strategy::OneForAll => "one-for-all",
        };
        // The asker may have timed out; not our failure.
        let _ = reply.send(SelfReport { state, detail: detail.into(), children });
    });
}
