//! The gateway: Chitin's HTTP server. Health and status live here; later channels mount their routes on it.

mod admin;
pub mod auth;
mod metrics_route;
pub mod readiness;
mod server;

pub use admin::{StatusPort, admin_routes};
pub use metrics_route::{MetricsPort, metrics_routes};
pub use readiness::readiness_routes;
pub use server::{GatewayError, GatewayServer};
