//! Private fix repositories: one bare git repository per advisory (kept on disk by the
//! server), its row here (who made it, the upstream it was seeded from), which user fetched
//! which branch head (a force-push over a branch someone else fetched is refused), and an
//! access-log entry for every fetch and push.
//!
//! Every function takes the decision of `embargo_domain::access` first: `FetchFix` for the
//! advisory's audience, `PushFix` for those who may push, `ManageFix` to create. The server
//! gets a [`FixAccess`] only through [`Store::fix_access`], and records fetches and pushes
//! only with one.

use embargo_domain::FieldError;
use embargo_domain::access::{Action, Actor, decide};
use embargo_domain::advisory::Advisory;
use embargo_domain::ids::AdvisoryId;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use crate::clock::{from_ms, to_ms};
use crate::{Authorized, Result, Store, StoreError};

/// The longest ref name recorded (git's own limit is higher; names this long are refused).
const MAX_REF: usize = 1024;
/// At most this many fetch records are written for one fetch.
const MAX_FETCH_RECORDS: usize = 1000;

/// An advisory's fix repository, as its row holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FixRepo {
    pub advisory_id: String,
    #[serde(skip)]
    pub created_by: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The upstream it was seeded from.
    pub upstream: String,
    pub default_branch: String,
}

fn fix_repo_from_row(row: &AnyRow) -> Result<FixRepo> {
    Ok(FixRepo {
        advisory_id: row.try_get("advisory_id")?,
        created_by: row.try_get("created_by")?,
        created_at: from_ms(row.try_get("created_at")?),
        upstream: row.try_get("upstream")?,
        default_branch: row.try_get("default_branch")?,
    })
}

/// What git over HTTP is about to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixAccessKind {
    Fetch,
    Push,
}

/// A caller's standing to one fix repository, after the access decision: only the store
/// builds one. A push access was decided with `PushFix`.
#[derive(Debug, Clone)]
pub struct FixAccess {
    advisory: Authorized<Advisory>,
    repo: FixRepo,
    actor: Actor,
    user_id: i64,
    kind: FixAccessKind,
}

impl FixAccess {
    pub fn advisory(&self) -> &Authorized<Advisory> {
        &self.advisory
    }

    pub fn repo(&self) -> &FixRepo {
        &self.repo
    }

    pub fn kind(&self) -> FixAccessKind {
        self.kind
    }

    /// A security manager may force-push over branches others fetched.
    pub fn is_security_manager(&self) -> bool {
        self.advisory.relations().security_manager
    }
}

/// Where a new fix repository is seeded from, once the caller may create it.
#[derive(Debug, Clone)]
pub struct FixPlan {
    pub advisory: Authorized<Advisory>,
    pub upstream: String,
}

fn check_ref(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_REF || name.chars().any(char::is_control) {
        return Err(StoreError::Invalid(FieldError::new(
            "ref",
            "is not a ref name git would write",
        )));
    }
    Ok(())
}

impl Store {
    /// The fix repository of an advisory the caller may fetch from: `None` when none was
    /// created yet. Reading it (its branches) is an entry of the access log.
    pub async fn fix_repository(
        &self,
        actor: Actor,
        id: &AdvisoryId,
    ) -> Result<(Authorized<Advisory>, Option<FixRepo>)> {
        let advisory = self
            .decided(actor, id, Action::FetchFix, "read the fix repository of")
            .await?;
        let repo = self.fix_repo_row(id).await?;
        if repo.is_some() {
            self.audit_read(actor, "fix_read", id).await?;
        }
        Ok((advisory, repo))
    }

