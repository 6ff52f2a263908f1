//! Advisories: filing, reading, listing, commenting, editing and moving through states.
//! Each function loads the caller's relations to the advisory, asks `access::decide`, and
//! only then reads further or writes.

use embargo_domain::FieldError;
use embargo_domain::access::{
    Action, Actor, Decision, OrgAction, OrgRelations, Relations, decide, decide_org,
};
use embargo_domain::advisory::{
    Advisory, Change, CloseReason, Edit, Filing, NewReport, State, limits,
};
use embargo_domain::error::check_text;
use embargo_domain::ids::{AdvisoryId, RANDOM_BYTES};
use embargo_domain::types::Slug;
use serde::Serialize;
// Dynamic SQL here is assembled only from this file's constants, never from input.
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use time::OffsetDateTime;

use crate::clock::{from_ms, to_ms};
use crate::crypto::Keyring;
use crate::secrets::random_bytes;
use crate::{Authorized, Result, Store, StoreError};

/// The caller's relations to the advisory row `a`, as columns `rel_*`. `$1` is the caller's
/// user id (-1 for anonymous, which matches nobody). The list filter below is built from the
/// same expressions, so a list holds what a direct read allows and nothing more.
const REL_REPORTER: &str = "a.reporter_id = $1";
const REL_MAINTAINER: &str =
    "EXISTS (SELECT 1 FROM maintainers m WHERE m.repo_id = a.repo_id AND m.user_id = $1)";
/// Organisation roles count only where two-factor sign-in is not required, or is on.
const REL_SECURITY_MANAGER: &str = "EXISTS (SELECT 1 FROM org_members om JOIN orgs mo ON mo.id = om.org_id WHERE om.org_id = a.org_id AND om.user_id = $1 AND om.role = 'security_manager' AND (mo.require_two_factor = 0 OR EXISTS (SELECT 1 FROM users mu WHERE mu.id = $1 AND mu.totp_enabled_at IS NOT NULL)))";
const REL_STEERING: &str = "EXISTS (SELECT 1 FROM org_members om JOIN orgs mo ON mo.id = om.org_id WHERE om.org_id = a.org_id AND om.user_id = $1 AND om.role = 'steering_committee' AND (mo.require_two_factor = 0 OR EXISTS (SELECT 1 FROM users mu WHERE mu.id = $1 AND mu.totp_enabled_at IS NOT NULL)))";
/// A role that waits for two-factor sign-in.
const REL_NEEDS_TWO_FACTOR: &str = "EXISTS (SELECT 1 FROM org_members om JOIN orgs mo ON mo.id = om.org_id WHERE om.org_id = a.org_id AND om.user_id = $1 AND mo.require_two_factor = 1 AND NOT EXISTS (SELECT 1 FROM users mu WHERE mu.id = $1 AND mu.totp_enabled_at IS NOT NULL))";
/// An accepted, unrevoked invitation; its expiry is checked against the clock in Rust.
const REL_COLLABORATOR: &str = "EXISTS (SELECT 1 FROM collaborators c WHERE c.advisory_id = a.id AND c.user_id = $1 AND c.accepted_at IS NOT NULL AND c.revoked_at IS NULL)";
const COLLABORATOR_UNTIL: &str = "(SELECT MAX(COALESCE(c.expires_at, 9223372036854775807)) FROM collaborators c WHERE c.advisory_id = a.id AND c.user_id = $1 AND c.accepted_at IS NOT NULL AND c.revoked_at IS NULL)";
/// The same, for invitations with write access to the fix repository.
const COLLABORATOR_WRITES_UNTIL: &str = "(SELECT MAX(COALESCE(c.expires_at, 9223372036854775807)) FROM collaborators c WHERE c.advisory_id = a.id AND c.user_id = $1 AND c.accepted_at IS NOT NULL AND c.revoked_at IS NULL AND c.can_write = 1)";

pub(crate) fn relation_columns() -> String {
    [
        (REL_REPORTER, "rel_reporter"),
        (REL_MAINTAINER, "rel_maintainer"),
        (REL_SECURITY_MANAGER, "rel_sm"),
        (REL_STEERING, "rel_sc"),
        (REL_NEEDS_TWO_FACTOR, "rel_needs_two_factor"),
    ]
    .iter()
    .map(|(expr, name)| format!("CAST(CASE WHEN {expr} THEN 1 ELSE 0 END AS BIGINT) AS {name}"))
    .chain([
        format!("{COLLABORATOR_UNTIL} AS rel_collaborator_until"),
        format!("{COLLABORATOR_WRITES_UNTIL} AS rel_collaborator_writes_until"),
    ])
    .collect::<Vec<_>>()
    .join(", ")
}

/// Rows the caller could possibly read: public states, or any relation.
fn visibility_filter() -> String {
    format!(
        "(a.state IN ('published', 'withdrawn', 'disclosed') OR {REL_REPORTER} OR {REL_MAINTAINER} OR {REL_SECURITY_MANAGER} OR {REL_STEERING} OR {REL_COLLABORATOR})"
    )
}

