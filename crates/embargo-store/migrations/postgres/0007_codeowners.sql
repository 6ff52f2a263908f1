-- Maintainers from CODEOWNERS: a repository's upstream, users' forge handles, and where a
-- maintainer came from (named by hand, or read from CODEOWNERS).
ALTER TABLE repos ADD COLUMN upstream TEXT;
ALTER TABLE users ADD COLUMN forge_handle TEXT;
CREATE UNIQUE INDEX users_forge_handle ON users (forge_handle);
ALTER TABLE maintainers ADD COLUMN source TEXT NOT NULL DEFAULT 'manual';
