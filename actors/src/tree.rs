//! The root of the actor tree (design §2): builds it, answers status, delivers inbound, shuts it down.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorRef};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::admission::OverloadPolicy;
use crate::error::{BusError, call_outcome};
use crate::health::{HealthNode, PROBE_TIMEOUT_MS};
use crate::message::{ConversationId, Inbound};
use crate::ports::{
    JobQueuePort, MemoryIndexPort, RepairPort, SchedulerPort, ToolExecution, ToolExecutionError, ToolExecutor,
    TurnRunner, VectorIndexPort,
};
use crate::shells::job_worker::{JobWorker, JobWorkerArgs};
use crate::shells::memory_indexer::{MemoryIndexer, MemoryIndexerArgs};
use crate::shells::memory_vector_indexer::{MemoryVectorIndexer, MemoryVectorIndexerArgs};
use crate::shells::repairer::{RepairMsg, Repairer, RepairerArgs};
use crate::shells::sandbox_pool::{self, SandboxPool, SandboxPoolArgs, SandboxPoolMsg};
use crate::shells::scheduler::{Scheduler, SchedulerArgs};
use crate::shells::session_router::{self, RouterMsg, SessionRegistry, SessionRouter, SessionRouterArgs};
use crate::slot::ChildSlot;
use crate::supervision::{ChildSpec, RestartPolicy, Strategy, Supervisor, SupervisorMsg, SupervisorSpec};

/// Files the memory indexer takes per batch: small enough that health probes are answered
/// between batches, large enough that embedding batches stay full.
const MEMORY_INDEX_BATCH: usize = 16;
/// How often the memory indexer looks at its queue when idle.
const MEMORY_INDEX_POLL: Duration = Duration::from_secs(1);
/// How often the vector indexer looks at its queue when idle: queued chunks are already
/// searchable, so this only bounds how long the exactly-scanned tail can grow unattended.
const MEMORY_VECTOR_INDEX_POLL: Duration = Duration::from_secs(2);

/// Sizes and timings of the tree, taken from the validated config.
#[derive(Debug, Clone)]
pub struct TreeSettings {
    pub job_workers: usize,
    /// This process's name among the nodes sharing one database; job workers lease as `<node>/<slot>`.
    pub node: String,
    pub sandbox_permits: usize,
    pub scheduler_tick: Duration,
    pub repair_every: Duration,
    pub session_idle: Duration,
    pub session_queue: usize,
    pub session_overload: OverloadPolicy,
    pub restart: RestartPolicy,
}

/// What the root crate plugs into the tree.
pub struct TreeServices {
    pub turn_runner: Arc<dyn TurnRunner>,
    /// Where the sandbox pool sends WASM tool calls.
    pub tool_executor: Arc<dyn ToolExecutor>,
    /// One spec per enabled channel; they live under the channel supervisor.
    pub channels: Vec<ChildSpec>,
    /// The memory indexing queue; `None` leaves the indexer idle.
    pub memory_indexer: Option<Arc<dyn MemoryIndexPort>>,
    /// The vector index catch-up (PostgreSQL's HNSW graph behind its queue); `None` leaves it idle.
    pub memory_vectors: Option<Arc<dyn VectorIndexPort>>,
    /// The persisted job queue the job workers drain; `None` leaves them idle.
    pub job_queue: Option<Arc<dyn JobQueuePort>>,
    /// Routines and the heartbeat; `None` leaves the scheduler idle.
    pub scheduler: Option<Arc<dyn SchedulerPort>>,
    /// The repairer's checks; `None` leaves it idle.
    pub repairs: Option<Arc<dyn RepairPort>>,
}

/// A running actor tree.
pub struct ActorTree {
    root: ActorRef<SupervisorMsg>,
    /// Taken by whoever waits for the root to end.
    join: Mutex<Option<JoinHandle<()>>>,
    router: ChildSlot<RouterMsg>,
    registry: SessionRegistry,
    sandbox: ChildSlot<SandboxPoolMsg>,
    repairer: ChildSlot<RepairMsg>,
}

