-- The job runner: priority, the node that ran a job last (result holds the error of a failed attempt), cancellation of a
-- running job, a per-job runtime limit, and a NOTIFY that wakes idle workers on every node.
ALTER TABLE jobs ADD COLUMN priority BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN node TEXT;
ALTER TABLE jobs ADD COLUMN cancel_requested BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE jobs ADD COLUMN max_runtime_ms BIGINT;
ALTER TABLE jobs ADD COLUMN started_at_ms BIGINT;
ALTER TABLE jobs ADD COLUMN finished_at_ms BIGINT;
DROP INDEX jobs_queued_idx;
CREATE INDEX jobs_queued_idx ON jobs (priority DESC, run_after_ms, id) WHERE state = 'queued';

-- Only rows that become queued notify (a claim that finds nothing must not wake everyone, or idle workers would
-- wake each other forever); PostgreSQL folds equal notifications within one transaction into one.
CREATE FUNCTION chitin_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('chitin_jobs', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER jobs_queued_notify AFTER INSERT OR UPDATE OF state ON jobs
    FOR EACH ROW WHEN (NEW.state = 'queued') EXECUTE FUNCTION chitin_jobs_notify();
