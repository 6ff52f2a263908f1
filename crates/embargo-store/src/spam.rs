//! Keeping floods out: a report closed as spam blocks its sender from filing to the
//! organisation for a while (a security manager can lift it, and reopening the report lifts
//! it); filing is limited per account and per address; a duplicate names an original the
//! closer can see.

use embargo_domain::FieldError;
use embargo_domain::access::{Actor, OrgAction};
use embargo_domain::advisory::{Advisory, Change, CloseReason};
use embargo_domain::ids::AdvisoryId;
use embargo_domain::types::Slug;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};
use time::{Duration, OffsetDateTime};

use crate::clock::{from_ms, to_ms};
use crate::{Result, Store, StoreError};

/// A sender kept from filing to an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Block {
    pub id: i64,
    pub email: Option<String>,
    pub advisory_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Runs inside a change's transaction: closing as spam blocks the reporter; reopening lifts
/// the blocks that report caused.
pub(crate) async fn after_change(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    advisory: &Advisory,
    org_id: i64,
    actor: Actor,
    change: &Change,
    now: OffsetDateTime,
) -> Result<()> {
    match change {
        Change::Closed {
            reason: CloseReason::Spam,
            ..
        } => {
            let days: i64 = sqlx::query_scalar("SELECT spam_block_days FROM orgs WHERE id = $1")
                .bind(org_id)
                .fetch_one(&mut **tx)
                .await?;
            let email: Option<String> = sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
                .bind(advisory.reporter_id)
                .fetch_optional(&mut **tx)
                .await?;
            sqlx::query(
                "INSERT INTO blocks (org_id, user_id, email, advisory_id, until_at, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(org_id)
            .bind(advisory.reporter_id)
            .bind(email)
            .bind(advisory.id.as_str())
            .bind(to_ms(now + Duration::days(days)))
            .bind(actor.user_id())
            .bind(to_ms(now))
            .execute(&mut **tx)
            .await?;
        }
        Change::Reopened => {
            sqlx::query(
                "UPDATE blocks SET lifted_at = $1 WHERE advisory_id = $2 AND lifted_at IS NULL",
            )
            .bind(to_ms(now))
            .bind(advisory.id.as_str())
            .execute(&mut **tx)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

/// Until when a sender is blocked from filing to an organisation (`$1` the organisation,
/// `$2` the account or -1, `$3` the address or '', `$4` now), or NULL.
const BLOCKED_UNTIL: &str =
    "SELECT MAX(until_at) FROM blocks WHERE org_id = $1 AND lifted_at IS NULL AND until_at > $4
     AND (user_id = $2 OR email = $3 OR email = (SELECT email FROM users WHERE id = $2))";

fn blocked(until: Option<i64>) -> Result<()> {
    if let Some(until) = until {
        let until = from_ms(until);
        return Err(StoreError::Forbidden(format!(
            "a report from this sender to this organisation was closed as spam: reports can be filed again from {} {:02}:{:02} UTC",
            until.date(),
            until.hour(),
            until.minute()
        )));
    }
    Ok(())
}

impl Store {
    /// Refuses a filing from a sender (account, or address without one) blocked for spam,
    /// saying until when.
    pub(crate) async fn refuse_if_blocked(
        &self,
        org_id: i64,
        user_id: Option<i64>,
        email: Option<&str>,
    ) -> Result<()> {
        let until: Option<i64> = sqlx::query_scalar(BLOCKED_UNTIL)
            .bind(org_id)
            .bind(user_id.unwrap_or(-1))
            .bind(email.unwrap_or_default())
            .bind(to_ms(self.now()))
            .fetch_one(&self.pool)
            .await?;
        blocked(until)
    }

    /// Refuses a filing from a blocked sender, or one over the hourly limit. One trip to
    /// the database: the block, and per account and per address (from the access log, which
    /// records where filings came from) how many reports in the last hour and the oldest of
    /// them, each from an index.
    pub(crate) async fn check_may_file(
        &self,
        org_id: i64,
        reporter_id: i64,
        per_hour: u32,
    ) -> Result<()> {
        let now = self.now();
        let hour_ago = to_ms(now - Duration::hours(1));
        let limit = i64::from(per_hour.max(1));
        #[allow(clippy::type_complexity)]
        let (until, by_account, first_by_account, by_address, first_by_address): (
            Option<i64>,
            i64,
            Option<i64>,
            i64,
            Option<i64>,
        ) = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT ({BLOCKED_UNTIL}),
                    (SELECT COUNT(*) FROM advisories WHERE reporter_id = $2 AND created_at > $5),
                    (SELECT MIN(created_at) FROM advisories WHERE reporter_id = $2 AND created_at > $5),
                    (SELECT COUNT(*) FROM audit_log WHERE action = 'reported' AND origin = $6 AND at > $5),
                    (SELECT MIN(at) FROM audit_log WHERE action = 'reported' AND origin = $6 AND at > $5)"
        )))
        .bind(org_id)
        .bind(reporter_id)
        .bind("")
        .bind(to_ms(now))
        .bind(hour_ago)
        .bind(self.origin())
        .fetch_one(&self.pool)
        .await?;
        blocked(until)?;
        for (count, oldest) in [
            (by_account, first_by_account),
            (by_address, first_by_address),
        ] {
            if count >= limit {
                let oldest = oldest.unwrap_or(to_ms(now));
                let retry = (oldest + 3_600_000 - to_ms(now)).max(1000) / 1000;
                return Err(StoreError::RateLimited {
                    retry_after_secs: u64::try_from(retry).unwrap_or(3600),
                    what: "too many reports from you in the last hour",
                });
            }
        }
        Ok(())
    }

    /// A duplicate's original: another advisory of the same organisation that the closer can
    /// see. Anything else is described the same way, so nothing is learnt about advisories
    /// the closer cannot see.
    pub(crate) async fn check_duplicate(
        &self,
        actor: Actor,
        id: &AdvisoryId,
        original: &AdvisoryId,
    ) -> Result<()> {
        let refused = || {
            FieldError::new(
                "duplicate_of",
                format!("{original} is not another advisory of this organisation that you can see"),
            )
        };
        if original == id {
            return Err(refused().into());
        }
        let (this, that) = (
            self.decided(actor, id, embargo_domain::access::Action::Read, "read")
                .await?,
            self.decided(
                actor,
                original,
                embargo_domain::access::Action::Read,
                "read",
            )
            .await
            .map_err(|_| refused())?,
        );
        if this.get().org != that.get().org {
            return Err(refused().into());
        }
        Ok(())
    }

    /// The organisation's active blocks (its security managers).
    pub async fn blocks(&self, actor: Actor, org: &Slug) -> Result<Vec<Block>> {
        let o = self.org(org).await?;
        self.require_org(actor, &o, OrgAction::ManagePolicy, "see blocked senders")
            .await?;
        let rows = sqlx::query(
            "SELECT id, email, advisory_id, until_at, created_at FROM blocks WHERE org_id = $1 AND lifted_at IS NULL AND until_at > $2 ORDER BY id",
        )
        .bind(o.id)
        .bind(to_ms(self.now()))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Block {
                    id: r.try_get("id")?,
                    email: r.try_get("email")?,
                    advisory_id: r.try_get("advisory_id")?,
                    until: from_ms(r.try_get("until_at")?),
                    created_at: from_ms(r.try_get("created_at")?),
                })
            })
            .collect()
    }

    /// Lifts a block (its organisation's security managers).
    pub async fn lift_block(&self, actor: Actor, org: &Slug, block_id: i64) -> Result<()> {
        let o = self.org(org).await?;
        self.require_org(actor, &o, OrgAction::ManagePolicy, "lift blocks")
            .await?;
        let now = to_ms(self.now());
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE blocks SET lifted_at = $1 WHERE id = $2 AND org_id = $3 AND lifted_at IS NULL",
        )
        .bind(now)
        .bind(block_id)
        .bind(o.id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("block"));
        }
        crate::orgs::org_event(
            &mut tx,
            o.id,
            actor,
            self.origin(),
            "block_lifted",
            serde_json::json!({"block_id": block_id}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
