//! Publication: pushing the fix branches to the upstream, and removing fix repositories
//! after the retention period.

use embargo_domain::FieldError;
use embargo_domain::access::{Action, Actor, SystemTask};
use embargo_domain::ids::AdvisoryId;
use serde_json::json;
use sqlx::Row;
use time::{Duration, OffsetDateTime};

use super::{
    FixSettings, Retention, UpstreamPush, UpstreamPushJob, credentials_aad, credentials_place,
};
use crate::clock::{from_ms, to_ms};
use crate::{Result, Store, StoreError};

impl Store {
    /// The fix branches: every `refs/heads/` ref a push changed, in the order first pushed
    /// (the caller keeps those the fix repository still has).
    pub async fn fix_branches(&self, id: &AdvisoryId) -> Result<Vec<String>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT ref_name FROM fix_ref_updates WHERE advisory_id = $1 AND ref_name LIKE 'refs/heads/%' GROUP BY ref_name ORDER BY MIN(id) LIMIT 100",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Checks, before publishing, that the caller may publish and that the repository's
    /// settings allow pushing the fix to the upstream: a readable refusal otherwise.
    pub async fn check_fix_push_allowed(&self, actor: Actor, id: &AdvisoryId) -> Result<()> {
        self.decided(actor, id, Action::Publish, "publish").await?;
        let (_, s) = self.settings_for_advisory(id.as_str()).await?;
        if !s.push_on_publication || s.push_url.is_none() {
            return Err(FieldError::new(
                "push_fix",
                "the repository's fix settings do not push to the upstream on publication: a security manager turns it on (PUT /api/v1/orgs/{org}/repos/{repo}/fix-settings with push_on_publication and push_url)",
            )
            .into());
        }
        Ok(())
    }

