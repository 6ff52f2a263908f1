//! Guessing limits of signing in, without handing strangers a lock.
//!
//! Wrong passwords are counted per account and client address together, so that a stranger's
//! guesses from one place shut out that place only; a higher ceiling per account across all
//! addresses (then one more attempt after pauses that double) and a ceiling per address across
//! accounts stop guessing spread over many addresses or many accounts. Second factors have
//! their own count per account.
//!
//! An attempt takes one from each of its counters (`sign_in_limits`) in one transaction
//! *before* it is checked, so a burst of parallel requests cannot pass a limit; a right answer
//! gives it back. The owner of an account is told by mail, once per window, when a limit on
//! their account is reached; during such a lock they can still sign in with a link by mail.

use embargo_domain::notify::Message;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::clock::to_ms;
use crate::secrets::hex;
use crate::{Result, Store, StoreError};

const MINUTE_MS: i64 = 60 * 1000;

/// How one kind of counter limits attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limit {
    /// Attempts counted in a window before the next must wait.
    pub max: i64,
    /// The window starts at its first counted attempt.
    pub window_ms: i64,
    /// Past `max`: one more attempt after this pause, doubled with each further one (at most
    /// the window). `None`: no more until the window ends.
    pub growing_from_ms: Option<i64>,
    /// Whether reaching the limit is news for the account's owner.
    pub tells_owner: bool,
}

/// Wrong passwords for one account from one address: 10 per 15 minutes.
pub(crate) const PASSWORD_PER_PAIR: Limit = Limit {
    max: 10,
    window_ms: 15 * MINUTE_MS,
    growing_from_ms: None,
    tells_owner: true,
};
/// Wrong passwords for one account from all addresses: 100 per hour, then one more after
/// 1, 2, 4, ... minutes (at most an hour).
pub(crate) const PASSWORD_PER_ACCOUNT: Limit = Limit {
    max: 100,
    window_ms: 60 * MINUTE_MS,
    growing_from_ms: Some(MINUTE_MS),
    tells_owner: true,
};
/// Wrong passwords from one address, for any accounts: 30 per 15 minutes.
pub(crate) const PASSWORD_PER_ADDRESS: Limit = Limit {
    max: 30,
    window_ms: 15 * MINUTE_MS,
    growing_from_ms: None,
    tells_owner: false,
};
/// Wrong second factors for one account (a six-digit code is guessable): 5 per 15 minutes.
pub(crate) const SECOND_FACTOR: Limit = Limit {
    max: 5,
    window_ms: 15 * MINUTE_MS,
    growing_from_ms: None,
    tells_owner: true,
};
/// Sign-in links asked for from one address: 5 per hour.
pub(crate) const LINKS_PER_ADDRESS: Limit = Limit {
    max: 5,
    window_ms: 60 * MINUTE_MS,
    growing_from_ms: None,
    tells_owner: false,
};
/// Sign-in links mailed to one address: 3 per hour (more are silently not sent).
pub(crate) const LINKS_PER_ACCOUNT: Limit = Limit {
    max: 3,
    window_ms: 60 * MINUTE_MS,
    growing_from_ms: None,
    tells_owner: false,
};

/// The account an e-mail address names, for counting: the same whether or not it exists.
pub(crate) fn account_key(email: &str) -> String {
    hex(&Sha256::digest(
        format!("sign-in:{}", email.trim().to_lowercase()).as_bytes(),
    ))
}

/// The client address a counter is kept for: an IPv6 address by its /64 (one subscriber
/// commonly holds a whole /64), an IPv4 one (also IPv4-mapped) as it is; `""` for none.
pub(crate) fn address_key(origin: Option<&str>) -> String {
    use std::net::IpAddr;
    let Some(origin) = origin else {
        return String::new();
    };
    match origin.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
        },
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => origin.to_owned(),
    }
}

/// One counter as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Count {
    started_at: i64,
    n: i64,
    last_at: i64,
    notified: bool,
}

impl Limit {
    /// When the next attempt may be counted, if not now (ms).
    fn wait_until(&self, c: Count, now: i64) -> Option<i64> {
        let end = c.started_at.saturating_add(self.window_ms);
        if end <= now || c.n < self.max {
            return None;
        }
        let at = match self.growing_from_ms {
            Some(first) => {
                let doublings = u32::try_from(c.n - self.max).unwrap_or(u32::MAX).min(20);
                let pause = first.saturating_mul(1_i64 << doublings).min(self.window_ms);
                c.last_at.saturating_add(pause).min(end)
            }
            None => end,
        };
        (at > now).then_some(at)
    }

