//! CVE numbering per organisation: where its ids come from (the CVE Services API, a block of
//! ids reserved in advance, or entered by hand), each advisory's CVE id and where its record
//! stands, and the jobs that send the record to CVE Services.
//!
//! The store holds no network code: the server reserves an id from CVE Services first, then
//! records it here through the advisory's one change path ([`Store::assign_cve`]). A block's
//! next id is taken in one statement that two requests cannot both win. The API key is
//! sealed like report text and leaves the store only inside [`ApiKey`], which never prints.

use embargo_domain::FieldError;
use embargo_domain::access::{Action, Actor, OrgAction};
use embargo_domain::advisory::{Advisory, Change, CveBackend, State};
use embargo_domain::ids::AdvisoryId;
use embargo_domain::types::{CveId, Slug};
use serde::Serialize;
use sqlx::Row;
use time::OffsetDateTime;

use crate::clock::to_ms;
use crate::{Authorized, Result, Store, StoreError};

/// Fewer ids than this left in a block brings a warning.
pub const LOW_BLOCK: i64 = 5;
/// The most ids one block may list.
const MAX_BLOCK: usize = 10_000;

/// Where the sealed API key of settings row `id` is bound.
pub(crate) fn api_key_aad(id: &str) -> String {
    format!("cve_settings.api_key:{id}")
}

/// A CVE Services API key. Its `Debug` never shows it; [`ApiKey::expose`] is for the one
/// header that carries it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: String) -> Self {
        Self(key)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(..)")
    }
}

/// An organisation's CVE numbering as security managers see it: never the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CveSettings {
    pub backend: CveBackend,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub short_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The CNA's UUID at CVE Services.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_uuid: Option<String>,
    /// A block's ids not handed out yet, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ids_left: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// What a CVE Services account needs to be called. Built only for a caller the rule allowed,
/// or for the job that sends a published advisory's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CveServicesAccount {
    /// The API's base address (`https://cveawg.mitre.org/api`), no trailing slash.
    pub url: String,
    pub short_name: String,
    pub user: String,
    pub key: ApiKey,
    pub org_uuid: Option<String>,
}

/// New settings, checked by the server (the URL against the network rule, the account
/// against CVE Services) before they reach the store.
#[derive(Debug, Clone)]
pub enum CveSettingsChange {
    CveServices { account: CveServicesAccount },
    Block { ids: Vec<CveId> },
    Manual,
}

/// Where an advisory's CVE record stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CveState {
    /// The id is the advisory's; nothing is public yet.
    Reserved,
    Published,
    Rejected,
    /// Sending the record failed; a job retries it.
    Failed,
}

impl CveState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Reserved => "reserved",
            Self::Published => "published",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        [
            Self::Reserved,
            Self::Published,
            Self::Rejected,
            Self::Failed,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
        .ok_or_else(|| StoreError::Internal(format!("cve_records.state '{s}' is unknown")))
    }
}

/// An advisory's CVE id and its record's state, for its audience.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CveStatus {
    pub cve_id: CveId,
    pub backend: CveBackend,
    pub state: CveState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Few ids left in the organisation's block.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// How an id is to be found for an advisory, decided for a caller who may request one.
#[derive(Debug, Clone)]
pub struct CvePlan {
    pub org: Slug,
    pub backend: CveBackend,
    /// For CVE Services.
    pub account: Option<CveServicesAccount>,
}

/// What a CVE job sends: the public advisory, its id as assigned, and the account.
#[derive(Debug, Clone)]
pub struct CveJobTarget {
    pub advisory: Advisory,
    pub cve_id: CveId,
    /// CVE Services holds a record for the id already (so it is updated, not created).
    pub record_exists: bool,
    pub account: Option<CveServicesAccount>,
    /// The organisation's name: the vendor of the affected products.
    pub vendor: String,
}

/// The job kinds, each with the advisory's id as payload.
pub const JOB_PUBLISH: &str = "cve_publish";
pub const JOB_UPDATE: &str = "cve_update";
pub const JOB_REJECT: &str = "cve_reject";

fn block_warning(left: i64, org: &Slug) -> Option<String> {
    (left < LOW_BLOCK).then(|| {
        format!(
            "only {left} CVE id{} left in the block of {org}; add more (PUT /api/v1/orgs/{org}/cve)",
            if left == 1 { "" } else { "s" }
        )
    })
}

