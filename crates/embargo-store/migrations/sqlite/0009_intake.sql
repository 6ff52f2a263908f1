-- REBUILDS TABLES
-- Reports filed to an organisation wait there without a repository: repo_id may be NULL.
-- SQLite cannot drop NOT NULL in place, so the table is rebuilt (its 12-step procedure;
-- the runner turns foreign keys off around this migration and checks them before commit).
CREATE TABLE advisories_new (
    id TEXT PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    repo_id BIGINT REFERENCES repos(id),
    reporter_id BIGINT NOT NULL REFERENCES users(id),
    state TEXT NOT NULL,
    revision BIGINT NOT NULL,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    published_at BIGINT
);
INSERT INTO advisories_new (id, org_id, repo_id, reporter_id, state, revision, doc, created_at, updated_at, published_at)
    SELECT id, org_id, repo_id, reporter_id, state, revision, doc, created_at, updated_at, published_at FROM advisories;
DROP TABLE advisories;
ALTER TABLE advisories_new RENAME TO advisories;
CREATE INDEX advisories_org_state ON advisories (org_id, state);
CREATE INDEX advisories_repo ON advisories (repo_id);
CREATE INDEX advisories_reporter ON advisories (reporter_id);
