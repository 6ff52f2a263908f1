//! Checks on an advisory's private fix: a repository's fix settings (the check command and
//! its limits, the push to the upstream on publication with sealed credentials, retention),
//! commit statuses from the organisation's CI and from Embargo's own check runs, the refs
//! each push changed, the upstream pushes after publication and the removals of fix
//! repositories. Reads and writes about one advisory take the decision of
//! `embargo_domain::access` first; a refusal looks exactly like a missing advisory, as the
//! git endpoints answer "repository not found".

mod publication;
mod runs;

use embargo_domain::FieldError;
use embargo_domain::access::{Action, Actor, OrgAction};
use embargo_domain::advisory::Advisory;
use embargo_domain::ids::AdvisoryId;
use embargo_domain::types::Slug;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;
use time::OffsetDateTime;

use crate::clock::{from_ms, to_ms};
use crate::{Authorized, Result, Store, StoreError};

/// The context of the status Embargo's own check command reports.
pub const CHECK_CONTEXT: &str = "embargo/check";
/// The most output of one check run kept (its start and its end).
pub const OUTPUT_LIMIT: usize = 64 * 1024;
/// Limits of the settings.
pub const COMMAND_MAX: usize = 2000;
pub const SECONDS_MAX: i64 = 3600;
pub const MEMORY_MB_MIN: i64 = 64;
pub const MEMORY_MB_MAX: i64 = 65536;
pub const RETENTION_DAYS_MAX: i64 = 3650;
/// Limits of a status.
pub const CONTEXT_MAX: usize = 100;
pub const DESCRIPTION_MAX: usize = 140;
pub const TARGET_URL_MAX: usize = 2000;
/// Contexts on one commit, and statuses on one advisory.
const CONTEXTS_PER_COMMIT: i64 = 100;
const STATUSES_PER_ADVISORY: i64 = 5000;

pub(crate) fn credentials_aad(place: &str) -> String {
    format!("fix_settings.push_credentials:{place}")
}

pub(crate) fn output_aad(advisory_id: &str) -> String {
    format!("fix_check_runs.output:{advisory_id}")
}

pub(crate) fn description_aad(advisory_id: &str) -> String {
    format!("fix_statuses.description:{advisory_id}")
}

/// Where sealed credentials are bound: the repository and the push address, so that they
/// never open for another address.
pub(super) fn credentials_place(repo_id: i64, url: &str) -> String {
    format!("{repo_id}:{url}")
}

/// A repository's fix settings as its security managers see them (never the credentials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FixSettings {
    /// Run by `sh -c` in a throwaway checkout of every pushed commit; `null`: no check.
    pub check_command: Option<String>,
    pub check_time_limit_seconds: i64,
    pub check_memory_limit_mb: i64,
    /// Whether the check may reach the network (off by default).
    pub check_network: bool,
    /// Whether publication may push the fix branches to `push_url`.
    pub push_on_publication: bool,
    pub push_url: Option<String>,
    /// Whether credentials for `push_url` are stored (they are never shown).
    pub push_credentials_set: bool,
    /// Days a fix repository is kept once its advisory is published, withdrawn or closed.
    pub retention_days: i64,
}

impl Default for FixSettings {
    fn default() -> Self {
        Self {
            check_command: None,
            check_time_limit_seconds: 600,
            check_memory_limit_mb: 2048,
            check_network: false,
            push_on_publication: false,
            push_url: None,
            push_credentials_set: false,
            retention_days: 30,
        }
    }
}

/// User name and password (or token) for pushing to the upstream over https.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for PushCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PushCredentials(..)")
    }
}

/// `PUT .../fix-settings`: the whole settings (a field left out takes its default), except
/// the credentials, kept unless replaced, cleared, or the push address changes.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FixSettingsChange {
    pub check_command: Option<String>,
    pub check_time_limit_seconds: Option<i64>,
    pub check_memory_limit_mb: Option<i64>,
    #[serde(default)]
    pub check_network: bool,
    #[serde(default)]
    pub push_on_publication: bool,
    pub push_url: Option<String>,
    pub push_credentials: Option<PushCredentials>,
    #[serde(default)]
    pub clear_push_credentials: bool,
    pub retention_days: Option<i64>,
}

