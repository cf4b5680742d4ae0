//! The running service: wires the actor tree and the gateway from the config, and stops them in order.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chitin_actors::supervision::RestartPolicy;
use chitin_actors::{ActorTree, BusError, HealthNode, OverloadPolicy, TreeServices, TreeSettings};
use chitin_channels::gateway::{self, GatewayError, GatewayServer, StatusPort};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{error, info};

use crate::agent::NoAgent;
use crate::config::Config;
use crate::data_dir::{self, DataDirError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error("could not start the actor tree")]
    Actors(#[source] BusError),
    #[error("the actor tree did not stop cleanly")]
    Shutdown(#[source] BusError),
}

/// Chitin while it runs.
pub struct Service {
    tree: Arc<ActorTree>,
    gateway_addr: SocketAddr,
    gateway: JoinHandle<Result<(), GatewayError>>,
    stop_gateway: oneshot::Sender<()>,
}

impl Service {
    /// Starts everything; the gateway port is bound first so a taken port fails before any actor starts.
    pub async fn start(config: &Config) -> Result<Self, ServiceError> {
        if let Some(dir) = &config.data_dir {
            data_dir::ensure(dir)?;
        }
        let server = GatewayServer::bind(config.gateway.bind).await?;
        let tree = Arc::new(
            ActorTree::start(
                tree_settings(config),
                TreeServices { turn_runner: Arc::new(NoAgent), channels: Vec::new() },
            )
            .await
            .map_err(ServiceError::Actors)?,
        );
        let (stop_gateway, stopped) = oneshot::channel::<()>();
        let gateway_addr = server.local_addr();
        let routes = gateway::admin_routes(Arc::new(TreeStatus(Arc::clone(&tree))));
        let gateway = server.serve(routes, async move {
            let _ = stopped.await;
        });
        info!(gateway = %gateway_addr, "chitin is running");
        Ok(Self { tree, gateway_addr, gateway, stop_gateway })
    }

    pub fn gateway_addr(&self) -> SocketAddr {
        self.gateway_addr
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

    /// Stops intake (the gateway stops accepting), lets in-flight work finish within `grace`, stops every actor.
    pub async fn shutdown(self, grace: Duration) -> Result<(), ServiceError> {
        let _ = self.stop_gateway.send(());
        let tree_result = self.tree.shutdown(grace).await;
        match tokio::time::timeout(grace, self.gateway).await {
            Ok(Ok(Err(error))) => error!(%error, "gateway stopped with an error"),
            Ok(Err(join)) => error!(%join, "gateway task failed"),
            Err(_) => error!("gateway did not finish its requests within the grace period"),
            Ok(Ok(Ok(()))) => {}
        }
        tree_result.map_err(ServiceError::Shutdown)
    }
}

fn tree_settings(config: &Config) -> TreeSettings {
    let supervision = &config.supervision;
    TreeSettings {
        job_workers: config.jobs.workers,
        sandbox_permits: config.sandbox.max_concurrent,
        scheduler_tick: Duration::from_secs(1),
        repair_every: Duration::from_secs(30),
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

/// Adapts the actor tree to the gateway's status port.
struct TreeStatus(Arc<ActorTree>);

impl StatusPort for TreeStatus {
    fn status(&self) -> Pin<Box<dyn Future<Output = Result<HealthNode, String>> + Send + '_>> {
        Box::pin(async move { self.0.health().await.map_err(|error| error.to_string()) })
    }
}
