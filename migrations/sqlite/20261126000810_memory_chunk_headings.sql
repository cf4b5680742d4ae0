-- The heading path each chunk was embedded with (titles joined by " > "), so a re-embed after a
-- model change embeds exactly what first indexing embedded; '' for chunks before any heading.
ALTER TABLE memory_chunks ADD COLUMN heading_path TEXT NOT NULL DEFAULT '';

-- Bumped by every change to a stored vector, by any connection or process (the triggers also see
-- cascaded deletes), so the in-process vector cache can tell when it is stale.
CREATE TABLE memory_vector_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT  NOT NULL
);
INSERT INTO memory_vector_generation (id, generation) VALUES (1, 0);
CREATE TRIGGER memory_vectors_insert AFTER INSERT ON memory_chunks WHEN new.embedding IS NOT NULL BEGIN
    UPDATE memory_vector_generation SET generation = generation + 1 WHERE id = 1;
END;
CREATE TRIGGER memory_vectors_delete AFTER DELETE ON memory_chunks WHEN old.embedding IS NOT NULL BEGIN
    UPDATE memory_vector_generation SET generation = generation + 1 WHERE id = 1;
END;
CREATE TRIGGER memory_vectors_update AFTER UPDATE OF embedding ON memory_chunks BEGIN
    UPDATE memory_vector_generation SET generation = generation + 1 WHERE id = 1;
END;
