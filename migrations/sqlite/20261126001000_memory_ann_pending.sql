-- PostgreSQL moves its HNSW graph into `memory_chunk_ann`, kept current in the background from the
-- `memory_ann_pending` queue, in this migration. SQLite keeps no vector index (its vectors are
-- searched from an in-process copy: src/store/memory_vector_cache.rs), so nothing changes here; the
-- file keeps both backends' migration histories in step.
SELECT 1;
