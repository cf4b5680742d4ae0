//! Shared test support: the real `chitin` binary in a private sandbox of directories and environment.

pub mod chitin;
pub mod fake_anthropic;
pub mod fake_llm;
pub mod fake_openai;
/// The channels crate's fake Slack (Web API and Socket Mode), shared so the real binary meets the same peer.
#[allow(dead_code)]
#[path = "../../channels/tests/support/fake_slack.rs"]
pub mod fake_slack;
/// The channels crate's fake Bot API, shared so the real binary is driven by the same peer.
/// Not every field it records is read here.
#[allow(dead_code)]
#[path = "../../channels/tests/support/fake_telegram.rs"]
pub mod fake_telegram;
pub mod memory_fake_embeddings;
pub mod memory_fake_vector_store;
pub mod memory_fixed_embedder;
pub mod memory_fts;
pub mod memory_model;
pub mod memory_retrieval_set;
pub mod process;
pub mod safety_corpus;
pub mod sandbox_fake_http;
pub mod sandbox_fixture;
pub mod sandbox_wat_tools;
pub mod store_backends;
pub mod store_fake_postgres;
pub mod store_log_capture;
pub mod store_private_postgres;
pub mod store_tcp_proxy;
