//! Organisations, their people and their repositories.

use embargo_domain::access::{Actor, Decision, OrgAction, OrgRelations, decide_org};
use embargo_domain::policy::{Policy, Span};
use embargo_domain::types::{DisplayName, Email, OrgRole, Slug};
use serde::Serialize;
// Dynamic SQL here is assembled only from this file's constants, never from input.
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::clock::to_ms;
use crate::{Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Org {
    #[serde(skip)]
    pub id: i64,
    pub slug: Slug,
    pub name: String,
    pub policy: Policy,
    /// The organisation's own words on its policy (Markdown), shown in its SECURITY.md.
    pub policy_text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Repo {
    #[serde(skip)]
    pub id: i64,
    #[serde(skip)]
    pub org_id: i64,
    pub org: Slug,
    pub slug: Slug,
    pub name: String,
    /// Where its CODEOWNERS is read from.
    pub upstream: Option<String>,
}

/// Changes to an organisation's policy; absent fields stay as they are.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyChange {
    pub response_days: Option<u32>,
    /// Durations as text: `14d`, `36h`, `90m`, `5s`.
    pub response_deadline: Option<Span>,
    pub reminders: Option<Vec<Span>>,
    pub embargo_max: Option<Span>,
    pub embargo_warnings: Option<Vec<Span>>,
    pub require_two_factor: Option<bool>,
    pub spam_block_days: Option<u32>,
    pub reports_per_hour: Option<u32>,
    pub mail_titles: Option<bool>,
    pub disclose_closed_days: Option<u32>,
    /// How many of the most recent release lines get fixes (1: the current release only).
    pub supported_releases: Option<u32>,
    /// The organisation's own words for its SECURITY.md (Markdown, at most 20,000 bytes).
    pub policy_text: Option<String>,
}

/// What an actor may do in an organisation, precomputed from the rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OrgPermissions {
    pub can_manage_repos: bool,
    pub can_manage_policy: bool,
    pub can_read_record: bool,
}

fn org_from_row(row: &AnyRow) -> Result<Org> {
    let days: i64 = row.try_get("response_days")?;
    let mut policy = Policy::new(u32::try_from(days).unwrap_or(14))?;
    policy.require_two_factor = row.try_get::<i64, _>("require_two_factor")? != 0;
    policy.spam_block_days = u32::try_from(row.try_get::<i64, _>("spam_block_days")?).unwrap_or(30);
    policy.reports_per_hour =
        u32::try_from(row.try_get::<i64, _>("reports_per_hour")?).unwrap_or(10);
    policy.mail_titles = row.try_get::<i64, _>("mail_titles")? != 0;
    policy.disclose_closed_days =
        u32::try_from(row.try_get::<i64, _>("disclose_closed_days")?).unwrap_or(0);
    if let Some(d) = row.try_get::<Option<String>, _>("response_deadline")? {
        policy.set_response_deadline(Span::parse("response_deadline", &d)?)?;
    }
    if let Some(n) = row.try_get::<Option<i64>, _>("supported_releases")? {
        policy.supported_releases = u32::try_from(n).unwrap_or(1);
    }
    if let Some(d) = row.try_get::<Option<String>, _>("embargo_max")? {
        policy.embargo_max = Span::parse("embargo_max", &d)?;
    }
    for (column, list) in [
        ("reminders", &mut policy.reminders),
        ("embargo_warnings", &mut policy.embargo_warnings),
    ] {
        if let Some(text) = row.try_get::<Option<String>, _>(column)? {
            *list = serde_json::from_str(&text).map_err(|e| {
                StoreError::Internal(format!("orgs.{column} does not read back: {e}"))
            })?;
        }
    }
    Ok(Org {
        id: row.try_get("id")?,
        slug: Slug::parse(&row.try_get::<String, _>("slug")?)?,
        name: row.try_get("name")?,
        policy,
        policy_text: row.try_get("policy_text")?,
    })
}

fn repo_from_row(row: &AnyRow) -> Result<Repo> {
    Ok(Repo {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        org: Slug::parse(&row.try_get::<String, _>("org_slug")?)?,
        slug: Slug::parse(&row.try_get::<String, _>("slug")?)?,
        name: row.try_get("name")?,
        upstream: row.try_get("upstream")?,
    })
}

