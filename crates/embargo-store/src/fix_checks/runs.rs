//! The refs each push changed, the `fix.pushed` webhook, and the check command's runs.

use embargo_domain::access::{Action, Actor, SystemTask};
use embargo_domain::ids::AdvisoryId;
use serde_json::json;
use sqlx::Row;

use super::{
    CHECK_CONTEXT, CheckJob, CheckRun, DESCRIPTION_MAX, FixState, bounded, check_sha, one_line,
    output_aad, upsert_status,
};
use crate::clock::{from_ms, to_ms};
use crate::{Result, Store, StoreError};

impl Store {
    /// Records an accepted push to an advisory's fix repository: the refs it changed, a
    /// pending check run (and `embargo/check` status) with its job for each new commit when
    /// the repository has a check command, and a `fix.pushed` delivery to each webhook that
    /// wants it. Called by the git endpoint once the push was decided and done.
    /// Returns the ids of the check runs scheduled.
    pub async fn fix_pushed(
        &self,
        id: &AdvisoryId,
        updated: &[(String, String, String)],
        base_url: &str,
    ) -> Result<Vec<i64>> {
        let (_, settings) = self.settings_for_advisory(id.as_str()).await?;
        let org_id: Option<i64> = sqlx::query_scalar("SELECT org_id FROM advisories WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        let Some(org_id) = org_id else {
            return Err(StoreError::NotFound("advisory"));
        };
        let now = self.now();
        let mut runs = Vec::new();
        let mut tx = self.pool.begin().await?;
        for (ref_name, old, new) in updated.iter().take(1000) {
            one_line("ref", ref_name, 1000)?;
            sqlx::query(
                "INSERT INTO fix_ref_updates (advisory_id, ref_name, old_sha, new_sha, at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id.as_str())
            .bind(ref_name)
            .bind(old)
            .bind(new)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await?;
            let deleted = new.bytes().all(|b| b == b'0');
            if settings.check_command.is_some() && !deleted && check_sha("sha", new).is_ok() {
                let run: i64 = sqlx::query_scalar(
                    "INSERT INTO fix_check_runs (advisory_id, sha, ref_name, state, created_at) VALUES ($1, $2, $3, 'pending', $4) RETURNING id",
                )
                .bind(id.as_str())
                .bind(new)
                .bind(ref_name)
                .bind(to_ms(now))
                .fetch_one(&mut *tx)
                .await?;
                upsert_status(
                    &mut tx,
                    self,
                    id.as_str(),
                    new,
                    CHECK_CONTEXT,
                    FixState::Pending,
                    None,
                    Some("the check command is queued"),
                    None,
                    now,
                )
                .await?;
                sqlx::query(
                    "INSERT INTO jobs (kind, job_key, payload, due_at, created_at) VALUES ('fix_check', $1, $2, $3, $3) ON CONFLICT (job_key) DO NOTHING",
                )
                .bind(format!("fix_check:{run}"))
                .bind(json!({"advisory": id.as_str(), "run": run}).to_string())
                .bind(to_ms(now))
                .execute(&mut *tx)
                .await?;
                runs.push(run);
            }
            self.queue_fix_pushed(&mut tx, id.as_str(), org_id, ref_name, old, new, base_url)
                .await?;
        }
        crate::audit::append(
            &mut tx,
            now,
            Actor::System(SystemTask::FixRepository),
            None,
            "fix_checks_queued",
            Some(id),
            &json!({"refs": updated.len(), "check_runs": runs}),
        )
        .await?;
        tx.commit().await?;
        Ok(runs)
    }

    /// Queues `fix.pushed` for the organisation's webhooks that want it: ids, the ref, the
    /// commits and links, never a title.
    #[allow(clippy::too_many_arguments)]
    async fn queue_fix_pushed(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        id: &str,
        org_id: i64,
        ref_name: &str,
        old: &str,
        new: &str,
        base_url: &str,
    ) -> Result<()> {
        let rows =
            sqlx::query("SELECT id, events FROM webhooks WHERE org_id = $1 AND deleted_at IS NULL")
                .bind(org_id)
                .fetch_all(&mut **tx)
                .await?;
        let now = to_ms(self.now());
        for r in &rows {
            let events: Vec<String> =
                serde_json::from_str(&r.try_get::<String, _>("events")?).unwrap_or_default();
            if !events.iter().any(|e| e == "fix.pushed") {
                continue;
            }
            let payload = json!({
                "event": "fix.pushed",
                "advisory": {"id": id, "url": format!("{base_url}/advisories/{id}")},
                "fix": {
                    "ref": ref_name,
                    "before": old,
                    "after": new,
                    "clone_url": format!("{base_url}/git/{id}.git"),
                    "statuses_url": format!("{base_url}/api/v1/advisories/{id}/fix/statuses"),
                },
            });
            sqlx::query(
                "INSERT INTO webhook_deliveries (webhook_id, event, payload, state, next_at, created_at) VALUES ($1, 'fix.pushed', $2, 'pending', $3, $3)",
            )
            .bind(r.try_get::<i64, _>("id")?)
            .bind(payload.to_string())
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Whether the advisory's repository has a check command (its status is then expected
    /// on every fix branch's head).
    pub async fn fix_check_configured(&self, id: &AdvisoryId) -> Result<bool> {
        Ok(self
            .settings_for_advisory(id.as_str())
            .await?
            .1
            .check_command
            .is_some())
    }

    /// The check runs of the fix, newest first, with their output (Action::FetchFix).
    pub async fn fix_check_runs(&self, actor: Actor, id: &AdvisoryId) -> Result<Vec<CheckRun>> {
        let a = self.fix_decided(actor, id, Action::FetchFix).await?;
        if !a.get().state.is_public() {
            self.audit_read(actor, "read_fix_checks", id).await?;
        }
        self.check_runs_of(id).await
    }

    /// [`Store::fix_check_runs`] for a caller that has taken the decision already (the
    /// advisory page's section).
    pub async fn check_runs_of(&self, id: &AdvisoryId) -> Result<Vec<CheckRun>> {
        let rows = sqlx::query(
            "SELECT id, sha, ref_name, state, output, exit_status, created_at, started_at, finished_at FROM fix_check_runs WHERE advisory_id = $1 ORDER BY id DESC LIMIT 100",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let output = match r.try_get::<Option<String>, _>("output")? {
                    Some(o) => self.keys.open(&output_aad(id.as_str()), &o)?,
                    None => String::new(),
                };
                Ok(CheckRun {
                    id: r.try_get("id")?,
                    sha: r.try_get("sha")?,
                    ref_name: r.try_get("ref_name")?,
                    state: r.try_get("state")?,
                    output,
                    exit_status: r.try_get("exit_status")?,
                    created_at: from_ms(r.try_get("created_at")?),
                    started_at: r.try_get::<Option<i64>, _>("started_at")?.map(from_ms),
                    finished_at: r.try_get::<Option<i64>, _>("finished_at")?.map(from_ms),
                })
            })
            .collect()
    }

    /// Starts a check run for its job: what to run, under the settings read now. `None`
    /// when the run is finished already, or its repository no longer has a check command
    /// (then the run is recorded as an error saying so).
    pub async fn start_check_run(&self, run: i64) -> Result<Option<CheckJob>> {
        let row = sqlx::query(
            "SELECT advisory_id, sha, ref_name, state FROM fix_check_runs WHERE id = $1",
        )
        .bind(run)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let state: String = row.try_get("state")?;
        if !matches!(state.as_str(), "pending" | "running") {
            return Ok(None);
        }
        let advisory_id: String = row.try_get("advisory_id")?;
        let (_, settings) = self.settings_for_advisory(&advisory_id).await?;
        let Some(command) = settings.check_command else {
            self.finish_check_run(
                run,
                FixState::Error,
                "not run: the repository's check command was removed",
                None,
            )
            .await?;
            return Ok(None);
        };
        sqlx::query("UPDATE fix_check_runs SET state = 'running', started_at = $1 WHERE id = $2")
            .bind(to_ms(self.now()))
            .bind(run)
            .execute(&self.pool)
            .await?;
        Ok(Some(CheckJob {
            advisory_id,
            sha: row.try_get("sha")?,
            ref_name: row.try_get("ref_name")?,
            command,
            seconds: settings.check_time_limit_seconds,
            memory_mb: settings.check_memory_limit_mb,
            network: settings.check_network,
        }))
    }

    /// Records how a check run ended, as the run and as the commit's `embargo/check` status.
    pub async fn finish_check_run(
        &self,
        run: i64,
        state: FixState,
        output: &str,
        exit_status: Option<i64>,
    ) -> Result<()> {
        let row = sqlx::query("SELECT advisory_id, sha FROM fix_check_runs WHERE id = $1")
            .bind(run)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound("check run"));
        };
        let advisory_id: String = row.try_get("advisory_id")?;
        let sha: String = row.try_get("sha")?;
        let output = bounded(output);
        let now = self.now();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE fix_check_runs SET state = $1, output = $2, exit_status = $3, finished_at = $4, started_at = COALESCE(started_at, $4) WHERE id = $5",
        )
        .bind(state.as_str())
        .bind(self.keys.seal(&output_aad(&advisory_id), &output)?)
        .bind(exit_status)
        .bind(to_ms(now))
        .bind(run)
        .execute(&mut *tx)
        .await?;
        let description = match (state, exit_status) {
            (FixState::Success, _) => "the check command passed".to_owned(),
            (FixState::Failure, Some(code)) => {
                format!("the check command failed (exit status {code})")
            }
            (FixState::Failure, None) => "the check command was stopped by a signal".to_owned(),
            (_, _) => output
                .lines()
                .next()
                .unwrap_or("the check could not run")
                .chars()
                .take(DESCRIPTION_MAX)
                .collect(),
        };
        upsert_status(
            &mut tx,
            self,
            &advisory_id,
            &sha,
            CHECK_CONTEXT,
            state,
            None,
            Some(&description),
            None,
            now,
        )
        .await?;
        let id = AdvisoryId::parse(&advisory_id).map_err(StoreError::Invalid)?;
        crate::audit::append(
            &mut tx,
            now,
            Actor::System(SystemTask::FixRepository),
            None,
            "fix_check_run",
            Some(&id),
            &json!({"run": run, "sha": sha, "state": state.as_str(), "exit_status": exit_status}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
