//! Reports filed without an account. They wait, sealed and invisible to everyone, until the
//! reporter opens the confirmation link sent to their address; then they are filed as an
//! account without a password for that address, and the reporter gets a private link (a
//! long random token, kept only as its hash, revocable) to read and answer the thread.

use embargo_domain::access::Actor;
use embargo_domain::advisory::NewReport;
use embargo_domain::ids::AdvisoryId;
use embargo_domain::notify;
use embargo_domain::types::{Email, Slug};
use sqlx::Row;
use time::Duration;

use crate::clock::to_ms;
use crate::mail::enqueue;
use crate::secrets::{new_token, token_hash};
use crate::{Result, Store, StoreError};

/// Confirmation mails one address may be sent in an hour (so the form cannot be used to
/// flood someone's mailbox).
const CONFIRMATIONS_PER_HOUR: i64 = 3;
/// Unconfirmed reports one client address may file in an hour, whatever addresses it gives
/// (so the form cannot be used to mail strangers).
const UNCONFIRMED_PER_CLIENT_PER_HOUR: i64 = 5;
/// Unconfirmed reports one organisation takes in an hour, from everyone.
const UNCONFIRMED_PER_ORG_PER_HOUR: i64 = 60;
/// Unconfirmed reports that may wait at once for one organisation.
const UNCONFIRMED_WAITING_PER_ORG: i64 = 500;

/// Refuses with a 429 saying what to do.
fn too_many(what: &'static str, retry_after_secs: u64) -> StoreError {
    StoreError::RateLimited {
        what,
        retry_after_secs,
    }
}

pub(crate) fn pending_aad(token_hash: &str) -> String {
    format!("pending_reports.report:{token_hash}")
}

/// A confirmed report: its id, and the reporter's private link token (shown once).
#[derive(Debug, Clone)]
pub struct Confirmed {
    pub id: AdvisoryId,
    pub link_token: String,
}

