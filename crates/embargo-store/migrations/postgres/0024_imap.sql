-- Messages the IMAP intake took from an organisation's mailbox, by the SHA-256 of their bytes:
-- claimed (outcome NULL) before the message is read, its outcome written once it is filed,
-- a comment or dropped. A message still in the mailbox is never read twice: a known outcome
-- only moves it on, a claim without one (the job died while reading it) sets it aside.
CREATE TABLE imap_taken (
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    digest TEXT NOT NULL,
    message_id TEXT,
    outcome TEXT,
    taken_at BIGINT NOT NULL,
    done_at BIGINT,
    PRIMARY KEY (org_id, digest)
);
