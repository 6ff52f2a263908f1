-- People who asked for a message about each published (or withdrawn) advisory of an
-- organisation: confirmed by a link (double opt-in), one-click unsubscribe. The token is kept
-- as its hash (to find the subscriber) and sealed (to put the links in each message).
CREATE TABLE subscribers (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    email TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    token_sealed TEXT NOT NULL,
    origin TEXT,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    unsubscribed_at BIGINT,
    UNIQUE (org_id, email)
);
CREATE INDEX subscribers_origin ON subscribers (origin, created_at);
-- A message to a list (subscribers) carries its unsubscribe link in List-Unsubscribe.
ALTER TABLE mail_queue ADD COLUMN unsubscribe_url TEXT;
