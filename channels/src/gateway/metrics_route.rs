//! `GET /metrics` in the Prometheus text format, for loopback scrapers or callers with the gateway token.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tracing::warn;

use super::auth::GatewayAuth;

/// Where the route gets the rendered metrics; `None` when metrics are disabled in this process.
pub trait MetricsPort: Send + Sync + 'static {
    fn render(&self) -> Pin<Box<dyn Future<Output = Option<String>> + Send + '_>>;
}

#[derive(Clone)]
struct MetricsState {
    port: Arc<dyn MetricsPort>,
    auth: GatewayAuth,
}

/// Mounts `GET /metrics`.
pub fn metrics_routes(port: Arc<dyn MetricsPort>, auth: GatewayAuth) -> Router {
    Router::new().route("/metrics", get(metrics_handler)).with_state(MetricsState { port, auth })
}

async fn metrics_handler(
    State(state): State<MetricsState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    // A scraper on the same host needs no token; anyone else needs the gateway's bearer token.
    if !peer.ip().is_loopback() && state.auth.check_bearer(&headers).is_err() {
        warn!(%peer, "refused /metrics without a valid token");
        return (StatusCode::UNAUTHORIZED, "metrics need the gateway token from non-loopback addresses\n")
            .into_response();
    }
    match state.port.render().await {
        Some(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "metrics are not enabled in this process\n").into_response(),
    }
}
