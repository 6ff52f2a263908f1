//! Outgoing e-mail: the notifier turns events into messages (in the same transaction as it
//! moves its cursor, so no event is announced twice or skipped), and the queue holds them
//! until a sender delivers them, retrying with growing pauses.
//!
//! Who hears of what: a new report (or one moved in) goes to the triagers of its place —
//! the repository's maintainers and the organisation's security managers and steering
//! committee — always, without any "watching"; a reply to the reporter, the triagers and
//! the collaborators; an internal note to the triagers only; closing, reopening and
//! publication to the reporter. Nobody is told of their own action, and nobody is told of
//! what the access rule would not let them read (`may_be_told`).

use embargo_domain::access::{Action, Decision, decide};
use embargo_domain::advisory::{Advisory, Change};
use embargo_domain::notify::{self, Audience, Facts, Message, Notice};
// Dynamic SQL here is assembled only from the advisories module's constants.
use sqlx::{AssertSqlSafe, Row};
use time::{Duration, OffsetDateTime};

use crate::advisories::event_aad;
use crate::clock::to_ms;
use crate::{Result, Store, StoreError};

/// A message waiting to be sent.
#[derive(Debug, Clone)]
pub struct QueuedMail {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub attempts: i64,
    /// For messages to a list (subscribers): the one-click unsubscribe address, sent as
    /// `List-Unsubscribe`.
    pub unsubscribe_url: Option<String>,
}

/// After this many failed attempts a message stays in the queue, unsent, with its error.
pub const MAX_ATTEMPTS: i64 = 10;

/// When the next daily digest goes out: 07:00 UTC.
fn next_digest(now: OffsetDateTime) -> OffsetDateTime {
    let today = now
        .to_offset(time::UtcOffset::UTC)
        .replace_time(time::macros::time!(07:00));
    if today > now {
        today
    } else {
        today + Duration::days(1)
    }
}

/// Holds a message for its recipient's digest.
async fn enqueue_held(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    m: &Message,
    due: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO mail_queue (recipient, subject, body, created_at, send_after, held) VALUES ($1, $2, $3, $4, $5, 1)",
    )
    .bind(&m.to)
    .bind(&m.subject)
    .bind(&m.body)
    .bind(to_ms(now))
    .bind(to_ms(due))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A held message: id, subject, body.
type Held = (i64, String, String);

