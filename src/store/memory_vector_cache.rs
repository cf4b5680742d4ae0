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
//! A search first scans 8-bit copies of the vectors (a quarter of the bytes: the full `f32` scan
//! read 150 MB per query at 100k chunks and was bound by memory bandwidth), keeps the best
//! [`RERANK_FACTOR`] times the list it was asked for, and re-ranks those by their exact `f32`
//! cosine. Rounding to 8 bits moves a cosine by about 0.001, far less than the gap between the
//! chunks a list keeps and those 4x further down it, so the list is the one an exact scan gives
//! (a test checks that on random vectors, where scores crowd together the most).
//!
//! Memory cost: 5 bytes per dimension per chunk (the exact `f32` vectors for the re-rank and the
//! 8-bit codes), 190 MB for 100k chunks of 384 dimensions.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use super::ChunkId;

/// The 8-bit scan keeps this many times the requested list for the exact re-rank.
const RERANK_FACTOR: usize = 4;
/// ... and at least this many, so short lists (a prompt's few memories) get a wide margin too.
const RERANK_MIN: usize = 100;

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

/// Unit vectors in one contiguous buffer: entry `i` is `data[i * dims..(i + 1) * dims]`, and its
/// 8-bit code `codes[i * dims..(i + 1) * dims]` (the vector divided by `code_scales[i]`, rounded).
#[derive(Debug)]
struct CachedVectors {
    generation: i64,
    dims: usize,
    chunk_ids: Vec<i64>,
    document_ids: Vec<i64>,
    data: Vec<f32>,
    codes: Vec<i8>,
    code_scales: Vec<f32>,
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
            codes: Vec::new(),
            code_scales: Vec::new(),
            positions: HashMap::new(),
        }
    }

    fn from_rows(generation: i64, dims: usize, rows: &[(i64, i64, Vec<u8>)]) -> CachedVectors {
        let mut cached = CachedVectors::empty(generation, dims);
        cached.data.reserve(rows.len() * dims);
        cached.codes.reserve(rows.len() * dims);
        cached.code_scales.reserve(rows.len());
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
                self.codes.resize(self.codes.len() + self.dims, 0);
                self.code_scales.push(0.0);
                self.positions.insert(chunk_id, index);
                index
            }
        };
        self.document_ids[index] = document_id;
        let slot = &mut self.data[index * self.dims..(index + 1) * self.dims];
        for (slot, value) in slot.iter_mut().zip(vector) {
            *slot = value * scale;
        }
        let (data, codes) = (
            &self.data[index * self.dims..(index + 1) * self.dims],
            &mut self.codes[index * self.dims..(index + 1) * self.dims],
        );
        self.code_scales[index] = quantise(data, codes);
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
            self.codes.copy_within(last * self.dims..(last + 1) * self.dims, index * self.dims);
            self.code_scales.swap(index, last);
            self.positions.insert(moved, index);
        }
        self.chunk_ids.pop();
        self.document_ids.pop();
        self.data.truncate(last * self.dims);
        self.codes.truncate(last * self.dims);
        self.code_scales.pop();
    }

    fn nearest(&self, query: &[f32], documents: Option<&HashSet<i64>>, limit: usize) -> Vec<ChunkId> {
        if query.len() != self.dims || limit == 0 || self.dims == 0 {
            return Vec::new();
        }
        let norm = query.iter().map(|value| value * value).sum::<f32>().sqrt();
        let scale = if norm > 0.0 { 1.0 / norm } else { 0.0 };
        let query: Vec<f32> = query.iter().map(|value| value * scale).collect();
        let mut query_code = vec![0i8; self.dims];
        quantise(&query, &mut query_code);
        // Pass 1: approximate cosines from the 8-bit codes (the query's own scale is the same for
        // every entry, so it is left out), keeping the best `keep` seen so far.
        let keep = limit.saturating_mul(RERANK_FACTOR).max(RERANK_MIN);
        let mut best = TopK::new(keep);
        let dot_codes = dot_i8_for_this_cpu();
        for (index, code) in self.codes.chunks_exact(self.dims).enumerate() {
            if documents.is_some_and(|documents| !documents.contains(&self.document_ids[index])) {
                continue;
            }
            best.offer(dot_codes(&query_code, code) as f32 * self.code_scales[index], self.chunk_ids[index], index);
        }
        // Pass 2: the exact cosine of those few.
        let mut scored: Vec<(f32, i64)> = best
            .into_indices()
            .map(|index| (dot(&query, &self.data[index * self.dims..(index + 1) * self.dims]), self.chunk_ids[index]))
            .collect();
        // Best cosine first; equal scores by chunk id, so results are deterministic.
        scored.sort_by(|left, right| right.0.total_cmp(&left.0).then(left.1.cmp(&right.1)));
        scored.truncate(limit);
        scored.into_iter().map(|(_, chunk_id)| ChunkId(chunk_id)).collect()
    }
}

