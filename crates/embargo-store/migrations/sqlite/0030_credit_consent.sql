-- A credited person's answer to a credit that names them by their account's e-mail:
-- such a credit is public (under the account's name) only once accepted.
CREATE TABLE credit_consents (
    advisory_id TEXT NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    state TEXT NOT NULL CHECK (state IN ('accepted', 'declined')),
    decided_at BIGINT NOT NULL,
    PRIMARY KEY (advisory_id, user_id)
);
