-- Chitin's schema on SQLite. migrations/postgres/ holds the same logical schema for PostgreSQL;
-- change both together. Times are Unix milliseconds on both backends. The whole file is
-- encrypted by SQLCipher, so columns marked "sealed" hold plain-envelope bytes here
-- (see docs/storage.md). JSON columns are TEXT.

CREATE TABLE conversations (
    id                  INTEGER PRIMARY KEY,
    channel             TEXT   NOT NULL,
    external_id         TEXT   NOT NULL,
    created_at_ms       BIGINT NOT NULL,
    last_activity_at_ms BIGINT NOT NULL,
    UNIQUE (channel, external_id)
);

CREATE TABLE messages (
    id                       INTEGER PRIMARY KEY,
    conversation_id          BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    channel                  TEXT   NOT NULL,
    external_conversation_id TEXT   NOT NULL,
    -- The platform's own id: inbound messages always have one, replies get one once delivered.
    platform_message_id      TEXT,
    direction                TEXT   NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    role                     TEXT   NOT NULL CHECK (role IN ('user', 'assistant', 'tool', 'system')),
    status                   TEXT   NOT NULL CHECK (status IN ('received', 'processed', 'pending', 'delivered', 'failed')),
    sender                   TEXT,
    body                     BLOB   NOT NULL, -- sealed
    created_at_ms            BIGINT NOT NULL,
    UNIQUE (channel, platform_message_id)
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, id);

CREATE TABLE outbox (
    id                       INTEGER PRIMARY KEY,
    message_id               BIGINT NOT NULL UNIQUE REFERENCES messages (id) ON DELETE CASCADE,
    channel                  TEXT   NOT NULL,
    external_conversation_id TEXT   NOT NULL,
    attempts                 BIGINT NOT NULL DEFAULT 0,
    next_attempt_at_ms       BIGINT NOT NULL,
    lease_until_ms           BIGINT,
    delivered_at_ms          BIGINT,
    last_error               TEXT,
    created_at_ms            BIGINT NOT NULL
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at_ms) WHERE delivered_at_ms IS NULL;

CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY,
    idempotency_key TEXT   UNIQUE,
    kind            TEXT   NOT NULL,
    conversation_id BIGINT REFERENCES conversations (id) ON DELETE SET NULL,
    state           TEXT   NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    payload         BLOB   NOT NULL, -- sealed
    result          BLOB,            -- sealed
    attempts        BIGINT NOT NULL DEFAULT 0,
    max_attempts    BIGINT NOT NULL,
    run_after_ms    BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until_ms  BIGINT,
    created_at_ms   BIGINT NOT NULL,
    updated_at_ms   BIGINT NOT NULL
);
CREATE INDEX jobs_queued_idx ON jobs (run_after_ms) WHERE state = 'queued';
CREATE INDEX jobs_running_idx ON jobs (lease_until_ms) WHERE state = 'running';

CREATE TABLE job_events (
    id     INTEGER PRIMARY KEY,
    job_id BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at_ms  BIGINT NOT NULL,
    kind   TEXT   NOT NULL,
    detail BLOB   NOT NULL -- sealed
);
CREATE INDEX job_events_job_idx ON job_events (job_id, id);

CREATE TABLE routines (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    trigger_kind    TEXT    NOT NULL CHECK (trigger_kind IN ('cron', 'event', 'webhook')),
    trigger_spec    TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    enabled         INTEGER NOT NULL,
    next_fire_at_ms BIGINT,
    created_at_ms   BIGINT  NOT NULL,
    updated_at_ms   BIGINT  NOT NULL
);

CREATE TABLE routine_runs (
    id             INTEGER PRIMARY KEY,
    routine_id     BIGINT NOT NULL REFERENCES routines (id) ON DELETE CASCADE,
    -- e.g. the cron slot "2026-11-25T18:00Z": two nodes firing the same slot collide here.
    run_key        TEXT   NOT NULL,
    state          TEXT   NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
    job_id         BIGINT REFERENCES jobs (id) ON DELETE SET NULL,
    started_at_ms  BIGINT NOT NULL,
    finished_at_ms BIGINT,
    UNIQUE (routine_id, run_key)
);

CREATE TABLE memory_documents (
    id            INTEGER PRIMARY KEY,
    path          TEXT   NOT NULL UNIQUE,
    content_hash  TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- Embeddings are little-endian f32 BLOBs searched by brute-force cosine in the application.
CREATE TABLE memory_chunks (
    id          INTEGER PRIMARY KEY,
    document_id BIGINT NOT NULL REFERENCES memory_documents (id) ON DELETE CASCADE,
    ordinal     BIGINT NOT NULL,
    content     TEXT   NOT NULL,
    embedding   BLOB,
    UNIQUE (document_id, ordinal)
);
CREATE VIRTUAL TABLE memory_chunks_fts USING fts5 (
    content, content = 'memory_chunks', content_rowid = 'id', tokenize = 'porter unicode61'
);
CREATE TRIGGER memory_chunks_fts_insert AFTER INSERT ON memory_chunks BEGIN
    INSERT INTO memory_chunks_fts (rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER memory_chunks_fts_delete AFTER DELETE ON memory_chunks BEGIN
    INSERT INTO memory_chunks_fts (memory_chunks_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER memory_chunks_fts_update AFTER UPDATE ON memory_chunks BEGIN
    INSERT INTO memory_chunks_fts (memory_chunks_fts, rowid, content) VALUES ('delete', old.id, old.content);
    INSERT INTO memory_chunks_fts (rowid, content) VALUES (new.id, new.content);
END;

CREATE TABLE secrets (
    name          TEXT   PRIMARY KEY,
    ciphertext    BLOB   NOT NULL,
    nonce         BLOB   NOT NULL,
    key_id        TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

CREATE TABLE installed_tools (
    name            TEXT   PRIMARY KEY,
    version         TEXT   NOT NULL,
    content_hash    TEXT   NOT NULL,
    manifest        TEXT   NOT NULL,
    approval        TEXT   NOT NULL CHECK (approval IN ('pending', 'approved', 'revoked')),
    installed_at_ms BIGINT NOT NULL,
    approved_at_ms  BIGINT
);

CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at_ms     BIGINT NOT NULL,
    actor     TEXT   NOT NULL,
    action    TEXT   NOT NULL,
    target    TEXT   NOT NULL,
    detail    TEXT   NOT NULL,
    prev_hash TEXT   NOT NULL,
    hash      TEXT   NOT NULL UNIQUE
);

CREATE TABLE settings (
    key           TEXT   PRIMARY KEY,
    value         TEXT   NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- One row per master key that has sealed data here; lets a wrong key fail at startup.
CREATE TABLE key_checks (
    key_id        TEXT   PRIMARY KEY,
    check_value   BLOB   NOT NULL,
    created_at_ms BIGINT NOT NULL
);