    async fn fix_repo_row(&self, id: &AdvisoryId) -> Result<Option<FixRepo>> {
        let row = sqlx::query(
            "SELECT advisory_id, created_by, created_at, upstream, default_branch FROM fix_repos WHERE advisory_id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(fix_repo_from_row).transpose()
    }

    /// Takes the decision for git over HTTP. Whoever may not fetch, and every caller when
    /// the advisory has no fix repository, gets `NotFound("fix repository")`, exactly as for
    /// an advisory that does not exist. A push by someone who may fetch but not push is
    /// refused with why (read-only after publication, or no write access).
    pub async fn fix_access(
        &self,
        actor: Actor,
        id: &AdvisoryId,
        kind: FixAccessKind,
    ) -> Result<FixAccess> {
        let hidden = StoreError::NotFound("fix repository");
        let Some(user_id) = actor.account_id() else {
            return Err(hidden);
        };
        let advisory = match self
            .decided(actor, id, Action::FetchFix, "fetch the fix repository of")
            .await
        {
            Ok(a) => a,
            Err(StoreError::Internal(e)) => return Err(StoreError::Internal(e)),
            Err(_) => return Err(hidden),
        };
        let Some(repo) = self.fix_repo_row(id).await? else {
            return Err(hidden);
        };
        if kind == FixAccessKind::Push {
            let d = decide(advisory.relations(), Action::PushFix, advisory.get().state);
            match StoreError::from_decision(d, "fix repository", "push to") {
                None => {}
                Some(StoreError::Conflict(_)) => {
                    return Err(StoreError::Conflict(format!(
                        "this fix repository is read-only: the advisory is {}; fetch from it, push the fix elsewhere",
                        advisory.get().state.as_str()
                    )));
                }
                Some(StoreError::Forbidden(m)) if m.contains("two-factor") => {
                    return Err(StoreError::Forbidden(m));
                }
                Some(_) => {
                    return Err(StoreError::Forbidden(
                        "you may fetch from this fix repository but not push to it: a maintainer or security manager can invite you with write access".into(),
                    ));
                }
            }
        }
        Ok(FixAccess {
            advisory,
            repo,
            actor,
            user_id,
            kind,
        })
    }

    /// Checks that the caller may create the advisory's fix repository and that none exists;
    /// returns the upstream to seed it from.
    pub async fn plan_fix_repository(&self, actor: Actor, id: &AdvisoryId) -> Result<FixPlan> {
        let advisory = self
            .decided(actor, id, Action::ManageFix, "create the fix repository of")
            .await?;
        if self.fix_repo_row(id).await?.is_some() {
            return Err(StoreError::Conflict(
                "this advisory has a fix repository already".into(),
            ));
        }
        let a = advisory.get();
        let upstream: Option<String> = match &a.repo {
            Some(repo) => sqlx::query_scalar(
                "SELECT r.upstream FROM repos r JOIN orgs o ON o.id = r.org_id WHERE o.slug = $1 AND r.slug = $2",
            )
            .bind(a.org.as_str())
            .bind(repo.as_str())
            .fetch_optional(&self.pool)
            .await?
            .flatten(),
            None => None,
        };
        let Some(upstream) = upstream.filter(|u| !u.trim().is_empty()) else {
            let repo = a
                .repo
                .as_ref()
                .map_or_else(|| "REPO".to_owned(), ToString::to_string);
            return Err(StoreError::Conflict(format!(
                "the advisory's repository has no upstream to seed the fix repository from: set one (PATCH /api/v1/orgs/{}/repos/{repo} with {{\"upstream\": ...}})",
                a.org
            )));
        };
        Ok(FixPlan { advisory, upstream })
    }

    /// Records the fix repository the server has just seeded, deciding again (the caller's
    /// roles may have changed while it was seeded). An entry of the access log.
    pub async fn record_fix_repository(
        &self,
        actor: Actor,
        id: &AdvisoryId,
        upstream: &str,
        default_branch: &str,
    ) -> Result<FixRepo> {
        let now = self.now();
        let (mut tx, _current) = self
            .begin_decided(actor, id, Action::ManageFix, "create the fix repository of")
            .await?;
        let exists: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM fix_repos WHERE advisory_id = $1")
                .bind(id.as_str())
                .fetch_one(&mut *tx)
                .await?;
        if exists > 0 {
            return Err(StoreError::Conflict(
                "this advisory has a fix repository already".into(),
            ));
        }
        let created_by = actor
            .user_id()
            .ok_or_else(|| StoreError::Forbidden("sign in to create a fix repository".into()))?;
        sqlx::query(
            "INSERT INTO fix_repos (advisory_id, created_by, created_at, upstream, default_branch) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.as_str())
        .bind(created_by)
        .bind(to_ms(now))
        .bind(upstream)
        .bind(default_branch)
        .execute(&mut *tx)
        .await?;
        crate::audit::append(
            &mut tx,
            now,
            actor,
            self.origin(),
            "fix_create",
            Some(id),
            &serde_json::json!({ "upstream": upstream, "default_branch": default_branch }),
        )
        .await?;
        tx.commit().await?;
        Ok(FixRepo {
            advisory_id: id.to_string(),
            created_by,
            created_at: now,
            upstream: upstream.to_owned(),
            default_branch: default_branch.to_owned(),
        })
    }

    /// Records that the caller was shown the repository's refs (the start of every clone,
    /// fetch and `ls-remote`).
    pub async fn record_fix_refs(&self, access: &FixAccess) -> Result<()> {
        let id = &access.advisory.get().id;
        let mut tx = self.pool.begin().await?;
        crate::audit::append(
            &mut tx,
            self.now(),
            access.actor,
            self.origin(),
            "fix_read_refs",
            Some(id),
            &serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a fetch: the branch heads the caller asked for (ref, sha), and an entry of
    /// the access log with how many objects were wanted.
    pub async fn record_fix_fetch(
        &self,
        access: &FixAccess,
        branches: &[(String, String)],
        wants: usize,
    ) -> Result<()> {
        let id = &access.advisory.get().id;
        let now = self.now();
        let mut tx = self.pool.begin().await?;
        for (name, sha) in branches.iter().take(MAX_FETCH_RECORDS) {
            check_ref(name)?;
            sqlx::query(
                "INSERT INTO fix_fetches (advisory_id, user_id, ref_name, sha, fetched_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (advisory_id, user_id, ref_name, sha) DO NOTHING",
            )
            .bind(id.as_str())
            .bind(access.user_id)
            .bind(name)
            .bind(sha)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await?;
        }
        let names: Vec<&str> = branches
            .iter()
            .take(MAX_FETCH_RECORDS)
            .map(|(n, _)| n.as_str())
            .collect();
        crate::audit::append(
            &mut tx,
            now,
            access.actor,
            self.origin(),
            "fix_fetch",
            Some(id),
            &serde_json::json!({ "refs": names, "wants": wants }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The branches someone other than the caller has fetched: a force-push over one of
    /// them is refused unless a security manager pushes it.
    pub async fn fix_fetched_by_others(&self, access: &FixAccess) -> Result<Vec<String>> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT ref_name FROM fix_fetches WHERE advisory_id = $1 AND user_id <> $2 ORDER BY ref_name",
        )
        .bind(access.advisory.get().id.as_str())
        .bind(access.user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(names)
    }

    /// Records a push: the refs it changed (ref, old, new) and, when refused, why.
    pub async fn record_fix_push(
        &self,
        access: &FixAccess,
        updated: &[(String, String, String)],
        refused: &[String],
    ) -> Result<()> {
        if access.kind != FixAccessKind::Push {
            return Err(StoreError::Internal(
                "a push recorded with a fetch access".into(),
            ));
        }
        let id = &access.advisory.get().id;
        let updates: Vec<serde_json::Value> = updated
            .iter()
            .take(MAX_FETCH_RECORDS)
            .map(|(r, old, new)| serde_json::json!({ "ref": r, "old": old, "new": new }))
            .collect();
        let refused: Vec<&String> = refused.iter().take(100).collect();
        let mut tx = self.pool.begin().await?;
        crate::audit::append(
            &mut tx,
            self.now(),
            access.actor,
            self.origin(),
            "fix_push",
            Some(id),
            &serde_json::json!({ "updated": updates, "refused": refused }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
