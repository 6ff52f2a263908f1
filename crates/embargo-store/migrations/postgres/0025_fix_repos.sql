-- Private fix repositories (issue 14). A collaborator's invitation may let them push to the
-- advisory's fix repository.
ALTER TABLE collaborators ADD COLUMN can_write BIGINT NOT NULL DEFAULT 0;
-- One bare repository per advisory, under the data folder: who made it, when, and the
-- upstream it was seeded from (with its default branch).
CREATE TABLE fix_repos (
    advisory_id TEXT PRIMARY KEY REFERENCES advisories(id),
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    upstream TEXT NOT NULL,
    default_branch TEXT NOT NULL
);
-- Which user fetched which branch head: a force-push to a branch someone else fetched is
-- refused unless a security manager pushes it.
CREATE TABLE fix_fetches (
    advisory_id TEXT NOT NULL REFERENCES advisories(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    ref_name TEXT NOT NULL,
    sha TEXT NOT NULL,
    fetched_at BIGINT NOT NULL,
    PRIMARY KEY (advisory_id, user_id, ref_name, sha)
);
