-- Advisories brought in from other databases, by their original id: importing the same
-- record twice finds the advisory it became instead of making a second one.
CREATE TABLE imports (
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    source_id TEXT NOT NULL,
    advisory_id TEXT NOT NULL REFERENCES advisories(id),
    imported_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, source_id)
);
