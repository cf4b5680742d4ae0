-- Chitin's schema on PostgreSQL. migrations/sqlite/ holds the same logical schema for SQLite;
-- change both together. Times are Unix milliseconds (BIGINT) on both backends so the store's
-- SQL and comparisons are identical; values marked "sealed" are AES-256-GCM envelopes written by
-- the application (see docs/storage.md).

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE conversations (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel             TEXT   NOT NULL,
    external_id         TEXT   NOT NULL,
    created_at_ms       BIGINT NOT NULL,
    last_activity_at_ms BIGINT NOT NULL,
    UNIQUE (channel, external_id)
);

CREATE TABLE messages (
    id                       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id          BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    channel                  TEXT   NOT NULL,
    external_conversation_id TEXT   NOT NULL,
    -- The platform's own id: inbound messages always have one, replies get one once delivered.
    platform_message_id      TEXT,
    direction                TEXT   NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    role                     TEXT   NOT NULL CHECK (role IN ('user', 'assistant', 'tool', 'system')),
    status                   TEXT   NOT NULL CHECK (status IN ('received', 'processed', 'pending', 'delivered', 'failed')),
    sender                   TEXT,
    body                     BYTEA  NOT NULL, -- sealed
    created_at_ms            BIGINT NOT NULL,
    UNIQUE (channel, platform_message_id)
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, id);

CREATE TABLE outbox (
    id                       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key TEXT   UNIQUE,
    kind            TEXT   NOT NULL,
    conversation_id BIGINT REFERENCES conversations (id) ON DELETE SET NULL,
    state           TEXT   NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    payload         BYTEA  NOT NULL, -- sealed
    result          BYTEA,           -- sealed
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
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at_ms  BIGINT NOT NULL,
    kind   TEXT   NOT NULL,
    detail BYTEA  NOT NULL -- sealed
);
CREATE INDEX job_events_job_idx ON job_events (job_id, id);

CREATE TABLE routines (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    trigger_kind    TEXT    NOT NULL CHECK (trigger_kind IN ('cron', 'event', 'webhook')),
    trigger_spec    TEXT    NOT NULL,
    action          JSONB   NOT NULL,
    enabled         BOOLEAN NOT NULL,
    next_fire_at_ms BIGINT,
    created_at_ms   BIGINT  NOT NULL,
    updated_at_ms   BIGINT  NOT NULL
);

CREATE TABLE routine_runs (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    path          TEXT   NOT NULL UNIQUE,
    content_hash  TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- Chunk text stays readable here: the full-text index needs it (docs/storage.md says so plainly).
CREATE TABLE memory_chunks (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document_id BIGINT NOT NULL REFERENCES memory_documents (id) ON DELETE CASCADE,
    ordinal     BIGINT NOT NULL,
    content     TEXT   NOT NULL,
    embedding   vector(384),
    tsv         tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
    UNIQUE (document_id, ordinal)
);
CREATE INDEX memory_chunks_tsv_idx ON memory_chunks USING gin (tsv);
CREATE INDEX memory_chunks_embedding_idx ON memory_chunks USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);

CREATE TABLE secrets (
    name          TEXT   PRIMARY KEY,
    ciphertext    BYTEA  NOT NULL,
    nonce         BYTEA  NOT NULL,
    key_id        TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

CREATE TABLE installed_tools (
    name            TEXT   PRIMARY KEY,
    version         TEXT   NOT NULL,
    content_hash    TEXT   NOT NULL,
    manifest        JSONB  NOT NULL,
    approval        TEXT   NOT NULL CHECK (approval IN ('pending', 'approved', 'revoked')),
    installed_at_ms BIGINT NOT NULL,
    approved_at_ms  BIGINT
);

CREATE TABLE audit_log (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms     BIGINT NOT NULL,
    actor     TEXT   NOT NULL,
    action    TEXT   NOT NULL,
    target    TEXT   NOT NULL,
    detail    JSONB  NOT NULL,
    prev_hash TEXT   NOT NULL,
    hash      TEXT   NOT NULL UNIQUE
);

CREATE TABLE settings (
    key           TEXT   PRIMARY KEY,
    value         JSONB  NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- One row per master key that has sealed data here; lets a wrong key fail at startup.
CREATE TABLE key_checks (
    key_id        TEXT   PRIMARY KEY,
    check_value   BYTEA  NOT NULL,
    created_at_ms BIGINT NOT NULL
);