/// The best `keep` entries offered by (score descending, chunk id ascending), without sorting
/// every entry: an offer worse than the current cut-off is dropped after one comparison, and the
/// buffer is cut back to `keep` whenever it holds twice that. The total order makes the kept set
/// deterministic even when many chunks share a vector (the same paragraph in several notes).
struct TopK {
    keep: usize,
    /// (approximate score, chunk id, entry index).
    entries: Vec<(f32, i64, usize)>,
    /// The worst kept (score, chunk id) after the last cut.
    cutoff: Option<(f32, i64)>,
}

fn better_first(left: &(f32, i64, usize), right: &(f32, i64, usize)) -> std::cmp::Ordering {
    right.0.total_cmp(&left.0).then(left.1.cmp(&right.1))
}

impl TopK {
    fn new(keep: usize) -> TopK {
        TopK { keep, entries: Vec::with_capacity(keep.saturating_mul(2)), cutoff: None }
    }

    fn offer(&mut self, score: f32, chunk_id: i64, index: usize) {
        if let Some(cutoff) = self.cutoff
            && better_first(&(score, chunk_id, index), &(cutoff.0, cutoff.1, 0)).is_gt()
        {
            return;
        }
        self.entries.push((score, chunk_id, index));
        if self.entries.len() >= self.keep.saturating_mul(2) {
            self.cut();
        }
    }

    fn cut(&mut self) {
        if self.entries.len() <= self.keep {
            return;
        }
        self.entries.select_nth_unstable_by(self.keep - 1, better_first);
        self.entries.truncate(self.keep);
        self.cutoff =
            self.entries.iter().max_by(|left, right| better_first(left, right)).map(|worst| (worst.0, worst.1));
    }

    fn into_indices(mut self) -> impl Iterator<Item = usize> {
        self.cut();
        self.entries.into_iter().map(|(_, _, index)| index)
    }
}

/// Writes `vector` as signed 8-bit codes scaled so its largest component is ±127, and returns
/// the factor that turns a code back into the component (0 for a zero vector). A per-vector
/// scale keeps full 8-bit resolution for each vector whatever its largest component.
fn quantise(vector: &[f32], codes: &mut [i8]) -> f32 {
    let largest = vector.iter().fold(0f32, |largest, value| largest.max(value.abs()));
    if !(largest > 0.0 && largest.is_finite()) {
        codes.fill(0);
        return 0.0;
    }
    let to_code = 127.0 / largest;
    for (code, value) in codes.iter_mut().zip(vector) {
        // In range by construction; `as` saturates anyway.
        *code = (value * to_code).round() as i8;
    }
    largest / 127.0
}

/// [`dot_i8`] compiled for AVX2 where the CPU has it, else the baseline (SSE2) build. The binary
/// targets baseline x86-64, where widening 8-bit lanes takes several instructions per 16 bytes;
/// AVX2 sign-extends and multiply-adds 16 codes in two, and the 8-bit scan is the whole cost of
/// a vector search.
fn dot_i8_for_this_cpu() -> fn(&[i8], &[i8]) -> i32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        return dot_i8_avx2_checked;
    }
    dot_i8
}

