-- PostgreSQL's HNSW index moves to half-precision copies of the vectors in this migration. SQLite
-- keeps no vector index (its vectors are searched from an in-process copy, which now scans 8-bit
-- codes before an exact re-rank: src/store/memory_vector_cache.rs), so nothing changes here; the
-- file keeps both backends' migration histories in step.
SELECT 1;
