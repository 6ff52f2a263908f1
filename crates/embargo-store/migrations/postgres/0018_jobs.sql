-- Background work as durable jobs: each has a kind, a payload, a due time, attempts and the
-- last error. A job is claimed with a lease (PostgreSQL skips rows another instance holds;
-- SQLite has one writer), so it runs once across instances; recurring jobs are moved to
-- their next due time when they finish, and one that fell due while every instance was down
-- runs at the next start.
CREATE TABLE jobs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    job_key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    every_ms BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    leased_until BIGINT,
    done_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (done_at, due_at);
-- Notices sent once each (reminders, escalations, embargo warnings): the key names the
-- advisory, the kind and the instant it was due, so a notice is never sent twice.
CREATE TABLE notices_sent (
    notice_key TEXT PRIMARY KEY,
    advisory_id TEXT NOT NULL,
    sent_at BIGINT NOT NULL
);
-- The clock's policy settings, as duration text ("14d", "36h"); NULL means the default.
ALTER TABLE orgs ADD COLUMN response_deadline TEXT;
ALTER TABLE orgs ADD COLUMN reminders TEXT;
ALTER TABLE orgs ADD COLUMN embargo_max TEXT;
ALTER TABLE orgs ADD COLUMN embargo_warnings TEXT;
-- Scheduled work acts under its own name (events have no account then).
ALTER TABLE events ADD COLUMN system_actor TEXT;
