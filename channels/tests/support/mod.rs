//! Fakes and helpers shared by the integration tests.

pub mod chat_poll;
pub mod chat_ports;
pub mod fake_slack;
pub mod fake_telegram;
