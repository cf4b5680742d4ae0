//! Chitin's channels: each turns a platform's events into inbound messages and replies into platform calls.

pub mod gateway;
