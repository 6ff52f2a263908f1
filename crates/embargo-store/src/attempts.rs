//! Failed sign-in attempts slow guessing down: after too many failures for one account (or
//! from one address) within a window, further attempts are refused for a while, whether the
//! password is right or not. Failures are entries of the access log (with a hash of the
//! address typed in, never the password).

use sha2::{Digest, Sha256};

use crate::clock::to_ms;
use crate::secrets::hex;
use crate::{Result, Store, StoreError};

/// The window failures are counted in.
const WINDOW_MS: i64 = 15 * 60 * 1000;
/// Failed passwords allowed per account, and per address, in the window.
pub const PASSWORD_FAILURES: i64 = 10;
/// Failed second factors allowed per account in the window (a six-digit code is guessable).
pub const SECOND_FACTOR_FAILURES: i64 = 5;

pub(crate) fn account_key(email: &str) -> String {
    hex(&Sha256::digest(
        format!("sign-in:{}", email.trim().to_lowercase()).as_bytes(),
    ))
}

impl Store {
    /// Refuses when `action` failed `max` times for `account` (or from this address, for
    /// passwords) within the window.
    pub(crate) async fn check_attempts(&self, action: &str, account: &str, max: i64) -> Result<()> {
        let since = to_ms(self.now()) - WINDOW_MS;
        let pattern = format!("%\"{account}\"%");
        let times: Vec<i64> = sqlx::query_scalar(
            "SELECT at FROM audit_log WHERE action = $1 AND at > $2 AND (detail LIKE $3 OR ($4 <> '' AND origin = $4)) ORDER BY at",
        )
        .bind(action)
        .bind(since)
        .bind(pattern)
        .bind(self.origin().unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        if i64::try_from(times.len()).unwrap_or(i64::MAX) >= max {
            let oldest = times.first().copied().unwrap_or(since);
            let retry = ((oldest + WINDOW_MS - to_ms(self.now())) / 1000).max(1);
            return Err(StoreError::RateLimited {
                retry_after_secs: u64::try_from(retry).unwrap_or(900),
                what: "too many failed sign-in attempts",
            });
        }
        Ok(())
    }

    pub(crate) async fn record_failure(&self, action: &str, account: &str) -> Result<()> {
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
        tx.commit().await?;
        Ok(())
    }
}