    /// Schedules the push of `refs` to the upstream after publication (the caller has
    /// published, as `actor`); returns the push's id.
    pub async fn schedule_upstream_push(
        &self,
        actor: Actor,
        id: &AdvisoryId,
        refs: &[String],
    ) -> Result<i64> {
        let a = self.decided(actor, id, Action::Read, "read").await?;
        if !a.get().state.is_public() {
            return Err(StoreError::Conflict(
                "the fix is pushed to the upstream only once the advisory is published".into(),
            ));
        }
        let now = self.now();
        let mut tx = self.pool.begin().await?;
        let push: i64 = sqlx::query_scalar(
            "INSERT INTO fix_upstream_pushes (advisory_id, requested_by, refs, state, created_at) VALUES ($1, $2, $3, 'pending', $4) RETURNING id",
        )
        .bind(id.as_str())
        .bind(actor.account_id())
        .bind(serde_json::to_string(refs).map_err(|e| StoreError::Internal(e.to_string()))?)
        .bind(to_ms(now))
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO jobs (kind, job_key, payload, due_at, created_at) VALUES ('fix_upstream_push', $1, $2, $3, $3) ON CONFLICT (job_key) DO NOTHING",
        )
        .bind(format!("fix_upstream_push:{push}"))
        .bind(json!({"advisory": id.as_str(), "push": push}).to_string())
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
        crate::audit::append(
            &mut tx,
            now,
            actor,
            self.origin(),
            "fix_upstream_push_requested",
            Some(id),
            &json!({"push": push, "refs": refs}),
        )
        .await?;
        tx.commit().await?;
        Ok(push)
    }

    /// What an upstream push job pushes, with the credentials opened; `None` when it is
    /// done already. The address is read from the settings now.
    pub async fn upstream_push_job(&self, push: i64) -> Result<Option<UpstreamPushJob>> {
        let row =
            sqlx::query("SELECT advisory_id, refs, state FROM fix_upstream_pushes WHERE id = $1")
                .bind(push)
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else { return Ok(None) };
        if row.try_get::<String, _>("state")? != "pending" {
            return Ok(None);
        }
        let advisory_id: String = row.try_get("advisory_id")?;
        let refs: Vec<String> =
            serde_json::from_str(&row.try_get::<String, _>("refs")?).unwrap_or_default();
        let (repo_id, s) = self.settings_for_advisory(&advisory_id).await?;
        let (Some(repo_id), Some(url), true) = (repo_id, s.push_url, s.push_on_publication) else {
            self.finish_upstream_push(
                push,
                false,
                "not pushed: the repository's fix settings no longer push to the upstream on publication",
            )
            .await?;
            return Ok(None);
        };
        let sealed: Option<String> = sqlx::query_scalar(
            "SELECT push_credentials_sealed FROM fix_settings WHERE repo_id = $1",
        )
        .bind(repo_id)
        .fetch_one(&self.pool)
        .await?;
        let credentials = match sealed {
            Some(s) => {
                let plain = self
                    .keys
                    .open(&credentials_aad(&credentials_place(repo_id, &url)), &s)?;
                let v: serde_json::Value = serde_json::from_str(&plain)
                    .map_err(|e| StoreError::Internal(format!("stored credentials: {e}")))?;
                let field = |k: &str| {
                    v.get(k)
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                Some((field("username"), field("password")))
            }
            None => None,
        };
        Ok(Some(UpstreamPushJob {
            advisory_id,
            refs,
            url,
            credentials,
        }))
    }

    /// Records how an upstream push went (`detail` never holds credentials).
    pub async fn finish_upstream_push(&self, push: i64, ok: bool, detail: &str) -> Result<()> {
        let advisory_id: Option<String> =
            sqlx::query_scalar("SELECT advisory_id FROM fix_upstream_pushes WHERE id = $1")
                .bind(push)
                .fetch_optional(&self.pool)
                .await?;
        let Some(advisory_id) = advisory_id else {
            return Err(StoreError::NotFound("upstream push"));
        };
        let state = if ok { "ok" } else { "error" };
        let detail: String = detail.chars().take(2000).collect();
        let now = self.now();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE fix_upstream_pushes SET state = $1, detail = $2, finished_at = $3 WHERE id = $4",
        )
        .bind(state)
        .bind(&detail)
        .bind(to_ms(now))
        .bind(push)
        .execute(&mut *tx)
        .await?;
        let id = AdvisoryId::parse(&advisory_id).map_err(StoreError::Invalid)?;
        crate::audit::append(
            &mut tx,
            now,
            Actor::System(SystemTask::FixRepository),
            None,
            "fix_upstream_push",
            Some(&id),
            &json!({"push": push, "state": state}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The upstream pushes of the fix, newest first (Action::FetchFix, or a caller that took
    /// that decision: `actor` `None`).
    pub async fn upstream_pushes(
        &self,
        actor: Option<Actor>,
        id: &AdvisoryId,
    ) -> Result<Vec<UpstreamPush>> {
        if let Some(actor) = actor {
            self.fix_decided(actor, id, Action::FetchFix).await?;
        }
        let rows = sqlx::query(
            "SELECT id, refs, state, detail, created_at, finished_at FROM fix_upstream_pushes WHERE advisory_id = $1 ORDER BY id DESC LIMIT 20",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(UpstreamPush {
                    id: r.try_get("id")?,
                    refs: serde_json::from_str(&r.try_get::<String, _>("refs")?)
                        .unwrap_or_default(),
                    state: r.try_get("state")?,
                    detail: r.try_get("detail")?,
                    created_at: from_ms(r.try_get("created_at")?),
                    finished_at: r.try_get::<Option<i64>, _>("finished_at")?.map(from_ms),
                })
            })
            .collect()
    }

    /// When the fix repository of advisory `id` (a folder found under the data folder) is
    /// to be removed: the retention days after the advisory was last published, withdrawn
    /// or closed, while it stays in one of those states.
    pub async fn fix_retention(&self, id: &str) -> Result<Retention> {
        let row = sqlx::query(
            "SELECT a.state, a.repo_id,
                    (SELECT MAX(e.at) FROM events e WHERE e.advisory_id = a.id AND e.kind IN ('published', 'withdrawn', 'closed')) AS ended_at
             FROM advisories a WHERE a.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(Retention::Keep);
        };
        let state: String = row.try_get("state")?;
        let ended: Option<i64> = row.try_get("ended_at")?;
        let (Some(ended), true) = (
            ended,
            matches!(
                state.as_str(),
                "published" | "withdrawn" | "closed" | "disclosed"
            ),
        ) else {
            return Ok(Retention::Keep);
        };
        let days = match row.try_get::<Option<i64>, _>("repo_id")? {
            Some(r) => self.settings_of(r).await?.retention_days,
            None => FixSettings::default().retention_days,
        };
        Ok(Retention::Until(from_ms(ended) + Duration::days(days)))
    }

    /// Records that the fix repository of `id` was removed after its retention period.
    pub async fn record_fix_removal(&self, id: &str) -> Result<()> {
        let aid = AdvisoryId::parse(id).map_err(StoreError::Invalid)?;
        let (_, settings) = self.settings_for_advisory(id).await?;
        let days = settings.retention_days;
        let now = self.now();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO fix_removals (advisory_id, removed_at, retention_days) VALUES ($1, $2, $3)
             ON CONFLICT (advisory_id) DO UPDATE SET removed_at = $2, retention_days = $3",
        )
        .bind(id)
        .bind(to_ms(now))
        .bind(days)
        .execute(&mut *tx)
        .await?;
        crate::audit::append(
            &mut tx,
            now,
            Actor::System(SystemTask::FixRepository),
            None,
            "fix_repository_removed",
            Some(&aid),
            &json!({"retention_days": days}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// When the advisory's fix repository was removed after retention, if it was.
    pub async fn fix_removed_at(&self, id: &AdvisoryId) -> Result<Option<OffsetDateTime>> {
        let at: Option<i64> =
            sqlx::query_scalar("SELECT removed_at FROM fix_removals WHERE advisory_id = $1")
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?;
        Ok(at.map(from_ms))
    }
}
