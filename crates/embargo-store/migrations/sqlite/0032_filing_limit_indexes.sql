-- The hourly filing limits count an account's and an address's reports of the last hour from
-- indexes: the per-address count used to read the whole access log on every filing.
CREATE INDEX audit_log_reported_origin ON audit_log (origin, at) WHERE action = 'reported';
CREATE INDEX advisories_reporter_created ON advisories (reporter_id, created_at);
DROP INDEX advisories_reporter;
-- The sweeps read the notices already sent about open advisories in one query, by advisory.
CREATE INDEX notices_sent_advisory ON notices_sent (advisory_id);
