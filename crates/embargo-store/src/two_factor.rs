//! Two-factor sign-in with TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, one step of
//! clock skew either way), one-time recovery codes, and no code accepted twice.
//! The TOTP secret is sealed with the data key, like report texts.

use sha2::{Digest, Sha256};
use sqlx::Row;
use totp_rs::{Algorithm, TOTP};

use crate::clock::to_ms;
use crate::secrets::{constant_time_eq, hex, random_bytes};
use crate::{Result, Store, StoreError};

const STEP: u64 = 30;
const RECOVERY_CODES: usize = 10;

/// What a user scans or types into an authenticator app.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TotpEnrolment {
    /// The secret in base32, for typing in.
    pub secret: String,
    /// The `otpauth://` URI, for a QR code.
    pub otpauth_url: String,
}

fn totp(secret: Vec<u8>, account: &str) -> Result<TOTP> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP,
        secret,
        Some("Embargo".into()),
        account.replace(':', "_"),
    )
    .map_err(|e| StoreError::Internal(format!("TOTP: {e:?}")))
}

/// The same, from the id as text (for key rotation).
pub(crate) fn secret_aad_text(user_id: &str) -> String {
    format!("users.totp_secret:{user_id}")
}

fn secret_aad(user_id: i64) -> String {
    format!("users.totp_secret:{user_id}")
}

fn code_hash(user_id: i64, code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    hex(&Sha256::digest(format!("{user_id}:{normal}").as_bytes()))
}

/// The time step a TOTP code matches, within one step either side of `now` (seconds).
pub fn matching_step(t: &TOTP, code: &str, now: u64) -> Option<u64> {
    let current = now / STEP;
    [current.saturating_sub(1), current, current + 1]
        .into_iter()
        .find(|step| constant_time_eq(&t.generate(step * STEP), code))
}

impl Store {
    async fn totp_for(&self, user_id: i64) -> Result<Option<(TOTP, Option<i64>, Option<i64>)>> {
        let row = sqlx::query(
            "SELECT email, totp_secret, totp_enabled_at, totp_last_step FROM users WHERE id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let Some(sealed) = row.try_get::<Option<String>, _>("totp_secret")? else {
            return Ok(None);
        };
        let secret = self.keys.open(&secret_aad(user_id), &sealed)?;
        let bytes = totp_rs::Secret::Encoded(secret)
            .to_bytes()
            .map_err(|e| StoreError::Internal(format!("TOTP secret: {e:?}")))?;
        let email: String = row.try_get("email")?;
        Ok(Some((
            totp(bytes, &email)?,
            row.try_get("totp_enabled_at")?,
            row.try_get("totp_last_step")?,
        )))
    }

    /// Starts enrolment: a new secret, not yet in force until a code from it is confirmed.
    pub async fn begin_totp(&self, user_id: i64) -> Result<TotpEnrolment> {
        let user = self
            .user_by_id(user_id)
            .await?
            .ok_or(StoreError::NotFound("user"))?;
        if user.two_factor {
            return Err(StoreError::Conflict(
                "two-factor sign-in is on already; turn it off first to change it".into(),
            ));
        }
        let t = totp(random_bytes::<20>()?.to_vec(), user.email.as_str())?;
        let secret = t.get_secret_base32();
        sqlx::query("UPDATE users SET totp_secret = $1, totp_enabled_at = NULL, totp_last_step = NULL WHERE id = $2")
            .bind(self.keys.seal(&secret_aad(user_id), &secret)?)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(TotpEnrolment {
            secret,
            otpauth_url: t.get_url(),
        })
    }