impl Store {
    async fn block_left(&self, org_id: i64) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM cve_block_ids WHERE org_id = $1")
                .bind(org_id)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The settings row of `org_id`, with the key opened; `None`: manual, the default.
    async fn cve_row(
        &self,
        org_id: i64,
    ) -> Result<Option<(CveBackend, Option<CveServicesAccount>)>> {
        let Some(r) = sqlx::query(
            "SELECT id, backend, url, short_name, api_user, api_key, org_uuid FROM cve_settings WHERE org_id = $1",
        )
        .bind(org_id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let backend = CveBackend::parse(&r.try_get::<String, _>("backend")?)?;
        let account = match backend {
            CveBackend::CveServices => {
                let id: String = r.try_get("id")?;
                let sealed: String = r
                    .try_get::<Option<String>, _>("api_key")?
                    .unwrap_or_default();
                Some(CveServicesAccount {
                    url: r.try_get::<Option<String>, _>("url")?.unwrap_or_default(),
                    short_name: r
                        .try_get::<Option<String>, _>("short_name")?
                        .unwrap_or_default(),
                    user: r
                        .try_get::<Option<String>, _>("api_user")?
                        .unwrap_or_default(),
                    key: ApiKey(self.keys.open(&api_key_aad(&id), &sealed)?),
                    org_uuid: r.try_get("org_uuid")?,
                })
            }
            _ => None,
        };
        Ok(Some((backend, account)))
    }

    /// The organisation's CVE numbering (those who manage its policy).
    pub async fn cve_settings(&self, actor: Actor, org: &Slug) -> Result<CveSettings> {
        let o = self.org(org).await?;
        self.require_org(actor, &o, OrgAction::ManagePolicy, "read the CVE settings")
            .await?;
        let (backend, account) = self
            .cve_row(o.id)
            .await?
            .unwrap_or((CveBackend::Manual, None));
        let mut s = CveSettings {
            backend,
            url: None,
            short_name: None,
            user: None,
            org_uuid: None,
            ids: None,
            ids_left: None,
            warning: None,
        };
        if let Some(a) = account {
            s.url = Some(a.url);
            s.short_name = Some(a.short_name);
            s.user = Some(a.user);
            s.org_uuid = a.org_uuid;
        }
        if backend == CveBackend::Block {
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT cve_id FROM cve_block_ids WHERE org_id = $1 ORDER BY position",
            )
            .bind(o.id)
            .fetch_all(&self.pool)
            .await?;
            let left = i64::try_from(ids.len()).unwrap_or(i64::MAX);
            s.warning = block_warning(left, &o.slug);
            s.ids_left = Some(left);
            s.ids = Some(ids);
        }
        Ok(s)
    }

    /// The organisation's CVE Services account, for reading its quota (those who manage its
    /// policy); `None` when it numbers otherwise.
    pub async fn cve_account(
        &self,
        actor: Actor,
        org: &Slug,
    ) -> Result<Option<CveServicesAccount>> {
        let o = self.org(org).await?;
        self.require_org(actor, &o, OrgAction::ManagePolicy, "read the CVE settings")
            .await?;
        Ok(self.cve_row(o.id).await?.and_then(|(_, a)| a))
    }

