//! Hybrid ranking: fuse full-text and vector rankings, then recency decay and MMR diversity.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::coverage::term_coverage;
use super::filter::{SearchFilter, SourceName};
use super::mmr::{MmrCandidate, mmr_order};
use super::recency::recency_weight;
use super::rrf::reciprocal_rank_fusion;
use super::{ChunkId, RankingConfig};

/// What the store knows about a chunk that appeared in either ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateChunk {
    pub document_path: String,
    pub text: String,
    pub source: SourceName,
    pub updated_at: DateTime<Utc>,
    /// Needed only for MMR; `None` under full-text-only search.
    pub embedding: Option<Vec<f32>>,
}

/// How a hit's score was made, so callers and `chitin memory search --explain` can show why it ranked.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreParts {
    /// 1-based rank in the full-text list, if the chunk was in it.
    pub fts_rank: Option<usize>,
    /// 1-based rank in the vector list, if the chunk was in it.
    pub vector_rank: Option<usize>,
    /// Reciprocal rank fusion score.
    pub fused: f64,
    /// Recency multiplier in `floor..=1` (1 when decay is off).
    pub recency: f64,
    /// `fused × recency`: the order before MMR.
    pub score: f64,
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub chunk_id: ChunkId,
    pub document_path: String,
    pub text: String,
    pub updated_at: DateTime<Utc>,
    pub scores: ScoreParts,
}

/// The two rankings and the details of every chunk in them.
pub struct HybridInput<'a> {
    /// Full-text ranking, best first (empty when the query had no words).
    pub fts: &'a [ChunkId],
    /// Vector ranking, best first (empty under full-text-only search).
    pub vector: &'a [ChunkId],
    pub candidates: &'a HashMap<ChunkId, CandidateChunk>,
    /// The full-text terms of the query ([`super::SearchQuery::terms`]): a full-text entry
    /// counts in proportion to the share of them it contains. Empty: full weight.
    pub query_terms: &'a [String],
    pub filter: &'a SearchFilter,
    pub now: DateTime<Utc>,
}

/// Ranks the candidates and returns at most `config.limit` hits, best first.
///
/// Chunk ids with no entry in `candidates` (deleted between the two queries) are dropped.
pub fn rank_hybrid(input: &HybridInput<'_>, config: &RankingConfig) -> Vec<SearchHit> {
    let half_life_seconds = config.recency_half_life_days.map_or(0.0, |days| days * 86_400.0);
    let mut hits: Vec<SearchHit> = reciprocal_rank_fusion(input.fts, input.vector, config.rrf_k)
        .into_iter()
        .filter_map(|fused| {
            let candidate = input.candidates.get(&fused.chunk_id)?;
            if !input.filter.matches(&candidate.document_path, candidate.updated_at, &candidate.source) {
                return None;
            }
            let weighted =
                |rank: Option<usize>, weight: f64| rank.map_or(0.0, |rank| weight / (config.rrf_k + rank as f64));
            let coverage = match fused.fts_rank {
                Some(_) => term_coverage(input.query_terms, &candidate.text),
                None => 0.0,
            };
            let fused_score = weighted(fused.fts_rank, config.fts_weight * coverage)
                + weighted(fused.vector_rank, config.vector_weight);
            let age_seconds = (input.now - candidate.updated_at).as_seconds_f64();
            let recency = recency_weight(age_seconds, half_life_seconds, config.recency_floor);
            Some(SearchHit {
                chunk_id: fused.chunk_id,
                document_path: candidate.document_path.clone(),
                text: candidate.text.clone(),
                updated_at: candidate.updated_at,
                scores: ScoreParts {
                    fts_rank: fused.fts_rank,
                    vector_rank: fused.vector_rank,
                    fused: fused_score,
                    recency,
                    score: fused_score * recency,
                },
            })
        })
        .collect();
    // Stable sort: equal scores keep the deterministic fusion order.
    hits.sort_by(|left, right| right.scores.score.total_cmp(&left.scores.score));

    let Some(lambda) = config.mmr_lambda else {
        hits.truncate(config.limit);
        return hits;
    };
    let mmr_candidates: Vec<MmrCandidate<'_>> = hits
        .iter()
        .map(|hit| MmrCandidate {
            relevance: hit.scores.score,
            embedding: input.candidates.get(&hit.chunk_id).and_then(|candidate| candidate.embedding.as_deref()),
        })
        .collect();
    let order = mmr_order(&mmr_candidates, lambda, config.limit);
    let mut slots: Vec<Option<SearchHit>> = hits.into_iter().map(Some).collect();
    order.into_iter().filter_map(|index| slots.get_mut(index).and_then(Option::take)).collect()
}
