//! SQLite's vector search: an in-process copy of the stored chunk vectors, scanned brute force.
//!
//! Reading 100k 1.5 KB BLOBs through SQLCipher on every query means decrypting and decoding
//! 150 MB; scanning the same vectors from one contiguous, pre-normalised `f32` buffer does
//! neither (21 ms at 100k in the benchmark, bound by memory bandwidth). The
//! copy is loaded on the first vector search and then kept in step by this process's writes
//! (upserts, deletes, re-embeds). Every change to a stored vector, from any connection or process,
//! also bumps `memory_vector_generation` (by trigger), so a copy that missed a change (another
//! process wrote, or a write here raced a load) sees a different generation and reloads.
//!
//! Memory cost: 4 bytes per dimension per chunk, 150 MB for 100k chunks of 384 dimensions.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use super::ChunkId;

/// The copy, or nothing before the first search (and after a change this process could not apply).
#[derive(Debug, Default)]
pub(crate) struct VectorCache {
    vectors: RwLock<Option<CachedVectors>>,
}

/// One change this process made to stored vectors, applied to the copy after its commit.
#[derive(Debug)]
pub(crate) enum VectorChange<'a> {
    /// Chunks whose vectors are gone (deleted chunks, a document's replaced chunks), then chunks
    /// that now have these vectors: (chunk id, document id, vector).
    Replace { removed: &'a [i64], upserted: Vec<(i64, i64, &'a [f32])> },
    /// Every vector is gone (a re-embed cleared them).
    Clear,
}

impl VectorCache {
    /// The `limit` chunks nearest `query` by cosine if the copy is at `generation`; `None` when
    /// it must be (re)loaded first. `documents` restricts the scan to chunks of those documents.
    pub(crate) fn nearest(
        &self,
        generation: i64,
        query: &[f32],
        documents: Option<&HashSet<i64>>,
        limit: usize,
    ) -> Option<Vec<ChunkId>> {
        let guard = self.vectors.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let cached = guard.as_ref().filter(|cached| cached.generation == generation)?;
        Some(cached.nearest(query, documents, limit))
    }

    /// Replaces the copy with freshly read rows (chunk id, document id, little-endian f32 blob)
    /// that were current at `generation`, and answers the search that needed them.
    pub(crate) fn load_and_search(
        &self,
        generation: i64,
        dims: usize,
        rows: &[(i64, i64, Vec<u8>)],
        query: &[f32],
        documents: Option<&HashSet<i64>>,
        limit: usize,
    ) -> Vec<ChunkId> {
        let cached = CachedVectors::from_rows(generation, dims, rows);
        let hits = cached.nearest(query, documents, limit);
        *self.vectors.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(cached);
        hits
    }

    #[cfg(test)]
    fn load(&self, generation: i64, dims: usize, rows: &[(i64, i64, Vec<u8>)]) {
        *self.vectors.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(CachedVectors::from_rows(generation, dims, rows));
    }

    /// Applies a committed change that moved the stored generation from `before` to `after`.
    /// The copy takes it only if it was exactly at `before`; a copy at `after` already holds it
    /// (it was loaded after the commit), and any other copy missed something and is dropped.
    pub(crate) fn apply(&self, before: i64, after: i64, change: VectorChange<'_>) {
        let mut guard = self.vectors.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(cached) = guard.as_mut() else { return };
        if cached.generation == after {
            return;
        }
        if cached.generation != before {
            *guard = None;
            return;
        }
        match change {
            VectorChange::Replace { removed, upserted } => {
                for chunk_id in removed {
                    cached.remove(*chunk_id);
                }
                for (chunk_id, document_id, vector) in upserted {
                    if vector.len() != cached.dims {
                        // The store checks dimensions before writing; if one slipped through, do
                        // not guess: reload from the store on the next search.
                        *guard = None;
                        return;
                    }
                    cached.upsert(chunk_id, document_id, vector);
                }
            }
            VectorChange::Clear => *cached = CachedVectors::empty(after, cached.dims),
        }
        cached.generation = after;
    }
}

/// Unit vectors in one contiguous buffer: entry `i` is `data[i * dims..(i + 1) * dims]`.
#[derive(Debug)]
struct CachedVectors {
    generation: i64,
    dims: usize,
    chunk_ids: Vec<i64>,
    document_ids: Vec<i64>,
    data: Vec<f32>,
    /// Entry index of each chunk id, so an upsert overwrites in place and a removal is O(1).
    positions: HashMap<i64, usize>,
}

