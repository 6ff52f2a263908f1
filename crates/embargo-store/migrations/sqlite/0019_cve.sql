-- CVE numbering per organisation: where its ids come from (CVE Services, a block reserved in
-- advance, or entered by hand). `id` is the organisation's id as text: it names the place
-- the sealed API key is bound to (`cve_settings.api_key:{id}`).
CREATE TABLE cve_settings (
    id TEXT PRIMARY KEY,
    org_id BIGINT NOT NULL UNIQUE REFERENCES orgs(id),
    backend TEXT NOT NULL,
    url TEXT,
    short_name TEXT,
    api_user TEXT,
    -- Sealed; never shown again once set.
    api_key TEXT,
    -- The CNA's UUID at CVE Services (GET /org/{short_name}), for providerMetadata.orgId.
    org_uuid TEXT,
    updated_at BIGINT NOT NULL
);
-- The block's ids not yet handed out, in the order given.
CREATE TABLE cve_block_ids (
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    position BIGINT NOT NULL,
    cve_id TEXT NOT NULL,
    PRIMARY KEY (org_id, cve_id)
);
CREATE INDEX cve_block_ids_order ON cve_block_ids (org_id, position);
-- Each advisory's CVE id as assigned, and where its record stands: reserved, published,
-- rejected, or failed (with the last error) while a job retries.
CREATE TABLE cve_records (
    advisory_id TEXT PRIMARY KEY REFERENCES advisories(id),
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    cve_id TEXT NOT NULL,
    backend TEXT NOT NULL,
    state TEXT NOT NULL,
    last_error TEXT,
    -- CVE Services holds a record for it (so updates and rejections PUT).
    record_exists BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
);
