-- Guessing limits of signing in: one row per counter (a password guessed for an account from
-- one address, for an account from anywhere, from one address for any account; a second
-- factor; sign-in links asked for). An attempt takes one from its counters in a transaction
-- before it is checked, so a burst of parallel requests cannot pass the limit; a right
-- answer gives it back. The window starts at the first attempt counted; `notified` is set
-- once the account's owner was told by mail in this window.
CREATE TABLE sign_in_limits (
    counter TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    n BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    notified BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sign_in_limits_started ON sign_in_limits (started_at);
