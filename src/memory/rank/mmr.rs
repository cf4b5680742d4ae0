//! Maximal marginal relevance: trades a little relevance for results that say different things.

/// One result to diversify: its relevance (any scale, higher is better) and its vector, if any.
#[derive(Debug, Clone, Copy)]
pub struct MmrCandidate<'a> {
    pub relevance: f64,
    pub embedding: Option<&'a [f32]>,
}

/// Picks up to `limit` candidates greedily, returning their indices in pick order.
///
/// Each step takes the candidate maximising `λ·relevance − (1−λ)·max cosine to those already
/// picked`, with relevance scaled so the best candidate is 1. λ = 1 is plain relevance order;
/// lower values push near-duplicates down (the overlapping chunks of one paragraph, or the same
/// note saved twice). Candidates without a vector count as unlike everything. Ties keep input
/// order, so the input should be sorted best first.
pub fn mmr_order(candidates: &[MmrCandidate<'_>], lambda: f64, limit: usize) -> Vec<usize> {
    let lambda = if lambda.is_finite() { lambda.clamp(0.0, 1.0) } else { 1.0 };
    let top = candidates
        .iter()
        .map(|candidate| candidate.relevance)
        .filter(|relevance| relevance.is_finite())
        .fold(0.0_f64, f64::max);
    let scale = if top > 0.0 { 1.0 / top } else { 1.0 };

    let mut picked: Vec<usize> = Vec::with_capacity(limit.min(candidates.len()));
    // Highest similarity of each candidate to anything picked so far, updated incrementally.
    let mut max_similarity = vec![0.0_f64; candidates.len()];
    let mut available = vec![true; candidates.len()];
    while picked.len() < limit {
        let mut best: Option<(usize, f64)> = None;
        for (index, candidate) in candidates.iter().enumerate() {
            if !available[index] {
                continue;
            }
            let relevance = if candidate.relevance.is_finite() { candidate.relevance } else { 0.0 };
            let score = lambda * relevance * scale - (1.0 - lambda) * max_similarity[index];
            if best.is_none_or(|(_, best_score)| score > best_score) {
                best = Some((index, score));
            }
        }
        let Some((chosen, _)) = best else { break };
        available[chosen] = false;
        picked.push(chosen);
        if let Some(chosen_vector) = candidates[chosen].embedding {
            for (index, candidate) in candidates.iter().enumerate() {
                if let (true, Some(vector)) = (available[index], candidate.embedding) {
                    max_similarity[index] = max_similarity[index].max(cosine(chosen_vector, vector));
                }
            }
        }
    }
    picked
}

/// Cosine similarity; 0 for vectors of different length or zero norm.
pub fn cosine(left: &[f32], right: &[f32]) -> f64 {
    if left.len() != right.len() {
        return 0.0;
    }
    let (mut dot, mut left_norm, mut right_norm) = (0.0_f64, 0.0_f64, 0.0_f64);
    for (a, b) in left.iter().zip(right) {
        let (a, b) = (f64::from(*a), f64::from(*b));
        dot += a * b;
        left_norm += a * a;
        right_norm += b * b;
    }
    let norms = (left_norm * right_norm).sqrt();
    if norms > 0.0 && norms.is_finite() { dot / norms } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(relevance: f64, embedding: &[f32]) -> MmrCandidate<'_> {
        MmrCandidate { relevance, embedding: Some(embedding) }
    }

    #[test]
    fn lambda_one_keeps_relevance_order() {
        let (a, b) = ([1.0, 0.0], [1.0, 0.0]);
        let candidates = [candidate(0.9, &a), candidate(0.8, &b), candidate(0.1, &[0.0, 1.0])];
        assert_eq!(mmr_order(&candidates, 1.0, 3), vec![0, 1, 2]);
    }

    #[test]
    fn near_duplicate_is_pushed_below_a_different_result() {
        let duplicate = [0.99, 0.01];
        let candidates = [candidate(1.0, &[1.0, 0.0]), candidate(0.95, &duplicate), candidate(0.7, &[0.0, 1.0])];
        assert_eq!(mmr_order(&candidates, 0.5, 2), vec![0, 2]);
    }

    #[test]
    fn candidates_without_vectors_are_never_penalised() {
        let vector = [1.0, 0.0];
        let candidates =
            [candidate(1.0, &vector), MmrCandidate { relevance: 0.5, embedding: None }, candidate(0.9, &vector)];
        assert_eq!(mmr_order(&candidates, 0.5, 3), vec![0, 1, 2]);
    }

    #[test]
    fn limit_and_empty_input() {
        assert!(mmr_order(&[], 0.5, 5).is_empty());
        let vector = [1.0];
        assert_eq!(mmr_order(&[candidate(1.0, &vector)], 0.5, 0), Vec::<usize>::new());
    }

    #[test]
    fn cosine_handles_mismatch_and_zero() {
        assert_eq!(cosine(&[1.0, 0.0], &[1.0]), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
        assert!((cosine(&[1.0, 1.0], &[2.0, 2.0]) - 1.0).abs() < 1e-9);
    }
}
