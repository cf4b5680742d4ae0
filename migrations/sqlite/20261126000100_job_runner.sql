-- The job runner: priority, the node that ran a job last (result holds the error of a failed attempt), cancellation of a
-- running job, a per-job runtime limit. (SQLite is single-node: workers poll and are woken in-process.)
ALTER TABLE jobs ADD COLUMN priority BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN node TEXT;
ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN max_runtime_ms BIGINT;
ALTER TABLE jobs ADD COLUMN started_at_ms BIGINT;
ALTER TABLE jobs ADD COLUMN finished_at_ms BIGINT;
DROP INDEX jobs_queued_idx;
CREATE INDEX jobs_queued_idx ON jobs (priority DESC, run_after_ms, id) WHERE state = 'queued';
