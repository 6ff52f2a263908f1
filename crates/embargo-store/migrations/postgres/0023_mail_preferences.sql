-- Which mail each user gets (JSON; NULL means everything). Security-critical messages
-- (sign-in links, escalations, embargo warnings) are always sent.
ALTER TABLE users ADD COLUMN mail_preferences TEXT;
-- Messages held for a user's daily digest: combined into one message when due.
ALTER TABLE mail_queue ADD COLUMN held BIGINT NOT NULL DEFAULT 0;
