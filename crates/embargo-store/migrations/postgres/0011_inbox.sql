-- The inbox sorts by response deadline: keep it in a column (the advisory itself is sealed).
ALTER TABLE advisories ADD COLUMN response_due_at BIGINT;
UPDATE advisories SET response_due_at = created_at + (SELECT response_days FROM orgs WHERE orgs.id = advisories.org_id) * 86400000;
CREATE INDEX advisories_due ON advisories (response_due_at);