    /// The counter after one more attempt at `now` (a new window once the old one is over).
    fn after(&self, c: Count, now: i64) -> Count {
        if c.started_at.saturating_add(self.window_ms) <= now {
            Count {
                started_at: now,
                n: 1,
                last_at: now,
                notified: false,
            }
        } else {
            Count {
                n: c.n + 1,
                last_at: now,
                ..c
            }
        }
    }
}

/// What an attempt took from its counters, to give back if it succeeds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reservation {
    /// Counters and the window each was taken from.
    taken: Vec<(String, i64)>,
    /// The counter that remembers whether the owner was told, and its window.
    owner: Option<(String, i64)>,
    /// Whether this attempt, if wrong, reaches a limit the owner hears of.
    locks: bool,
}

fn retry_secs(at: i64, now: i64) -> u64 {
    // Rounded up, so that trying again after Retry-After is never early.
    u64::try_from((at - now + 999) / 1000).unwrap_or(1).max(1)
}

impl Store {
    /// Takes one attempt from each of `counters` (name, limit), all or none, in one
    /// transaction; refuses with `RateLimited` (the longest wait) when any is used up.
    /// `owner` names the counter that remembers whether the account's owner was told.
    pub(crate) async fn reserve(
        &self,
        counters: &[(String, Limit)],
        owner: Option<&str>,
        what: &'static str,
    ) -> Result<Reservation> {
        let now = to_ms(self.now());
        let mut sorted: Vec<&(String, Limit)> = counters.iter().collect();
        // One order of row locks everywhere, so two attempts never wait on each other.
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        sorted.dedup_by(|a, b| a.0 == b.0);
        let mut tx = self.pool.begin().await?;
        let mut seen = Vec::with_capacity(sorted.len());
        let mut fresh = false;
        for (name, limit) in sorted {
            // The no-op update takes the row's lock (PostgreSQL) or the write lock (SQLite)
            // until commit: attempts on one counter pass here one at a time.
            let row = sqlx::query(
                "INSERT INTO sign_in_limits (counter, started_at, n, last_at) VALUES ($1, $2, 0, $2)
                 ON CONFLICT (counter) DO UPDATE SET n = sign_in_limits.n
                 RETURNING started_at, n, last_at, notified",
            )
            .bind(name)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let c = Count {
                started_at: row.try_get("started_at")?,
                n: row.try_get("n")?,
                last_at: row.try_get("last_at")?,
                notified: row.try_get::<i64, _>("notified")? != 0,
            };
            fresh |= c.n == 0;
            seen.push((name, *limit, c));
        }
        if let Some(at) = seen
            .iter()
            .filter_map(|(_, l, c)| l.wait_until(*c, now))
            .max()
        {
            tx.rollback().await?;
            return Err(StoreError::RateLimited {
                retry_after_secs: retry_secs(at, now),
                what,
            });
        }
        let mut r = Reservation::default();
        for (name, limit, c) in seen {
            let next = limit.after(c, now);
            sqlx::query(
                "UPDATE sign_in_limits SET started_at = $1, n = $2, last_at = $3, notified = $4 WHERE counter = $5",
            )
            .bind(next.started_at)
            .bind(next.n)
            .bind(next.last_at)
            .bind(i64::from(next.notified))
            .bind(name)
            .execute(&mut *tx)
            .await?;
            r.locks |= limit.tells_owner && limit.wait_until(next, now).is_some();
            if owner == Some(name.as_str()) {
                r.owner = Some((name.clone(), next.started_at));
            }
            r.taken.push((name.clone(), next.started_at));
        }
        tx.commit().await?;
        if fresh {
            // Counters long past every window are of no use; new ones are the only growth.
            // The attempt is counted already: a failure here only delays the clean-up.
            if let Err(e) = sqlx::query("DELETE FROM sign_in_limits WHERE started_at < $1")
                .bind(now - 24 * 60 * MINUTE_MS)
                .execute(&self.pool)
                .await
            {
                tracing::warn!(error = %e, "deleting old sign-in counters failed");
            }
        }
        Ok(r)
    }

