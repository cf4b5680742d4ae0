//! Orders search candidates: reciprocal rank fusion, recency decay, MMR, filters, query limits.
//!
//! Everything here is pure: the store produces the two rankings (full text and vector) and the
//! candidate details, and these functions decide the final order.

mod coverage;
mod filter;
mod hybrid;
mod mmr;
mod query;
mod recency;
mod rrf;

use serde::{Deserialize, Serialize};

pub use coverage::term_coverage;
pub use filter::{SearchFilter, SourceName};
pub use hybrid::{CandidateChunk, HybridInput, ScoreParts, SearchHit, rank_hybrid};
pub use mmr::{MmrCandidate, cosine, mmr_order};
pub use query::{QueryError, SearchQuery};
pub use recency::recency_weight;
pub use rrf::{FusedHit, reciprocal_rank_fusion};

/// Ranking works on the store's chunk ids directly.
pub use crate::store::ChunkId;

/// How search results are ranked (`[memory.search]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RankingConfig {
    /// RRF constant; 60 is the value from the original RRF paper and what most hybrid search
    /// engines ship. Lower values trust each list's top result more.
    pub rrf_k: f64,
    /// Weight of the full-text list in the fusion (each list adds `weight / (k + rank)`; a
    /// full-text entry's share is further scaled by the share of query terms it contains).
    /// 0.5 by default: with OR-matched terms, full text also returns chunks that share a single
    /// incidental word with a question, and at equal weight such a hit ties the best semantic
    /// match. Where full text is decisive (a rare exact term: an error code, a name) it ranks
    /// the answer first and, usually, the vector list ranks it too, so halving its weight costs
    /// those queries little.
    pub fts_weight: f64,
    /// Weight of the vector list in the fusion.
    pub vector_weight: f64,
    /// How many chunks each side (full text, vector) contributes before fusion. 50 gives fusion
    /// room to promote a chunk both sides rank moderately, at negligible cost.
    pub candidates_per_list: usize,
    /// Hits returned.
    pub limit: usize,
    /// Half-life of the recency decay in days; unset (the default) turns decay off, so an old
    /// note ranks like a new one unless the user asks for recency.
    pub recency_half_life_days: Option<f64>,
    /// Weight an infinitely old chunk keeps under decay (0..=1), so old answers stay findable.
    pub recency_floor: f64,
    /// MMR trade-off: 1 = pure relevance, lower = more diverse; unset (the default) skips MMR.
    /// 0.7 is a good value when documents overlap a lot.
    pub mmr_lambda: Option<f64>,
    /// Longest query kept, in bytes; longer input (a pasted log) is cut. The local model reads
    /// only 256 word pieces anyway.
    pub max_query_bytes: usize,
}

impl Default for RankingConfig {
    fn default() -> Self {
        Self {
            rrf_k: 60.0,
            fts_weight: 0.5,
            vector_weight: 1.0,
            candidates_per_list: 50,
            limit: 10,
            recency_half_life_days: None,
            recency_floor: 0.3,
            mmr_lambda: None,
            max_query_bytes: 2048,
        }
    }
}