    /// Confirms enrolment with a current code; returns the recovery codes (shown once).
    /// Turns two-factor sign-in on. Every session of the user ends but `keep` (the browser
    /// session making the change, if it is one): a session opened with the password alone
    /// does not outlive the second factor.
    pub async fn confirm_totp(
        &self,
        user_id: i64,
        code: &str,
        keep: Option<&str>,
    ) -> Result<Vec<String>> {
        let Some((t, enabled, _)) = self.totp_for(user_id).await? else {
            return Err(StoreError::Conflict("start enrolment first".into()));
        };
        if enabled.is_some() {
            return Err(StoreError::Conflict(
                "two-factor sign-in is on already".into(),
            ));
        }
        let now = u64::try_from(self.now().unix_timestamp()).unwrap_or(0);
        let Some(step) = matching_step(&t, code.trim(), now) else {
            return Err(embargo_domain::FieldError::new(
                "code",
                "does not match; check the authenticator's clock and try the next code",
            )
            .into());
        };
        let mut codes = Vec::with_capacity(RECOVERY_CODES);
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET totp_enabled_at = $1, totp_last_step = $2 WHERE id = $3")
            .bind(to_ms(self.now()))
            .bind(i64::try_from(step).unwrap_or(i64::MAX))
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for _ in 0..RECOVERY_CODES {
            let raw = hex(&random_bytes::<8>()?);
            let code = format!(
                "{}-{}-{}-{}",
                &raw[0..4],
                &raw[4..8],
                &raw[8..12],
                &raw[12..16]
            );
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user_id)
                .bind(code_hash(user_id, &code))
                .execute(&mut *tx)
                .await?;
            codes.push(code);
        }
        end_other_sessions(&mut tx, user_id, keep).await?;
        let actor = embargo_domain::access::Actor::User {
            id: user_id,
            admin: false,
        };
        crate::audit::append(
            &mut tx,
            self.now(),
            actor,
            self.origin(),
            "two_factor_enabled",
            None,
            &serde_json::json!({"user_id": user_id}),
        )
        .await?;
        tx.commit().await?;
        Ok(codes)
    }

    /// Checks a second factor: a TOTP code not used before, or an unused recovery code
    /// (which is then used up). Each code is counted before it is checked (a right one is
    /// given back): too many wrong ones for the account refuse further codes for a while
    /// (`RateLimited`), and the owner is told by mail once per window.
    pub async fn verify_second_factor(&self, user_id: i64, code: &str) -> Result<bool> {
        let counter = format!("second-factor:{user_id}");
        let reservation = self
            .reserve(
                &[(counter.clone(), crate::attempts::SECOND_FACTOR)],
                Some(&counter),
                "too many wrong two-factor codes",
            )
            .await?;
        let ok = self.check_second_factor(user_id, code).await?;
        if ok {
            self.refund(&reservation).await?;
        } else {
            let mail = self
                .user_by_id(user_id)
                .await?
                .map(|u| crate::attempts::guessing_notice(u.email.as_str(), true));
            self.record_failure(
                "second_factor_failed",
                &format!("user:{user_id}"),
                &reservation,
                mail,
            )
            .await?;
        }
        Ok(ok)
    }

    async fn check_second_factor(&self, user_id: i64, code: &str) -> Result<bool> {
        let code = code.trim();
        if code.len() > 64 {
            return Ok(false);
        }
        let Some((t, Some(_), last)) = self.totp_for(user_id).await? else {
            return Ok(false);
        };
        let now = u64::try_from(self.now().unix_timestamp()).unwrap_or(0);
        if let Some(step) = matching_step(&t, code, now) {
            let step = i64::try_from(step).unwrap_or(i64::MAX);
            // Guarded so that two requests with one code cannot both pass.
            let done = sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)")
                .bind(step)
                .bind(user_id)
                .execute(&self.pool)
                .await?;
            return Ok(done.rows_affected() == 1 && last.is_none_or(|l| l < step));
        }
        let used = sqlx::query("UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL")
            .bind(to_ms(self.now()))
            .bind(user_id)
            .bind(code_hash(user_id, code))
            .execute(&self.pool)
            .await?;
        Ok(used.rows_affected() == 1)
    }

    /// Whether one of the user's organisations requires two-factor sign-in of them.
    pub async fn requires_two_factor(&self, user_id: i64) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM org_members m JOIN orgs o ON o.id = m.org_id WHERE m.user_id = $1 AND o.require_two_factor = 1",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// Turns two-factor sign-in off, given a valid second factor.
    /// Turns two-factor sign-in off; every session of the user ends but `keep`.
    pub async fn disable_totp(&self, user_id: i64, code: &str, keep: Option<&str>) -> Result<()> {
        if !self.verify_second_factor(user_id, code).await? {
            return Err(embargo_domain::FieldError::new("code", "does not match").into());
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        end_other_sessions(&mut tx, user_id, keep).await?;
        let actor = embargo_domain::access::Actor::User {
            id: user_id,
            admin: false,
        };
        crate::audit::append(
            &mut tx,
            self.now(),
            actor,
            self.origin(),
            "two_factor_disabled",
            None,
            &serde_json::json!({"user_id": user_id}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Ends the user's sessions but the one whose token is `keep`.
async fn end_other_sessions(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: i64,
    keep: Option<&str>,
) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
        .bind(user_id)
        .bind(keep.map(crate::secrets::token_hash).unwrap_or_default())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 test vectors (8 digits, the ASCII seed).
    #[test]
    fn rfc_6238_test_vectors() {
        let t = TOTP::new_unchecked(
            Algorithm::SHA1,
            8,
            0,
            30,
            b"12345678901234567890".to_vec(),
            None,
            String::new(),
        );
        for (time, code) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(t.generate(time), code, "T = {time}");
        }
    }

    #[test]
    fn codes_match_within_one_step() {
        let t = totp(b"12345678901234567890".to_vec(), "a@example.org").unwrap();
        let code = t.generate(1_000_000_020);
        assert_eq!(matching_step(&t, &code, 1_000_000_020), Some(33_333_334));
        assert_eq!(
            matching_step(&t, &code, 1_000_000_050),
            Some(33_333_334),
            "one step late"
        );
        assert_eq!(
            matching_step(&t, &code, 1_000_000_080),
            None,
            "two steps late"
        );
        assert_eq!(
            matching_step(&t, "000000", 1_000_000_020).is_some(),
            t.generate(1_000_000_020) == "000000"
        );
    }
}
