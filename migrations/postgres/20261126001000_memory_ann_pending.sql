-- The HNSW graph moves off `memory_chunks` into a table of its own, kept current in the background.
-- An HNSW insert costs 2-5.5 ms of server time on a 2-core machine (each one walks and relinks the
-- graph), 20x the rest of storing a chunk, so indexing could not pass ~200 chunks/s while the graph
-- was updated in the writing transaction. Now a chunk with a vector is queued in
-- `memory_ann_pending` by the statement that stores it; the absorber (src/store/memory_ann.rs)
-- moves queued chunks into `memory_chunk_ann` in batches, or rebuilds that table in one go when
-- the queue is large, and vector search reads the graph plus the queued tail scanned exactly.
-- Invariant: every chunk with a vector is in `memory_ann_pending` or in `memory_chunk_ann` (or both,
-- briefly); both reference the chunk, so deleting it deletes its rows.
CREATE TABLE memory_chunk_ann (
    chunk_id  BIGINT PRIMARY KEY REFERENCES memory_chunks(id) ON DELETE CASCADE,
    embedding halfvec(384) NOT NULL
);
CREATE INDEX memory_chunk_ann_embedding_idx ON memory_chunk_ann
    USING hnsw (embedding halfvec_cosine_ops) WITH (m = 16, ef_construction = 64);
CREATE TABLE memory_ann_pending (
    chunk_id BIGINT PRIMARY KEY REFERENCES memory_chunks(id) ON DELETE CASCADE
);
-- Bumped by every clear of all vectors (a model change), so a rebuild that read vectors before the
-- clear knows its copy is stale and is thrown away instead of swapped in.
CREATE TABLE memory_ann_state (
    id     SMALLINT PRIMARY KEY CHECK (id = 1),
    clears BIGINT NOT NULL
);
INSERT INTO memory_ann_state (id, clears) VALUES (1, 0);
-- Existing vectors are queued rather than indexed here: the migration stays instant, searches see
-- them at once through the queued tail, and the absorber builds the graph in one go with
-- `memory.ann_build_memory_mb` of maintenance memory instead of this session's default.
INSERT INTO memory_ann_pending (chunk_id) SELECT id FROM memory_chunks WHERE embedding IS NOT NULL;
DROP INDEX memory_chunks_embedding_half_idx;