impl Store {
    /// Holds a report filed without an account and queues its confirmation message.
    /// `confirm_url` turns a token into the link the message carries.
    pub async fn file_unconfirmed(
        &self,
        org: &Slug,
        repo: Option<&Slug>,
        email: &Email,
        report: NewReport,
        days: u32,
        confirm_url: impl Fn(&str) -> String,
    ) -> Result<()> {
        let org = self.org(org).await?;
        let repo = match repo {
            Some(r) => Some(self.repo(&org.slug, r).await?),
            None => None,
        };
        // The same checks as a signed-in filing, before anything is kept.
        let submitted = report.cvss_score.clone();
        let content = report.clone().into_content()?;
        crate::advisories::check_cvss(&content, submitted.as_ref())?;
        self.refuse_if_blocked(org.id, None, Some(email.as_str()))
            .await?;
        let now = self.now();
        let token = new_token("")?;
        let hash = token_hash(&token);
        let sealed = self.keys.seal(
            &pending_aad(&hash),
            &serde_json::to_string(&report).map_err(|e| StoreError::Internal(e.to_string()))?,
        )?;
        let place = match &repo {
            Some(r) => format!("{}/{}", org.slug, r.slug),
            None => org.slug.to_string(),
        };
        let mut tx = self.pool.begin().await?;
        // The limits are counted and the report held under one lock, so that no burst of
        // parallel requests passes them.
        self.lock_intake(&mut tx).await?;
        self.check_unconfirmed_limits(&mut tx, org.id, email)
            .await?;
        sqlx::query(
            "INSERT INTO pending_reports (token_hash, email, org_id, repo_id, report, created_at, expires_at, origin) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&hash)
        .bind(email.as_str())
        .bind(org.id)
        .bind(repo.as_ref().map(|r| r.id))
        .bind(sealed)
        .bind(to_ms(now))
        .bind(to_ms(now + Duration::days(i64::from(days))))
        .bind(self.origin())
        .execute(&mut *tx)
        .await?;
        crate::audit::append(
            &mut tx,
            now,
            Actor::Anonymous,
            self.origin(),
            "report_held_for_confirmation",
            None,
            &serde_json::json!({"org_id": org.id}),
        )
        .await?;
        enqueue(
            &mut tx,
            &notify::confirmation(email.as_str(), &place, &confirm_url(&token)),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Serialises account-less filing: PostgreSQL takes a transaction-scoped advisory lock;
    /// SQLite has one writer, and a transaction whose first statement writes holds it.
    async fn lock_intake(&self, tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<()> {
        const INTAKE_LOCK: i64 = 0x0065_6d62_696e_7461;
        let sql = match self.backend {
            crate::Backend::Postgres => "SELECT pg_advisory_xact_lock($1)",
            // Matches no row (no report is held at that time); the write takes the lock.
            crate::Backend::Sqlite => {
                "UPDATE pending_reports SET origin = origin WHERE created_at = $1"
            }
        };
        sqlx::query(sql)
            .bind(INTAKE_LOCK)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Refuses (429 with a time to wait) when the address, the client or the organisation has
    /// had too many reports held for confirmation, or too many wait already.
    async fn check_unconfirmed_limits(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        org_id: i64,
        email: &Email,
    ) -> Result<()> {
        let now = self.now();
        let hour_ago = to_ms(now - Duration::hours(1));
        let by_email: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pending_reports WHERE email = $1 AND created_at > $2",
        )
        .bind(email.as_str())
        .bind(hour_ago)
        .fetch_one(&mut **tx)
        .await?;
        if by_email >= CONFIRMATIONS_PER_HOUR {
            return Err(too_many(
                "this address has reports waiting for confirmation; confirm those first",
                3600,
            ));
        }
        if let Some(origin) = self.origin() {
            let by_client: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pending_reports WHERE origin = $1 AND created_at > $2",
            )
            .bind(origin)
            .bind(hour_ago)
            .fetch_one(&mut **tx)
            .await?;
            if by_client >= UNCONFIRMED_PER_CLIENT_PER_HOUR {
                return Err(too_many(
                    "too many reports were filed without an account from your network; confirm those first, or sign in",
                    3600,
                ));
            }
        }
        let (recent, waiting): (i64, i64) = {
            let row = sqlx::query(
                "SELECT CAST(COALESCE(SUM(CASE WHEN created_at > $2 THEN 1 ELSE 0 END), 0) AS BIGINT) AS recent,
                        CAST(COUNT(*) AS BIGINT) AS waiting
                 FROM pending_reports WHERE org_id = $1 AND expires_at > $3",
            )
            .bind(org_id)
            .bind(hour_ago)
            .bind(to_ms(now))
            .fetch_one(&mut **tx)
            .await?;
            (row.try_get("recent")?, row.try_get("waiting")?)
        };
        if recent >= UNCONFIRMED_PER_ORG_PER_HOUR || waiting >= UNCONFIRMED_WAITING_PER_ORG {
            return Err(too_many(
                "this organisation has too many reports waiting for confirmation; sign in to file, or try again later",
                if recent >= UNCONFIRMED_PER_ORG_PER_HOUR {
                    3600
                } else {
                    6 * 3600
                },
            ));
        }
        Ok(())
    }

    /// Whether a confirmation token is waiting (for the page that asks to confirm).
    pub async fn pending_exists(&self, token: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pending_reports WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash(token))
        .bind(to_ms(self.now()))
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// Files a held report once its reporter confirms it; queues the private link message.
    /// An unknown, used or expired token is `NotFound`.
    pub async fn confirm_report(
        &self,
        token: &str,
        link_url: impl Fn(&str) -> String,
    ) -> Result<Confirmed> {
        let hash = token_hash(token);
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT p.email, p.report, p.created_at, p.expires_at, o.slug AS org, r.slug AS repo, p.org_id, p.repo_id
             FROM pending_reports p JOIN orgs o ON o.id = p.org_id LEFT JOIN repos r ON r.id = p.repo_id
             WHERE p.token_hash = $1 AND p.expires_at > $2",
        )
        .bind(&hash)
        .bind(to_ms(self.now()))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("report"))?;
        // Claims it: a second confirmation finds nothing.
        let claimed = sqlx::query("DELETE FROM pending_reports WHERE token_hash = $1")
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
        if claimed.rows_affected() != 1 {
            return Err(StoreError::NotFound("report"));
        }
        tx.commit().await?;
        let email = Email::parse(&row.try_get::<String, _>("email")?)?;
        let report: NewReport = serde_json::from_str(
            &self
                .keys
                .open(&pending_aad(&hash), &row.try_get::<String, _>("report")?)?,
        )
        .map_err(|e| StoreError::Internal(e.to_string()))?;
        let org = Slug::parse(&row.try_get::<String, _>("org")?)?;
        let repo = row
            .try_get::<Option<String>, _>("repo")?
            .map(|r| Slug::parse(&r))
            .transpose()?;
        let filed = self
            .file_as_address(&email, &org, repo.as_ref(), report.clone(), link_url)
            .await;
        if filed.is_err() {
            // Put it back, so that the reporter can try again after the refusal.
            let _ = self.restore_pending(&hash, &email, &row, &report).await;
        }
        filed
    }

    /// Files a report as the account of `email` (made without a password when there is
    /// none), gives the reporter a private link and mails it: a report whose address is
    /// confirmed (by its link, or by having written from it).
    pub(crate) async fn file_as_address(
        &self,
        email: &Email,
        org: &Slug,
        repo: Option<&Slug>,
        report: NewReport,
        link_url: impl Fn(&str) -> String,
    ) -> Result<Confirmed> {
        let user = match self.user_by_email(email).await? {
            Some(u) => u,
            None => match self.create_user(email, None, None, false).await {
                Ok(u) => u,
                Err(StoreError::Conflict(_)) => self
                    .user_by_email(email)
                    .await?
                    .ok_or(StoreError::NotFound("account"))?,
                Err(e) => return Err(e),
            },
        };
        let actor = Actor::User {
            id: user.id,
            admin: false,
        };
        let filed = self.file_report(actor, org, repo, report).await?;
        let id = filed.get().id.clone();
        let link_token = new_token("")?;
        let now = self.now();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO reporter_links (token_hash, advisory_id, user_id, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash(&link_token))
        .bind(id.as_str())
        .bind(user.id)
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
        enqueue(
            &mut tx,
            &notify::private_link(email.as_str(), &id, &link_url(&link_token)),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Confirmed { id, link_token })
    }

    async fn restore_pending(
        &self,
        hash: &str,
        email: &Email,
        row: &sqlx::any::AnyRow,
        report: &NewReport,
    ) -> Result<()> {
        let sealed = self.keys.seal(
            &pending_aad(hash),
            &serde_json::to_string(report).map_err(|e| StoreError::Internal(e.to_string()))?,
        )?;
        sqlx::query(
            "INSERT INTO pending_reports (token_hash, email, org_id, repo_id, report, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(hash)
        .bind(email.as_str())
        .bind(row.try_get::<i64, _>("org_id")?)
        .bind(row.try_get::<Option<i64>, _>("repo_id")?)
        .bind(sealed)
        .bind(row.try_get::<i64, _>("created_at")?)
        .bind(row.try_get::<i64, _>("expires_at")?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The advisory a private link opens, and the reporter it acts as. A wrong or revoked
    /// token is `NotFound`, exactly as a missing advisory.
    pub async fn reporter_link(&self, token: &str) -> Result<(AdvisoryId, Actor)> {
        let row = sqlx::query(
            "SELECT advisory_id, user_id FROM reporter_links WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("advisory"))?;
        let id = AdvisoryId::parse(&row.try_get::<String, _>("advisory_id")?)?;
        let actor = Actor::ReporterLink {
            user: row.try_get("user_id")?,
            advisory: id.key(),
        };
        Ok((id, actor))
    }

    /// Sends the holder of a private link a link to set a password, which makes their
    /// account (the one the report was filed as) one they can sign in to, with every report
    /// they filed under that address.
    pub async fn offer_account(
        &self,
        token: &str,
        password_url: impl Fn(&str) -> String,
    ) -> Result<()> {
        let (_, actor) = self.reporter_link(token).await?;
        let Some(user_id) = actor.user_id() else {
            return Err(StoreError::NotFound("advisory"));
        };
        let user = self
            .user_by_id(user_id)
            .await?
            .ok_or(StoreError::NotFound("advisory"))?;
        if user.has_password {
            return Err(StoreError::Conflict(
                "this address has an account already: sign in to see your reports".into(),
            ));
        }
        let reset = self
            .create_link_token("reset", Some(user.id), Duration::days(1))
            .await?;
        let now = self.now();
        let mut tx = self.pool.begin().await?;
        enqueue(
            &mut tx,
            &notify::Message {
                to: user.email.to_string(),
                subject: "[Embargo] Set a password for your reports".into(),
                body: format!(
                    "Set a password here to sign in and see every report you filed with this address (the link works once, for a day):\n{}\n",
                    password_url(&reset)
                ),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revokes a private link (by its holder).
    pub async fn revoke_reporter_link(&self, token: &str) -> Result<()> {
        let done = sqlx::query(
            "UPDATE reporter_links SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(to_ms(self.now()))
        .bind(token_hash(token))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound("advisory"))
        }
    }

    /// Deletes unconfirmed reports past their time; returns how many.
    pub async fn expire_pending_reports(&self) -> Result<u64> {
        let done = sqlx::query("DELETE FROM pending_reports WHERE expires_at <= $1")
            .bind(to_ms(self.now()))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
