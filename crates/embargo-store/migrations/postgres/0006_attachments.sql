-- Attachments (proofs of concept): name, type and bytes sealed with the data key.
CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    advisory_id TEXT NOT NULL REFERENCES advisories(id),
    uploader_id BIGINT NOT NULL REFERENCES users(id),
    size BIGINT NOT NULL,
    meta TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX attachments_advisory ON attachments (advisory_id, created_at);
