//! Chitin: a self-hosted personal AI assistant. The services, and the binary's wiring.

pub mod agent;
pub mod allocator;
pub mod channel_ports;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod data_dir;
pub mod error_chain;
pub mod instance_lock;
pub mod intake;
pub mod jobs;
pub mod llm;
pub mod memory;
pub mod metrics;
pub mod repair;
pub mod routines;
pub mod safety;
pub mod sandbox;
pub mod sandbox_services;
pub mod secrets;
pub mod security_audit;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod tools;
pub mod web_port;