/// The longest free-text policy an organisation may keep.
pub const POLICY_TEXT_MAX: usize = 20_000;

const REPO_COLUMNS: &str = "r.id, r.org_id, o.slug AS org_slug, r.slug, r.name, r.upstream";

impl Store {
    async fn org_relations(&self, actor: Actor, org_id: i64) -> Result<OrgRelations> {
        let Actor::User { id, admin } = actor else {
            return Ok(OrgRelations::default());
        };
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2")
                .bind(org_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        let row = sqlx::query(
            "SELECT o.require_two_factor, u.totp_enabled_at FROM orgs o, users u WHERE o.id = $1 AND u.id = $2",
        )
        .bind(org_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let two_factor_ok = match row {
            Some(r) => {
                r.try_get::<i64, _>("require_two_factor")? == 0
                    || r.try_get::<Option<i64>, _>("totp_enabled_at")?.is_some()
            }
            None => false,
        };
        Ok(OrgRelations {
            admin,
            role: role.as_deref().map(OrgRole::parse).transpose()?,
            two_factor_ok,
        })
    }

    /// What the actor may do in the organisation, for pages.
    pub async fn org_permissions(&self, actor: Actor, org: &Org) -> Result<OrgPermissions> {
        let rel = self.org_relations(actor, org.id).await?;
        let may = |a| decide_org(actor, rel, a) == Decision::Allow;
        Ok(OrgPermissions {
            can_manage_repos: may(OrgAction::ManageRepos),
            can_manage_policy: may(OrgAction::ManagePolicy),
            can_read_record: may(OrgAction::ReadRecord),
        })
    }

    pub(crate) async fn require_org(
        &self,
        actor: Actor,
        org: &Org,
        action: OrgAction,
        verb: &str,
    ) -> Result<()> {
        let rel = self.org_relations(actor, org.id).await?;
        match decide_org(actor, rel, action) {
            Decision::Allow => Ok(()),
            Decision::NeedsTwoFactor => {
                Err(StoreError::Forbidden(crate::TWO_FACTOR_REQUIRED.into()))
            }
            _ => Err(StoreError::Forbidden(format!(
                "you may not {verb} in organisation {}",
                org.slug
            ))),
        }
    }

    async fn user_for_email(&self, email: &Email) -> Result<crate::User> {
        self.user_by_email(email).await?.ok_or_else(|| {
            StoreError::Invalid(embargo_domain::FieldError::new(
                "email",
                format!(
                    "no account has the address {email}; create it first (embargo admin user add)"
                ),
            ))
        })
    }

    pub async fn create_org(&self, actor: Actor, slug: &Slug, name: &str) -> Result<Org> {
        let name = DisplayName::parse(name)?;
        if decide_org(
            actor,
            OrgRelations {
                admin: matches!(actor, Actor::User { admin: true, .. }),
                role: None,
                two_factor_ok: true,
            },
            OrgAction::Create,
        ) != Decision::Allow
        {
            return Err(StoreError::Forbidden(
                "only administrators create organisations".into(),
            ));
        }
        let policy = Policy::default();
        let now = to_ms(self.now());
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO orgs (slug, name, response_days, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (slug) DO NOTHING RETURNING id",
        )
        .bind(slug.as_str())
        .bind(name.as_str())
        .bind(i64::from(policy.response_days))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::Conflict(format!(
                "an organisation named {slug} exists already"
            )));
        };
        let id: i64 = row.try_get("id")?;
        org_event(
            &mut tx,
            id,
            actor,
            self.origin(),
            "org_created",
            serde_json::json!({"slug": slug, "name": name}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Org {
            id,
            slug: slug.clone(),
            name: name.to_string(),
            policy,
            policy_text: String::new(),
        })
    }

    pub async fn org(&self, slug: &Slug) -> Result<Org> {
        let row = sqlx::query(
            "SELECT id, slug, name, response_days, require_two_factor, spam_block_days, reports_per_hour, mail_titles, disclose_closed_days, response_deadline, reminders, embargo_max, embargo_warnings, supported_releases, policy_text FROM orgs WHERE slug = $1",
        )
        .bind(slug.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("organisation"))?;
        org_from_row(&row)
    }

    pub async fn orgs(&self) -> Result<Vec<Org>> {
        let rows = sqlx::query(
            "SELECT id, slug, name, response_days, require_two_factor, spam_block_days, reports_per_hour, mail_titles, disclose_closed_days, response_deadline, reminders, embargo_max, embargo_warnings, supported_releases, policy_text FROM orgs ORDER BY slug",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(org_from_row).collect()
    }

    /// Changes the organisation's policy settings (administrators and security managers).
    pub async fn set_policy(&self, actor: Actor, org: &Slug, change: PolicyChange) -> Result<Org> {
        let org = self.org(org).await?;
        self.require_org(actor, &org, OrgAction::ManagePolicy, "change the policy")
            .await?;
        let mut clock = org.policy.clone();
        // The same number of days again (a form sends every field) keeps a finer deadline.
        if let Some(d) = change
            .response_days
            .filter(|d| *d != org.policy.response_days)
        {
            clock = Policy {
                response_deadline: Policy::new(d)?.response_deadline,
                response_days: d,
                ..clock
            };
        }
        if let Some(d) = change.response_deadline {
            clock.set_response_deadline(d)?;
        }
        if let Some(list) = change.reminders {
            clock.reminders = Policy::check_offsets("reminders", list)?;
        }
        if let Some(d) = change.embargo_max {
            if d.0 < time::Duration::seconds(1) || d.0 > time::Duration::days(3650) {
                return Err(embargo_domain::FieldError::new(
                    "embargo_max",
                    "must be between 1s and 3650d",
                )
                .into());
            }
            clock.embargo_max = d;
        }
        if let Some(list) = change.embargo_warnings {
            clock.embargo_warnings = Policy::check_offsets("embargo_warnings", list)?;
        }
        let days = clock.response_days;
        let list_text = |l: &[Span]| serde_json::to_string(l).unwrap_or_else(|_| "[]".into());
        let two_factor = change
            .require_two_factor
            .unwrap_or(org.policy.require_two_factor);
        let block_days = change.spam_block_days.unwrap_or(org.policy.spam_block_days);
        if block_days > 3650 {
            return Err(
                embargo_domain::FieldError::new("spam_block_days", "must be at most 3650").into(),
            );
        }
        let per_hour = change
            .reports_per_hour
            .unwrap_or(org.policy.reports_per_hour);
        if !(1..=10_000).contains(&per_hour) {
            return Err(embargo_domain::FieldError::new(
                "reports_per_hour",
                "must be between 1 and 10000",
            )
            .into());
        }
        let titles = change.mail_titles.unwrap_or(org.policy.mail_titles);
        let disclose = change
            .disclose_closed_days
            .unwrap_or(org.policy.disclose_closed_days);
        if disclose > 3650 {
            return Err(embargo_domain::FieldError::new(
                "disclose_closed_days",
                "must be at most 3650 (0 keeps closed reports private)",
            )
            .into());
        }
        let supported = change
            .supported_releases
            .unwrap_or(org.policy.supported_releases);
        if !(1..=100).contains(&supported) {
            return Err(embargo_domain::FieldError::new(
                "supported_releases",
                "must be between 1 (only the current release) and 100",
            )
            .into());
        }
        let policy_text = change.policy_text.unwrap_or(org.policy_text);
        if policy_text.len() > POLICY_TEXT_MAX {
            return Err(embargo_domain::FieldError::new(
                "policy_text",
                format!("must be at most {POLICY_TEXT_MAX} bytes"),
            )
            .into());
        }
        let now = to_ms(self.now());
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE orgs SET policy_text = $13, response_days = $1, require_two_factor = $2, spam_block_days = $3, reports_per_hour = $4, mail_titles = $6, disclose_closed_days = $7, response_deadline = $8, reminders = $9, embargo_max = $10, embargo_warnings = $11, supported_releases = $12 WHERE id = $5")
            .bind(i64::from(days))
            .bind(i64::from(two_factor))
            .bind(i64::from(block_days))
            .bind(i64::from(per_hour))
            .bind(org.id)
            .bind(i64::from(titles))
            .bind(i64::from(disclose))
            .bind(String::from(clock.response_deadline))
            .bind(list_text(&clock.reminders))
            .bind(String::from(clock.embargo_max))
            .bind(list_text(&clock.embargo_warnings))
            .bind(i64::from(supported))
            .bind(&policy_text)
            .execute(&mut *tx)
            .await?;
        let detail = serde_json::json!({"response_days": days, "require_two_factor": two_factor, "spam_block_days": block_days, "reports_per_hour": per_hour, "mail_titles": titles, "disclose_closed_days": disclose, "response_deadline": clock.response_deadline, "reminders": clock.reminders, "embargo_max": clock.embargo_max, "embargo_warnings": clock.embargo_warnings, "supported_releases": supported, "policy_text_bytes": policy_text.len()});
        org_event(
            &mut tx,
            org.id,
            actor,
            self.origin(),
            "policy_changed",
            detail,
            now,
        )
        .await?;
        tx.commit().await?;
        self.org(&org.slug).await
    }

    /// Names a security manager or steering committee member (replacing any earlier role).
    pub async fn set_member(
        &self,
        actor: Actor,
        org: &Slug,
        email: &Email,
        role: OrgRole,
    ) -> Result<()> {
        let org = self.org(org).await?;
        self.require_org(actor, &org, OrgAction::ManageMembers, "name members")
            .await?;
        let user = self.user_for_email(email).await?;
        let now = to_ms(self.now());
        let mut tx = self.pool.begin().await?;
        if role != OrgRole::SecurityManager {
            keep_a_security_manager(&mut tx, self.backend, org.id, user.id).await?;
        }
        sqlx::query(
            "INSERT INTO org_members (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(org.id)
        .bind(user.id)
        .bind(role.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        org_event(
            &mut tx,
            org.id,
            actor,
            self.origin(),
            "member_set",
            serde_json::json!({"user_id": user.id, "role": role}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn remove_member(&self, actor: Actor, org: &Slug, email: &Email) -> Result<()> {
        let org = self.org(org).await?;
        self.require_org(actor, &org, OrgAction::ManageMembers, "remove members")
            .await?;
        let user = self.user_for_email(email).await?;
        let now = to_ms(self.now());
        let mut tx = self.pool.begin().await?;
        keep_a_security_manager(&mut tx, self.backend, org.id, user.id).await?;
        let done = sqlx::query("DELETE FROM org_members WHERE org_id = $1 AND user_id = $2")
            .bind(org.id)
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("member"));
        }
        org_event(
            &mut tx,
            org.id,
            actor,
            self.origin(),
            "member_removed",
            serde_json::json!({"user_id": user.id}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_repo(
        &self,
        actor: Actor,
        org: &Slug,
        slug: &Slug,
        name: &str,
    ) -> Result<Repo> {
        let name = DisplayName::parse(name)?;
        let org = self.org(org).await?;
        self.require_org(actor, &org, OrgAction::ManageRepos, "add repositories")
            .await?;
        let now = to_ms(self.now());
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO repos (org_id, slug, name, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (org_id, slug) DO NOTHING RETURNING id",
        )
        .bind(org.id)
        .bind(slug.as_str())
        .bind(name.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::Conflict(format!(
                "{}/{slug} exists already",
                org.slug
            )));
        };
        let id: i64 = row.try_get("id")?;
        org_event(
            &mut tx,
            org.id,
            actor,
            self.origin(),
            "repo_created",
            serde_json::json!({"slug": slug, "name": name}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Repo {
            id,
            org_id: org.id,
            org: org.slug,
            slug: slug.clone(),
            name: name.to_string(),
            upstream: None,
        })
    }

    pub async fn repo(&self, org: &Slug, slug: &Slug) -> Result<Repo> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {REPO_COLUMNS} FROM repos r JOIN orgs o ON o.id = r.org_id WHERE o.slug = $1 AND r.slug = $2"
        )))
        .bind(org.as_str())
        .bind(slug.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("repository"))?;
        repo_from_row(&row)
    }

    /// All repositories, or those of one organisation.
    pub async fn repos(&self, org: Option<&Slug>) -> Result<Vec<Repo>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {REPO_COLUMNS} FROM repos r JOIN orgs o ON o.id = r.org_id
             WHERE $1 = '' OR o.slug = $1 ORDER BY o.slug, r.slug"
        )))
        .bind(org.map(Slug::as_str).unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(repo_from_row).collect()
    }

    pub async fn add_maintainer(
        &self,
        actor: Actor,
        org: &Slug,
        repo: &Slug,
        email: &Email,
    ) -> Result<()> {
        let repo = self.repo(org, repo).await?;
        let org = self.org(org).await?;
        self.require_org(actor, &org, OrgAction::ManageRepos, "name maintainers")
            .await?;
        let user = self.user_for_email(email).await?;
        let now = to_ms(self.now());
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO maintainers (repo_id, user_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (repo_id, user_id) DO NOTHING",
        )
        .bind(repo.id)
        .bind(user.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        org_event(
            &mut tx,
            org.id,
            actor,
            self.origin(),
            "maintainer_added",
            serde_json::json!({"repo": repo.slug, "user_id": user.id}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn remove_maintainer(
        &self,
        actor: Actor,
        org: &Slug,
        repo: &Slug,
        email: &Email,
    ) -> Result<()> {
        let repo = self.repo(org, repo).await?;
        let org = self.org(org).await?;
        self.require_org(actor, &org, OrgAction::ManageRepos, "remove maintainers")
            .await?;
        let user = self.user_for_email(email).await?;
        let now = to_ms(self.now());
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM maintainers WHERE repo_id = $1 AND user_id = $2")
            .bind(repo.id)
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("maintainer"));
        }
        org_event(
            &mut tx,
            org.id,
            actor,
            self.origin(),
            "maintainer_removed",
            serde_json::json!({"repo": repo.slug, "user_id": user.id}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Appends an organisation change to the events and to the access log.
pub(crate) async fn org_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org_id: i64,
    actor: Actor,
    origin: Option<&str>,
    kind: &str,
    data: serde_json::Value,
    at: i64,
) -> Result<()> {
    let mut detail = data.clone();
    if let Some(o) = detail.as_object_mut() {
        o.insert("org_id".into(), serde_json::json!(org_id));
    }
    crate::audit::append(
        tx,
        crate::clock::from_ms(at),
        actor,
        origin,
        kind,
        None,
        &detail,
    )
    .await?;
    sqlx::query(
        "INSERT INTO events (org_id, actor_id, kind, data, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(org_id)
    .bind(actor.user_id())
    .bind(kind)
    .bind(data.to_string())
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Refuses to take the security manager role from `user_id` when nobody else in the
/// organisation holds it: an organisation without one has nobody to triage its reports, set
/// its policy or name members (only a site administrator could repair it). The organisation's
/// row is locked first, so two managers removing each other at once cannot both succeed (on
/// PostgreSQL `FOR NO KEY UPDATE`, which still lets others add rows that point at the
/// organisation: see `lock_advisory`).
async fn keep_a_security_manager(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: crate::Backend,
    org_id: i64,
    user_id: i64,
) -> Result<()> {
    let lock = match backend {
        crate::Backend::Postgres => "SELECT id FROM orgs WHERE id = $1 FOR NO KEY UPDATE",
        crate::Backend::Sqlite => "UPDATE orgs SET id = id WHERE id = $1",
    };
    sqlx::query(lock).bind(org_id).execute(&mut **tx).await?;
    let (is_manager, managers): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(CASE WHEN user_id = $2 THEN 1 ELSE 0 END), 0), COUNT(*)
         FROM org_members WHERE org_id = $1 AND role = 'security_manager'",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_one(&mut **tx)
    .await?;
    if is_manager > 0 && managers <= 1 {
        return Err(StoreError::Conflict(
            "this is the organisation's only security manager: name another one first".into(),
        ));
    }
    Ok(())
}
