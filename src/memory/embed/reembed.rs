//! Brings stored vectors in line with the configured embedder, re-embedding everything after a
//! model or size change and reporting progress, so the index never holds mixed vectors.

use std::future::Future;
use std::pin::Pin;

use super::space::{EmbeddingSpace, ReembedDecision};
use super::{ContentHash, EmbedError, Embedder, Embedding};
use crate::memory::rank::ChunkId;

/// Why vectors could not be brought up to date; safe to retry, the next run resumes.
#[derive(Debug, thiserror::Error)]
pub enum ReembedError {
    #[error("re-embedding stopped after {embedded} of {total} chunks")]
    Embed {
        embedded: usize,
        total: usize,
        #[source]
        source: EmbedError,
    },
    #[error("vector store failed to {operation} while re-embedding")]
    Store {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A store call; boxed so the port is object-safe.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ReembedError>> + Send + 'a>>;

/// What re-embedding needs from the store (SQLite or PostgreSQL).
pub trait VectorStorePort: Send + Sync {
    /// Deletes every stored vector and forgets the recorded space, in one transaction. From here
    /// until [`finish`](Self::finish) the store has no space, so search runs on full text only
    /// and a crash leaves a state the next start resumes from (`EmbedMissing`).
    fn clear_vectors(&self) -> StoreFuture<'_, ()>;
    /// Chunks that have no vector.
    fn count_missing(&self) -> StoreFuture<'_, usize>;
    /// Up to `limit` chunks without a vector whose id is greater than `after`, in id order, each
    /// with the text to embed: exactly what first indexing embedded (heading path and chunk text,
    /// see [`crate::memory::embedding_input`]), so a re-embedded vector equals a fresh one.
    fn missing_after(&self, after: Option<ChunkId>, limit: usize) -> StoreFuture<'_, Vec<(ChunkId, String)>>;
    /// Stores vectors with the hash of what was embedded, so the next index of an unchanged
    /// chunk reuses its vector instead of embedding it again.
    fn write_vectors(&self, vectors: Vec<ReembeddedChunk>) -> StoreFuture<'_, ()>;
    /// Records the space all vectors now belong to; vector search may resume.
    fn record_space(&self, space: &EmbeddingSpace) -> StoreFuture<'_, ()>;
}

/// A chunk's new vector and the [`ContentHash`] of the text it was made from.
#[derive(Debug, Clone, PartialEq)]
pub struct ReembeddedChunk {
    pub chunk_id: ChunkId,
    pub embedding: Embedding,
    pub embedding_hash: String,
}

/// Progress of one run, reported after every batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReembedProgress {
    pub embedded: usize,
    pub total: usize,
}

/// Carries out `decision` (from [`EmbeddingSpace::decide`]): nothing for full-text-only, embed
/// the chunks that lack vectors, or clear everything first when the space changed. Returns the
/// final progress; `on_progress` sees every batch (for `chitin memory reindex` and the logs).
pub async fn apply_reembed_decision(
    decision: &ReembedDecision,
    store: &dyn VectorStorePort,
    embedder: &dyn Embedder,
    batch_size: usize,
    on_progress: &mut (dyn FnMut(ReembedProgress) + Send),
) -> Result<ReembedProgress, ReembedError> {
    let space = EmbeddingSpace::of(embedder);
    match decision {
        ReembedDecision::FullTextOnly => {
            return Ok(ReembedProgress { embedded: 0, total: 0 });
        }
        ReembedDecision::EmbedMissing => {}
        ReembedDecision::ReembedAll { from, to } => {
            tracing::info!(from = %from.model_id, from_dims = from.dims, to = %to.model_id, to_dims = to.dims,
                "embedding model changed; re-embedding every chunk");
            store.clear_vectors().await?;
        }
    }
    let total = store.count_missing().await?;
    let mut progress = ReembedProgress { embedded: 0, total };
    let mut after = None;
    loop {
        let page = store.missing_after(after, batch_size.max(1)).await?;
        let Some((last_id, _)) = page.last() else {
            break;
        };
        after = Some(*last_id);
        let texts: Vec<String> = page.iter().map(|(_, text)| text.clone()).collect();
        let vectors = embedder.embed(&texts).await.map_err(|source| ReembedError::Embed {
            embedded: progress.embedded,
            total,
            source,
        })?;
        let count = vectors.len();
        let chunks = page
            .into_iter()
            .zip(vectors)
            .map(|((chunk_id, text), embedding)| ReembeddedChunk {
                chunk_id,
                embedding,
                embedding_hash: ContentHash::of(embedder.model_id(), embedder.dims(), &text).to_string(),
            })
            .collect();
        store.write_vectors(chunks).await?;
        progress.embedded += count;
        tracing::debug!(embedded = progress.embedded, total, "re-embedding progress");
        on_progress(progress);
    }
    store.record_space(&space).await?;
    if total > 0 {
        tracing::info!(embedded = progress.embedded, model = %space.model_id, "chunk vectors up to date");
    }
    Ok(progress)
}