impl CachedVectors {
    fn empty(generation: i64, dims: usize) -> CachedVectors {
        CachedVectors {
            generation,
            dims,
            chunk_ids: Vec::new(),
            document_ids: Vec::new(),
            data: Vec::new(),
            positions: HashMap::new(),
        }
    }

    fn from_rows(generation: i64, dims: usize, rows: &[(i64, i64, Vec<u8>)]) -> CachedVectors {
        let mut cached = CachedVectors::empty(generation, dims);
        cached.data.reserve(rows.len() * dims);
        cached.positions.reserve(rows.len());
        let mut vector = vec![0f32; dims];
        for (chunk_id, document_id, blob) in rows {
            if blob.len() != dims * 4 {
                continue;
            }
            for (slot, bytes) in vector.iter_mut().zip(blob.chunks_exact(4)) {
                *slot = f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            }
            cached.upsert(*chunk_id, *document_id, &vector);
        }
        cached
    }

    /// Stores `vector` normalised, so a search needs dot products only. A zero vector stays zero
    /// (cosine 0 with everything), as the scan of stored BLOBs treated it.
    fn upsert(&mut self, chunk_id: i64, document_id: i64, vector: &[f32]) {
        let norm = vector.iter().map(|value| value * value).sum::<f32>().sqrt();
        let scale = if norm > 0.0 { 1.0 / norm } else { 0.0 };
        let index = match self.positions.get(&chunk_id) {
            Some(index) => *index,
            None => {
                let index = self.chunk_ids.len();
                self.chunk_ids.push(chunk_id);
                self.document_ids.push(document_id);
                self.data.resize(self.data.len() + self.dims, 0.0);
                self.positions.insert(chunk_id, index);
                index
            }
        };
        self.document_ids[index] = document_id;
        let slot = &mut self.data[index * self.dims..(index + 1) * self.dims];
        for (slot, value) in slot.iter_mut().zip(vector) {
            *slot = value * scale;
        }
    }

    /// Moves the last entry into the removed one's place.
    fn remove(&mut self, chunk_id: i64) {
        let Some(index) = self.positions.remove(&chunk_id) else { return };
        let last = self.chunk_ids.len() - 1;
        if index != last {
            let moved = self.chunk_ids[last];
            self.chunk_ids.swap(index, last);
            self.document_ids.swap(index, last);
            self.data.copy_within(last * self.dims..(last + 1) * self.dims, index * self.dims);
            self.positions.insert(moved, index);
        }
        self.chunk_ids.pop();
        self.document_ids.pop();
        self.data.truncate(last * self.dims);
    }

    fn nearest(&self, query: &[f32], documents: Option<&HashSet<i64>>, limit: usize) -> Vec<ChunkId> {
        if query.len() != self.dims || limit == 0 || self.dims == 0 {
            return Vec::new();
        }
        let norm = query.iter().map(|value| value * value).sum::<f32>().sqrt();
        let scale = if norm > 0.0 { 1.0 / norm } else { 0.0 };
        let query: Vec<f32> = query.iter().map(|value| value * scale).collect();
        let mut scored: Vec<(f32, i64)> = Vec::with_capacity(self.chunk_ids.len());
        for (index, vector) in self.data.chunks_exact(self.dims).enumerate() {
            if documents.is_some_and(|documents| !documents.contains(&self.document_ids[index])) {
                continue;
            }
            scored.push((dot(&query, vector), self.chunk_ids[index]));
        }
        // Best cosine first; equal scores by chunk id, so results are deterministic.
        let by_score = |left: &(f32, i64), right: &(f32, i64)| right.0.total_cmp(&left.0).then(left.1.cmp(&right.1));
        if scored.len() > limit {
            scored.select_nth_unstable_by(limit, by_score);
            scored.truncate(limit);
        }
        scored.sort_by(by_score);
        scored.into_iter().map(|(_, chunk_id)| ChunkId(chunk_id)).collect()
    }
}