/// Combines each recipient's held messages that are due into one digest message; returns
/// how many digests were queued.
async fn compose_digests(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    now: OffsetDateTime,
) -> Result<usize> {
    let rows = sqlx::query(
        "SELECT id, recipient, subject, body FROM mail_queue WHERE held = 1 AND sent_at IS NULL AND send_after <= $1 ORDER BY recipient, id",
    )
    .bind(to_ms(now))
    .fetch_all(&mut **tx)
    .await?;
    let mut by_recipient: Vec<(String, Vec<Held>)> = Vec::new();
    for r in &rows {
        let to: String = r.try_get("recipient")?;
        let item = (r.try_get("id")?, r.try_get("subject")?, r.try_get("body")?);
        match by_recipient.last_mut() {
            Some((last, items)) if *last == to => items.push(item),
            _ => by_recipient.push((to, vec![item])),
        }
    }
    for (to, items) in &by_recipient {
        let mut body = format!("{} messages since the last digest:\n", items.len());
        for (_, subject, text) in items {
            let link = text
                .lines()
                .find(|l| l.starts_with("http://") || l.starts_with("https://"))
                .unwrap_or_default();
            body.push_str(&format!(
                "\n- {}\n  {link}\n",
                subject.trim_start_matches("[Embargo] ")
            ));
        }
        body.push_str("\nChange how you get mail on your account page.\n");
        enqueue(
            tx,
            &Message {
                to: to.clone(),
                subject: format!("[Embargo] Daily digest: {} messages", items.len()),
                body,
            },
            now,
        )
        .await?;
        for (id, _, _) in items {
            sqlx::query("UPDATE mail_queue SET sent_at = $1 WHERE id = $2")
                .bind(to_ms(now))
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(by_recipient.len())
}

/// Queues a message to a list member, with its one-click unsubscribe address.
pub(crate) async fn enqueue_to_list(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    m: &Message,
    unsubscribe_url: &str,
    now: OffsetDateTime,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO mail_queue (recipient, subject, body, created_at, send_after, unsubscribe_url) VALUES ($1, $2, $3, $4, $4, $5)",
    )
    .bind(&m.to)
    .bind(&m.subject)
    .bind(&m.body)
    .bind(to_ms(now))
    .bind(unsubscribe_url)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) async fn enqueue(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    m: &Message,
    now: OffsetDateTime,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO mail_queue (recipient, subject, body, created_at, send_after) VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(&m.to)
    .bind(&m.subject)
    .bind(&m.body)
    .bind(to_ms(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An embargo change in words, with unambiguous instants.
fn embargo_words(
    action: embargo_domain::embargo::EmbargoAction,
    party: &str,
    e: &embargo_domain::embargo::Embargo,
) -> String {
    use embargo_domain::embargo::{EmbargoAction as A, format_instant};
    let state = e.state.as_str();
    match (action, e.ends_at, e.proposed_ends_at) {
        (A::Propose { ends_at }, _, _) => format!(
            "{party} proposed that it end {} (now {state})",
            format_instant(ends_at)
        ),
        (A::Terminate, _, _) => format!("it ended (by {party})"),
        (_, Some(end), _) => format!(
            "{party} answered; it is {state}, ending {}",
            format_instant(end)
        ),
        (_, None, _) => format!("{party} answered; it is {state}"),
    }
}

/// A person to tell, and how to address them.
#[derive(Debug, Clone)]
struct Recipient {
    id: i64,
    email: String,
    audience: Audience,
}

/// Rows of `id, email` as recipients.
fn recipients(rows: &[sqlx::any::AnyRow], audience: Audience) -> Result<Vec<Recipient>> {
    rows.iter()
        .map(|r| {
            Ok(Recipient {
                id: r.try_get("id")?,
                email: r.try_get("email")?,
                audience,
            })
        })
        .collect()
}

/// Events turned into messages per run of the notifier.
const NOTIFY_BATCH: i64 = 200;

impl Store {
    /// Turns the events since the last run into queued messages; returns how many messages.
    /// Safe to run on several instances at once: the cursor row is locked for the run.
    pub async fn notify(&self, base_url: &str) -> Result<usize> {
        let mut tx = self.pool.begin().await?;
        // Takes the cursor's row lock (PostgreSQL) or the write lock (SQLite) first.
        sqlx::query("UPDATE notify_cursor SET last_event_id = last_event_id WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let cursor: i64 =
            sqlx::query_scalar("SELECT last_event_id FROM notify_cursor WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?;
        let now = self.now();
        let mut sent = compose_digests(&mut tx, now).await?;
        // The newest event now. Every event up to it is committed: advisory events get their
        // ids while their transaction holds the access log's head lock, so an event still
        // being written has a higher id than any committed one.
        let newest: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM events")
            .fetch_one(&mut *tx)
            .await?;
        // Imported records tell nobody: they are passed over here, in the query, so that an
        // import of 100,000 records is not opened one by one, 200 at a time.
        let rows = sqlx::query(
            "SELECT e.id, e.advisory_id, e.actor_id, e.data, a.doc, a.org_id, a.repo_id, o.mail_titles
             FROM events e LEFT JOIN advisories a ON a.id = e.advisory_id LEFT JOIN orgs o ON o.id = a.org_id
             WHERE e.id > $1 AND e.id <= $2 AND e.kind <> 'imported' ORDER BY e.id LIMIT $3",
        )
        .bind(cursor)
        .bind(newest)
        .bind(NOTIFY_BATCH)
        .fetch_all(&mut *tx)
        .await?;
        // A short batch reaches the newest event: the cursor passes the imported ones too.
        let mut last = if (rows.len() as i64) < NOTIFY_BATCH {
            newest.max(cursor)
        } else {
            cursor
        };
        for row in &rows {
            last = last.max(row.try_get("id")?);
            let Some(advisory_id) = row.try_get::<Option<String>, _>("advisory_id")? else {
                continue;
            };
            let doc: String = row.try_get("doc")?;
            let advisory: Advisory = crate::advisories::open_doc(&self.keys, &advisory_id, &doc)?;
            let data: String = row.try_get("data")?;
            let change: Change =
                serde_json::from_str(&self.keys.open(&event_aad(&advisory_id), &data)?)
                    .map_err(|e| StoreError::Internal(e.to_string()))?;
            let actor: Option<i64> = row.try_get("actor_id")?;
            let org_id: i64 = row.try_get("org_id")?;
            let repo_id: Option<i64> = row.try_get("repo_id")?;
            let titles = row.try_get::<i64, _>("mail_titles")? != 0;
            let messages = self
                .messages_for(
                    &mut tx, &advisory, &change, org_id, repo_id, titles, base_url,
                )
                .await?;
            for (r, m, digestable) in messages {
                // Nobody is told of their own action.
                if r.is_some() && r == actor {
                    continue;
                }
                match r {
                    Some(user) if digestable && Store::wants_digest(&mut tx, user).await? => {
                        enqueue_held(&mut tx, &m, next_digest(now), now).await?;
                    }
                    _ => {
                        enqueue(&mut tx, &m, now).await?;
                        sent += 1;
                    }
                }
            }
            self.queue_webhooks(&mut tx, &advisory, org_id, &change, base_url)
                .await?;
            if matches!(change, Change::Published | Change::Withdrawn { .. }) {
                sent += self
                    .tell_subscribers(&mut tx, &advisory, org_id, base_url)
                    .await?;
            }
        }
        sqlx::query("UPDATE notify_cursor SET last_event_id = $1 WHERE id = 1")
            .bind(last)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(sent)
    }

    #[allow(clippy::too_many_arguments)]
    async fn messages_for(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        a: &Advisory,
        change: &Change,
        org_id: i64,
        repo_id: Option<i64>,
        titles: bool,
        base_url: &str,
    ) -> Result<Vec<(Option<i64>, Message, bool)>> {
        // Who wants to hear of it (the groups), and what they must be allowed to read to be
        // told (the action): the same rule as every read decides, so a role that waits for
        // two-factor sign-in, an expired invitation or a removed maintainer gets nothing.
        let (notice, groups): (Notice, &[&str]) = match change {
            Change::Reported { .. } => (Notice::NewReport, &["triagers"]),
            Change::Transferred { .. } => (Notice::Transferred, &["triagers"]),
            Change::Commented { internal: true, .. } => {
                (Notice::Reply { internal: true }, &["triagers"])
            }
            Change::Commented { .. } => (
                Notice::Reply { internal: false },
                &["triagers", "collaborators", "reporter"],
            ),
            Change::Closed { reason, .. } => (Notice::Closed { reason: *reason }, &["reporter"]),
            Change::Reopened => (Notice::Reopened, &["reporter"]),
            Change::Published => (Notice::Published, &["reporter", "collaborators"]),
            Change::DisclosureAnnounced { on } => (
                Notice::DisclosureScheduled {
                    date: on.date().to_string(),
                },
                &["reporter"],
            ),
            Change::Disclosed => (Notice::Disclosed, &["reporter"]),
            Change::EmbargoChanged {
                action,
                party,
                embargo,
            } => (
                Notice::EmbargoChanged {
                    what: embargo_words(*action, party, embargo),
                },
                &["triagers", "collaborators", "reporter"],
            ),
            Change::CaseFlagSet { flag } if flag.ends_secrecy() && a.embargo.state.in_force() => (
                Notice::EmbargoAtRisk {
                    why: flag.as_str().replace('_', " "),
                },
                &["triagers"],
            ),
            Change::CollaboratorInvited { email, .. } => {
                // Without an account, the invitation mailed its sign-up link already.
                let account: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
                        .bind(email.as_str())
                        .fetch_optional(&mut **tx)
                        .await?;
                if account.is_none() {
                    return Ok(Vec::new());
                }
                let place = a.place();
                let facts = Facts {
                    id: &a.id,
                    place: &place,
                    title: titles.then_some(a.content.title.as_str()),
                    base_url,
                };
                let m = notify::compose(&Notice::Invited, &facts, email, Audience::Collaborator);
                // The invitee may have no account yet: an address, no user id.
                return Ok(vec![(None, m, false)]);
            }
            _ => return Ok(Vec::new()),
        };
        let action = match notice {
            Notice::Reply { internal: true } => Action::InternalNotes,
            Notice::Published => Action::Read,
            _ => Action::ReadThread,
        };
        // What a user may turn off; the rest (their own report's fate, invitations) is sent.
        let optional = match notice {
            Notice::NewReport | Notice::Transferred => {
                Some(crate::preferences::Optional::NewReports)
            }
            Notice::Reply { .. } => Some(crate::preferences::Optional::Replies),
            _ => None,
        };
        let mut recipients: Vec<Recipient> = Vec::new();
        for g in groups {
            let found = match *g {
                "triagers" => self.triagers(tx, org_id, repo_id).await?,
                "collaborators" => self.collaborators_of(tx, &a.id).await?,
                _ => self.reporter_of(tx, a).await?.into_iter().collect(),
            };
            for r in found {
                let wanted = match optional {
                    Some(kind) => Store::wants_mail(tx, r.id, kind).await?,
                    None => true,
                };
                if wanted
                    && !recipients.iter().any(|o| o.id == r.id)
                    && self.may_be_told(tx, r.id, a, action).await?
                {
                    recipients.push(r);
                }
            }
        }
        let place = a.place();
        let facts = Facts {
            id: &a.id,
            place: &place,
            title: titles.then_some(a.content.title.as_str()),
            base_url,
        };
        Ok(recipients
            .into_iter()
            .map(|r| {
                (
                    Some(r.id),
                    notify::compose(&notice, &facts, &r.email, r.audience),
                    optional.is_some(),
                )
            })
            .collect())
    }

    /// Whether the access rule lets account `user` do `action` (read what the message is
    /// about) on the advisory, as a direct read by them would be decided.
    pub(crate) async fn may_be_told(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        user: i64,
        a: &Advisory,
        action: Action,
    ) -> Result<bool> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM advisories a WHERE a.id = $2",
            crate::advisories::relation_columns()
        )))
        .bind(user)
        .bind(a.id.as_str())
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = row else { return Ok(false) };
        let rel = crate::advisories::relations_from_row(&row, self.now())?;
        Ok(decide(rel, action, a.state) == Decision::Allow)
    }

    async fn triagers(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        org_id: i64,
        repo_id: Option<i64>,
    ) -> Result<Vec<Recipient>> {
        let rows = sqlx::query(
            "SELECT u.id, u.email FROM users u WHERE u.id IN (
                 SELECT user_id FROM org_members WHERE org_id = $1 AND role IN ('security_manager', 'steering_committee')
                 UNION SELECT user_id FROM maintainers WHERE repo_id = $2)
             ORDER BY u.id",
        )
        .bind(org_id)
        .bind(repo_id.unwrap_or(-1))
        .fetch_all(&mut **tx)
        .await?;
        recipients(&rows, Audience::Triager)
    }

    async fn collaborators_of(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        id: &embargo_domain::ids::AdvisoryId,
    ) -> Result<Vec<Recipient>> {
        let rows = sqlx::query(
            "SELECT u.id, u.email FROM collaborators c JOIN users u ON u.id = c.user_id
             WHERE c.advisory_id = $1 AND c.accepted_at IS NOT NULL AND c.revoked_at IS NULL
             AND (c.expires_at IS NULL OR c.expires_at > $2) ORDER BY u.id",
        )
        .bind(id.as_str())
        .bind(to_ms(self.now()))
        .fetch_all(&mut **tx)
        .await?;
        recipients(&rows, Audience::Collaborator)
    }

    async fn reporter_of(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        a: &Advisory,
    ) -> Result<Option<Recipient>> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.password_hash IS NULL AS no_password,
                    (SELECT COUNT(*) FROM reporter_links l WHERE l.advisory_id = $2 AND l.user_id = u.id) AS links
             FROM users u WHERE u.id = $1",
        )
        .bind(a.reporter_id)
        .bind(a.id.as_str())
        .fetch_optional(&mut **tx)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let email: String = r.try_get("email")?;
        if email == crate::IMPORTER_EMAIL {
            return Ok(None);
        }
        let no_password: bool = match r.try_get::<bool, _>("no_password") {
            Ok(b) => b,
            Err(_) => r.try_get::<i64, _>("no_password")? != 0,
        };
        let links: i64 = r.try_get("links")?;
        Ok(Some(Recipient {
            id: r.try_get("id")?,
            email,
            audience: if no_password && links > 0 {
                Audience::ReporterWithoutAccount
            } else {
                Audience::Reporter
            },
        }))
    }

    /// Claims up to `limit` messages that are due, for one minute (another sender skips them
    /// meanwhile).
    pub async fn claim_mail(&self, limit: i64) -> Result<Vec<QueuedMail>> {
        let now = self.now();
        let mut tx = self.pool.begin().await?;
        // Write first: on SQLite the transaction then holds the write lock (waiting for it
        // with the busy timeout), instead of failing to upgrade a read snapshot later.
        sqlx::query("UPDATE mail_queue SET attempts = attempts WHERE id = -1")
            .execute(&mut *tx)
            .await?;
        let rows = sqlx::query(
            "SELECT id, recipient, subject, body, attempts, unsubscribe_url FROM mail_queue
             WHERE sent_at IS NULL AND held = 0 AND attempts < $1 AND send_after <= $2 AND (claimed_until IS NULL OR claimed_until < $2)
             ORDER BY id LIMIT $3",
        )
        .bind(MAX_ATTEMPTS)
        .bind(to_ms(now))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            // Claim it only if nobody else did in the meantime.
            let claimed = sqlx::query(
                "UPDATE mail_queue SET claimed_until = $1 WHERE id = $2 AND (claimed_until IS NULL OR claimed_until < $3)",
            )
            .bind(to_ms(now + Duration::minutes(1)))
            .bind(id)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await?;
            if claimed.rows_affected() == 1 {
                out.push(QueuedMail {
                    id,
                    to: r.try_get("recipient")?,
                    subject: r.try_get("subject")?,
                    body: r.try_get("body")?,
                    attempts: r.try_get("attempts")?,
                    unsubscribe_url: r.try_get("unsubscribe_url")?,
                });
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    pub async fn mail_sent(&self, id: i64) -> Result<()> {
        sqlx::query("UPDATE mail_queue SET sent_at = $1, claimed_until = NULL WHERE id = $2")
            .bind(to_ms(self.now()))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a failed attempt; the next one waits 2^attempts minutes (at most a day).
    pub async fn mail_failed(&self, id: i64, attempts: i64, error: &str) -> Result<()> {
        let wait = Duration::minutes(1_i64 << attempts.clamp(0, 10)).min(Duration::days(1));
        let error: String = error.chars().take(500).collect();
        sqlx::query(
            "UPDATE mail_queue SET attempts = attempts + 1, last_error = $1, claimed_until = NULL, send_after = $2 WHERE id = $3",
        )
        .bind(error)
        .bind(to_ms(self.now() + wait))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
