-- Releases of a repository: its upstream's tags that are semantic versions (read by the
-- release watch) or tags entered by hand. A release is recorded once per repository and tag.
CREATE TABLE releases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    repo_id BIGINT NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    version TEXT NOT NULL,
    prerelease BIGINT NOT NULL DEFAULT 0,
    source TEXT NOT NULL CHECK (source IN ('upstream', 'manual')),
    seen_at BIGINT NOT NULL,
    UNIQUE (repo_id, tag)
);
-- How many of the most recent release lines get fixes; NULL means the default (1).
ALTER TABLE orgs ADD COLUMN supported_releases BIGINT;