/// The relations in a row, at time `now` (an invitation past its expiry gives none).
pub(crate) fn relations_from_row(row: &AnyRow, now: OffsetDateTime) -> Result<Relations> {
    let flag = |c: &str| -> Result<bool> { Ok(row.try_get::<i64, _>(c)? != 0) };
    let until: Option<i64> = row.try_get("rel_collaborator_until")?;
    let writes_until: Option<i64> = row.try_get("rel_collaborator_writes_until")?;
    Ok(Relations {
        reporter: flag("rel_reporter")?,
        maintainer: flag("rel_maintainer")?,
        security_manager: flag("rel_sm")?,
        steering_committee: flag("rel_sc")?,
        collaborator: until.is_some_and(|t| t > to_ms(now)),
        collaborator_writes: writes_until.is_some_and(|t| t > to_ms(now)),
        needs_two_factor: flag("rel_needs_two_factor")?,
    })
}

fn advisory_from_row(keys: &Keyring, row: &AnyRow) -> Result<Advisory> {
    let id: String = row.try_get("id")?;
    open_doc(keys, &id, &row.try_get::<String, _>("doc")?)
}

/// The advisory of a stored `doc` column (sealed while unpublished).
pub(crate) fn open_doc(keys: &Keyring, id: &str, doc: &str) -> Result<Advisory> {
    let doc = keys.open(&doc_aad(id), doc)?;
    serde_json::from_str(&doc)
        .map_err(|e| StoreError::Internal(format!("stored advisory does not read back: {e}")))
}

/// Where sealed values live, for their associated data.
pub(crate) fn doc_aad(id: &str) -> String {
    format!("advisories.doc:{id}")
}

pub(crate) fn comment_aad(id: &str) -> String {
    format!("comments.body:{id}")
}

pub(crate) fn event_aad(id: &str) -> String {
    format!("events.data:{id}")
}

/// Every severity vector must score (not merely look like a vector), and a score sent with
/// one must be the score Embargo computes from it.
pub(crate) fn check_cvss(
    content: &embargo_domain::advisory::Content,
    submitted: Option<&serde_json::Number>,
) -> Result<()> {
    let many = content.cvss_vectors.len() > 1;
    let mut scores = Vec::new();
    for (i, v) in content.cvss_vectors.iter().enumerate() {
        let field = if many {
            format!("cvss_vectors[{i}]")
        } else {
            "cvss_vector".to_owned()
        };
        let c = embargo_formats::cvss::parse(v.as_str())
            .map_err(|e| FieldError::new(field, e.to_string()))?;
        scores.push(c.base_score());
    }
    if let Some(n) = submitted {
        let given = n.as_f64().unwrap_or(-1.0);
        match scores.as_slice() {
            [computed] if (computed - given).abs() < 0.05 => {}
            [computed] => {
                return Err(FieldError::new(
                    "cvss_score",
                    format!("{given} disagrees with the vector, which scores {computed:.1}; leave the score out and Embargo computes it"),
                )
                .into());
            }
            _ => {
                return Err(FieldError::new(
                    "cvss_score",
                    "goes with exactly one vector (cvss_vector)",
                )
                .into());
            }
        }
    }
    Ok(())
}

/// The stored form of an advisory's read model: sealed unless it is public.
pub(crate) fn seal_doc(keys: &Keyring, advisory: &Advisory) -> Result<String> {
    let doc = serde_json::to_string(advisory).map_err(|e| StoreError::Internal(e.to_string()))?;
    if advisory.state.is_public() {
        Ok(doc)
    } else {
        keys.seal(&doc_aad(advisory.id.as_str()), &doc)
    }
}

/// The account whose relations are computed: -1 (nobody) for the public and for a private
/// link, whose one relation is checked apart ([`decided_on`]).
fn caller_id(actor: Actor) -> i64 {
    actor.account_id().unwrap_or(-1)
}

/// A state change a triager asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    Accept,
    Close {
        reason: CloseReason,
        message: Option<String>,
        duplicate_of: Option<AdvisoryId>,
    },
    Reopen,
    Publish,
    /// With the reason, shown publicly.
    Withdraw {
        reason: String,
    },
}

impl Transition {
    fn action(&self) -> (Action, &'static str) {
        match self {
            Self::Accept => (Action::Accept, "accept"),
            Self::Close { .. } => (Action::Close, "close"),
            Self::Reopen => (Action::Reopen, "reopen"),
            Self::Publish => (Action::Publish, "publish"),
            Self::Withdraw { .. } => (Action::Withdraw, "withdraw"),
        }
    }
}

/// A comment in an advisory's private thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Comment {
    pub id: i64,
    pub author: String,
    #[serde(skip)]
    pub author_id: i64,
    pub body: String,
    /// An internal note of the triagers (only they are ever given these).
    pub internal: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// One entry of an advisory's audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EventRecord {
    pub id: i64,
    pub kind: String,
    pub actor: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub data: serde_json::Value,
}

