//! The running service: opens storage, wires agent, actor tree and gateway from the config, and stops them in order.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chitin_actors::supervision::{ChildSpec, RestartPolicy};
use chitin_actors::{
    ActorState, ActorTree, BusError, ChildSlot, ConversationId, HealthNode, OverloadPolicy, ReplyHub, TreeServices,
    TreeSettings,
};
use chitin_channels::gateway::auth::GatewayAuth;
use chitin_channels::gateway::{self, GatewayError, GatewayServer, MetricsPort, StatusPort};
use chitin_channels::ports::{ChannelPorts, Intake};
use chitin_channels::slack::SlackMode;
use chitin_channels::{openai_api, webhook};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::agent::{Agent, AgentSettings, prompt};
use crate::channel_ports::{TreeCell, channel_ports};
use crate::config::{ChannelsConfig, Config};
use crate::crypto::{CryptoError, MasterKey};
use crate::data_dir::{self, DataDirError};
use crate::instance_lock::{AlreadyRunning, InstanceLock};
use crate::intake::StoreIntake;
use crate::jobs::{
    Backoff, JobError, JobExecutor, JobLimits, JobSignals, JobSubmission, QueueSettings, ReplyTarget, StoreJobQueue,
    node_name,
};
use crate::llm::{FailoverChain, LlmConfig, LlmError, LlmProvider};
use crate::memory::watcher::WorkspaceIndexing;
use crate::memory::{MemoryService, build_embedder};
use crate::repair::{RepairSettings, StoreRepairs};
use crate::routines::{HeartbeatSettings, RoutineScheduler};
use crate::safety::LeakScanner;
use crate::sandbox_services::open_sandbox;
use crate::secrets::{SecretError, SecretStore, stored_for_scanner};
use crate::store::{EnqueueOutcome, StorageHealth, Store, StoreError};
use crate::tools::{
    JobTools, PoolRoute, SandboxExecutor, ToolError, ToolRegistry, builtin_tools, installed_tools, job_tools,
    memory_tools, routine_tools,
};
use crate::web_port::ServiceWebPort;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    MasterKey(#[from] CryptoError),
    #[error("cannot open storage")]
    Store(#[from] StoreError),
    #[error(transparent)]
    AlreadyRunning(#[from] AlreadyRunning),
    #[error("cannot create the identity files in {path}")]
    Workspace {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the llm section is not usable")]
    Llm(#[from] LlmError),
    #[error("a credential in the config could not be read from the secret store")]
    Secret(#[from] SecretError),
    #[error("the safety detectors could not be built")]
    Safety(#[from] crate::safety::SafetyError),
    #[error("cannot start the WASM sandbox: {0}")]
    Sandbox(String),
    #[error("a built-in tool is broken")]
    Tools(#[from] ToolError),
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error("{key} {reason}")]
    Channel { key: &'static str, reason: String },
    #[error("could not start the actor tree")]
    Actors(#[source] BusError),
    #[error("the actor tree did not stop cleanly")]
    Shutdown(#[source] BusError),
}

/// Inputs read from the process environment in `main`, passed in so nothing below reads it.
#[derive(Debug, Clone, Default)]
pub struct ServiceEnv {
    /// `CHITIN_MASTER_KEY`, when set (else the key file in the data dir).
    pub master_key: Option<String>,
}

/// Chitin while it runs.
pub struct Service {
    tree: Arc<ActorTree>,
    store: Store,
    intake: Arc<dyn Intake>,
    gateway_addr: SocketAddr,
    gateway: JoinHandle<Result<(), GatewayError>>,
    stop_gateway: oneshot::Sender<()>,
    /// This node's job waker (notifications, due retries, expired leases); stopped before storage closes.
    job_waker: JoinHandle<()>,
    /// Submit-time checks and this node's wake-up for jobs submitted in-process.
    jobs: JobTools,
    /// Folds recorded histogram samples into their buckets (`metrics::spawn_upkeep`); `None` without a recorder.
    metrics_upkeep: Option<JoinHandle<()>>,
    /// SQLite: this process's claim on the database until the service is gone.
    _instance_lock: Option<InstanceLock>,
}

impl Service {
    /// Starts everything. The gateway port is bound before any actor starts, so a taken port fails cleanly.
    pub async fn start(config: &Config, env: &ServiceEnv) -> Result<Self, ServiceError> {
        let data_dir = config.data_dir.clone().unwrap_or_default();
        data_dir::ensure(&data_dir)?;
        let server = GatewayServer::bind(config.gateway.bind).await?;
        let master_key = MasterKey::load(env.master_key.as_deref(), &data_dir)?;
        let store = Store::connect(&config.database, &data_dir, &master_key).await?;
        let instance_lock = match store.sqlite_path().map(InstanceLock::acquire).transpose() {
            Ok(lock) => lock.flatten(),
            Err(already_running) => {
                store.close().await;
                return Err(already_running.into());
            }
        };
        let secret_store = SecretStore::new(store.clone(), &master_key);
        let secrets = secret_store.load_all().await?;
        let stored_secrets = stored_for_scanner(&secrets);
        let config = &resolve_secrets(config, &secret_store).await?;

        let workspace = config.memory.resolve_workspace_dir(&data_dir);
        prompt::ensure_identity_files(&workspace)
            .map_err(|source| ServiceError::Workspace { path: workspace.clone(), source })?;
        let llm = build_llm(&config.llm)?;
        let memory = start_memory(config, &data_dir, &store, &workspace);
        let web_memory = memory.clone();
        let indexing = WorkspaceIndexing::new(memory.clone(), config.memory.queue_capacity);
        // Only PostgreSQL keeps an approximate vector index; SQLite scans an in-process copy.
        let vector_indexing = (store.backend() == crate::store::Backend::Postgres)
            .then(|| Arc::new(memory.clone()) as Arc<dyn chitin_actors::ports::VectorIndexPort>);
        let mut tools = ToolRegistry::new();
        for tool in builtin_tools().into_iter().chain(memory_tools(&memory)) {
            tools.register(tool)?;
        }
        let (sandbox, catalog, _) =
            open_sandbox(&data_dir, config.sandbox.max_concurrent, secrets).map_err(ServiceError::Sandbox)?;
        let tree_cell: TreeCell = Arc::default();
        let route = Arc::new(PoolRoute {
            tree: Arc::clone(&tree_cell),
            timeout: Duration::from_secs(config.agent.tool_timeout_secs),
        });
        let catalog = Arc::new(catalog);
        for tool in installed_tools(&sandbox, catalog.as_ref(), route).await {
            let name = tool.spec().name.clone();
            if let Err(error) = tools.register(tool) {
                warn!(tool = %name, %error, "installed tool not offered to the agent");
            }
        }
        let signals = JobSignals::default();
        let mut limits = job_limits(config);
        let mut known_tools = tools.names();
        known_tools
            .extend(["job_spawn", "job_status", "job_cancel", "routine_create", "routine_list"].map(String::from));
        limits.known_tools = Some(known_tools);
        let jobs = JobTools { store: store.clone(), signals: signals.clone(), limits };
        for tool in job_tools(jobs.clone()).into_iter().chain(routine_tools(store.clone(), jobs.limits.clone())) {
            tools.register(tool)?;
        }
        tools.require_approval(config.agent.require_approval.iter().cloned());
        let tools = Arc::new(tools);
        let hub = ReplyHub::default();
        let agent = Arc::new(
            Agent::new(
                store.clone(),
                llm,
                Arc::clone(&tools),
                hub.clone(),
                agent_settings(config, &workspace),
                &stored_secrets,
            )?
            .with_memory(memory, config.memory.prompt_tokens),
        );
        let executor =
            Arc::new(JobExecutor { store: store.clone(), tools, agent: Some(Arc::clone(&agent)), hub: hub.clone() });
        let (job_queue, job_waker) =
            StoreJobQueue::start(store.clone(), queue_settings(config), signals.clone(), executor);
        let scheduler = Arc::new(RoutineScheduler::new(
            store.clone(),
            jobs.limits.clone(),
            signals.clone(),
            heartbeat_settings(config, &workspace),
        ));
        let repairs = Arc::new(StoreRepairs::new(
            store.clone(),
            Arc::clone(&tree_cell),
            hub.clone(),
            Arc::clone(&scheduler),
            RepairSettings {
                outbox_after: Duration::from_secs(config.repair.outbox_after_secs),
                unanswered_after: Duration::from_secs(config.repair.unanswered_after_secs),
            },
        ));
        let ports = channel_ports(store.clone(), Arc::clone(&tree_cell), hub.clone());
        let chat = chat_channels(&config.channels, &ports)?;
        let tree = Arc::new(
            ActorTree::start(
                tree_settings(config),
                TreeServices {
                    turn_runner: agent,
                    tool_executor: Arc::new(SandboxExecutor {
                        sandbox,
                        audit: store.audit(),
                        scanner: LeakScanner::shared_default()?.with_stored(&stored_secrets)?,
                    }),
                    channels: chat.specs,
                    memory_indexer: Some(Arc::new(indexing)),
                    memory_vectors: vector_indexing,
                    job_queue: Some(job_queue),
                    scheduler: Some(scheduler),
                    repairs: Some(repairs),
                },
            )
            .await
            .map_err(ServiceError::Actors)?,
        );
        let _ = tree_cell.set(Arc::clone(&tree));
        let intake: Arc<dyn Intake> = Arc::new(StoreIntake::new(store.clone(), Arc::clone(&tree), hub));
        wake_unanswered(&store, &tree).await;

        let auth = GatewayAuth::new(
            config.gateway.token.as_ref().map(|t| t.expose().to_string()),
            config.gateway.webhook_secret.as_ref().map(|s| s.expose().to_string()),
        );
        let status: Arc<TreeStatus> = Arc::new(TreeStatus { tree: Arc::clone(&tree), store: store.clone() });
        let metrics_handle = crate::metrics::install();
        let metrics_upkeep =
            metrics_handle.clone().map(|handle| crate::metrics::spawn_upkeep(handle, crate::metrics::UPKEEP_PERIOD));
        let metrics = Arc::new(ServiceMetrics { handle: metrics_handle, status: Arc::clone(&status) });
        let web = Arc::new(ServiceWebPort { store: store.clone(), memory: web_memory, catalog });
        let routes = gateway::admin_routes(status.clone())
            .merge(gateway::web_routes(web, status.clone(), auth.clone()))
            .merge(gateway::readiness_routes(status))
            .merge(gateway::metrics_routes(metrics, auth.clone()))
            .merge(webhook::routes(Arc::clone(&intake), auth.clone()))
            .merge(openai_api::routes(Arc::clone(&intake), auth))
            .merge(crate::routines::webhook::routes(store.clone(), jobs.limits.clone(), jobs.signals.clone()))
            .merge(chat.routes);
        let (stop_gateway, stopped) = oneshot::channel::<()>();
        let gateway_addr = server.local_addr();
        let gateway = server.serve(routes, async move {
            let _ = stopped.await;
        });
        info!(gateway = %gateway_addr, data_dir = %data_dir.display(), "chitin is running");
        Ok(Self {
            tree,
            store,
            intake,
            gateway_addr,
            gateway,
            stop_gateway,
            job_waker,
            jobs,
            metrics_upkeep,
            _instance_lock: instance_lock,
        })
    }

    /// Checks and queues a job, and wakes this node's idle workers at once.
    pub async fn submit_job(&self, submission: &JobSubmission) -> Result<EnqueueOutcome, JobError> {
        let outcome = crate::jobs::submit(&self.store, submission, &self.jobs.limits).await?;
        self.jobs.signals.job_queued();
        Ok(outcome)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Checks and stores a routine (tool names against this process's registry).
    pub async fn create_routine(
        &self,
        request: &crate::routines::NewRoutineRequest,
    ) -> Result<crate::routines::Created, crate::routines::RoutineError> {
        crate::routines::create(&self.store, request, &self.jobs.limits).await
    }

    pub fn tree(&self) -> &ActorTree {
        &self.tree
    }

    pub fn gateway_addr(&self) -> SocketAddr {
        self.gateway_addr
    }

    /// The channels' way in, for the REPL.
    pub fn intake(&self) -> Arc<dyn Intake> {
        Arc::clone(&self.intake)
    }

    /// Resolves when the service cannot go on by itself: the root actor failed or the gateway died.
    pub async fn failed(&mut self) -> String {
        tokio::select! {
            () = self.tree.failed() => "a failure escalated to the root supervisor".to_string(),
            result = &mut self.gateway => match result {
                Ok(Ok(())) => "the gateway stopped".to_string(),
                Ok(Err(error)) => format!("{error}"),
                Err(join) => format!("the gateway task ended: {join}"),
            },
        }
    }

    /// Stops intake (the gateway stops accepting), lets in-flight work finish within `grace`, stops every actor,
    /// then closes storage.
    pub async fn shutdown(self, grace: Duration) -> Result<(), ServiceError> {
        let _ = self.stop_gateway.send(());
        let tree_result = self.tree.shutdown(grace).await;
        self.job_waker.abort();
        if let Some(upkeep) = self.metrics_upkeep {
            upkeep.abort();
        }
        match tokio::time::timeout(grace, self.gateway).await {
            Ok(Ok(Err(error))) => error!(%error, "gateway stopped with an error"),
            Ok(Err(join)) => error!(%join, "gateway task failed"),
            Err(_) => error!("gateway did not finish its requests within the grace period"),
            Ok(Ok(Ok(()))) => {}
        }
        self.store.close().await;
        tree_result.map_err(ServiceError::Shutdown)
    }
}

/// The enabled chat channels: their supervised actors, and the routes they mount on the gateway.
struct ChatChannels {
    specs: Vec<ChildSpec>,
    routes: axum::Router,
}

fn chat_channels(config: &ChannelsConfig, ports: &ChannelPorts) -> Result<ChatChannels, ServiceError> {
    let mut chat = ChatChannels { specs: Vec::new(), routes: axum::Router::new() };
    let telegram = &config.telegram;
    if telegram.enabled {
        require_literal("channels.telegram.bot_token", &telegram.bot_token)?;
        chat.specs.push(chitin_channels::telegram::child_spec(telegram.clone(), ports.clone(), ChildSlot::new()));
    }
    let slack = &config.slack;
    if slack.enabled {
        require_literal("channels.slack.bot_token", &slack.bot_token)?;
        let slot = ChildSlot::new();
        if slack.mode == SlackMode::Events {
            require_literal("channels.slack.signing_secret", &slack.signing_secret)?;
            chat.routes = chat.routes.merge(chitin_channels::slack::events_router(slack, slot.clone()));
        } else {
            require_literal("channels.slack.app_token", &slack.app_token)?;
        }
        chat.specs.push(chitin_channels::slack::child_spec(slack.clone(), ports.clone(), slot));
    }
    if let Some(url) = &config.webhook.callback_url {
        chat.specs.push(chitin_channels::webhook_callback::child_spec(
            url.clone(),
            config.webhook.callback_secret.clone(),
            ports.clone(),
        ));
    }
    Ok(chat)
}

/// Credentials must be set (references were resolved from the secret store before this).
fn require_literal(key: &'static str, value: &str) -> Result<(), ServiceError> {
    if value.is_empty() {
        return Err(ServiceError::Channel { key, reason: "is required when the channel is enabled".into() });
    }
    Ok(())
}

/// A copy of the config with every `secret:NAME` credential replaced by the stored value.
async fn resolve_secrets(config: &Config, secrets: &SecretStore) -> Result<Config, SecretError> {
    let mut resolved = config.clone();
    let llm = &mut resolved.llm;
    if let Some(key) = &llm.api_key {
        llm.api_key = Some(secrets.resolve(key.expose()).await?.into());
    }
    for fallback in &mut llm.fallbacks {
        if let Some(key) = &fallback.api_key {
            fallback.api_key = Some(secrets.resolve(key.expose()).await?.into());
        }
    }
    for value in [&mut resolved.gateway.token, &mut resolved.gateway.webhook_secret].into_iter().flatten() {
        *value = secrets.resolve(value.expose()).await?.into();
    }
    let channels = &mut resolved.channels;
    for value in [
        &mut channels.telegram.bot_token,
        &mut channels.slack.bot_token,
        &mut channels.slack.app_token,
        &mut channels.slack.signing_secret,
    ] {
        *value = secrets.resolve(value).await?;
    }
    if let Some(value) = &mut channels.webhook.callback_secret {
        *value = secrets.resolve(value).await?;
    }
    resolve_embedding_key(&mut resolved, secrets).await?;
    Ok(resolved)
}

/// `memory.embedding.openai.api_key` may be `secret:NAME` like every other credential.
pub(crate) async fn resolve_embedding_key(config: &mut Config, secrets: &SecretStore) -> Result<(), SecretError> {
    let openai = &mut config.memory.embedding.openai;
    if let Some(key) = &openai.api_key {
        openai.api_key = Some(crate::memory::ApiKey::new(secrets.resolve(key.expose()).await?));
    }
    Ok(())
}

/// `None` when no provider is configured at all: the agent then tells users how to set one up.
fn build_llm(config: &LlmConfig) -> Result<Option<Arc<dyn LlmProvider>>, LlmError> {
    let configured = config.api_key.is_some() || config.base_url.is_some() || !config.fallbacks.is_empty();
    if !configured {
        warn!("no language model configured (llm.api_key / llm.base_url); conversations get setup instructions");
        return Ok(None);
    }
    Ok(Some(Arc::new(FailoverChain::from_config(config)?)))
}

/// Conversations with messages accepted before a crash but never answered get their session started now.
async fn wake_unanswered(store: &Store, tree: &ActorTree) {
    let pending = match store.conversations().unprocessed(10_000).await {
        Ok(pending) => pending,
        Err(error) => {
            warn!(%error, "could not look for unanswered messages");
            return;
        }
    };
    let mut stored_ids: Vec<_> = pending.iter().map(|message| message.conversation_id).collect();
    stored_ids.dedup();
    let mut conversations: Vec<ConversationId> = Vec::new();
    for stored_id in stored_ids {
        let Ok(Some(conversation)) = store.conversations().get(stored_id).await else { continue };
        let Some(kind) = chitin_actors::ChannelKind::from_name(&conversation.channel) else { continue };
        let id = ConversationId::new(kind, &conversation.external_id);
        if !conversations.contains(&id) {
            conversations.push(id);
        }
    }
    for conversation in conversations {
        info!(%conversation, "resuming a conversation with unanswered messages");
        if let Err(error) = tree.wake(conversation).await {
            warn!(%error, "could not resume a conversation");
        }
    }
}

/// The memory service over the store. Without the local model's files it runs on full text alone
/// (with a warning naming the fetch command); stored vectors are brought up to date in the
/// background, and search uses full text until that is done.
fn start_memory(config: &Config, data_dir: &Path, store: &Store, workspace: &Path) -> MemoryService {
    let embedder = match build_embedder(&config.memory, data_dir) {
        Ok(embedder) => embedder,
        Err(error) => {
            warn!(%error, "memory runs on full-text search only");
            None
        }
    };
    let memory = MemoryService::new(store.memory(), embedder, &config.memory, workspace.to_path_buf());
    let syncing = memory.clone();
    tokio::spawn(async move {
        if let Err(error) = syncing.sync_vectors(&mut |_| {}).await {
            warn!(%error, "could not bring memory vectors up to date");
        }
    });
    memory
}

fn agent_settings(config: &Config, workspace: &Path) -> AgentSettings {
    AgentSettings {
        max_steps: config.agent.max_steps,
        context_tokens: config.agent.context_tokens,
        history_messages: config.agent.history_messages,
        tool_timeout: Duration::from_secs(config.agent.tool_timeout_secs),
        workspace: workspace.to_path_buf(),
    }
}

/// Submit-time checks from `[jobs]` (the tool list is added by whoever knows it).
pub fn job_limits(config: &Config) -> JobLimits {
    JobLimits {
        max_payload_bytes: config.jobs.max_payload_bytes,
        default_max_attempts: config.jobs.max_attempts,
        known_tools: None,
    }
}

/// The heartbeat from `[heartbeat]`: HEARTBEAT.md in the workspace, answers to `reply_to` when set.
fn heartbeat_settings(config: &Config, workspace: &Path) -> Option<HeartbeatSettings> {
    let heartbeat = &config.heartbeat;
    if heartbeat.interval_secs == 0 {
        return None;
    }
    let reply_to = heartbeat.reply_to.split_once(':').map(|(channel, external_id)| ReplyTarget {
        channel: channel.to_string(),
        external_id: external_id.to_string(),
    });
    Some(HeartbeatSettings {
        every: Duration::from_secs(heartbeat.interval_secs),
        file: workspace.join("HEARTBEAT.md"),
        reply_to,
    })
}

fn queue_settings(config: &Config) -> QueueSettings {
    let jobs = &config.jobs;
    QueueSettings {
        node: node_name(Some(&jobs.node)),
        lease: Duration::from_millis(jobs.lease_ms),
        poll: Duration::from_millis(jobs.poll_ms),
        notify: jobs.notify,
        backoff: Backoff {
            initial: Duration::from_millis(jobs.retry_initial_ms),
            max: Duration::from_millis(jobs.retry_max_ms),
            jitter: 0.2,
        },
    }
}

fn tree_settings(config: &Config) -> TreeSettings {
    let supervision = &config.supervision;
    TreeSettings {
        job_workers: config.jobs.workers,
        node: node_name(Some(&config.jobs.node)),
        sandbox_permits: config.sandbox.max_concurrent,
        scheduler_tick: Duration::from_millis(config.routines.tick_ms),
        repair_every: Duration::from_secs(config.repair.every_secs),
        session_idle: Duration::from_secs(config.agent.idle_secs),
        session_queue: config.agent.queue_capacity,
        session_overload: OverloadPolicy::Wait(Duration::from_millis(config.agent.queue_wait_ms)),
        restart: RestartPolicy {
            initial_backoff: Duration::from_millis(supervision.initial_backoff_ms),
            max_backoff: Duration::from_millis(supervision.max_backoff_ms),
            max_restarts: supervision.max_restarts,
            window: Duration::from_secs(supervision.window_secs),
            ..RestartPolicy::default()
        },
    }
}

/// Adapts the actor tree (and the storage it depends on) to the gateway's status port.
struct TreeStatus {
    tree: Arc<ActorTree>,
    store: Store,
}

impl StatusPort for TreeStatus {
    fn status(&self) -> Pin<Box<dyn Future<Output = Result<HealthNode, String>> + Send + '_>> {
        Box::pin(async move {
            let mut tree = self.tree.health().await.map_err(|error| error.to_string())?;
            let (state, detail) = match self.store.health().await {
                StorageHealth::Healthy { backend } => (ActorState::Running, format!("{backend:?}")),
                StorageHealth::Degraded { backend, reason } => (ActorState::Degraded, format!("{backend:?}: {reason}")),
            };
            if state != ActorState::Running {
                tree.state = ActorState::Degraded;
            }
            tree.children
                .insert(0, HealthNode { name: "storage".into(), state, restarts: 0, detail, children: Vec::new() });
            Ok(tree)
        })
    }
}

/// Renders `/metrics` with the tree's restart counts and the store's backlogs read at scrape time.
struct ServiceMetrics {
    handle: Option<metrics_exporter_prometheus::PrometheusHandle>,
    status: Arc<TreeStatus>,
}

impl MetricsPort for ServiceMetrics {
    fn render(&self) -> Pin<Box<dyn Future<Output = Option<String>> + Send + '_>> {
        Box::pin(async move {
            let handle = self.handle.as_ref()?;
            let tree = self.status.status().await.ok();
            Some(crate::metrics::render(handle, tree.as_ref(), &self.status.store).await)
        })
    }
}
