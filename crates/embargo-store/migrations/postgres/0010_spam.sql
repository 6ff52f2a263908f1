-- Spam: closed reports keep their reason in a column (lists hide spam), organisations set
-- how long a spammer is blocked and how many reports an hour one sender may file, and
-- blocks are rows that a security manager can lift.
ALTER TABLE advisories ADD COLUMN close_reason TEXT;
ALTER TABLE orgs ADD COLUMN spam_block_days BIGINT NOT NULL DEFAULT 30;
ALTER TABLE orgs ADD COLUMN reports_per_hour BIGINT NOT NULL DEFAULT 10;
CREATE TABLE blocks (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    user_id BIGINT REFERENCES users(id),
    email TEXT,
    advisory_id TEXT REFERENCES advisories(id),
    until_at BIGINT NOT NULL,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    lifted_at BIGINT
);
CREATE INDEX blocks_org_user ON blocks (org_id, user_id);
