-- Reports waiting for confirmation are limited per client address and per organisation,
-- besides per e-mail address: the address they were sent from, and indexes for the counts.
ALTER TABLE pending_reports ADD COLUMN origin TEXT;
CREATE INDEX pending_reports_origin ON pending_reports (origin, created_at);
CREATE INDEX pending_reports_org ON pending_reports (org_id, created_at);
CREATE INDEX pending_reports_email ON pending_reports (email, created_at);
