//! Chitin's integration tests: one binary, one module per topic, shared fakes in `support`.

mod support;

mod agent;
mod agent_security;
mod architecture;
mod binary;
mod config;
mod gateway_api;
mod gateway_ops;
mod jobs;
mod llm;
mod memory;
mod repl;
mod safety;
mod sandbox;
mod slack_e2e;
mod store;
mod telegram_e2e;
mod tool_cli;
mod web_ui;
