-- PostgreSQL moves its full-text `tsvector` to a narrow table of its own in this migration. SQLite's
-- full text already lives apart from the chunks (the FTS5 table memory_chunks_fts, kept in step by
-- triggers), so nothing changes here; the file keeps both backends' migration histories in step.
SELECT 1;