/// A commit status's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FixState {
    Pending,
    Success,
    Failure,
    Error,
}

impl FixState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Error => "error",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "pending" => Self::Pending,
            "success" => Self::Success,
            "failure" => Self::Failure,
            "error" => Self::Error,
            other => {
                return Err(StoreError::Internal(format!(
                    "stored status state '{other}' is not one Embargo writes"
                )));
            }
        })
    }
}

/// `POST /advisories/{id}/fix/statuses`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFixStatus {
    pub sha: String,
    /// `default` when left out.
    pub context: Option<String>,
    pub state: FixState,
    pub target_url: Option<String>,
    pub description: Option<String>,
}

/// The latest status of one context on one commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FixStatus {
    pub sha: String,
    pub context: String,
    pub state: FixState,
    pub target_url: Option<String>,
    pub description: Option<String>,
    /// Who reported it; `null` for Embargo's own check.
    pub creator: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// One run of the check command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckRun {
    pub id: i64,
    pub sha: String,
    #[serde(rename = "ref")]
    pub ref_name: String,
    /// `pending`, `running`, `success`, `failure` or `error`.
    pub state: String,
    pub output: String,
    pub exit_status: Option<i64>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

/// What a check job runs, read when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckJob {
    pub advisory_id: String,
    pub sha: String,
    pub ref_name: String,
    pub command: String,
    pub seconds: i64,
    pub memory_mb: i64,
    pub network: bool,
}

/// A push of the fix branches to the upstream after publication, and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpstreamPush {
    pub id: i64,
    pub refs: Vec<String>,
    /// `pending`, `ok` or `error`.
    pub state: String,
    /// What was pushed, or why not (never the credentials).
    pub detail: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

/// What an upstream push job needs.
#[derive(Clone, PartialEq, Eq)]
pub struct UpstreamPushJob {
    pub advisory_id: String,
    pub refs: Vec<String>,
    pub url: String,
    /// User name and password, opened for this push only.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for UpstreamPushJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamPushJob")
            .field("advisory_id", &self.advisory_id)
            .field("refs", &self.refs)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Whether a fix repository is due for removal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Its advisory is still open (or gone from the database: then it is kept for a person
    /// to look at).
    Keep,
    /// Published, withdrawn or closed; removed at this time.
    Until(OffsetDateTime),
}

pub(super) fn one_line(field: &str, v: &str, max: usize) -> Result<()> {
    if v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            format!("must be one line of at most {max} characters"),
        )
        .into());
    }
    Ok(())
}

/// A full commit id: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits.
pub fn check_sha(field: &str, sha: &str) -> Result<()> {
    let hex = sha
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !hex || !(sha.len() == 40 || sha.len() == 64) {
        return Err(FieldError::new(
            field,
            "must be a full commit id: 40 (or 64) lowercase hexadecimal digits",
        )
        .into());
    }
    Ok(())
}

/// A status as sent, checked field by field.
fn check_status(s: &NewFixStatus) -> Result<(String, Option<String>, Option<String>)> {
    check_sha("sha", &s.sha)?;
    let context = s
        .context
        .as_deref()
        .map(str::trim)
        .unwrap_or("default")
        .to_owned();
    if context.is_empty() {
        return Err(FieldError::new("context", "is empty; leave it out for 'default'").into());
    }
    one_line("context", &context, CONTEXT_MAX)?;
    if context == CHECK_CONTEXT {
        return Err(FieldError::new(
            "context",
            format!("'{CHECK_CONTEXT}' is Embargo's own check command's: choose another"),
        )
        .into());
    }
    let target_url = match s.target_url.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(u) => {
            let ok = u.len() <= TARGET_URL_MAX
                && url::Url::parse(u)
                    .is_ok_and(|p| p.scheme() == "https" && p.host_str().is_some());
            if !ok {
                return Err(FieldError::new(
                    "target_url",
                    format!("must be an https:// address of at most {TARGET_URL_MAX} characters"),
                )
                .into());
            }
            Some(u.to_owned())
        }
    };
    let description = match s.description.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) => {
            one_line("description", d, DESCRIPTION_MAX)?;
            Some(d.to_owned())
        }
    };
    Ok((context, target_url, description))
}

