//! Subscribers: anyone may ask for a message about each published (or withdrawn) advisory
//! of an organisation. Double opt-in (nothing is sent before the link in the confirmation is
//! followed), one-click unsubscribe (RFC 8058) from every message. Asking is limited per
//! address and per client, so that the form cannot be used to mail strangers; the answer is
//! the same whether the address is subscribed already or not.

use embargo_domain::access::{Actor, OrgAction};
use embargo_domain::advisory::Advisory;
use embargo_domain::notify::Message;
use embargo_domain::types::{Email, Slug};
use sqlx::Row;
use time::Duration;

use crate::clock::to_ms;
use crate::mail::{enqueue, enqueue_to_list};
use crate::secrets::{new_token, token_hash};
use crate::{Result, Store, StoreError};

/// Confirmation messages one address may be sent in an hour.
const CONFIRMATIONS_PER_ADDRESS_PER_HOUR: i64 = 3;
/// Subscriptions one client address may ask for in an hour.
const REQUESTS_PER_CLIENT_PER_HOUR: i64 = 10;

/// Bound to the token's own hash, which names the row.
pub(crate) fn token_aad(token_hash: &str) -> String {
    format!("subscribers.token:{token_hash}")
}

/// Where a subscriber stands, for the page their link opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub org: String,
    pub email: String,
    pub confirmed: bool,
    pub unsubscribed: bool,
}

/// The organisation's subscribers, counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriberCount {
    /// Confirmed and not unsubscribed: they get each published or withdrawn advisory.
    pub confirmed: i64,
    /// Asked, but have not followed the confirmation link (yet).
    pub unconfirmed: i64,
}

impl Store {
    /// Asks `email` to confirm a subscription to `org`'s published advisories.
    pub async fn subscribe(
        &self,
        org: &Slug,
        email: &Email,
        link_url: impl Fn(&str) -> String,
    ) -> Result<()> {
        let o = self.org(org).await?;
        let now = self.now();
        let hour_ago = to_ms(now - Duration::hours(1));
        let mut tx = self.pool.begin().await?;
        // Serialise requests (PostgreSQL's row lock, SQLite's write lock) so that the limits
        // hold under a burst.
        sqlx::query("UPDATE orgs SET name = name WHERE id = $1")
            .bind(o.id)
            .execute(&mut *tx)
            .await?;
        if let Some(origin) = self.origin() {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM subscribers WHERE origin = $1 AND created_at > $2",
            )
            .bind(origin)
            .bind(hour_ago)
            .fetch_one(&mut *tx)
            .await?;
            if n >= REQUESTS_PER_CLIENT_PER_HOUR {
                return Err(StoreError::RateLimited {
                    retry_after_secs: 3600,
                    what: "too many subscriptions were asked for from your network",
                });
            }
        }
        let existing = sqlx::query(
            "SELECT id, created_at, confirmed_at, unsubscribed_at FROM subscribers WHERE org_id = $1 AND email = $2",
        )
        .bind(o.id)
        .bind(email.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let active = existing.as_ref().is_some_and(|r| {
            r.try_get::<Option<i64>, _>("confirmed_at")
                .ok()
                .flatten()
                .is_some()
                && r.try_get::<Option<i64>, _>("unsubscribed_at")
                    .ok()
                    .flatten()
                    .is_none()
        });
        if active {
            // Subscribed already: nothing to send, and the same answer.
            return Ok(());
        }
        if let Some(r) = &existing {
            let created: i64 = r.try_get("created_at")?;
            if created > hour_ago {
                let sent: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM mail_queue WHERE recipient = $1 AND created_at > $2 AND subject LIKE '[Embargo] Confirm your subscription%'",
                )
                .bind(email.as_str())
                .bind(hour_ago)
                .fetch_one(&mut *tx)
                .await?;
                if sent >= CONFIRMATIONS_PER_ADDRESS_PER_HOUR {
                    return Err(StoreError::RateLimited {
                        retry_after_secs: 3600,
                        what: "a confirmation was sent to this address already; follow its link",
                    });
                }
            }
            sqlx::query("DELETE FROM subscribers WHERE id = $1")
                .bind(r.try_get::<i64, _>("id")?)
                .execute(&mut *tx)
                .await?;
        }
        let token = new_token("")?;
        sqlx::query(
            "INSERT INTO subscribers (org_id, email, token_hash, token_sealed, origin, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(o.id)
        .bind(email.as_str())
        .bind(token_hash(&token))
        .bind(self.keys.seal(&token_aad(&token_hash(&token)), &token)?)
        .bind(self.origin())
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
        enqueue(
            &mut tx,
            &Message {
                to: email.to_string(),
                subject: format!("[Embargo] Confirm your subscription to {}", o.name),
                body: format!(
                    "Someone, hopefully you, asked for a message about each security advisory {} publishes.\n\nConfirm here:\n{}\n\nIf it was not you, ignore this message: nothing is sent without confirmation.\n",
                    o.name,
                    link_url(&token)
                ),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// How many people follow the organisation's advisories (its security managers; counts
    /// only, never the addresses).
    pub async fn subscriber_count(&self, actor: Actor, org: &Slug) -> Result<SubscriberCount> {
        let o = self.org(org).await?;
        self.require_org(actor, &o, OrgAction::ManagePolicy, "see the subscribers")
            .await?;
        let count = |sql: &'static str| async move {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(o.id)
                .fetch_one(&self.pool)
                .await
        };
        Ok(SubscriberCount {
            confirmed: count(
                "SELECT COUNT(*) FROM subscribers WHERE org_id = $1 AND confirmed_at IS NOT NULL AND unsubscribed_at IS NULL",
            )
            .await?,
            unconfirmed: count(
                "SELECT COUNT(*) FROM subscribers WHERE org_id = $1 AND confirmed_at IS NULL AND unsubscribed_at IS NULL",
            )
            .await?,
        })
    }

    /// The subscription a link names (`NotFound` for a wrong token).
    pub async fn subscription(&self, token: &str) -> Result<Subscription> {
        let r = sqlx::query(
            "SELECT o.name, s.email, s.confirmed_at, s.unsubscribed_at FROM subscribers s JOIN orgs o ON o.id = s.org_id WHERE s.token_hash = $1",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("subscription"))?;
        Ok(Subscription {
            org: r.try_get("name")?,
            email: r.try_get("email")?,
            confirmed: r.try_get::<Option<i64>, _>("confirmed_at")?.is_some(),
            unsubscribed: r.try_get::<Option<i64>, _>("unsubscribed_at")?.is_some(),
        })
    }

    /// Confirms (double opt-in) or ends a subscription.
    pub async fn set_subscription(&self, token: &str, subscribed: bool) -> Result<Subscription> {
        let now = to_ms(self.now());
        let sql = if subscribed {
            "UPDATE subscribers SET confirmed_at = COALESCE(confirmed_at, $1), unsubscribed_at = NULL WHERE token_hash = $2"
        } else {
            "UPDATE subscribers SET unsubscribed_at = COALESCE(unsubscribed_at, $1) WHERE token_hash = $2"
        };
        let done = sqlx::query(sql)
            .bind(now)
            .bind(token_hash(token))
            .execute(&self.pool)
            .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::NotFound("subscription"));
        }
        self.subscription(token).await
    }

