//! Talks to chat models: one [`LlmProvider`] trait, OpenAI and Anthropic clients, and a failover chain.
//!
//! The agent builds a [`FailoverChain`] from the `llm` config section and holds it as an
//! `Arc<dyn LlmProvider>`; everything else here is how that chain reaches a model.

mod anthropic;
mod anthropic_wire;
mod assembly;
mod config;
mod error;
mod failover;
mod openai;
pub mod openai_wire;
mod provider;
mod retry;
mod streaming;
mod transport;
mod types;

pub use anthropic::AnthropicProvider;
pub use config::{ApiKey, LlmConfig, ProviderConfig, ProviderKind, ProviderSettings};
pub use error::{LlmError, ProviderId};
pub use failover::FailoverChain;
pub use openai::OpenAiProvider;
pub use provider::{LlmProvider, build_provider};
pub use retry::RetryPolicy;
pub use streaming::ChatStream;
pub use types::{
    ChatMessage, ChatRequest, ChatResponse, FinishReason, StreamEvent, ToolCall, ToolCallId, ToolSpec, Usage,
};