/// Which advisories a list shows.
#[derive(Debug, Clone, Default)]
pub struct AdvisoryFilter {
    pub state: Option<State>,
    pub org: Option<Slug>,
    /// Only those where the caller is in the audience (their work), not merely public ones.
    pub audience_only: bool,
    /// Closed with this reason. Spam is left out of every list that does not ask for it.
    pub reason: Option<CloseReason>,
    pub repo: Option<Slug>,
    /// Words the title (for the audience) or summary must contain, in any case.
    pub q: Option<String>,
    pub sort: Sort,
    /// Where the previous page ended ([`Cursor::after`] of its last row).
    pub cursor: Option<Cursor>,
    pub limit: i64,
    pub offset: i64,
}

/// The order of a list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    /// Most recently changed first.
    #[default]
    Updated,
    /// Most recently filed first.
    Created,
    /// The response deadline nearest (or most overdue) first.
    Deadline,
}

impl Sort {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "updated" => Ok(Self::Updated),
            "created" => Ok(Self::Created),
            "deadline" => Ok(Self::Deadline),
            _ => Err(FieldError::new("sort", "must be updated, created or deadline").into()),
        }
    }

    /// Column and direction.
    fn column(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Updated => ("a.updated_at", "DESC", "<"),
            Self::Created => ("a.created_at", "DESC", "<"),
            Self::Deadline => ("COALESCE(a.response_due_at, 0)", "ASC", ">"),
        }
    }

    fn key(self, a: &Advisory) -> i64 {
        match self {
            Self::Updated => to_ms(a.updated_at),
            Self::Created => to_ms(a.created_at),
            Self::Deadline => to_ms(a.response_due_at),
        }
    }
}

/// A position in a sorted list: the sort key and id of the last row seen. Opaque to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    key: i64,
    id: String,
}

impl Cursor {
    /// The cursor that continues after `a` in `sort` order.
    pub fn after(sort: Sort, a: &Advisory) -> Self {
        Self {
            key: sort.key(a),
            id: a.id.to_string(),
        }
    }

    pub fn encode(&self) -> String {
        crate::secrets::hex(format!("{}:{}", self.key, self.id).as_bytes())
    }

    pub fn decode(s: &str) -> Result<Self> {
        let bad = || {
            StoreError::Invalid(FieldError::new(
                "cursor",
                "is not a cursor this server gave out",
            ))
        };
        let bytes: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
            .collect::<Option<_>>()
            .ok_or_else(bad)?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let (key, id) = text.split_once(':').ok_or_else(bad)?;
        AdvisoryId::parse(id).map_err(|_| bad())?;
        Ok(Self {
            key: key.parse().map_err(|_| bad())?,
            id: id.to_owned(),
        })
    }
}

impl Store {
    /// Loads one advisory with the caller's relations and takes the access decision.
    pub(crate) async fn decided(
        &self,
        actor: Actor,
        id: &AdvisoryId,
        action: Action,
        verb: &str,
    ) -> Result<Authorized<Advisory>> {
        let mut conn = self.pool.acquire().await?;
        let a = decided_on(&mut conn, &self.keys, self.now(), actor, id, action, verb).await?;
        if action != Action::Read || a.relations().in_audience() {
            return Ok(a);
        }
        // Outside the audience, the public version: credits only with consent.
        let rel = a.relations();
        let mut a = a.into_inner();
        crate::credits::keep_public_credits(&mut conn, &mut a).await?;
        Ok(Authorized::new(a, rel))
    }

    /// Reads an advisory the caller may see; `NotFound` otherwise, exactly as for an id that
    /// does not exist.
    pub async fn advisory(&self, actor: Actor, id: &AdvisoryId) -> Result<Authorized<Advisory>> {
        let a = self.decided(actor, id, Action::Read, "read").await?;
        if !a.get().state.is_public() {
            self.audit_read(actor, "read", id).await?;
        }
        Ok(a)
    }

