//! The gateway: Chitin's HTTP server. Health and status live here; later channels mount their routes on it.

mod admin;
pub mod auth;
mod server;

pub use admin::{StatusPort, admin_routes};
pub use server::{GatewayError, GatewayServer};