/// Dot product with eight independent accumulators: floating-point addition is not associative,
/// so a single running sum cannot be vectorised, while eight lanes map onto SIMD registers.
fn dot(left: &[f32], right: &[f32]) -> f32 {
    let (left_lanes, left_rest) = left.as_chunks::<8>();
    let (right_lanes, right_rest) = right.as_chunks::<8>();
    let mut sums = [0f32; 8];
    for (left, right) in left_lanes.iter().zip(right_lanes) {
        for lane in 0..8 {
            sums[lane] += left[lane] * right[lane];
        }
    }
    let tail: f32 = left_rest.iter().zip(right_rest).map(|(left, right)| left * right).sum();
    sums.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|value| value.to_le_bytes()).collect()
    }

    fn ids(values: &[i64]) -> Vec<ChunkId> {
        values.iter().copied().map(ChunkId).collect()
    }

    #[test]
    fn dot_matches_a_plain_sum_for_odd_lengths() {
        let left: Vec<f32> = (0..19).map(|value| value as f32 * 0.5).collect();
        let right: Vec<f32> = (0..19).map(|value| 1.0 - value as f32 * 0.1).collect();
        let plain: f32 = left.iter().zip(&right).map(|(left, right)| left * right).sum();
        assert!((dot(&left, &right) - plain).abs() < 1e-4);
    }

    #[test]
    fn searches_only_at_the_loaded_generation() {
        let cache = VectorCache::default();
        assert_eq!(cache.nearest(0, &[1.0, 0.0], None, 5), None, "nothing loaded");
        let rows = vec![
            (1, 10, blob(&[0.0, 1.0])),
            (2, 10, blob(&[2.0, 0.2])),
            (3, 11, blob(&[1.0])),
            (4, 11, blob(&[1.0, 0.5])),
        ];
        cache.load(7, 2, &rows);
        assert_eq!(cache.nearest(7, &[1.0, 0.0], None, 2), Some(ids(&[2, 4])), "cosine, not raw dot; bad blob skipped");
        assert_eq!(cache.nearest(8, &[1.0, 0.0], None, 2), None, "stale copy is not used");
        let only_11: HashSet<i64> = [11].into();
        assert_eq!(cache.nearest(7, &[1.0, 0.0], Some(&only_11), 5), Some(ids(&[4])));
    }

    #[test]
    fn applies_changes_in_sequence_and_drops_a_copy_that_missed_one() {
        let cache = VectorCache::default();
        cache.load(1, 2, &[(1, 10, blob(&[1.0, 0.0])), (2, 10, blob(&[0.0, 1.0])), (3, 11, blob(&[0.7, 0.7]))]);
        cache.apply(1, 2, VectorChange::Replace { removed: &[1], upserted: Vec::new() });
        assert_eq!(cache.nearest(2, &[1.0, 0.0], None, 5), Some(ids(&[3, 2])));
        cache.apply(
            2,
            4,
            VectorChange::Replace { removed: &[], upserted: vec![(2, 10, &[1.0, 0.1]), (5, 12, &[-1.0, 0.0])] },
        );
        assert_eq!(cache.nearest(4, &[1.0, 0.0], None, 5), Some(ids(&[2, 3, 5])), "overwritten in place, appended");
        cache.apply(3, 5, VectorChange::Replace { removed: &[2], upserted: Vec::new() });
        assert_eq!(cache.nearest(5, &[1.0, 0.0], None, 5), None, "a change from generation 3 means 4 was missed");
    }

    #[test]
    fn clear_empties_and_later_upserts_fill_again() {
        let cache = VectorCache::default();
        cache.load(1, 2, &[(1, 10, blob(&[1.0, 0.0]))]);
        cache.apply(1, 2, VectorChange::Clear);
        assert_eq!(cache.nearest(2, &[1.0, 0.0], None, 5), Some(Vec::new()));
        cache.apply(2, 3, VectorChange::Replace { removed: &[], upserted: vec![(1, 10, &[0.0, 3.0])] });
        assert_eq!(cache.nearest(3, &[0.0, 1.0], None, 5), Some(ids(&[1])));
    }

    #[test]
    fn removal_keeps_the_moved_entry_findable() {
        let mut cached = CachedVectors::empty(0, 2);
        for chunk_id in 1..=4 {
            cached.upsert(chunk_id, 1, &[chunk_id as f32, 1.0]);
        }
        cached.remove(1);
        cached.remove(1);
        assert_eq!(cached.chunk_ids.len(), 3);
        cached.upsert(4, 1, &[0.0, 1.0]);
        assert_eq!(cached.nearest(&[0.0, 1.0], None, 1), ids(&[4]), "the entry moved into slot 0 was overwritten");
        assert_eq!(cached.data.len(), 6);
    }
}
