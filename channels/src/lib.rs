//! Chitin's channels: each turns a platform's events into inbound messages and replies into platform calls.

pub mod channel_health;
pub mod gateway;
pub mod openai_api;
pub mod outbound;
pub mod ports;
mod redact;
pub mod repl;
pub mod slack;
pub mod telegram;
pub mod webhook;
pub mod webhook_callback;