    /// Replaces the organisation's CVE numbering. A block's ids replace the earlier block.
    pub async fn set_cve_settings(
        &self,
        actor: Actor,
        org: &Slug,
        change: CveSettingsChange,
    ) -> Result<CveSettings> {
        let o = self.org(org).await?;
        self.require_org(
            actor,
            &o,
            OrgAction::ManagePolicy,
            "change the CVE settings",
        )
        .await?;
        let row_id = o.id.to_string();
        let now = to_ms(self.now());
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM cve_block_ids WHERE org_id = $1")
            .bind(o.id)
            .execute(&mut *tx)
            .await?;
        let (backend, detail) = match &change {
            CveSettingsChange::CveServices { account } => (
                CveBackend::CveServices,
                serde_json::json!({"backend": "cve_services", "url": account.url, "short_name": account.short_name, "user": account.user}),
            ),
            CveSettingsChange::Block { ids } => {
                check_block(ids)?;
                let given: Vec<&str> = ids.iter().map(CveId::as_str).collect();
                // An id handed out already (to any advisory of the organisation) is refused.
                for id in &given {
                    let used: Option<String> = sqlx::query_scalar(
                        "SELECT advisory_id FROM cve_records WHERE org_id = $1 AND cve_id = $2",
                    )
                    .bind(o.id)
                    .bind(*id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some(a) = used {
                        return Err(FieldError::new(
                            "ids",
                            format!("{id} is the CVE id of advisory {a} already; leave it out"),
                        )
                        .into());
                    }
                }
                for (i, id) in given.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO cve_block_ids (org_id, position, cve_id) VALUES ($1, $2, $3)",
                    )
                    .bind(o.id)
                    .bind(i64::try_from(i).unwrap_or(i64::MAX))
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
                }
                (
                    CveBackend::Block,
                    serde_json::json!({"backend": "block", "ids": given.len(), "first": given.first()}),
                )
            }
            CveSettingsChange::Manual => {
                (CveBackend::Manual, serde_json::json!({"backend": "manual"}))
            }
        };
        let account = match change {
            CveSettingsChange::CveServices { account } => Some(account),
            _ => None,
        };
        let sealed = account
            .as_ref()
            .map(|a| self.keys.seal(&api_key_aad(&row_id), a.key.expose()))
            .transpose()?;
        sqlx::query(
            "INSERT INTO cve_settings (id, org_id, backend, url, short_name, api_user, api_key, org_uuid, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (id) DO UPDATE SET backend = $3, url = $4, short_name = $5, api_user = $6, api_key = $7, org_uuid = $8, updated_at = $9",
        )
        .bind(&row_id)
        .bind(o.id)
        .bind(backend.as_str())
        .bind(account.as_ref().map(|a| a.url.clone()))
        .bind(account.as_ref().map(|a| a.short_name.clone()))
        .bind(account.as_ref().map(|a| a.user.clone()))
        .bind(sealed)
        .bind(account.as_ref().and_then(|a| a.org_uuid.clone()))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        crate::orgs::org_event(
            &mut tx,
            o.id,
            actor,
            self.origin(),
            "cve_settings_changed",
            detail,
            now,
        )
        .await?;
        tx.commit().await?;
        self.cve_settings(actor, org).await
    }

    /// Decides that the caller may give the advisory a CVE id, and how the organisation
    /// finds one. Nothing is reserved yet.
    pub async fn cve_plan(&self, actor: Actor, id: &AdvisoryId) -> Result<CvePlan> {
        let a = self
            .decided(actor, id, Action::RequestCve, "request a CVE id for")
            .await?;
        refuse_second_id(a.get())?;
        let org = self.org(&a.get().org).await?;
        let (backend, account) = self
            .cve_row(org.id)
            .await?
            .unwrap_or((CveBackend::Manual, None));
        Ok(CvePlan {
            org: org.slug,
            backend,
            account,
        })
    }

    /// Gives the advisory `cve_id` (reserved at CVE Services, or entered by hand), through
    /// the advisory's change path: decided on what is stored now, under its lock.
    pub async fn assign_cve(
        &self,
        actor: Actor,
        id: &AdvisoryId,
        cve_id: &CveId,
        backend: CveBackend,
    ) -> Result<Authorized<Advisory>> {
        let taken: Option<String> =
            sqlx::query_scalar("SELECT advisory_id FROM cve_records WHERE cve_id = $1 AND advisory_id <> $2 AND org_id = (SELECT org_id FROM advisories WHERE id = $2)")
                .bind(cve_id.as_str())
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?;
        let (a, _) = self
            .change(
                actor,
                id,
                Action::RequestCve,
                "request a CVE id for",
                None,
                |current| {
                    refuse_second_id(current.get())?;
                    if let Some(other) = &taken {
                        return Err(FieldError::new(
                            "cve_id",
                            format!("{cve_id} is the CVE id of advisory {other} already"),
                        )
                        .into());
                    }
                    Ok(Change::CveAssigned {
                        cve_id: cve_id.clone(),
                        backend,
                    })
                },
            )
            .await?;
        Ok(a)
    }

    /// Gives the advisory the next id of the organisation's block. Two requests at once
    /// never take the same id; an id taken for a change that is then refused goes back.
    pub async fn assign_cve_from_block(
        &self,
        actor: Actor,
        id: &AdvisoryId,
    ) -> Result<Authorized<Advisory>> {
        let plan = self.cve_plan(actor, id).await?;
        if plan.backend != CveBackend::Block {
            return Err(StoreError::Conflict(format!(
                "organisation {} does not number from a block",
                plan.org
            )));
        }
        let org_id: i64 = sqlx::query_scalar("SELECT id FROM orgs WHERE slug = $1")
            .bind(plan.org.as_str())
            .fetch_one(&self.pool)
            .await?;
        let skip = match self.backend {
            crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM cve_block_ids WHERE org_id = $1 AND cve_id = (
                 SELECT cve_id FROM cve_block_ids WHERE org_id = $1 ORDER BY position LIMIT 1{skip})
             RETURNING position, cve_id"
        )))
        .bind(org_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| {
            StoreError::Conflict(format!(
                "the block of CVE ids of {} is used up; add more (PUT /api/v1/orgs/{}/cve)",
                plan.org, plan.org
            ))
        })?;
        let position: i64 = row.try_get("position")?;
        let cve_id = CveId::parse(&row.try_get::<String, _>("cve_id")?)?;
        match self.assign_cve(actor, id, &cve_id, CveBackend::Block).await {
            Ok(a) => {
                let left = self.block_left(org_id).await?;
                if let Some(w) = block_warning(left, &plan.org) {
                    tracing::warn!(org = %plan.org, left, "{w}");
                }
                Ok(a)
            }
            Err(e) => {
                sqlx::query(
                    "INSERT INTO cve_block_ids (org_id, position, cve_id) VALUES ($1, $2, $3) ON CONFLICT (org_id, cve_id) DO NOTHING",
                )
                .bind(org_id)
                .bind(position)
                .bind(cve_id.as_str())
                .execute(&self.pool)
                .await?;
                Err(e)
            }
        }
    }

    /// The advisory's CVE id and record state, for its audience; `None` for others, and
    /// when no id was assigned here.
    pub async fn cve_status(&self, a: &Authorized<Advisory>) -> Result<Option<CveStatus>> {
        if !a.relations().in_audience() {
            return Ok(None);
        }
        let Some(r) = sqlx::query(
            "SELECT org_id, cve_id, backend, state, last_error FROM cve_records WHERE advisory_id = $1",
        )
        .bind(a.get().id.as_str())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let backend = CveBackend::parse(&r.try_get::<String, _>("backend")?)?;
        let warning = if backend == CveBackend::Block && a.relations().security_manager {
            block_warning(self.block_left(r.try_get("org_id")?).await?, &a.get().org)
        } else {
            None
        };
        Ok(Some(CveStatus {
            cve_id: CveId::parse(&r.try_get::<String, _>("cve_id")?)?,
            backend,
            state: CveState::parse(&r.try_get::<String, _>("state")?)?,
            last_error: r.try_get("last_error")?,
            warning,
        }))
    }

    /// What a CVE job sends for the advisory; `None` when there is nothing to send (no id
    /// assigned from CVE Services, or the advisory is not public). The advisory is read as
    /// the public reads it, so the rule decides what leaves.
    pub async fn cve_job_target(&self, id: &AdvisoryId) -> Result<Option<CveJobTarget>> {
        let Some(r) = sqlx::query(
            "SELECT org_id, cve_id, backend, record_exists FROM cve_records WHERE advisory_id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        if r.try_get::<String, _>("backend")? != CveBackend::CveServices.as_str() {
            return Ok(None);
        }
        let advisory = match self.advisory(Actor::Anonymous, id).await {
            Ok(a) => a.into_inner(),
            Err(StoreError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let org_id: i64 = r.try_get("org_id")?;
        let account = self.cve_row(org_id).await?.and_then(|(_, a)| a);
        let vendor: String = sqlx::query_scalar("SELECT name FROM orgs WHERE id = $1")
            .bind(org_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(Some(CveJobTarget {
            advisory,
            cve_id: CveId::parse(&r.try_get::<String, _>("cve_id")?)?,
            record_exists: r.try_get::<i64, _>("record_exists")? != 0,
            account,
            vendor,
        }))
    }

    /// Records that CVE Services took the record: published or rejected.
    pub async fn cve_sent(&self, id: &AdvisoryId, state: CveState) -> Result<()> {
        sqlx::query(
            "UPDATE cve_records SET state = $1, last_error = NULL, record_exists = 1, updated_at = $2 WHERE advisory_id = $3",
        )
        .bind(state.as_str())
        .bind(to_ms(self.now()))
        .bind(id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records that sending the record failed, with what CVE Services (or the network) said.
    pub async fn cve_failed(&self, id: &AdvisoryId, error: &str) -> Result<()> {
        let error: String = error.chars().take(2000).collect();
        sqlx::query(
            "UPDATE cve_records SET state = 'failed', last_error = $1, updated_at = $2 WHERE advisory_id = $3",
        )
        .bind(error)
        .bind(to_ms(self.now()))
        .bind(id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

fn refuse_second_id(a: &Advisory) -> Result<()> {
    match &a.content.cve_id {
        Some(c) => Err(StoreError::Conflict(format!(
            "the advisory has a CVE id already ({c}); clear it by editing first to give it another"
        ))),
        None => Ok(()),
    }
}

fn check_block(ids: &[CveId]) -> Result<()> {
    if ids.is_empty() {
        return Err(
            FieldError::new("ids", "list at least one CVE id, such as CVE-2026-1000").into(),
        );
    }
    if ids.len() > MAX_BLOCK {
        return Err(FieldError::new("ids", format!("at most {MAX_BLOCK} ids at once")).into());
    }
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        if !seen.insert(id.as_str()) {
            return Err(FieldError::new("ids", format!("{id} is listed twice")).into());
        }
    }
    Ok(())
}

/// Schedules a one-off job in the transaction of a change, once per `key`.
pub(crate) async fn schedule_job_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    kind: &str,
    key: &str,
    payload: &serde_json::Value,
    due_at: OffsetDateTime,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO jobs (kind, job_key, payload, due_at, created_at) VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (job_key) DO NOTHING",
    )
    .bind(kind)
    .bind(key)
    .bind(payload.to_string())
    .bind(to_ms(due_at))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// After a change, in its transaction: records an assigned id, and for a change the public
/// sees (publication, a public edit, withdrawal) sends the record to CVE Services by a job,
/// or, for ids from a block or entered by hand, follows the advisory's state.
pub(crate) async fn after_change(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    next: &Advisory,
    org_id: i64,
    change: &Change,
    now: OffsetDateTime,
) -> Result<()> {
    let id = next.id.as_str();
    if let Change::CveAssigned { cve_id, backend } = change {
        sqlx::query(
            "INSERT INTO cve_records (advisory_id, org_id, cve_id, backend, state, record_exists, updated_at) VALUES ($1, $2, $3, $4, 'reserved', 0, $5)
             ON CONFLICT (advisory_id) DO UPDATE SET cve_id = $3, backend = $4, state = 'reserved', last_error = NULL, record_exists = 0, updated_at = $5",
        )
        .bind(id)
        .bind(org_id)
        .bind(cve_id.as_str())
        .bind(backend.as_str())
        .bind(to_ms(now))
        .execute(&mut **tx)
        .await?;
    }
    let kind = match change {
        Change::Published => JOB_PUBLISH,
        Change::CveAssigned { .. } if next.state == State::Published => JOB_PUBLISH,
        Change::Withdrawn { .. } => JOB_REJECT,
        Change::Edited { .. } if next.state == State::Published => JOB_UPDATE,
        _ => return Ok(()),
    };
    let Some(r) = sqlx::query("SELECT cve_id, backend FROM cve_records WHERE advisory_id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
    else {
        return Ok(());
    };
    // An id edited away (or replaced by hand) is no longer this advisory's to publish.
    let cve_id: String = r.try_get("cve_id")?;
    if next.content.cve_id.as_ref().map(CveId::as_str) != Some(cve_id.as_str()) {
        return Ok(());
    }
    if r.try_get::<String, _>("backend")? == CveBackend::CveServices.as_str() {
        let key = format!("{kind}:{id}:{}", next.revision);
        schedule_job_in(tx, kind, &key, &serde_json::json!({ "advisory": id }), now).await
    } else {
        let state = if kind == JOB_REJECT {
            CveState::Rejected
        } else {
            CveState::Published
        };
        sqlx::query("UPDATE cve_records SET state = $1, updated_at = $2 WHERE advisory_id = $3")
            .bind(state.as_str())
            .bind(to_ms(now))
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
