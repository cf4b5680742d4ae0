//! Shared test support: the real `chitin` binary in a private sandbox of directories and environment.

pub mod chitin;
pub mod fake_anthropic;
pub mod fake_llm;
pub mod fake_openai;
pub mod process;
pub mod safety_corpus;
pub mod store_backends;
pub mod store_log_capture;
pub mod store_tcp_proxy;
