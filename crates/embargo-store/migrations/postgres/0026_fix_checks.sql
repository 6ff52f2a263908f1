-- Checks on private fixes (issue 14). A repository's fix settings: the check command run on
-- every push (time and memory limits, network off unless allowed), the push of the fix
-- branch to the upstream on publication (address, credentials sealed), and how long a fix
-- repository is kept once its advisory is published, withdrawn or closed.
CREATE TABLE fix_settings (
    repo_id BIGINT PRIMARY KEY REFERENCES repos(id),
    check_command TEXT,
    check_seconds BIGINT NOT NULL DEFAULT 600,
    check_memory_mb BIGINT NOT NULL DEFAULT 2048,
    check_network BIGINT NOT NULL DEFAULT 0,
    push_on_publication BIGINT NOT NULL DEFAULT 0,
    push_url TEXT,
    push_credentials_sealed TEXT,
    retention_days BIGINT NOT NULL DEFAULT 30,
    updated_by BIGINT REFERENCES users(id),
    updated_at BIGINT NOT NULL
);
-- The latest status of each context on each commit of a fix: from the organisation's CI
-- (creator) or Embargo's own check command (context embargo/check, no creator).
CREATE TABLE fix_statuses (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    advisory_id TEXT NOT NULL REFERENCES advisories(id),
    sha TEXT NOT NULL,
    context TEXT NOT NULL,
    state TEXT NOT NULL,
    target_url TEXT,
    description TEXT,
    creator_id BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (advisory_id, sha, context)
);
-- One run of the check command on one pushed commit; its output (bounded) is sealed.
CREATE TABLE fix_check_runs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    advisory_id TEXT NOT NULL REFERENCES advisories(id),
    sha TEXT NOT NULL,
    ref_name TEXT NOT NULL,
    state TEXT NOT NULL,
    output TEXT,
    exit_status BIGINT,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT
);
CREATE INDEX fix_check_runs_advisory ON fix_check_runs (advisory_id, id);
-- Every ref a push changed: the fix branches, which publication pushes to the upstream.
CREATE TABLE fix_ref_updates (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    advisory_id TEXT NOT NULL REFERENCES advisories(id),
    ref_name TEXT NOT NULL,
    old_sha TEXT NOT NULL,
    new_sha TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX fix_ref_updates_advisory ON fix_ref_updates (advisory_id, id);
-- The push of the fix branches to the upstream after publication, and how it went.
CREATE TABLE fix_upstream_pushes (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    advisory_id TEXT NOT NULL REFERENCES advisories(id),
    requested_by BIGINT REFERENCES users(id),
    refs TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX fix_upstream_pushes_advisory ON fix_upstream_pushes (advisory_id, id);
-- A fix repository removed after the retention period.
CREATE TABLE fix_removals (
    advisory_id TEXT PRIMARY KEY REFERENCES advisories(id),
    removed_at BIGINT NOT NULL,
    retention_days BIGINT NOT NULL
);
