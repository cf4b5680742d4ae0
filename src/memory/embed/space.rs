//! Which model's vectors an index holds, and whether a config change means re-embedding.
//!
//! Vectors from two models (or one model at two sizes) are not comparable: a cosine between them
//! is noise. The store records the space its vectors were made in; at startup the indexer
//! compares it with the configured embedder and re-embeds everything before vector search is
//! used again, so an index never holds mixed vectors.

use serde::{Deserialize, Serialize};

use super::Embedder;

/// The model and vector length an index's embeddings come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingSpace {
    pub model_id: String,
    pub dims: usize,
}

impl EmbeddingSpace {
    pub fn of(embedder: &dyn Embedder) -> Self {
        Self { model_id: embedder.model_id().to_string(), dims: embedder.dims() }
    }

    /// What the indexer must do, given the space the store recorded (`None` for an index with
    /// no vectors yet) and the configured one (`None` when the provider is `none`).
    pub fn decide(stored: Option<&Self>, configured: Option<&Self>) -> ReembedDecision {
        match (stored, configured) {
            (_, None) => ReembedDecision::FullTextOnly,
            (None, Some(_)) => ReembedDecision::EmbedMissing,
            (Some(stored), Some(configured)) if stored == configured => ReembedDecision::EmbedMissing,
            (Some(stored), Some(configured)) => {
                ReembedDecision::ReembedAll { from: stored.clone(), to: configured.clone() }
            }
        }
    }
}

/// The indexer's next step for vectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReembedDecision {
    /// Keep existing vectors and embed only chunks that have none.
    EmbedMissing,
    /// The model or its size changed: clear every vector, record the new space, embed all chunks
    /// again with progress; vector search stays off until that finishes.
    ReembedAll { from: EmbeddingSpace, to: EmbeddingSpace },
    /// No embedder configured: search runs on full text alone; stored vectors are left untouched
    /// for when one is configured again.
    FullTextOnly,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(model: &str, dims: usize) -> EmbeddingSpace {
        EmbeddingSpace { model_id: model.to_string(), dims }
    }

    #[test]
    fn same_space_keeps_vectors() {
        let minilm = space("local/all-MiniLM-L6-v2", 384);
        assert_eq!(EmbeddingSpace::decide(Some(&minilm), Some(&minilm)), ReembedDecision::EmbedMissing);
    }

    #[test]
    fn changed_model_or_dims_reembeds_everything() {
        let small = space("text-embedding-3-small", 512);
        let wide = space("text-embedding-3-small", 1536);
        assert_eq!(
            EmbeddingSpace::decide(Some(&small), Some(&wide)),
            ReembedDecision::ReembedAll { from: small.clone(), to: wide.clone() }
        );
        let other = space("nomic-embed-text", 512);
        assert!(matches!(EmbeddingSpace::decide(Some(&small), Some(&other)), ReembedDecision::ReembedAll { .. }));
    }

    #[test]
    fn no_provider_means_full_text_only() {
        let small = space("m", 8);
        assert_eq!(EmbeddingSpace::decide(Some(&small), None), ReembedDecision::FullTextOnly);
    }
}
