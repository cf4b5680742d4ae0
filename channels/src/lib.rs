//! Chitin's channels: each turns a platform's events into inbound messages and replies into platform calls.

pub mod gateway;
pub mod openai_api;
pub mod ports;
pub mod repl;
pub mod webhook;