/// The check command: one or more lines of text, no other control characters.
fn check_command(c: &str) -> Result<()> {
    if c.chars().count() > COMMAND_MAX || c.chars().any(|ch| ch.is_control() && ch != '\n') {
        return Err(FieldError::new(
            "check_command",
            format!("must be text of at most {COMMAND_MAX} characters (a shell command)"),
        )
        .into());
    }
    Ok(())
}

fn in_range(field: &str, v: i64, min: i64, max: i64, unit: &str) -> Result<i64> {
    if v < min || v > max {
        return Err(FieldError::new(field, format!("must be {min} to {max} {unit}")).into());
    }
    Ok(v)
}

/// A refusal on a fix looks like a missing advisory (two-factor stays explained).
fn hidden(e: StoreError) -> StoreError {
    match e {
        StoreError::Forbidden(m) if m == crate::TWO_FACTOR_REQUIRED => StoreError::Forbidden(m),
        StoreError::Forbidden(_) => StoreError::NotFound("advisory"),
        other => other,
    }
}

impl Store {
    /// The advisory, when the caller may take `action` on its fix; "advisory not found"
    /// otherwise, whatever the reason.
    pub async fn fix_decided(
        &self,
        actor: Actor,
        id: &AdvisoryId,
        action: Action,
    ) -> Result<Authorized<Advisory>> {
        self.decided(actor, id, action, "change the fix of")
            .await
            .map_err(hidden)
    }

    async fn repo_id(&self, org: &Slug, repo: &Slug) -> Result<(crate::Org, i64)> {
        let o = self.org(org).await?;
        let r = self.repo(org, repo).await?;
        Ok((o, r.id))
    }

