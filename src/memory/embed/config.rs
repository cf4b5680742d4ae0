//! The `[memory.embedding]` config section: which embedder to build and how it behaves.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::EmbedError;
use super::openai::ApiKey;

/// Which embedder backs vector search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbeddingProvider {
    /// all-MiniLM-L6-v2 in process: no API key, no network, 384 dimensions.
    Local,
    /// Any OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, Ollama, llama.cpp server, vLLM).
    OpenAi,
    /// No vectors: search is full-text only.
    None,
}

/// How chunks are embedded.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddingConfig {
    /// `local` by default, so memory search works on a fresh install without any account.
    pub provider: EmbeddingProvider,
    /// Texts per request (remote) or per forward pass (local). 32 keeps a local batch's padded
    /// tensor small on CPU and stays far below every hosted API's per-request input limit.
    pub batch_size: usize,
    /// Vectors kept by the in-memory content-hash cache; 10 000 × 384 floats is about 15 MB.
    pub cache_entries: usize,
    /// Settings for `provider = "openai"`.
    pub openai: OpenAiConfig,
    /// Settings for `provider = "local"`.
    pub local: LocalModelConfig,
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        Self {
            provider: EmbeddingProvider::Local,
            batch_size: 32,
            cache_entries: 10_000,
            openai: OpenAiConfig::default(),
            local: LocalModelConfig::default(),
        }
    }
}

impl EmbeddingConfig {
    /// Checks the values no type can: called once when the config is loaded.
    pub fn validate(&self) -> Result<(), EmbedError> {
        let invalid = |reason: &str| Err(EmbedError::InvalidConfig { reason: reason.to_string() });
        if self.batch_size == 0 {
            return invalid("memory.embedding.batch_size must be at least 1");
        }
        if self.provider == EmbeddingProvider::OpenAi {
            if self.openai.model.trim().is_empty() {
                return invalid("memory.embedding.openai.model must name a model");
            }
            if self.openai.dims == 0 {
                return invalid("memory.embedding.openai.dims must be at least 1");
            }
            if !(self.openai.base_url.starts_with("http://") || self.openai.base_url.starts_with("https://")) {
                return invalid("memory.embedding.openai.base_url must start with http:// or https://");
            }
        }
        Ok(())
    }
}

/// An OpenAI-compatible embeddings endpoint.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenAiConfig {
    /// API root including `/v1`; `/embeddings` is appended. Ollama: `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    /// Model name sent in each request.
    pub model: String,
    /// Vector length the model returns; every response is checked against it.
    pub dims: usize,
    /// Send `dimensions` in the request (OpenAI `text-embedding-3-*` can shorten vectors); most
    /// local servers reject the field, so it is off unless asked for.
    pub send_dimensions: bool,
    /// Bearer token, if the endpoint needs one. Never logged or printed.
    pub api_key: Option<ApiKey>,
    /// Retries after a connection error, HTTP 429 or 5xx, with doubling delays.
    pub max_retries: u32,
    /// First retry delay; doubles each attempt.
    pub retry_base_delay_ms: u64,
    /// Per-request timeout; a hung endpoint counts as a failed attempt.
    pub timeout_secs: u64,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.openai.com/v1".to_string(),
            model: "text-embedding-3-small".to_string(),
            dims: 1536,
            send_dimensions: false,
            api_key: None,
            max_retries: 3,
            retry_base_delay_ms: 500,
            timeout_secs: 30,
        }
    }
}

/// The in-process MiniLM model.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalModelConfig {
    /// Folder holding `model.safetensors`, `tokenizer.json` and `config.json`; when unset,
    /// `<data_dir>/models/all-MiniLM-L6-v2`, where `chitin memory fetch-model` puts them.
    pub model_dir: Option<PathBuf>,
    /// Word pieces read per text; the model was trained with 256 and ignores the rest anyway.
    pub max_tokens: usize,
}

impl Default for LocalModelConfig {
    fn default() -> Self {
        Self { model_dir: None, max_tokens: 256 }
    }
}

impl LocalModelConfig {
    /// The folder to load the model from.
    pub fn resolve_model_dir(&self, data_dir: &std::path::Path) -> PathBuf {
        self.model_dir.clone().unwrap_or_else(|| data_dir.join("models").join("all-MiniLM-L6-v2"))
    }
}