impl ActorTree {
    pub async fn start(settings: TreeSettings, services: TreeServices) -> Result<Self, BusError> {
        let router = ChildSlot::new();
        let sandbox = ChildSlot::new();
        let repairer = ChildSlot::new();
        let sandbox_args = SandboxPoolArgs::new(services.tool_executor, settings.sandbox_permits);
        let registry = SessionRegistry::default();
        let restart = settings.restart.clone();

        let channels = SupervisorSpec {
            name: "channels".into(),
            strategy: Strategy::OneForOne,
            children: services.channels.into_iter().map(|c| c.with_policy(restart.clone())).collect(),
        };
        // The JobSupervisor: restarts each worker on its own; the queue port wakes idle workers.
        let job_workers = SupervisorSpec {
            name: "jobs".into(),
            strategy: Strategy::OneForOne,
            children: (0..settings.job_workers)
                .map(|slot| {
                    let args = JobWorkerArgs {
                        worker: format!("{}/{slot}", settings.node),
                        queue: services.job_queue.clone(),
                    };
                    ChildSpec::new(format!("job-worker-{slot}"), ChildSlot::new(), move || (JobWorker, args.clone()))
                })
                .map(|c| c.with_policy(restart.clone()))
                .collect(),
        };
        let router_args = SessionRouterArgs {
            runner: services.turn_runner,
            registry: registry.clone(),
            idle_after: settings.session_idle,
            queue_capacity: settings.session_queue,
            overload: settings.session_overload,
            restart: restart.clone(),
        };
        let indexer_args = MemoryIndexerArgs {
            port: services.memory_indexer,
            batch_size: MEMORY_INDEX_BATCH,
            poll: MEMORY_INDEX_POLL,
        };
        let vector_indexer_args =
            MemoryVectorIndexerArgs { port: services.memory_vectors, poll: MEMORY_VECTOR_INDEX_POLL };
        let scheduler_args = SchedulerArgs { tick: settings.scheduler_tick, port: services.scheduler };
        let repairer_args = RepairerArgs { every: settings.repair_every, port: services.repairs };
        let children = vec![
            ChildSpec::new("channels", ChildSlot::new(), move || (Supervisor, channels.clone())),
            ChildSpec::new("sessions", router.clone(), move || (SessionRouter, router_args.clone())),
            ChildSpec::new("jobs", ChildSlot::new(), move || (Supervisor, job_workers.clone())),
            ChildSpec::new("sandbox", sandbox.clone(), move || (SandboxPool, sandbox_args.clone())),
            ChildSpec::new("memory-indexer", ChildSlot::new(), move || (MemoryIndexer, indexer_args.clone())),
            ChildSpec::new("memory-vector-indexer", ChildSlot::new(), move || {
                (MemoryVectorIndexer, vector_indexer_args.clone())
            }),
            ChildSpec::new("scheduler", ChildSlot::new(), move || (Scheduler, scheduler_args.clone())),
            ChildSpec::new("repairer", repairer.clone(), move || (Repairer, repairer_args.clone())),
        ];
        let spec = SupervisorSpec {
            name: "root".into(),
            strategy: Strategy::OneForOne,
            children: children.into_iter().map(|c| c.with_policy(restart.clone())).collect(),
        };
        let (root, join) = Actor::spawn(None, Supervisor, spec)
            .await
            .map_err(|source| BusError::Spawn { actor: "root supervisor".into(), source })?;
        info!("actor tree started");
        Ok(Self { root, join: Mutex::new(Some(join)), router, registry, sandbox, repairer })
    }

    /// The whole tree's health, for `chitin status` and `/readyz`.
    pub async fn health(&self) -> Result<HealthNode, BusError> {
        let timeout_ms = PROBE_TIMEOUT_MS * 2;
        let result = self.root.call(SupervisorMsg::Health, Some(Duration::from_millis(timeout_ms))).await;
        let report = call_outcome("root supervisor", timeout_ms, result)?;
        Ok(HealthNode {
            name: "chitin".into(),
            state: report.state,
            restarts: 0,
            detail: report.detail,
            children: report.children,
        })
    }

    /// Hands a stored inbound message to its conversation's session.
    pub async fn deliver(&self, inbound: Inbound) -> Result<(), BusError> {
        let router = self.router.get().ok_or_else(|| BusError::ActorDown { actor: "session router".into() })?;
        session_router::deliver(&router, &self.registry, inbound).await
    }

    /// Starts a conversation's session without a new message, so it answers what it finds unanswered.
    pub async fn wake(&self, conversation: ConversationId) -> Result<(), BusError> {
        let router = self.router.get().ok_or_else(|| BusError::ActorDown { actor: "session router".into() })?;
        session_router::open(&router, conversation).await.map(|_| ())
    }

    /// Runs one WASM tool call through the sandbox pool, waiting at most `timeout`.
    pub async fn execute_tool(
        &self,
        execution: ToolExecution,
        timeout: Duration,
    ) -> Result<String, ToolExecutionError> {
        sandbox_pool::execute(&self.sandbox, execution, timeout).await
    }

    /// Everything the repairer healed since start.
    pub async fn repairs(&self) -> Result<crate::ports::RepairReport, BusError> {
        let repairer = self.repairer.get().ok_or_else(|| BusError::ActorDown { actor: "repairer".into() })?;
        let result = repairer.call(RepairMsg::Totals, Some(Duration::from_millis(PROBE_TIMEOUT_MS))).await;
        call_outcome("repairer", PROBE_TIMEOUT_MS, result)
    }

    pub fn sessions(&self) -> &SessionRegistry {
        &self.registry
    }

    /// Resolves when the root ends by itself, i.e. a failure escalated all the way up.
    pub async fn failed(&self) {
        let join = self.join.lock().await.take();
        match join {
            Some(join) => {
                let _ = join.await;
            }
            None => std::future::pending().await,
        }
    }

    /// Stops every actor, children before parents, waiting up to `grace`; then kills what is left.
    pub async fn shutdown(&self, grace: Duration) -> Result<(), BusError> {
        info!(grace_secs = grace.as_secs_f64(), "stopping actor tree");
        if self.root.stop_and_wait(Some("shutdown".into()), Some(grace)).await.is_err() {
            warn!("actor tree did not stop within the grace period; killing it");
            self.root.kill();
            return Err(BusError::Timeout { actor: "root supervisor".into(), timeout_ms: grace.as_millis() as u64 });
        }
        Ok(())
    }
}
