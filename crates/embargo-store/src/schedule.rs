//! The clock: embargo negotiation, case flags and readiness (people's actions), and the
//! scheduled work that follows from time passing — embargoes that end and publish, warnings
//! before an end, reminders before a response deadline and the escalation after it.
//!
//! Scheduled changes go through the same change path as a person's, as a named system actor
//! ([`SystemTask`]), decided on the stored state under the advisory's row lock: a second
//! instance running the same sweep finds the work done and changes nothing. Notices are sent
//! once each: a row in `notices_sent`, written in the transaction that queues the mail.

use std::collections::{HashMap, HashSet};

use embargo_domain::access::{Action, Actor, SystemTask};
use embargo_domain::advisory::{Advisory, Change, State};
use embargo_domain::embargo::{
    CaseFlag, EmbargoAction, EmbargoContext, EmbargoRefusal, format_instant,
};
use embargo_domain::ids::AdvisoryId;
use embargo_domain::notify::Message;
use sqlx::Row;
use time::OffsetDateTime;

use crate::advisories::open_doc;
use crate::clock::to_ms;
use crate::{Authorized, Result, Store, StoreError};

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepRun {
    pub published: usize,
    pub ended: usize,
    pub notices: usize,
}

/// The advisory a notice is about, and what addressing it needs.
pub(crate) struct Notice<'a> {
    pub advisory: &'a Advisory,
    pub org_id: i64,
    pub repo_id: Option<i64>,
    /// Whether the organisation puts titles in mail.
    pub titles: bool,
}

/// An open advisory, as the sweeps see it.
struct Open {
    advisory: Advisory,
    org_id: i64,
    repo_id: Option<i64>,
    org_slug: String,
    mail_titles: bool,
}

/// The sweeps' query, run every few seconds: the partial index `advisories_open` (migration
/// 29) finds the open advisories without reading every published one.
const OPEN_ADVISORIES: &str = "SELECT a.id, a.doc, a.org_id, a.repo_id, o.slug, o.mail_titles FROM advisories a JOIN orgs o ON o.id = a.org_id
     WHERE a.state IN ('triage', 'draft') ORDER BY a.id";

impl Store {
    /// Proposes, accepts, rejects or ends the embargo of an advisory. The organisation's
    /// triagers speak for the organisation; an invited downstream participant for the
    /// organisation named on their invitation.
    pub async fn negotiate_embargo(
        &self,
        actor: Actor,
        id: &AdvisoryId,
        action: EmbargoAction,
    ) -> Result<Authorized<Advisory>> {
        let downstream = self.invited_on_behalf_of(actor, id).await?;
        let (org_slug, max) = {
            let row = sqlx::query(
                "SELECT o.slug FROM advisories a JOIN orgs o ON o.id = a.org_id WHERE a.id = $1",
            )
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
            match row {
                Some(r) => {
                    let slug: String = r.try_get("slug")?;
                    let org = self
                        .org(&embargo_domain::types::Slug::parse(&slug)?)
                        .await?;
                    (slug, org.policy.embargo_max.0)
                }
                // The decision below answers as for any missing advisory.
                None => (String::new(), time::Duration::ZERO),
            }
        };
        let now = self.now();
        self.change(
            actor,
            id,
            Action::NegotiateEmbargo,
            "negotiate the embargo of",
            None,
            |current| {
                let a = current.get();
                let rel = current.relations();
                let for_organisation =
                    actor.system_task().is_some() || rel.maintainer || rel.security_manager;
                let party = if for_organisation {
                    org_slug.clone()
                } else {
                    downstream.clone().unwrap_or_else(|| "downstream".into())
                };
                let cx = EmbargoContext {
                    now,
                    max,
                    no_new_embargo: if a.state.is_public() {
                        Some("the advisory is public")
                    } else {
                        a.case.no_new_embargo()
                    },
                    for_organisation,
                };
                let embargo = a.embargo.after(action, &party, &cx).map_err(|r| match r {
                    EmbargoRefusal::State(m) => StoreError::Conflict(m),
                    EmbargoRefusal::Invalid(f) => StoreError::Invalid(f),
                })?;
                Ok(Change::EmbargoChanged {
                    action,
                    party,
                    embargo,
                })
            },
        )
        .await
        .map(|(a, _)| a)
    }

