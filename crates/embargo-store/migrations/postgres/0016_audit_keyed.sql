-- The access log's hashes become keyed (HMAC-SHA256 under the key file's audit key).
-- key_id names the audit key that keys the chain (a fingerprint, never the key); it is set by
-- the first start after this migration. keyed_from is the first entry that must carry a keyed
-- hash: entries before it were written with plain SHA-256 by an older embargo.
ALTER TABLE audit_head ADD COLUMN key_id TEXT;
ALTER TABLE audit_head ADD COLUMN keyed_from BIGINT;
UPDATE audit_head SET keyed_from = seq + 1;