    /// Queues one message about a published or withdrawn advisory to each confirmed
    /// subscriber of its organisation (in the notifier's transaction: once per event).
    pub(crate) async fn tell_subscribers(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        a: &Advisory,
        org_id: i64,
        base_url: &str,
    ) -> Result<usize> {
        if !a.state.is_advisory() {
            return Ok(0);
        }
        let rows = sqlx::query(
            "SELECT email, token_hash, token_sealed FROM subscribers WHERE org_id = $1 AND confirmed_at IS NOT NULL AND unsubscribed_at IS NULL ORDER BY id",
        )
        .bind(org_id)
        .fetch_all(&mut **tx)
        .await?;
        let now = self.now();
        let headline = embargo_domain::notify::one_line(a.content.headline());
        let (what, verb) = if a.state == embargo_domain::advisory::State::Withdrawn {
            ("Withdrawn", "was withdrawn")
        } else {
            ("Security advisory", "was published")
        };
        for r in &rows {
            let email: String = r.try_get("email")?;
            let token = self.keys.open(
                &token_aad(&r.try_get::<String, _>("token_hash")?),
                &r.try_get::<String, _>("token_sealed")?,
            )?;
            let unsubscribe = format!("{base_url}/subscriptions/{token}/unsubscribe");
            let m = Message {
                to: email,
                subject: format!("[Embargo] {what} {}: {}", a.id, headline),
                body: format!(
                    "Advisory {} ({}) {verb}.\n\n{base_url}/advisories/{}\n\nYou get this because you subscribed to these advisories. Unsubscribe: {unsubscribe}\n",
                    a.id,
                    a.place(),
                    a.id
                ),
            };
            enqueue_to_list(tx, &m, &unsubscribe, now).await?;
        }
        Ok(rows.len())
    }
}
