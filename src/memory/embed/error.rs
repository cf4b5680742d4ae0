//! Everything that can go wrong while producing embeddings.

use std::path::PathBuf;

/// Failure of an [`Embedder`](super::Embedder); each variant names the model or endpoint.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error(
        "local embedding model file {path} is missing; fetch it with `chitin memory fetch-model` \
         or `scripts/fetch-model.sh {dir}`",
        dir = .path.parent().map(|p| p.display().to_string()).unwrap_or_default()
    )]
    ModelFileMissing { path: PathBuf },

    #[error("could not read local embedding model file {path}")]
    ModelRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("could not parse local embedding model config {path}")]
    ModelConfig {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("could not load local embedding model from {path}")]
    ModelLoad {
        path: PathBuf,
        #[source]
        source: candle_core::Error,
    },

    #[error("could not load tokenizer {path}: {message}")]
    TokenizerLoad { path: PathBuf, message: String },

    #[error("tokenizer of {model} failed on a batch of {batch} texts: {message}")]
    Tokenize { model: String, batch: usize, message: String },

    #[error("local embedding model {model} failed during inference")]
    Inference {
        model: String,
        #[source]
        source: candle_core::Error,
    },

    #[error("local embedding worker for {model} stopped before answering")]
    WorkerGone { model: String },

    #[error("embedding endpoint {endpoint} could not be reached after {attempts} attempts")]
    Unreachable {
        endpoint: String,
        attempts: u32,
        #[source]
        source: reqwest::Error,
    },

    #[error("embedding endpoint {endpoint} answered HTTP {status} after {attempts} attempts: {body}")]
    Status { endpoint: String, status: u16, attempts: u32, body: String },

    #[error("embedding endpoint {endpoint} sent a response that is not OpenAI embeddings JSON: {detail}")]
    Malformed { endpoint: String, detail: String },

    #[error("embedder {model} returned {got} vectors for {expected} inputs")]
    CountMismatch { model: String, expected: usize, got: usize },

    #[error("embedder {model} returned a {got}-dimension vector for input {index}; expected {expected}")]
    WrongDimensions { model: String, index: usize, expected: usize, got: usize },

    #[error("embedder {model} returned a non-finite value (NaN or infinity) for input {index}")]
    NotFinite { model: String, index: usize },

    #[error("embedding cache failed to {operation}")]
    Cache {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    #[error("invalid embedding config: {reason}")]
    InvalidConfig { reason: String },
}