    /// The advisories the caller may see, most recently changed first.
    pub async fn advisories(
        &self,
        actor: Actor,
        filter: &AdvisoryFilter,
    ) -> Result<Vec<Authorized<Advisory>>> {
        let audience = format!(
            "({REL_REPORTER} OR {REL_MAINTAINER} OR {REL_SECURITY_MANAGER} OR {REL_STEERING} OR {REL_COLLABORATOR})"
        );
        let (key, dir, beyond) = filter.sort.column();
        let sql = format!(
            "SELECT a.id, a.doc, {rel} FROM advisories a JOIN orgs o ON o.id = a.org_id LEFT JOIN repos r ON r.id = a.repo_id
             WHERE {vis} AND ($2 = '' OR a.state = $2) AND ($3 = '' OR o.slug = $3) AND ($4 = 0 OR {audience})
             AND ($7 = '' OR a.close_reason = $7) AND ($7 = 'spam' OR a.close_reason IS NULL OR a.close_reason <> 'spam')
             AND ($8 = '' OR r.slug = $8)
             AND ($9 = '' OR {key} {beyond} $10 OR ({key} = $10 AND a.id > $9))
             ORDER BY {key} {dir}, a.id LIMIT $5 OFFSET $6",
            rel = relation_columns(),
            vis = visibility_filter(),
        );
        // Words in the title are matched after opening the sealed rows, over a larger page.
        let fetch = if filter.q.is_some() {
            500
        } else {
            filter.limit.clamp(1, 500)
        };
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(caller_id(actor))
            .bind(filter.state.map(State::as_str).unwrap_or_default())
            .bind(filter.org.as_ref().map(Slug::as_str).unwrap_or_default())
            .bind(i64::from(filter.audience_only))
            .bind(fetch)
            .bind(filter.offset.max(0))
            .bind(filter.reason.map(CloseReason::as_str).unwrap_or_default())
            .bind(filter.repo.as_ref().map(Slug::as_str).unwrap_or_default())
            .bind(
                filter
                    .cursor
                    .as_ref()
                    .map(|c| c.id.clone())
                    .unwrap_or_default(),
            )
            .bind(filter.cursor.as_ref().map_or(0, |c| c.key))
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let advisory = advisory_from_row(&self.keys, row)?;
            let rel = relations_from_row(row, self.now())?;
            // The same rule as a direct read, row by row: the SQL filter is only a pre-selection.
            if decide(rel, Action::Read, advisory.state) != Decision::Allow {
                continue;
            }
            if let Some(q) = &filter.q {
                let q = q.to_lowercase();
                let title = if rel.in_audience() {
                    advisory.content.title.to_lowercase()
                } else {
                    String::new()
                };
                if !title.contains(&q) && !advisory.content.headline().to_lowercase().contains(&q) {
                    continue;
                }
            }
            let mut advisory = advisory;
            if !rel.in_audience() {
                self.keep_public_credits(std::slice::from_mut(&mut advisory))
                    .await?;
            }
            out.push(Authorized::new(advisory, rel));
        }
        out.truncate(usize::try_from(filter.limit.clamp(1, 500)).unwrap_or(100));
        let unpublished: Vec<&AdvisoryId> = out
            .iter()
            .filter(|a| !a.get().state.is_public())
            .map(|a| &a.get().id)
            .collect();
        self.audit_list(actor, &unpublished).await?;
        Ok(out)
    }

    /// Every public (published or withdrawn) advisory, of one organisation or all, most
    /// recently changed first: what feeds, the CSAF directory and the OSV query API serve.
    /// It reads as the anonymous actor, so the one access rule decides what is public.
    pub async fn public_advisories(&self, org: Option<&Slug>) -> Result<Vec<Advisory>> {
        let mut out: Vec<Advisory> = Vec::new();
        let mut filter = AdvisoryFilter {
            org: org.cloned(),
            sort: Sort::Updated,
            limit: 500,
            ..AdvisoryFilter::default()
        };
        loop {
            let page = self.advisories(Actor::Anonymous, &filter).await?;
            let full = page.len() == 500;
            let last = page.last().map(|a| Cursor::after(Sort::Updated, a.get()));
            out.extend(page.into_iter().map(Authorized::into_inner));
            match last {
                Some(c) if full => filter.cursor = Some(c),
                _ => break,
            }
        }
        // Public documents list by public change: an internal note must not reorder them.
        out.sort_by(|a, b| {
            b.public_modified_at()
                .cmp(&a.public_modified_at())
                .then_with(|| a.id.as_str().cmp(b.id.as_str()))
        });
        Ok(out)
    }

    /// Files a private report against a repository. Any signed-in user may.
    /// With `repo` `None`, the report waits in the organisation's inbox for a triager to
    /// assign it to a repository (its security managers and steering committee see it).
    pub async fn file_report(
        &self,
        actor: Actor,
        org: &Slug,
        repo: Option<&Slug>,
        report: NewReport,
    ) -> Result<Authorized<Advisory>> {
        let repo = match repo {
            Some(r) => Some(self.repo(org, r).await?),
            None => None,
        };
        let org = self.org(org).await?;
        let Actor::User {
            id: reporter_id, ..
        } = actor
        else {
            return Err(StoreError::Forbidden("sign in to file a report".into()));
        };
        if decide_org(actor, OrgRelations::default(), OrgAction::FileReport) != Decision::Allow {
            return Err(StoreError::Forbidden(
                "you may not file reports here".into(),
            ));
        }
        let submitted = report.cvss_score.clone();
        let content = report.into_content()?;
        check_cvss(&content, submitted.as_ref())?;
        self.check_may_file(org.id, reporter_id, org.policy.reports_per_hour)
            .await?;
        let now = self.now();
        let filing = Filing {
            id: AdvisoryId::from_random(random_bytes::<RANDOM_BYTES>()?),
            org: org.slug.clone(),
            repo: repo.as_ref().map(|r| r.slug.clone()),
            reporter_id,
            response_due_at: org.policy.response_due(now),
        };
        let advisory = Advisory::reported(filing, content.clone(), now);
        let doc = seal_doc(&self.keys, &advisory)?;
        // Filings arriving together share one commit (group commit); each is answered
        // once that commit is durable.
        let (store, id, org_id, repo_id) = (
            self.clone(),
            advisory.id.clone(),
            org.id,
            repo.as_ref().map(|r| r.id),
        );
        let (state, revision, due) = (
            advisory.state.as_str(),
            advisory.revision,
            to_ms(advisory.response_due_at),
        );
        self.in_shared_tx(Box::new(move |tx| {
            // The write may run twice (see `group_tx`): each run has its own copies.
            let (store, id, doc, content) = (store.clone(), id.clone(), doc.clone(), content.clone());
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO advisories (id, org_id, repo_id, reporter_id, state, revision, doc, created_at, updated_at, response_due_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
                )
                .bind(id.as_str())
                .bind(org_id)
                .bind(repo_id)
                .bind(reporter_id)
                .bind(state)
                .bind(revision)
                .bind(doc)
                .bind(to_ms(now))
                .bind(due)
                .execute(&mut **tx)
                .await?;
                store
                    .insert_event(tx, &id, org_id, actor, &Change::Reported { content }, now)
                    .await
            })
        }))
        .await?;
        let rel = Relations {
            reporter: true,
            ..Relations::default()
        };
        // The reporter may also be a triager of this repository: re-read the real relations.
        match self
            .decided(actor, &advisory.id, Action::Read, "read")
            .await
        {
            Ok(a) => Ok(a),
            Err(_) => Ok(Authorized::new(advisory, rel)),
        }
    }

    /// Starts a transaction with the advisory's row locked and the access decision taken
    /// on what is stored now, for writes that are not changes of the read model.
    pub(crate) async fn begin_decided(
        &self,
        actor: Actor,
        id: &AdvisoryId,
        action: Action,
        verb: &str,
    ) -> Result<(sqlx::Transaction<'static, sqlx::Any>, Authorized<Advisory>)> {
        let mut tx = self.pool.begin().await?;
        lock_advisory(&mut tx, self.backend, id).await?;
        let current = decided_on(&mut tx, &self.keys, self.now(), actor, id, action, verb).await?;
        Ok((tx, current))
    }

    /// Takes the access decision and writes the change in one transaction, with the
    /// advisory's row locked first: concurrent writers to one advisory take turns, each
    /// deciding on the state the previous one left. Read model, comment and event are
    /// written together or not at all.
    pub(crate) async fn change<F>(
        &self,
        actor: Actor,
        id: &AdvisoryId,
        action: Action,
        verb: &str,
        comment_body: Option<&str>,
        build: F,
    ) -> Result<(Authorized<Advisory>, Change)>
    where
        F: Fn(&Authorized<Advisory>) -> Result<Change>,
    {
        let mut tx = self.pool.begin().await?;
        lock_advisory(&mut tx, self.backend, id).await?;
        let current = decided_on(&mut tx, &self.keys, self.now(), actor, id, action, verb).await?;
        let change = build(&current)?;
        let now = self.now();
        let mut next = current.get().clone();
        next.apply(&change, now);
        let doc = seal_doc(&self.keys, &next)?;
        let updated = sqlx::query(
            "UPDATE advisories SET doc = $1, state = $2, revision = $3, updated_at = $4, published_at = $5, close_reason = $8
             WHERE id = $6 AND revision = $7",
        )
        .bind(doc)
        .bind(next.state.as_str())
        .bind(next.revision)
        .bind(to_ms(now))
        .bind(next.published_at.map(to_ms))
        .bind(next.id.as_str())
        .bind(current.get().revision)
        .bind(next.close_reason.map(CloseReason::as_str))
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            // Cannot happen while the row is locked; refuse rather than overwrite.
            return Err(StoreError::Conflict(
                "the advisory was changed by someone else; try again".into(),
            ));
        }
        let change = match (change, comment_body) {
            (
                Change::Commented {
                    by_triager,
                    internal,
                    ..
                },
                Some(body),
            ) => {
                let row = sqlx::query(
                    "INSERT INTO comments (advisory_id, author_id, body, created_at, internal) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(next.id.as_str())
                .bind(actor.user_id().unwrap_or(-1))
                .bind(self.keys.seal(&comment_aad(next.id.as_str()), body)?)
                .bind(to_ms(now))
                .bind(i64::from(internal))
                .fetch_one(&mut *tx)
                .await?;
                Change::Commented {
                    comment_id: row.try_get("id")?,
                    by_triager,
                    internal,
                }
            }
            (change, _) => change,
        };
        let org_id: i64 = sqlx::query_scalar("SELECT org_id FROM advisories WHERE id = $1")
            .bind(next.id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        self.insert_event(&mut tx, &next.id, org_id, actor, &change, now)
            .await?;
        // The public read model and revision, when the change is public.
        crate::public_index::after_change(&mut tx, Some(current.get()), &next, org_id).await?;
        crate::spam::after_change(&mut tx, &next, org_id, actor, &change, now).await?;
        // CVE numbering: an assigned id, and the record sent when the public change.
        crate::cve::after_change(&mut tx, &next, org_id, &change, now).await?;
        tx.commit().await?;
        Ok((Authorized::new(next, current.relations()), change))
    }

    pub async fn transition(
        &self,
        actor: Actor,
        id: &AdvisoryId,
        t: Transition,
    ) -> Result<Authorized<Advisory>> {
        let (action, verb) = t.action();
        if let Transition::Close {
            message,
            reason,
            duplicate_of,
        } = &t
        {
            if let Some(m) = message {
                check_text("message", m, limits::CLOSE_MESSAGE, true)?;
            }
            reason.check_duplicate_of(duplicate_of.as_ref())?;
            if let Some(original) = duplicate_of {
                self.check_duplicate(actor, id, original).await?;
            }
        }
        if let Transition::Withdraw { reason } = &t {
            check_text("reason", reason, limits::WITHDRAW_REASON, true)?;
            if reason.trim().is_empty() {
                return Err(StoreError::Invalid(FieldError::new(
                    "reason",
                    "is empty; say why the advisory is withdrawn (it is shown publicly)",
                )));
            }
        }
        self.change(actor, id, action, verb, None, |current| {
            Ok(match &t {
                Transition::Accept => Change::Accepted,
                Transition::Close {
                    reason,
                    message,
                    duplicate_of,
                } => Change::Closed {
                    reason: *reason,
                    message: message.clone(),
                    duplicate_of: duplicate_of.clone(),
                },
                Transition::Reopen => Change::Reopened,
                Transition::Publish => {
                    let e = &current.get().embargo;
                    if !e.state.allows_publication() {
                        return Err(StoreError::Conflict(format!(
                            "the embargo is {}{}: publication waits until it ends or is ended (or the proposal is rejected)",
                            e.state.as_str(),
                            e.ends_at
                                .map(|t| format!(" until {}", embargo_domain::embargo::format_instant(t)))
                                .unwrap_or_default()
                        )));
                    }
                    current.get().check_publishable()?;
                    Change::Published
                }
                Transition::Withdraw { reason } => Change::Withdrawn {
                    reason: Some(reason.trim().to_owned()),
                },
            })
        })
        .await
        .map(|(a, _)| a)
    }

    /// Moves an advisory to another repository of its organisation, or assigns a report
    /// from the organisation's inbox. The audience changes at once: the old repository's
    /// maintainers lose access unless another role gives it.
    pub async fn transfer(
        &self,
        actor: Actor,
        id: &AdvisoryId,
        to: &Slug,
    ) -> Result<Authorized<Advisory>> {
        let (mut tx, current) = self
            .begin_decided(actor, id, Action::Transfer, "transfer")
            .await?;
        let adv = current.get();
        let target = sqlx::query("SELECT r.id FROM repos r JOIN orgs o ON o.id = r.org_id WHERE o.slug = $1 AND r.slug = $2")
            .bind(adv.org.as_str())
            .bind(to.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| {
                StoreError::Invalid(FieldError::new(
                    "repo",
                    format!("organisation {} has no repository {to}; transfers stay within the organisation", adv.org),
                ))
            })?;
        let repo_id: i64 = target.try_get("id")?;
        if adv.repo.as_ref() == Some(to) {
            return Err(StoreError::Invalid(FieldError::new(
                "repo",
                "the advisory is in this repository already",
            )));
        }
        let now = self.now();
        let change = Change::Transferred {
            from: adv.repo.clone(),
            to: to.clone(),
        };
        let mut next = adv.clone();
        next.apply(&change, now);
        sqlx::query("UPDATE advisories SET doc = $1, repo_id = $2, revision = $3, updated_at = $4 WHERE id = $5")
            .bind(seal_doc(&self.keys, &next)?)
            .bind(repo_id)
            .bind(next.revision)
            .bind(to_ms(now))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        let org_id: i64 = sqlx::query_scalar("SELECT org_id FROM advisories WHERE id = $1")
            .bind(id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        self.insert_event(&mut tx, id, org_id, actor, &change, now)
            .await?;
        crate::public_index::after_change(&mut tx, Some(adv), &next, org_id).await?;
        tx.commit().await?;
        // The caller's own access may have changed with the move.
        match self.decided(actor, id, Action::Read, "read").await {
            Ok(a) => Ok(a),
            Err(_) => Ok(Authorized::new(
                next,
                embargo_domain::access::Relations::default(),
            )),
        }
    }

    /// Edits a report or draft; refuses an edit that breaks a limit, storing nothing.
    pub async fn edit(
        &self,
        actor: Actor,
        id: &AdvisoryId,
        edit: Edit,
    ) -> Result<Authorized<Advisory>> {
        if edit.is_empty() {
            return Err(StoreError::Invalid(FieldError::new(
                "",
                "the request changes nothing; send at least one field",
            )));
        }
        edit.check()?;
        self.change(actor, id, Action::Edit, "edit", None, |current| {
            let next = edit.applied_to(&current.get().content);
            next.check()?;
            check_cvss(&next, edit.cvss_score.as_ref())?;
            let mut edit = edit.clone();
            if current.get().state.is_public() {
                // Every public change is a revision with its change-log line.
                if edit.revision_summary.is_none() {
                    edit.revision_summary = Some(edit.describe());
                }
            } else {
                edit.revision_summary = None;
            }
            Ok(Change::Edited { edit })
        })
        .await
        .map(|(a, _)| a)
    }

    /// Adds a comment to the private thread; returns the advisory after it and the comment.
    pub async fn comment(
        &self,
        actor: Actor,
        id: &AdvisoryId,
        body: &str,
        internal: bool,
    ) -> Result<(Authorized<Advisory>, Comment)> {
        if body.trim().is_empty() {
            return Err(StoreError::Invalid(FieldError::new("body", "is empty")));
        }
        check_text("body", body, limits::COMMENT, true)?;
        let (advisory, change) = self
            .change(
                actor,
                id,
                if internal {
                    Action::InternalNotes
                } else {
                    Action::Comment
                },
                if internal {
                    "write internal notes on"
                } else {
                    "comment on"
                },
                Some(body),
                |current| {
                    Ok(Change::Commented {
                        comment_id: 0,
                        by_triager: current.relations().is_triager(),
                        internal,
                    })
                },
            )
            .await?;
        let Change::Commented { comment_id, .. } = change else {
            return Err(StoreError::Internal(
                "a comment became another change".into(),
            ));
        };
        let author_id = caller_id(actor);
        let author = self
            .user_by_id(author_id)
            .await?
            .map(|u| u.name)
            .unwrap_or_default();
        let comment = Comment {
            id: comment_id,
            author,
            author_id,
            body: body.to_owned(),
            internal,
            created_at: advisory.get().updated_at,
        };
        Ok((advisory, comment))
    }

    /// The private thread, oldest first.
    pub async fn comments(&self, actor: Actor, id: &AdvisoryId) -> Result<Vec<Comment>> {
        let a = self
            .decided(actor, id, Action::ReadThread, "read the thread of")
            .await?;
        if !a.get().state.is_public() {
            self.audit_read(actor, "read_thread", id).await?;
        }
        self.thread_of(&a).await
    }

    /// The thread of an advisory whose thread the caller may read (decided before), without
    /// an access-log entry of its own: the caller writes it.
    pub(crate) async fn thread_of(&self, a: &Authorized<Advisory>) -> Result<Vec<Comment>> {
        let id = &a.get().id;
        // The same rule decides whether internal notes are part of the answer.
        let notes = decide(a.relations(), Action::InternalNotes, a.get().state) == Decision::Allow;
        let rows = sqlx::query(
            "SELECT c.id, c.author_id, u.name, c.body, c.created_at, c.internal FROM comments c JOIN users u ON u.id = c.author_id
             WHERE c.advisory_id = $1 AND (c.internal = 0 OR $2 = 1) ORDER BY c.id",
        )
        .bind(id.as_str())
        .bind(i64::from(notes))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Comment {
                    id: r.try_get("id")?,
                    author_id: r.try_get("author_id")?,
                    author: r.try_get("name")?,
                    body: self
                        .keys
                        .open(&comment_aad(id.as_str()), &r.try_get::<String, _>("body")?)?,
                    internal: r.try_get::<i64, _>("internal")? != 0,
                    created_at: from_ms(r.try_get("created_at")?),
                })
            })
            .collect()
    }

    /// The audit trail of one advisory (security managers).
    pub async fn events(&self, actor: Actor, id: &AdvisoryId) -> Result<Vec<EventRecord>> {
        let a = self
            .decided(actor, id, Action::ReadEvents, "read the audit trail of")
            .await?;
        if !a.get().state.is_public() {
            self.audit_read(actor, "read_events", id).await?;
        }
        self.events_of(id).await
    }

    /// The events of an advisory whose trail the caller may read (decided before), without
    /// an access-log entry of its own: the caller writes it.
    pub(crate) async fn events_of(&self, id: &AdvisoryId) -> Result<Vec<EventRecord>> {
        let rows = sqlx::query(
            "SELECT e.id, e.kind, COALESCE(u.email, 'Embargo (' || e.system_actor || ')') AS email, e.data, e.at FROM events e LEFT JOIN users u ON u.id = e.actor_id
             WHERE e.advisory_id = $1 ORDER BY e.id",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let data = self
                    .keys
                    .open(&event_aad(id.as_str()), &r.try_get::<String, _>("data")?)?;
                Ok(EventRecord {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    actor: r.try_get("email")?,
                    at: from_ms(r.try_get("at")?),
                    data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
                })
            })
            .collect()
    }

    /// Replays an advisory's events from the start, for checking that the read model is
    /// their fold. Not an access path: it returns only whether the two agree.
    pub async fn replay_matches(&self, id: &AdvisoryId) -> Result<bool> {
        let stored = sqlx::query("SELECT id, doc FROM advisories WHERE id = $1")
            .bind(id.as_str())
            .fetch_one(&self.pool)
            .await?;
        let stored = advisory_from_row(&self.keys, &stored)?;
        let rows = sqlx::query("SELECT data, at FROM events WHERE advisory_id = $1 ORDER BY id")
            .bind(id.as_str())
            .fetch_all(&self.pool)
            .await?;
        let mut replayed: Option<Advisory> = None;
        for r in &rows {
            let data = self
                .keys
                .open(&event_aad(id.as_str()), &r.try_get::<String, _>("data")?)?;
            let change: Change =
                serde_json::from_str(&data).map_err(|e| StoreError::Internal(e.to_string()))?;
            let at = from_ms(r.try_get("at")?);
            match (&mut replayed, &change) {
                (None, Change::Reported { content }) => {
                    let filing = Filing {
                        id: stored.id.clone(),
                        org: stored.org.clone(),
                        repo: stored.repo.clone(),
                        reporter_id: stored.reporter_id,
                        response_due_at: stored.response_due_at,
                    };
                    replayed = Some(Advisory::reported(filing, content.clone(), at));
                }
                (None, Change::Imported { content, facts }) => {
                    let filing = Filing {
                        id: stored.id.clone(),
                        org: stored.org.clone(),
                        repo: stored.repo.clone(),
                        reporter_id: stored.reporter_id,
                        response_due_at: stored.response_due_at,
                    };
                    replayed = Some(Advisory::imported(filing, content.clone(), facts));
                }
                (Some(a), c) => a.apply(c, at),
                (None, _) => return Ok(false),
            }
        }
        Ok(replayed.as_ref() == Some(&stored))
    }
}

