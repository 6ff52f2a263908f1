-- The organisation's own words on its security policy, shown in its SECURITY.md.
ALTER TABLE orgs ADD COLUMN policy_text TEXT NOT NULL DEFAULT '';
