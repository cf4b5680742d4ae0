-- The heading path each chunk was embedded with (titles joined by " > "), so a re-embed after a
-- model change embeds exactly what first indexing embedded; '' for chunks before any heading.
ALTER TABLE memory_chunks ADD COLUMN heading_path TEXT NOT NULL DEFAULT '';
