-- Disclosure of closed reports after a number of days (0: never), as curl does.
ALTER TABLE orgs ADD COLUMN disclose_closed_days BIGINT NOT NULL DEFAULT 0;