    /// The organisation an invited collaborator speaks for (their address when none).
    async fn invited_on_behalf_of(&self, actor: Actor, id: &AdvisoryId) -> Result<Option<String>> {
        let Some(user) = actor.account_id() else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT c.organisation, c.email FROM collaborators c WHERE c.advisory_id = $1 AND c.user_id = $2
             AND c.accepted_at IS NOT NULL AND c.revoked_at IS NULL ORDER BY c.id DESC",
        )
        .bind(id.as_str())
        .bind(user)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some(
                r.try_get::<Option<String>, _>("organisation")?
                    .filter(|o| !o.trim().is_empty())
                    .unwrap_or(r.try_get("email")?),
            ),
            None => None,
        })
    }

    /// Sets one of the case's flags (in the protocol's order, once).
    pub async fn set_case_flag(
        &self,
        actor: Actor,
        id: &AdvisoryId,
        flag: CaseFlag,
    ) -> Result<Authorized<Advisory>> {
        self.change(
            actor,
            id,
            Action::SetCaseFlag,
            "set the case flags of",
            None,
            |current| {
                current
                    .get()
                    .case
                    .check(flag)
                    .map_err(StoreError::Conflict)?;
                Ok(Change::CaseFlagSet { flag })
            },
        )
        .await
        .map(|(a, _)| a)
    }

    /// Marks the advisory ready (or not) to publish itself when its embargo ends.
    pub async fn set_ready(
        &self,
        actor: Actor,
        id: &AdvisoryId,
        ready: bool,
    ) -> Result<Authorized<Advisory>> {
        self.change(
            actor,
            id,
            Action::MarkReady,
            "mark ready",
            None,
            |current| {
                if ready {
                    current.get().check_publishable()?;
                }
                Ok(Change::ReadyChanged { ready })
            },
        )
        .await
        .map(|(a, _)| a)
    }

    /// The advisory and the end of its embargo, for its pre-notification: the audience only
    /// (the rule's `ReadThread`), while an embargo is in force; each fetch is a read in the
    /// access log.
    pub async fn pre_notification_of(
        &self,
        actor: Actor,
        id: &AdvisoryId,
    ) -> Result<(Authorized<Advisory>, OffsetDateTime)> {
        let a = self.decided(actor, id, Action::ReadThread, "read").await?;
        let e = &a.get().embargo;
        let Some(planned) = e.ends_at.filter(|_| e.state.in_force()) else {
            return Err(StoreError::Conflict(
                "there is no embargo in force: a pre-notification needs an agreed end (propose one with POST .../embargo)".into(),
            ));
        };
        self.audit_read(actor, "read_pre_notification", id).await?;
        Ok((a, planned))
    }

    /// Reports and drafts, with what the sweeps need. Open advisories are few beside the
    /// published ones; their sealed documents are opened here.
    async fn open_advisories(&self) -> Result<Vec<Open>> {
        let rows = sqlx::query(OPEN_ADVISORIES).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                Ok(Open {
                    advisory: open_doc(&self.keys, &id, &r.try_get::<String, _>("doc")?)?,
                    org_id: r.try_get("org_id")?,
                    repo_id: r.try_get("repo_id")?,
                    org_slug: r.try_get("slug")?,
                    mail_titles: r.try_get::<i64, _>("mail_titles")? != 0,
                })
            })
            .collect()
    }

    /// The keys of the notices already sent about open advisories: one read a sweep, so that
    /// a reminder sent before costs no write transaction each time the sweep passes it (the
    /// claim in [`Self::notice_in`] still decides when two instances race).
    async fn notices_sent_for_open(&self) -> Result<HashSet<String>> {
        let keys: Vec<String> = sqlx::query_scalar(
            "SELECT n.notice_key FROM advisories a JOIN notices_sent n ON n.advisory_id = a.id
             WHERE a.state IN ('triage', 'draft')",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(keys.into_iter().collect())
    }

    /// An organisation's settings, read once a sweep however many open advisories it has.
    async fn org_once<'c>(
        &self,
        cache: &'c mut HashMap<String, crate::Org>,
        slug: &str,
    ) -> Result<&'c crate::Org> {
        if !cache.contains_key(slug) {
            let org = self.org(&embargo_domain::types::Slug::parse(slug)?).await?;
            cache.insert(slug.to_owned(), org);
        }
        cache.get(slug).ok_or(StoreError::NotFound("organisation"))
    }

    /// Ends every embargo whose end has come (as "scheduled publication"), publishes the
    /// advisories marked ready, and warns the security managers ahead of the end of an
    /// embargo whose advisory is not ready. Safe to run on several instances at once.
    pub async fn run_embargo_ends(&self, base_url: &str) -> Result<SweepRun> {
        let now = self.now();
        let mut run = SweepRun::default();
        let system = Actor::System(SystemTask::ScheduledPublication);
        let (mut orgs, sent) = (HashMap::new(), self.notices_sent_for_open().await?);
        for open in self.open_advisories().await? {
            let a = &open.advisory;
            let Some(ends_at) = a.embargo.ends_at.filter(|_| a.embargo.state.in_force()) else {
                continue;
            };
            if ends_at <= now {
                match self
                    .negotiate_embargo(system, &a.id, EmbargoAction::Terminate)
                    .await
                {
                    Ok(_) => run.ended += 1,
                    // Another instance ended it first.
                    Err(StoreError::Conflict(_)) => continue,
                    Err(e) => return Err(e),
                }
                if a.ready && a.state == State::Draft {
                    match self
                        .transition(system, &a.id, crate::Transition::Publish)
                        .await
                    {
                        Ok(_) => run.published += 1,
                        Err(StoreError::Conflict(_) | StoreError::Invalid(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
                continue;
            }
            if a.ready {
                continue;
            }
            let org = self.org_once(&mut orgs, &open.org_slug).await?;
            // The nearest warning due (the list is longest first).
            if let Some(w) = org
                .policy
                .embargo_warnings
                .iter()
                .rev()
                .find(|w| now >= ends_at - w.0)
            {
                let key = format!(
                    "embargo_warning:{}:{}:{}",
                    a.id,
                    to_ms(ends_at),
                    w.0.whole_seconds()
                );
                if sent.contains(&key) {
                    continue;
                }
                let subject = format!(
                    "Embargo ends {} and {} is not ready",
                    format_instant(ends_at),
                    a.id
                );
                let body = format!(
                    "The embargo on {} ends {}, and the advisory is not marked ready: it will not publish itself. Mark it ready once the fix is released, or revise the embargo.\n\n{base_url}/advisories/{}\n",
                    a.id,
                    format_instant(ends_at),
                    a.id
                );
                run.notices += self
                    .send_notice(
                        &open,
                        &key,
                        &["security_managers"],
                        &subject,
                        &body,
                        Action::ReadThread,
                    )
                    .await?;
            }
        }
        Ok(run)
    }

    /// Reminds the maintainers and security managers before a report's response deadline
    /// (the policy's `reminders`), and escalates to the steering committee once it passed.
    pub async fn run_deadlines(&self, base_url: &str) -> Result<SweepRun> {
        let now = self.now();
        let mut run = SweepRun::default();
        let (mut orgs, sent) = (HashMap::new(), self.notices_sent_for_open().await?);
        for open in self.open_advisories().await? {
            let a = &open.advisory;
            if a.first_response_at.is_some() {
                continue;
            }
            let due = a.response_due_at;
            let link = format!("{base_url}/advisories/{}", a.id);
            if due <= now {
                let key = format!("escalation:{}:{}", a.id, to_ms(due));
                if sent.contains(&key) {
                    continue;
                }
                let subject = format!(
                    "Overdue: {} has had no reply since {}",
                    a.id,
                    format_instant(due)
                );
                let body = format!(
                    "The report {} ({}) was due a first reply by {} and has none. As the steering committee, see that someone answers the reporter.\n\n{link}\n",
                    a.id,
                    a.place(),
                    format_instant(due)
                );
                run.notices += self
                    .send_notice(
                        &open,
                        &key,
                        &["steering_committee", "security_managers"],
                        &subject,
                        &body,
                        Action::ReadThread,
                    )
                    .await?;
                continue;
            }
            let org = self.org_once(&mut orgs, &open.org_slug).await?;
            // The nearest reminder due (the list is longest first).
            if let Some(r) = org.policy.reminders.iter().rev().find(|r| now >= due - r.0) {
                let key = format!("reminder:{}:{}:{}", a.id, to_ms(due), r.0.whole_seconds());
                if sent.contains(&key) {
                    continue;
                }
                let subject = format!("Reply due {}: {}", format_instant(due), a.id);
                let body = format!(
                    "The report {} ({}) needs a first reply by {}.\n\n{link}\n",
                    a.id,
                    a.place(),
                    format_instant(due)
                );
                run.notices += self
                    .send_notice(
                        &open,
                        &key,
                        &["maintainers", "security_managers"],
                        &subject,
                        &body,
                        Action::ReadThread,
                    )
                    .await?;
            }
        }
        Ok(run)
    }

    /// Queues one notice about an open advisory (its own transaction); see [`Self::notice_in`].
    async fn send_notice(
        &self,
        open: &Open,
        key: &str,
        groups: &[&str],
        subject: &str,
        body: &str,
        action: Action,
    ) -> Result<usize> {
        let mut tx = self.pool.begin().await?;
        let n = self
            .notice_in(
                &mut tx,
                &Notice {
                    advisory: &open.advisory,
                    org_id: open.org_id,
                    repo_id: open.repo_id,
                    titles: open.mail_titles,
                },
                key,
                groups,
                subject,
                body,
                action,
            )
            .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Queues one notice to `groups` of the advisory's people (each of whom the access rule
    /// lets do `action`, and who did not turn it off), unless `key` was sent already. Returns
    /// the messages queued.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn notice_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        about: &Notice<'_>,
        key: &str,
        groups: &[&str],
        subject: &str,
        body: &str,
        action: Action,
    ) -> Result<usize> {
        let now = self.now();
        let a = about.advisory;
        if !Store::claim_notice(tx, key, a.id.as_str(), now).await? {
            return Ok(0);
        }
        let people = self
            .people_of(tx, about.org_id, about.repo_id, groups)
            .await?;
        let title = if about.titles {
            format!(" ({})", embargo_domain::notify::one_line(&a.content.title))
        } else {
            String::new()
        };
        let mut n = 0;
        for (user, email) in people {
            if !self.may_be_told(tx, user, a, action).await? {
                continue;
            }
            // Reminders may be turned off; escalations and warnings are always sent.
            if key.starts_with("reminder:")
                && !Store::wants_mail(tx, user, crate::preferences::Optional::Reminders).await?
            {
                continue;
            }
            let m = Message {
                to: email,
                subject: format!("[Embargo] {subject}{title}"),
                body: format!(
                    "{body}\nThis message names the report only; read it in Embargo. Do not forward this message: the report is under embargo until it is published.\n"
                ),
            };
            crate::mail::enqueue(tx, &m, now).await?;
            n += 1;
        }
        Ok(n)
    }

    /// Accounts in the named groups of an advisory's place.
    async fn people_of(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        org_id: i64,
        repo_id: Option<i64>,
        groups: &[&str],
    ) -> Result<Vec<(i64, String)>> {
        let mut out: Vec<(i64, String)> = Vec::new();
        for g in groups {
            let sql = match *g {
                "maintainers" => {
                    "SELECT u.id, u.email FROM maintainers m JOIN users u ON u.id = m.user_id WHERE m.repo_id = $2 AND $1 = $1 ORDER BY u.id"
                }
                "security_managers" => {
                    "SELECT u.id, u.email FROM org_members om JOIN users u ON u.id = om.user_id WHERE om.org_id = $1 AND om.role = 'security_manager' AND $2 = $2 ORDER BY u.id"
                }
                _ => {
                    "SELECT u.id, u.email FROM org_members om JOIN users u ON u.id = om.user_id WHERE om.org_id = $1 AND om.role = 'steering_committee' AND $2 = $2 ORDER BY u.id"
                }
            };
            let rows = sqlx::query(sql)
                .bind(org_id)
                .bind(repo_id.unwrap_or(-1))
                .fetch_all(&mut **tx)
                .await?;
            for r in &rows {
                let id: i64 = r.try_get("id")?;
                if !out.iter().any(|(o, _)| *o == id) {
                    out.push((id, r.try_get("email")?));
                }
            }
        }
        Ok(out)
    }
}

/// Whether an embargo ends within the policy's nearest warning while the advisory is not
/// ready: lists flag it.
pub fn embargo_needs_attention(a: &Advisory, warn: time::Duration, now: OffsetDateTime) -> bool {
    !a.ready && a.embargo.state.in_force() && a.embargo.ends_at.is_some_and(|e| e - warn <= now)
}

#[cfg(test)]
mod tests {
    /// The sweeps must not read every advisory (100,000 published ones took 0.4 s a sweep,
    /// every two seconds): SQLite plans the query through the partial index.
    #[tokio::test]
    async fn the_sweeps_find_open_advisories_through_their_index()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("plan.db").display());
        let (pool, backend) = crate::db::connect(&url).await?;
        crate::db::migrate(&pool, backend).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "EXPLAIN QUERY PLAN {}",
            super::OPEN_ADVISORIES
        )))
        .fetch_all(&pool)
        .await?;
        let plan = rows
            .iter()
            .map(|r| sqlx::Row::try_get::<String, _>(r, "detail"))
            .collect::<Result<Vec<_>, _>>()?;
        assert!(
            plan.iter().any(|d| d.contains("advisories_open")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|d| d == "SCAN a"), "{plan:?}");
        Ok(())
    }
}
