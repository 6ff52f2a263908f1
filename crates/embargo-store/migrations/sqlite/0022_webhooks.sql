-- Webhooks of an organisation: a URL, the events wanted, a secret (sealed) that signs each
-- delivery, and whether the receiver is inside the audience (may get unpublished titles).
CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret_sealed TEXT NOT NULL,
    inside_audience BIGINT NOT NULL DEFAULT 0,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX webhooks_org ON webhooks (org_id);
-- One delivery of one event to one webhook: what it sends (ids and links only), and how
-- each attempt went.
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id BIGINT NOT NULL REFERENCES webhooks(id),
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    claimed_until BIGINT,
    last_status BIGINT,
    last_error TEXT,
    last_attempt_at BIGINT,
    delivered_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_at);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, id);
