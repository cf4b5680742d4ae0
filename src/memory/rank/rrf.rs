//! Reciprocal rank fusion of the full-text and vector rankings.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::ChunkId;

/// A chunk after fusion, with the ranks it came from (1-based; `None` when absent from a list).
#[derive(Debug, Clone, PartialEq)]
pub struct FusedHit {
    pub chunk_id: ChunkId,
    pub fts_rank: Option<usize>,
    pub vector_rank: Option<usize>,
    /// Σ 1 / (k + rank) over the lists the chunk appears in.
    pub fused: f64,
}

/// Fuses two rankings, best first.
///
/// RRF uses ranks only, never the raw scores, which is why it can merge BM25 (unbounded) with
/// cosine similarity (−1..1) without calibration. `k` damps the head of each list: with the
/// usual k = 60 a chunk ranked 1st in one list and absent from the other scores about the same as
/// one ranked ~60th in both, so agreement between the lists wins unless one list is very sure.
/// A chunk listed twice in one ranking counts once, at its best rank. Ties are broken by the
/// best single rank, then by chunk id, so the order is deterministic.
pub fn reciprocal_rank_fusion(fts: &[ChunkId], vector: &[ChunkId], k: f64) -> Vec<FusedHit> {
    let mut by_chunk: HashMap<ChunkId, FusedHit> = HashMap::new();
    for (position, chunk_id) in fts.iter().enumerate() {
        let hit = by_chunk.entry(*chunk_id).or_insert_with(|| empty_hit(*chunk_id));
        hit.fts_rank.get_or_insert(position + 1);
    }
    for (position, chunk_id) in vector.iter().enumerate() {
        let hit = by_chunk.entry(*chunk_id).or_insert_with(|| empty_hit(*chunk_id));
        hit.vector_rank.get_or_insert(position + 1);
    }
    let mut hits: Vec<FusedHit> = by_chunk
        .into_values()
        .map(|mut hit| {
            hit.fused = [hit.fts_rank, hit.vector_rank].into_iter().flatten().map(|rank| 1.0 / (k + rank as f64)).sum();
            hit
        })
        .collect();
    hits.sort_by(compare_fused);
    hits
}

fn empty_hit(chunk_id: ChunkId) -> FusedHit {
    FusedHit { chunk_id, fts_rank: None, vector_rank: None, fused: 0.0 }
}

fn best_rank(hit: &FusedHit) -> usize {
    hit.fts_rank.into_iter().chain(hit.vector_rank).min().unwrap_or(usize::MAX)
}

fn compare_fused(left: &FusedHit, right: &FusedHit) -> Ordering {
    right
        .fused
        .total_cmp(&left.fused)
        .then_with(|| best_rank(left).cmp(&best_rank(right)))
        .then_with(|| left.chunk_id.cmp(&right.chunk_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(values: &[i64]) -> Vec<ChunkId> {
        values.iter().copied().map(ChunkId).collect()
    }

    #[test]
    fn agreement_beats_a_single_strong_rank() {
        // Chunk 1 tops full text only; chunk 2 is second in both lists.
        let fused = reciprocal_rank_fusion(&ids(&[1, 2, 3]), &ids(&[4, 2, 5]), 60.0);
        assert_eq!(fused[0].chunk_id, ChunkId(2));
        assert_eq!(fused[0].fts_rank, Some(2));
        assert_eq!(fused[0].vector_rank, Some(2));
        assert!((fused[0].fused - 2.0 / 62.0).abs() < 1e-12);
    }

    #[test]
    fn ties_go_to_the_better_single_rank_then_lower_id() {
        let fused = reciprocal_rank_fusion(&ids(&[7, 8]), &ids(&[9, 6]), 60.0);
        let order: Vec<i64> = fused.iter().map(|hit| hit.chunk_id.0).collect();
        assert_eq!(order, vec![7, 9, 6, 8]);
    }

    #[test]
    fn duplicates_count_once_at_best_rank() {
        let fused = reciprocal_rank_fusion(&ids(&[3, 3]), &[], 60.0);
        assert_eq!(fused.len(), 1);
        assert_eq!(fused[0].fts_rank, Some(1));
        assert!((fused[0].fused - 1.0 / 61.0).abs() < 1e-12);
    }

    #[test]
    fn small_k_lets_a_top_rank_win() {
        let fts = ids(&[1, 2, 3]);
        let vector = ids(&[4, 5, 6, 7, 8, 2]);
        assert_eq!(reciprocal_rank_fusion(&fts, &vector, 1.0)[0].chunk_id, ChunkId(1));
        assert_eq!(reciprocal_rank_fusion(&fts, &vector, 60.0)[0].chunk_id, ChunkId(2));
    }

    #[test]
    fn empty_lists_give_nothing() {
        assert!(reciprocal_rank_fusion(&[], &[], 60.0).is_empty());
    }
}
