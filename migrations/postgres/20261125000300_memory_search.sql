-- Memory search: where a document came from (for the source filter), a hash per chunk of exactly
-- what was embedded (so re-indexing a changed file reuses the vectors of unchanged chunks), and
-- the indexer's queue of paths still to index (so work survives a crash).
ALTER TABLE memory_documents ADD COLUMN source TEXT NOT NULL DEFAULT 'workspace';
CREATE INDEX memory_documents_updated_idx ON memory_documents (updated_at_ms);
ALTER TABLE memory_chunks ADD COLUMN embedding_hash TEXT;

CREATE TABLE memory_pending (
    path         TEXT   PRIMARY KEY,
    source       TEXT   NOT NULL,
    queued_at_ms BIGINT NOT NULL
);
