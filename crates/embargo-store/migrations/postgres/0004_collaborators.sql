-- People invited to one advisory on a need-to-know basis. An invitation to an address with
-- no account carries a sign-up token (its hash only).
CREATE TABLE collaborators (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    advisory_id TEXT NOT NULL REFERENCES advisories(id),
    email TEXT NOT NULL,
    user_id BIGINT REFERENCES users(id),
    organisation TEXT,
    invited_by BIGINT NOT NULL REFERENCES users(id),
    invited_at BIGINT NOT NULL,
    expires_at BIGINT,
    accepted_at BIGINT,
    revoked_at BIGINT,
    expiry_recorded_at BIGINT,
    invite_token_hash TEXT UNIQUE
);
CREATE INDEX collaborators_advisory ON collaborators (advisory_id);
CREATE INDEX collaborators_user ON collaborators (user_id);
