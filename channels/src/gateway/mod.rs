//! The gateway: Chitin's HTTP server. Health, status, metrics and the browser UI live here; channels mount their
//! routes on it.

mod admin;
pub mod auth;
mod metrics_route;
pub mod readiness;
mod server;
pub mod web;

pub use admin::{StatusPort, admin_routes};
pub use metrics_route::{MetricsPort, metrics_routes};
pub use readiness::readiness_routes;
pub use server::{GatewayError, GatewayServer};
pub use web::{WebPort, web_routes};
