-- The public read model (store: public_index.rs), written in the transaction of every public
-- change; the store builds it from the advisories at the first start after this migration.
-- Which advisories may answer an OSV query: (ecosystem, folded package name) and commits.
CREATE TABLE public_packages (
    advisory_id TEXT NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
    -- 'package' or 'commit'
    kind TEXT NOT NULL,
    -- The ecosystem without its release ('Debian:12' -> 'Debian'); '' for commits.
    ecosystem TEXT NOT NULL,
    name_key TEXT NOT NULL,
    withdrawn BIGINT NOT NULL,
    PRIMARY KEY (kind, name_key, ecosystem, advisory_id)
);
CREATE INDEX public_packages_advisory ON public_packages (advisory_id);
-- One row per published or withdrawn advisory: feeds and the CSAF directory read these.
CREATE TABLE public_entries (
    advisory_id TEXT PRIMARY KEY REFERENCES advisories(id) ON DELETE CASCADE,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    state TEXT NOT NULL,
    modified_at BIGINT NOT NULL,
    csaf_path TEXT,
    vex_path TEXT
);
CREATE INDEX public_entries_modified ON public_entries (modified_at DESC, advisory_id);
CREATE INDEX public_entries_org ON public_entries (org_id, modified_at DESC, advisory_id);
-- revision: bumped by every public change (public documents are cached by it);
-- indexed: the version of the index built (0: build it at the next start).
CREATE TABLE public_state (
    id BIGINT PRIMARY KEY,
    revision BIGINT NOT NULL,
    indexed BIGINT NOT NULL
);
INSERT INTO public_state (id, revision, indexed) VALUES (1, 1, 0);
