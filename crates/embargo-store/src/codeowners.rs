//! Maintainers from a repository's `CODEOWNERS`: the file is read by the server (with `git`);
//! here its owners become maintainers. Owners read from the file replace those read before;
//! maintainers named by hand stay. Owners with no account are reported, never guessed.

use embargo_domain::access::{Actor, OrgAction};
use embargo_domain::codeowners::Owner;
use embargo_domain::types::{Email, ForgeHandle, Slug, Upstream};
use serde::Serialize;
use sqlx::Row;

use crate::clock::to_ms;
use crate::{Result, Store, StoreError};

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SyncReport {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Owners who were maintainers already (by hand or from an earlier sync).
    pub kept: Vec<String>,
    /// Owners as written that match no account (teams, unknown handles and addresses).
    pub unknown: Vec<String>,
}

impl Store {
    /// Refuses early what an actor may not do in an organisation (before expensive work).
    pub async fn check_org_action(
        &self,
        actor: Actor,
        org: &Slug,
        action: OrgAction,
    ) -> Result<()> {
        let o = self.org(org).await?;
        self.require_org(actor, &o, action, "do this").await
    }

    /// Sets (or clears) the repository's upstream.
    pub async fn set_upstream(
        &self,
        actor: Actor,
        org: &Slug,
        repo: &Slug,
        upstream: Option<&Upstream>,
    ) -> Result<()> {
        let r = self.repo(org, repo).await?;
        let o = self.org(org).await?;
        self.require_org(actor, &o, OrgAction::ManageRepos, "change repositories")
            .await?;
        sqlx::query("UPDATE repos SET upstream = $1 WHERE id = $2")
            .bind(upstream.map(|u| u.as_str().to_owned()))
            .bind(r.id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The repository's upstream, if set.
    pub async fn upstream(&self, org: &Slug, repo: &Slug) -> Result<Option<Upstream>> {
        let r = self.repo(org, repo).await?;
        let u: Option<String> = sqlx::query_scalar("SELECT upstream FROM repos WHERE id = $1")
            .bind(r.id)
            .fetch_one(&self.pool)
            .await?;
        u.as_deref()
            .map(Upstream::parse)
            .transpose()
            .map_err(StoreError::from)
    }

    /// Records a user's forge handle (operators only: a handle decides who maintains what,
    /// so users do not choose their own).
    pub async fn set_forge_handle(
        &self,
        email: &Email,
        handle: Option<&ForgeHandle>,
    ) -> Result<()> {
        let done = sqlx::query("UPDATE users SET forge_handle = $1 WHERE email = $2")
            .bind(handle.map(|h| h.as_str().to_owned()))
            .bind(email.as_str())
            .execute(&self.pool)
            .await
            .map_err(|e| match e {
                sqlx::Error::Database(d) if d.message().to_lowercase().contains("unique") => {
                    StoreError::Conflict("another account has this handle".into())
                }
                e => e.into(),
            })?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("user"));
        }
        Ok(())
    }

    /// Makes the owners read from CODEOWNERS the repository's CODEOWNERS maintainers.
    pub async fn apply_codeowners(
        &self,
        actor: Actor,
        org: &Slug,
        repo: &Slug,
        owners: &[Owner],
    ) -> Result<SyncReport> {
        let r = self.repo(org, repo).await?;
        let o = self.org(org).await?;
        self.require_org(actor, &o, OrgAction::ManageRepos, "sync maintainers")
            .await?;
        let mut report = SyncReport::default();
        let mut found: Vec<(i64, String)> = Vec::new();
        for owner in owners {
            let row = match owner {
                Owner::Email(e) => {
                    sqlx::query("SELECT id, email FROM users WHERE email = $1")
                        .bind(e)
                        .fetch_optional(&self.pool)
                        .await?
                }
                Owner::Handle(h) => {
                    sqlx::query("SELECT id, email FROM users WHERE forge_handle = $1")
                        .bind(h)
                        .fetch_optional(&self.pool)
                        .await?
                }
                Owner::Team(_) => None,
            };
            match row {
                Some(r) => found.push((r.try_get("id")?, r.try_get("email")?)),
                None => report.unknown.push(owner.as_written()),
            }
        }
        let now = to_ms(self.now());
        let mut tx = self.pool.begin().await?;
        let current = sqlx::query("SELECT m.user_id, m.source, u.email FROM maintainers m JOIN users u ON u.id = m.user_id WHERE m.repo_id = $1")
            .bind(r.id)
            .fetch_all(&mut *tx)
            .await?;
        for row in &current {
            let (uid, source, email): (i64, String, String) = (
                row.try_get("user_id")?,
                row.try_get("source")?,
                row.try_get("email")?,
            );
            if source == "codeowners" && !found.iter().any(|(id, _)| *id == uid) {
                sqlx::query("DELETE FROM maintainers WHERE repo_id = $1 AND user_id = $2")
                    .bind(r.id)
                    .bind(uid)
                    .execute(&mut *tx)
                    .await?;
                report.removed.push(email);
            }
        }
        for (uid, email) in &found {
            let inserted = sqlx::query(
                "INSERT INTO maintainers (repo_id, user_id, created_at, source) VALUES ($1, $2, $3, 'codeowners') ON CONFLICT (repo_id, user_id) DO NOTHING",
            )
            .bind(r.id)
            .bind(uid)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 1 {
                report.added.push(email.clone());
            } else {
                report.kept.push(email.clone());
            }
        }
        let detail = serde_json::json!({"repo": r.slug, "added": report.added, "removed": report.removed, "unknown": report.unknown});
        crate::orgs::org_event(
            &mut tx,
            o.id,
            actor,
            self.origin(),
            "maintainers_synced",
            detail,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(report)
    }
}
