//! Binding and serving the gateway, with a graceful stop.

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::{Instrument, info, info_span};

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(
        "cannot listen on {addr}: the port is already in use (set another with gateway.bind or CHITIN_GATEWAY__BIND)"
    )]
    PortInUse { addr: SocketAddr },
    #[error("cannot listen on {addr} (set with gateway.bind)")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the gateway server stopped unexpectedly")]
    Serve(#[source] std::io::Error),
}

/// A bound listener: binding happens before anything else starts, so a taken port fails start-up cleanly.
pub struct GatewayServer {
    listener: TcpListener,
    addr: SocketAddr,
}

impl GatewayServer {
    pub async fn bind(addr: SocketAddr) -> Result<Self, GatewayError> {
        let listener = TcpListener::bind(addr).await.map_err(|source| match source.kind() {
            std::io::ErrorKind::AddrInUse => GatewayError::PortInUse { addr },
            _ => GatewayError::Bind { addr, source },
        })?;
        let addr = listener.local_addr().map_err(|source| GatewayError::Bind { addr, source })?;
        Ok(Self { listener, addr })
    }

    /// The address actually bound (differs from the configured one when it asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `routes` plus `GET /healthz` until `stop` resolves, then finishes in-flight requests.
    pub fn serve(
        self,
        routes: Router,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> JoinHandle<Result<(), GatewayError>> {
        let app = routes.route("/healthz", get(healthz));
        let addr = self.addr;
        tokio::spawn(
            async move {
                info!(%addr, "gateway listening");
                // No Nagle: replies and stream chunks are small writes that must not wait for the peer's delayed ACK.
                let listener = self.listener.tap_io(|stream| {
                    if let Err(error) = stream.set_nodelay(true) {
                        tracing::debug!(%error, "could not set TCP_NODELAY");
                    }
                });
                axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                    .with_graceful_shutdown(stop)
                    .await
                    .map_err(GatewayError::Serve)?;
                info!("gateway stopped");
                Ok(())
            }
            .instrument(info_span!("gateway", %addr)),
        )
    }
}

/// Liveness: the process is up and serving HTTP.
async fn healthz() -> &'static str {
    "ok\n"
}
