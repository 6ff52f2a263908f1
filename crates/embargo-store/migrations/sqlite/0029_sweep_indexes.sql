-- The sweeps (embargo ends and deadlines every few seconds, disclosure by policy) read the
-- open and the closed advisories: few beside the published ones. Partial indexes find them
-- without reading every advisory, and leave the plans of every other query as they were.
CREATE INDEX advisories_open ON advisories (id) WHERE state IN ('triage', 'draft');
CREATE INDEX advisories_closed ON advisories (id) WHERE state = 'closed';
