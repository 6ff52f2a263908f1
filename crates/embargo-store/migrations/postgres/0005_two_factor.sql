-- Two-factor sign-in: a TOTP secret per user (sealed with the data key), the last time step
-- used (no replay), one-time recovery codes (hashes), and the organisation's requirement.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_enabled_at BIGINT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;
CREATE TABLE recovery_codes (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, code_hash)
);
ALTER TABLE orgs ADD COLUMN require_two_factor BIGINT NOT NULL DEFAULT 0;