    /// Gives back what a right answer took (within the same windows).
    pub(crate) async fn refund(&self, r: &Reservation) -> Result<()> {
        for (name, started_at) in &r.taken {
            sqlx::query(
                "UPDATE sign_in_limits SET n = n - 1 WHERE counter = $1 AND started_at = $2 AND n > 0",
            )
            .bind(name)
            .bind(started_at)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Keeps a wrong answer in the access log (with `account`, never what was typed), and
    /// tells the owner (`mail`, when the account exists) if it reached a limit and they were
    /// not told in this window yet.
    pub(crate) async fn record_failure(
        &self,
        action: &str,
        account: &str,
        r: &Reservation,
        mail: Option<Message>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let detail = serde_json::json!({ "account": account });
        crate::audit::append(
            &mut tx,
            self.now(),
            embargo_domain::access::Actor::Anonymous,
            self.origin(),
            action,
            None,
            &detail,
        )
        .await?;
        if r.locks
            && let (Some((counter, started_at)), Some(m)) = (&r.owner, mail)
        {
            let first = sqlx::query(
                "UPDATE sign_in_limits SET notified = 1 WHERE counter = $1 AND started_at = $2 AND notified = 0",
            )
            .bind(counter)
            .bind(started_at)
            .execute(&mut *tx)
            .await?;
            if first.rows_affected() == 1 {
                crate::mail::enqueue(&mut tx, &m, self.now()).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The owner's warning that their account is being guessed at. It carries no link: a real
/// warning never asks to click, so a forged one is easier to tell.
pub(crate) fn guessing_notice(to: &str, second_factor: bool) -> Message {
    let body = if second_factor {
        "Several wrong two-factor codes were given for your Embargo account, after its right \
         password. Further codes are refused for a while.\n\n\
         If this was not you, your password is known to someone else: ask your Embargo \
         administrator for a link to set a new one.\n"
    } else {
        "There were many failed attempts to sign in to your Embargo account with a wrong \
         password. Further attempts from where they came from are refused for a while; you \
         can still sign in as usual.\n\n\
         If this was not you, nothing was given away. Should signing in be refused to you \
         too, choose \"Send me a sign-in link\" on the sign-in page: a link to sign in comes \
         to this address.\n"
    };
    Message {
        to: to.to_owned(),
        subject: "[Embargo] Someone is trying to sign in to your account".into(),
        body: format!(
            "{body}\nThis message has no link in it: open Embargo the way you always do.\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(started_at: i64, n: i64, last_at: i64) -> Count {
        Count {
            started_at,
            n,
            last_at,
            notified: false,
        }
    }

    #[test]
    fn a_window_limit_waits_for_the_window_to_end() {
        let l = PASSWORD_PER_PAIR;
        assert_eq!(l.wait_until(count(0, 9, 5), 10), None);
        assert_eq!(l.wait_until(count(0, 10, 5), 10), Some(15 * MINUTE_MS));
        assert_eq!(l.wait_until(count(0, 10, 5), 15 * MINUTE_MS), None);
        let next = l.after(count(0, 10, 5), 15 * MINUTE_MS);
        assert_eq!(
            (next.started_at, next.n),
            (15 * MINUTE_MS, 1),
            "a new window"
        );
        assert_eq!(l.after(count(0, 3, 5), 10).n, 4);
    }

    #[test]
    fn past_the_ceiling_pauses_double() {
        let l = PASSWORD_PER_ACCOUNT;
        let t = 10 * MINUTE_MS;
        assert_eq!(l.wait_until(count(0, 99, t), t), None);
        assert_eq!(l.wait_until(count(0, 100, t), t), Some(t + MINUTE_MS));
        assert_eq!(l.wait_until(count(0, 101, t), t), Some(t + 2 * MINUTE_MS));
        assert_eq!(l.wait_until(count(0, 102, t), t), Some(t + 4 * MINUTE_MS));
        // Never past the window's end, when everything starts over.
        assert_eq!(l.wait_until(count(0, 150, t), t), Some(60 * MINUTE_MS));
        assert_eq!(l.wait_until(count(0, 150, t), 60 * MINUTE_MS), None);
    }

    #[test]
    fn an_ipv6_client_counts_by_its_64() {
        assert_eq!(address_key(None), "");
        assert_eq!(address_key(Some("192.0.2.7")), "192.0.2.7");
        assert_eq!(address_key(Some("::ffff:192.0.2.7")), "192.0.2.7");
        assert_eq!(
            address_key(Some("2001:db8:1:2:aaaa::1")),
            address_key(Some("2001:db8:1:2:bbbb::2"))
        );
        assert_eq!(
            address_key(Some("2001:db8:1:2:aaaa::1")),
            "2001:db8:1:2::/64"
        );
        assert_ne!(
            address_key(Some("2001:db8:1:2::1")),
            address_key(Some("2001:db8:1:3::1"))
        );
    }

    #[test]
    fn retry_after_is_rounded_up() {
        assert_eq!(retry_secs(1500, 0), 2);
        assert_eq!(retry_secs(1000, 0), 1);
        assert_eq!(retry_secs(1, 0), 1);
    }
}