/// Loads one advisory with the caller's relations, on `conn`, and takes the access decision.
pub(crate) async fn decided_on(
    conn: &mut sqlx::AnyConnection,
    keys: &Keyring,
    now: OffsetDateTime,
    actor: Actor,
    id: &AdvisoryId,
    action: Action,
    verb: &str,
) -> Result<Authorized<Advisory>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT a.id, a.doc, {} FROM advisories a WHERE a.id = $2",
        relation_columns()
    )))
    .bind(caller_id(actor))
    .bind(id.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Err(StoreError::NotFound("advisory"));
    };
    let advisory = advisory_from_row(keys, &row)?;
    if let Actor::System(task) = actor {
        // Scheduled work takes its own actions only, by the rule for it.
        if let Some(e) = StoreError::from_decision(
            embargo_domain::access::decide_system(task, action, advisory.state),
            "advisory",
            verb,
        ) {
            return Err(e);
        }
        return Ok(Authorized::new(advisory, Relations::default()));
    }
    let mut rel = relations_from_row(&row, now)?;
    if let Actor::ReporterLink {
        user,
        advisory: linked,
    } = actor
    {
        // A private link is the reporter of the one report it opens; no other relation.
        rel = Relations {
            reporter: linked == advisory.id.key() && advisory.reporter_id == user,
            ..Relations::default()
        };
    }
    if let Some(e) =
        StoreError::from_decision(decide(rel, action, advisory.state), "advisory", verb)
    {
        return Err(e);
    }
    Ok(Authorized::new(advisory, rel))
}

