-- Internal notes: comments the triagers keep among themselves, never shown to the reporter.
ALTER TABLE comments ADD COLUMN internal BIGINT NOT NULL DEFAULT 0;
