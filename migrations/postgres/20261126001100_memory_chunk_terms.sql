-- Full-text search moves from a generated `tsv` column on memory_chunks to a narrow table of its
-- own. Ranking an OR query reads the `tsvector` of every matching chunk, one heap page per match
-- (an OR of 3 ordinary words matches ~4% of chunks). In memory_chunks those pages also carry the
-- chunk text and the vector's TOAST pointer, so at 100k chunks the heap (123 MB) did not stay in
-- PostgreSQL's default 128 MB of shared buffers next to the vector index, and most pages of a
-- query came from the OS cache. This table holds only what the ranking reads (74 MB at 100k):
-- measured with 100 queries on a copy of the benchmark corpus, p50 11.7 -> 6.7 ms.
--
-- `document_id` is repeated here so a filtered search joins the documents directly. A
-- statement trigger fills the table from every insert of chunks (any writer, one statement), and
-- deleting a chunk (or its document) deletes its row through the foreign key.
CREATE TABLE memory_chunk_terms (
    chunk_id    BIGINT   PRIMARY KEY REFERENCES memory_chunks (id) ON DELETE CASCADE,
    document_id BIGINT   NOT NULL,
    tsv         tsvector NOT NULL
);
INSERT INTO memory_chunk_terms (chunk_id, document_id, tsv) SELECT id, document_id, tsv FROM memory_chunks;
CREATE INDEX memory_chunk_terms_tsv_idx ON memory_chunk_terms USING gin (tsv);
-- Drops memory_chunks_tsv_idx with it. The space of the dropped column is reused as rows are
-- rewritten (or at once with `VACUUM FULL memory_chunks`).
ALTER TABLE memory_chunks DROP COLUMN tsv;

CREATE FUNCTION memory_chunk_terms_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO memory_chunk_terms (chunk_id, document_id, tsv)
    SELECT id, document_id, to_tsvector('english', content) FROM inserted_chunks;
    RETURN NULL;
END
$$;
CREATE TRIGGER memory_chunk_terms_insert AFTER INSERT ON memory_chunks
    REFERENCING NEW TABLE AS inserted_chunks
    FOR EACH STATEMENT EXECUTE FUNCTION memory_chunk_terms_insert();

-- Chunks are replaced, never edited, today; this keeps the terms right if that ever changes.
CREATE FUNCTION memory_chunk_terms_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE memory_chunk_terms SET document_id = NEW.document_id, tsv = to_tsvector('english', NEW.content)
    WHERE chunk_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER memory_chunk_terms_update AFTER UPDATE OF content, document_id ON memory_chunks
    FOR EACH ROW EXECUTE FUNCTION memory_chunk_terms_update();