/// Locks one advisory's row for the rest of the transaction. The one place the two
/// backends differ here: PostgreSQL locks the row (`NO KEY UPDATE`: it orders the lockers
/// but lets others add rows that point at the advisory, which a plain `FOR UPDATE` would
/// make wait, a deadlock when they hold a row the locker needs next); SQLite has one writer at a time, and a
/// transaction that starts by writing holds that lock from its first statement.
pub(crate) async fn lock_advisory(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: crate::Backend,
    id: &AdvisoryId,
) -> Result<()> {
    let sql = match backend {
        crate::Backend::Postgres => "SELECT id FROM advisories WHERE id = $1 FOR NO KEY UPDATE",
        crate::Backend::Sqlite => "UPDATE advisories SET revision = revision WHERE id = $1",
    };
    sqlx::query(sql)
        .bind(id.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// Appends a change to the advisory's events and to the access log (which records what
    /// happened, never the advisory's text).
    pub(crate) async fn insert_event(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        id: &AdvisoryId,
        org_id: i64,
        actor: Actor,
        change: &Change,
        at: OffsetDateTime,
    ) -> Result<()> {
        let (keys, origin) = (&self.keys, self.origin());
        let detail = match change {
            Change::Edited { edit } => {
                let fields: Vec<String> = serde_json::to_value(edit)
                    .ok()
                    .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect()))
                    .unwrap_or_default();
                serde_json::json!({ "fields": fields })
            }
            Change::Closed { reason, .. } => serde_json::json!({ "reason": reason }),
            Change::Commented { comment_id, .. } => serde_json::json!({ "comment_id": comment_id }),
            _ => serde_json::json!({}),
        };
        crate::audit::append(tx, at, actor, origin, change.kind(), Some(id), &detail).await?;
        let data =
            serde_json::to_string(change).map_err(|e| StoreError::Internal(e.to_string()))?;
        let data = keys.seal(&event_aad(id.as_str()), &data)?;
        sqlx::query("INSERT INTO events (advisory_id, org_id, actor_id, kind, data, at, system_actor) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(id.as_str())
            .bind(org_id)
            .bind(actor.user_id())
            .bind(change.kind())
            .bind(data)
            .bind(to_ms(at))
            .bind(actor.system_task().map(|t| t.label()))
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