#[cfg(target_arch = "x86_64")]
fn dot_i8_avx2_checked(left: &[i8], right: &[i8]) -> i32 {
    // SAFETY: only handed out by `dot_i8_for_this_cpu` after it found AVX2 on this CPU, which is
    // all `dot_i8_avx2` requires (it does no unchecked indexing).
    unsafe { dot_i8_avx2(left, right) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn dot_i8_avx2(left: &[i8], right: &[i8]) -> i32 {
    dot_i8(left, right)
}

/// Integer dot product of two 8-bit codes. Each product fits 15 bits and 384 of them 24, so
/// `i32` lanes cannot overflow for any realistic dimension (up to 130k); sixteen independent
/// lanes let the compiler use packed multiply-add instructions.
#[inline(always)]
fn dot_i8(left: &[i8], right: &[i8]) -> i32 {
    let (left_lanes, left_rest) = left.as_chunks::<16>();
    let (right_lanes, right_rest) = right.as_chunks::<16>();
    let mut sums = [0i32; 16];
    for (left, right) in left_lanes.iter().zip(right_lanes) {
        for lane in 0..16 {
            sums[lane] += i32::from(left[lane]) * i32::from(right[lane]);
        }
    }
    let tail: i32 = left_rest.iter().zip(right_rest).map(|(left, right)| i32::from(*left) * i32::from(*right)).sum();
    sums.iter().sum::<i32>() + tail
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

    /// Unit vectors from a fixed pseudo-random sequence (Gaussian-ish: a sum of uniforms), the
    /// hardest case for the 8-bit pass: with no clusters, the top cosines crowd together.
    fn random_vectors(count: usize, dims: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        (0..count).map(|_| (0..dims).map(|_| next() + next() + next()).collect()).collect()
    }

    /// Every chunk id by exact cosine (computed in f64), best first; ties by chunk id.
    fn exact_ranking(vectors: &[(i64, Vec<f32>)], query: &[f32]) -> Vec<ChunkId> {
        let cosine = |vector: &[f32]| {
            let dot: f64 = vector.iter().zip(query).map(|(left, right)| f64::from(*left) * f64::from(*right)).sum();
            let norm: f64 = vector.iter().map(|value| f64::from(*value).powi(2)).sum::<f64>().sqrt();
            dot / norm
        };
        let mut scored: Vec<(f64, i64)> = vectors.iter().map(|(id, vector)| (cosine(vector), *id)).collect();
        scored.sort_by(|left, right| right.0.total_cmp(&left.0).then(left.1.cmp(&right.1)));
        scored.into_iter().map(|(_, id)| ChunkId(id)).collect()
    }

    #[test]
    fn eight_bit_scan_then_re_rank_gives_the_exact_list() {
        let dims = 384;
        let vectors: Vec<(i64, Vec<f32>)> = random_vectors(10_000, dims, 7)
            .into_iter()
            .enumerate()
            .map(|(index, vector)| (index as i64 + 1, vector))
            .collect();
        let mut cached = CachedVectors::empty(0, dims);
        for (id, vector) in &vectors {
            cached.upsert(*id, *id % 97, vector);
        }
        for (number, query) in random_vectors(20, dims, 99).iter().enumerate() {
            let exact = exact_ranking(&vectors, query);
            for limit in [1, 10, 50] {
                assert_eq!(cached.nearest(query, None, limit), exact[..limit], "query {number}, limit {limit}");
            }
        }
        let documents: HashSet<i64> = [3, 5].into();
        let filtered: Vec<(i64, Vec<f32>)> =
            vectors.iter().filter(|(id, _)| documents.contains(&(id % 97))).cloned().collect();
        let query = &random_vectors(1, dims, 5)[0];
        assert_eq!(cached.nearest(query, Some(&documents), 50), exact_ranking(&filtered, query)[..50]);
    }

    #[test]
    fn equal_vectors_keep_the_lowest_chunk_ids() {
        let mut cached = CachedVectors::empty(0, 4);
        // More identical vectors than the 8-bit pass keeps, inserted in descending id order.
        for chunk_id in (1..=1_000).rev() {
            cached.upsert(chunk_id, 1, &[0.5, 0.5, 0.5, 0.5]);
        }
        cached.upsert(5_000, 2, &[0.5, 0.5, 0.5, 0.4]);
        assert_eq!(cached.nearest(&[1.0, 1.0, 1.0, 1.0], None, 3), ids(&[1, 2, 3]));
        assert_eq!(cached.nearest(&[0.0, 0.0, 0.0, 0.0], None, 2), ids(&[1, 2]), "a zero query scores all equal");
    }

    #[test]
    fn codes_round_trip_within_half_a_step() {
        let vector = [0.9, -0.3, 0.0, 0.001, -0.9];
        let mut codes = [0i8; 5];
        let scale = quantise(&vector, &mut codes);
        assert_eq!(codes[0], 127);
        assert_eq!(codes[4], -127);
        for (code, value) in codes.iter().zip(vector) {
            assert!((f32::from(*code) * scale - value).abs() <= scale / 2.0 + 1e-6);
        }
        assert_eq!(quantise(&[0.0, 0.0], &mut [1, 1]), 0.0);
        let left: Vec<i8> = (0..37).map(|value| (value * 7 - 127) as i8).collect();
        let right: Vec<i8> = (0..37).map(|value| (127 - value * 5) as i8).collect();
        let plain: i32 = left.iter().zip(&right).map(|(left, right)| i32::from(*left) * i32::from(*right)).sum();
        assert_eq!(dot_i8(&left, &right), plain);
        assert_eq!(dot_i8_for_this_cpu()(&left, &right), plain, "the build this CPU runs agrees");
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
        assert_eq!((cached.codes.len(), cached.code_scales.len()), (6, 3));
    }
}
