-- Outgoing e-mail. Messages are made from events by the notifier, which keeps its place in
-- notify_cursor (events before this migration are not announced), and wait in mail_queue
-- until a sender delivers them. Messages name advisories only: no report text.
CREATE TABLE mail_queue (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    send_after BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    claimed_until BIGINT,
    sent_at BIGINT,
    last_error TEXT
);
CREATE INDEX mail_queue_due ON mail_queue (sent_at, send_after);
CREATE TABLE notify_cursor (
    id BIGINT PRIMARY KEY,
    last_event_id BIGINT NOT NULL
);
INSERT INTO notify_cursor (id, last_event_id) SELECT 1, COALESCE(MAX(id), 0) FROM events;
-- Reports filed without an account, until the reporter confirms them by e-mail. The report
-- is sealed like every unpublished text; only the confirmation token's hash is kept.
CREATE TABLE pending_reports (
    token_hash TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    repo_id BIGINT REFERENCES repos(id),
    report TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX pending_reports_expiry ON pending_reports (expires_at);
-- The private links of reporters without an account: the token's hash, one advisory each.
CREATE TABLE reporter_links (
    token_hash TEXT PRIMARY KEY,
    advisory_id TEXT NOT NULL REFERENCES advisories(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX reporter_links_advisory ON reporter_links (advisory_id);
-- Whether messages may carry advisory titles (off: ids and links only).
ALTER TABLE orgs ADD COLUMN mail_titles BIGINT NOT NULL DEFAULT 0;
