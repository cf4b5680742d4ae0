//! Admin routes for the local operator (`chitin status`): loopback callers only.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chitin_actors::HealthNode;
use tracing::warn;

/// Where the admin routes get the actor tree's health from.
pub trait StatusPort: Send + Sync + 'static {
    fn status(&self) -> Pin<Box<dyn Future<Output = Result<HealthNode, String>> + Send + '_>>;
}

/// `GET /admin/status`: the actor tree as JSON.
pub fn admin_routes(status: Arc<dyn StatusPort>) -> Router {
    Router::new().route("/admin/status", get(status_handler)).with_state(status)
}

async fn status_handler(
    State(status): State<Arc<dyn StatusPort>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if !peer.ip().is_loopback() {
        warn!(%peer, "refused admin request from a non-loopback address");
        return (StatusCode::FORBIDDEN, "admin routes answer loopback callers only\n").into_response();
    }
    match status.status().await {
        Ok(tree) => Json(tree).into_response(),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("status unavailable: {reason}\n")).into_response(),
    }
}
