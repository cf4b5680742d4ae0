//! Chitin: a self-hosted personal AI assistant. The services, and the binary's wiring.

pub mod agent;
pub mod cli;
pub mod config;
pub mod data_dir;
pub mod llm;
pub mod service;
pub mod telemetry;