    async fn settings_row(&self, repo_id: i64) -> Result<Option<sqlx::any::AnyRow>> {
        Ok(sqlx::query(
            "SELECT check_command, check_seconds, check_memory_mb, check_network, push_on_publication, push_url, push_credentials_sealed, retention_days FROM fix_settings WHERE repo_id = $1",
        )
        .bind(repo_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub(super) async fn settings_of(&self, repo_id: i64) -> Result<FixSettings> {
        let Some(r) = self.settings_row(repo_id).await? else {
            return Ok(FixSettings::default());
        };
        Ok(FixSettings {
            check_command: r.try_get("check_command")?,
            check_time_limit_seconds: r.try_get("check_seconds")?,
            check_memory_limit_mb: r.try_get("check_memory_mb")?,
            check_network: r.try_get::<i64, _>("check_network")? != 0,
            push_on_publication: r.try_get::<i64, _>("push_on_publication")? != 0,
            push_url: r.try_get("push_url")?,
            push_credentials_set: r
                .try_get::<Option<String>, _>("push_credentials_sealed")?
                .is_some(),
            retention_days: r.try_get("retention_days")?,
        })
    }

    /// A repository's fix settings (security managers and administrators).
    pub async fn fix_settings(&self, actor: Actor, org: &Slug, repo: &Slug) -> Result<FixSettings> {
        let (o, repo_id) = self.repo_id(org, repo).await?;
        self.require_org(actor, &o, OrgAction::ManageRepos, "see fix settings")
            .await?;
        self.settings_of(repo_id).await
    }

    /// Sets a repository's fix settings. The push address is checked against the network
    /// rule by the caller first; here its form and every limit.
    pub async fn set_fix_settings(
        &self,
        actor: Actor,
        org: &Slug,
        repo: &Slug,
        change: FixSettingsChange,
    ) -> Result<FixSettings> {
        let (o, repo_id) = self.repo_id(org, repo).await?;
        self.require_org(actor, &o, OrgAction::ManageRepos, "change fix settings")
            .await?;
        let command = change
            .check_command
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        if let Some(c) = &command {
            check_command(c)?;
        }
        let defaults = FixSettings::default();
        let seconds = in_range(
            "check_time_limit_seconds",
            change
                .check_time_limit_seconds
                .unwrap_or(defaults.check_time_limit_seconds),
            1,
            SECONDS_MAX,
            "seconds",
        )?;
        let memory = in_range(
            "check_memory_limit_mb",
            change
                .check_memory_limit_mb
                .unwrap_or(defaults.check_memory_limit_mb),
            MEMORY_MB_MIN,
            MEMORY_MB_MAX,
            "MiB",
        )?;
        let retention = in_range(
            "retention_days",
            change.retention_days.unwrap_or(defaults.retention_days),
            0,
            RETENTION_DAYS_MAX,
            "days",
        )?;
        let url = change
            .push_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned);
        if let Some(u) = &url {
            one_line("push_url", u, 2000)?;
        }
        if change.push_on_publication && url.is_none() {
            return Err(FieldError::new(
                "push_url",
                "is required with push_on_publication: the upstream's address to push the fix to",
            )
            .into());
        }
        let old = self.settings_row(repo_id).await?;
        let (old_url, old_sealed): (Option<String>, Option<String>) = match &old {
            Some(r) => (
                r.try_get("push_url")?,
                r.try_get("push_credentials_sealed")?,
            ),
            None => (None, None),
        };
        let sealed = match (&change.push_credentials, change.clear_push_credentials) {
            (Some(_), true) => {
                return Err(FieldError::new(
                    "clear_push_credentials",
                    "goes without push_credentials: send one or the other",
                )
                .into());
            }
            (_, true) => None,
            (Some(c), false) => {
                let Some(u) = &url else {
                    return Err(FieldError::new(
                        "push_credentials",
                        "go with a push_url: they are bound to that address",
                    )
                    .into());
                };
                one_line("push_credentials.username", &c.username, 256)?;
                one_line("push_credentials.password", &c.password, 1024)?;
                if c.username.is_empty() || c.password.is_empty() {
                    return Err(FieldError::new(
                        "push_credentials",
                        "need both a username and a password (or token)",
                    )
                    .into());
                }
                let plain = json!({"username": c.username, "password": c.password}).to_string();
                Some(
                    self.keys
                        .seal(&credentials_aad(&credentials_place(repo_id, u)), &plain)?,
                )
            }
            (None, false) => {
                if old_sealed.is_some() && old_url != url {
                    // Stored credentials are never sent to an address they were not given for.
                    return Err(FieldError::new(
                        "push_credentials",
                        "give them again (or clear_push_credentials: true) when push_url changes: stored credentials are never sent to a new address",
                    )
                    .into());
                }
                old_sealed
            }
        };
        let now = to_ms(self.now());
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO fix_settings (repo_id, check_command, check_seconds, check_memory_mb, check_network, push_on_publication, push_url, push_credentials_sealed, retention_days, updated_by, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (repo_id) DO UPDATE SET check_command = $2, check_seconds = $3, check_memory_mb = $4, check_network = $5, push_on_publication = $6, push_url = $7, push_credentials_sealed = $8, retention_days = $9, updated_by = $10, updated_at = $11",
        )
        .bind(repo_id)
        .bind(command.as_deref())
        .bind(seconds)
        .bind(memory)
        .bind(i64::from(change.check_network))
        .bind(i64::from(change.push_on_publication))
        .bind(url.as_deref())
        .bind(sealed.as_deref())
        .bind(retention)
        .bind(actor.account_id())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        crate::audit::append(
            &mut tx,
            self.now(),
            actor,
            self.origin(),
            "fix_settings_changed",
            None,
            &json!({
                "organisation": org.as_str(),
                "repository": repo.as_str(),
                "check_command_set": command.is_some(),
                "check_network": change.check_network,
                "push_on_publication": change.push_on_publication,
                "push_credentials_set": sealed.is_some(),
                "retention_days": retention,
            }),
        )
        .await?;
        tx.commit().await?;
        self.settings_of(repo_id).await
    }

    /// The settings of the repository an advisory is filed against (defaults without one).
    pub(super) async fn settings_for_advisory(
        &self,
        id: &str,
    ) -> Result<(Option<i64>, FixSettings)> {
        let repo: Option<Option<i64>> =
            sqlx::query_scalar("SELECT repo_id FROM advisories WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        match repo.flatten() {
            Some(r) => Ok((Some(r), self.settings_of(r).await?)),
            None => Ok((None, FixSettings::default())),
        }
    }

    /// Records a status on a commit of the fix (Action::PushFix). The caller has checked
    /// that the commit is in the fix repository.
    pub async fn post_fix_status(
        &self,
        actor: Actor,
        id: &AdvisoryId,
        status: &NewFixStatus,
    ) -> Result<FixStatus> {
        let (context, target_url, description) = check_status(status)?;
        let (mut tx, _a) = self
            .begin_decided(actor, id, Action::PushFix, "report a status on")
            .await
            .map_err(hidden)?;
        let on_commit: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM fix_statuses WHERE advisory_id = $1 AND sha = $2 AND context <> $3",
        )
        .bind(id.as_str())
        .bind(&status.sha)
        .bind(&context)
        .fetch_one(&mut *tx)
        .await?;
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM fix_statuses WHERE advisory_id = $1")
                .bind(id.as_str())
                .fetch_one(&mut *tx)
                .await?;
        if on_commit >= CONTEXTS_PER_COMMIT || total >= STATUSES_PER_ADVISORY {
            return Err(StoreError::Conflict(format!(
                "a commit has at most {CONTEXTS_PER_COMMIT} contexts, an advisory at most {STATUSES_PER_ADVISORY} statuses: report on an existing context"
            )));
        }
        let now = self.now();
        upsert_status(
            &mut tx,
            self,
            id.as_str(),
            &status.sha,
            &context,
            status.state,
            target_url.as_deref(),
            description.as_deref(),
            actor.account_id(),
            now,
        )
        .await?;
        crate::audit::append(
            &mut tx,
            now,
            actor,
            self.origin(),
            "fix_status",
            Some(id),
            &json!({"sha": status.sha, "context": context, "state": status.state.as_str()}),
        )
        .await?;
        tx.commit().await?;
        let mut all = self
            .fix_commit_statuses(id, std::slice::from_ref(&status.sha))
            .await?;
        all.retain(|s| s.context == context);
        all.pop()
            .ok_or_else(|| StoreError::Internal("a status just written is not there".into()))
    }

    /// The statuses on the fix's commits, of one commit or all (Action::FetchFix).
    pub async fn fix_statuses(
        &self,
        actor: Actor,
        id: &AdvisoryId,
        sha: Option<&str>,
    ) -> Result<Vec<FixStatus>> {
        let a = self.fix_decided(actor, id, Action::FetchFix).await?;
        if let Some(s) = sha {
            check_sha("sha", s)?;
        }
        if !a.get().state.is_public() {
            self.audit_read(actor, "read_fix_statuses", id).await?;
        }
        let rows = sqlx::query(
            "SELECT s.sha, s.context, s.state, s.target_url, s.description, s.created_at, s.updated_at, u.name AS creator
             FROM fix_statuses s LEFT JOIN users u ON u.id = s.creator_id
             WHERE s.advisory_id = $1 AND ($2 = '' OR s.sha = $2) ORDER BY s.updated_at DESC, s.id DESC LIMIT 1000",
        )
        .bind(id.as_str())
        .bind(sha.unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| self.status_from_row(id, r)).collect()
    }

    /// The statuses on the given commits, for a caller that has taken the
    /// `Action::FetchFix` decision on the advisory already (the fix repository's answer and
    /// page, the publication warning): ordered by commit as given, then context.
    pub async fn fix_commit_statuses(
        &self,
        id: &AdvisoryId,
        shas: &[String],
    ) -> Result<Vec<FixStatus>> {
        let mut out = Vec::new();
        for sha in shas.iter().take(1000) {
            let rows = sqlx::query(
                "SELECT s.sha, s.context, s.state, s.target_url, s.description, s.created_at, s.updated_at, u.name AS creator
                 FROM fix_statuses s LEFT JOIN users u ON u.id = s.creator_id
                 WHERE s.advisory_id = $1 AND s.sha = $2 ORDER BY s.context",
            )
            .bind(id.as_str())
            .bind(sha)
            .fetch_all(&self.pool)
            .await?;
            for r in &rows {
                out.push(self.status_from_row(id, r)?);
            }
        }
        Ok(out)
    }

    fn status_from_row(&self, id: &AdvisoryId, r: &sqlx::any::AnyRow) -> Result<FixStatus> {
        let description = match r.try_get::<Option<String>, _>("description")? {
            Some(d) => Some(self.keys.open(&description_aad(id.as_str()), &d)?),
            None => None,
        };
        Ok(FixStatus {
            sha: r.try_get("sha")?,
            context: r.try_get("context")?,
            state: FixState::parse(&r.try_get::<String, _>("state")?)?,
            target_url: r.try_get("target_url")?,
            description,
            creator: r.try_get("creator")?,
            created_at: from_ms(r.try_get("created_at")?),
            updated_at: from_ms(r.try_get("updated_at")?),
        })
    }
}

/// Writes (or replaces) the latest status of one context on one commit.
#[allow(clippy::too_many_arguments)]
pub(super) async fn upsert_status(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    store: &Store,
    advisory_id: &str,
    sha: &str,
    context: &str,
    state: FixState,
    target_url: Option<&str>,
    description: Option<&str>,
    creator: Option<i64>,
    now: OffsetDateTime,
) -> Result<()> {
    let description = match description {
        Some(d) => Some(store.keys.seal(&description_aad(advisory_id), d)?),
        None => None,
    };
    sqlx::query(
        "INSERT INTO fix_statuses (advisory_id, sha, context, state, target_url, description, creator_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
         ON CONFLICT (advisory_id, sha, context) DO UPDATE SET state = $4, target_url = $5, description = $6, creator_id = $7, updated_at = $8",
    )
    .bind(advisory_id)
    .bind(sha)
    .bind(context)
    .bind(state.as_str())
    .bind(target_url)
    .bind(description)
    .bind(creator)
    .bind(to_ms(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Output kept: at most [`OUTPUT_LIMIT`] bytes, its start and its end, cut on characters.
pub fn bounded(output: &str) -> String {
    if output.len() <= OUTPUT_LIMIT {
        return output.to_owned();
    }
    let head_len = OUTPUT_LIMIT / 4;
    let tail_len = OUTPUT_LIMIT - head_len - 100;
    let mut head_end = head_len;
    while !output.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = output.len() - tail_len;
    while !output.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    let (head, tail) = (
        output.get(..head_end).unwrap_or_default(),
        output.get(tail_start..).unwrap_or_default(),
    );
    format!(
        "{head}\n[... {} bytes left out ...]\n{tail}",
        tail_start - head_end
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_ids_are_full_lowercase_hex() {
        assert!(check_sha("sha", &"a".repeat(40)).is_ok());
        assert!(check_sha("sha", &"0".repeat(64)).is_ok());
        assert!(check_sha("sha", &"A".repeat(40)).is_err());
        assert!(check_sha("sha", &"a".repeat(39)).is_err());
        assert!(check_sha("sha", "main").is_err());
    }

    #[test]
    fn statuses_are_checked_field_by_field() {
        let ok = NewFixStatus {
            sha: "b".repeat(40),
            context: None,
            state: FixState::Success,
            target_url: Some("https://ci.example.org/runs/1".into()),
            description: Some("all green".into()),
        };
        assert_eq!(check_status(&ok).unwrap().0, "default");
        let field = |s: NewFixStatus| match check_status(&s) {
            Err(StoreError::Invalid(e)) => e.field,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert_eq!(
            field(NewFixStatus {
                target_url: Some("http://ci.example.org/".into()),
                ..ok.clone()
            }),
            "target_url"
        );
        assert_eq!(
            field(NewFixStatus {
                target_url: Some("javascript:alert(1)".into()),
                ..ok.clone()
            }),
            "target_url"
        );
        assert_eq!(
            field(NewFixStatus {
                description: Some("x".repeat(DESCRIPTION_MAX + 1)),
                ..ok.clone()
            }),
            "description"
        );
        assert_eq!(
            field(NewFixStatus {
                context: Some(CHECK_CONTEXT.into()),
                ..ok.clone()
            }),
            "context"
        );
        assert_eq!(
            field(NewFixStatus {
                context: Some("a\nb".into()),
                ..ok
            }),
            "context"
        );
    }

    #[test]
    fn output_keeps_its_start_and_end_within_the_limit() {
        let small = "line\n".repeat(10);
        assert_eq!(bounded(&small), small);
        let big = format!("START{}ÉND", "é".repeat(OUTPUT_LIMIT));
        let kept = bounded(&big);
        assert!(kept.len() <= OUTPUT_LIMIT);
        assert!(kept.starts_with("START"));
        assert!(kept.ends_with("ÉND"));
        assert!(kept.contains("bytes left out"));
    }
}
