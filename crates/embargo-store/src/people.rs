//! Who is who, for the administration pages: an organisation's members, a repository's
//! maintainers, and the site's accounts. Each list is read only after the one access rule
//! allowed the caller to manage it.

use embargo_domain::access::{Actor, Decision, OrgAction, SiteAction, decide_site};
use embargo_domain::types::{Email, OrgRole, Slug};
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};
use time::Duration;

use crate::{Result, Store, StoreError, User};

/// A person named in an organisation or a repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    pub email: Email,
    pub name: String,
    /// Their role in the organisation; `None` for a repository's maintainers.
    pub role: Option<OrgRole>,
}

/// How long the link of an account an administrator created stays valid.
pub const NEW_ACCOUNT_LINK_DAYS: i64 = 7;

fn person(row: &sqlx::any::AnyRow, with_role: bool) -> Result<Person> {
    let role = if with_role {
        Some(OrgRole::parse(&row.try_get::<String, _>("role")?)?)
    } else {
        None
    };
    Ok(Person {
        email: Email::parse(&row.try_get::<String, _>("email")?)?,
        name: row.try_get("name")?,
        role,
    })
}

impl Store {
    /// Whether the actor may use the administration pages (the site rule).
    pub fn may_administer(actor: Actor) -> bool {
        decide_site(actor, SiteAction::Administer) == Decision::Allow
    }

    fn require_site(actor: Actor, action: SiteAction) -> Result<()> {
        match decide_site(actor, action) {
            Decision::Allow => Ok(()),
            _ => Err(StoreError::Forbidden(
                "only administrators manage accounts".into(),
            )),
        }
    }

    /// The organisation's security managers and steering committee (for those who name them).
    pub async fn org_members(&self, actor: Actor, org: &Slug) -> Result<Vec<Person>> {
        let org = self.org(org).await?;
        self.require_org(actor, &org, OrgAction::ManageMembers, "list members")
            .await?;
        let rows = sqlx::query(
            "SELECT u.email, u.name, m.role FROM org_members m JOIN users u ON u.id = m.user_id
             WHERE m.org_id = $1 ORDER BY m.role, u.email",
        )
        .bind(org.id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| person(r, true)).collect()
    }

    /// A repository's maintainers (for those who name them).
    pub async fn maintainers(&self, actor: Actor, org: &Slug, repo: &Slug) -> Result<Vec<Person>> {
        let repo = self.repo(org, repo).await?;
        let org = self.org(org).await?;
        self.require_org(actor, &org, OrgAction::ManageRepos, "list maintainers")
            .await?;
        let rows = sqlx::query(
            "SELECT u.email, u.name FROM maintainers m JOIN users u ON u.id = m.user_id
             WHERE m.repo_id = $1 ORDER BY u.email",
        )
        .bind(repo.id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| person(r, false)).collect()
    }

    /// Every account, by address (administrators only).
    pub async fn users(&self, actor: Actor) -> Result<Vec<User>> {
        Self::require_site(actor, SiteAction::Administer)?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM users u ORDER BY u.email LIMIT 1000",
            crate::users::USER_COLUMNS
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(crate::users::user_from_row).collect()
    }

    /// Creates an account without a password (administrators only) and gives back a one-time
    /// link, valid [`NEW_ACCOUNT_LINK_DAYS`] days, where its owner chooses one.
    pub async fn create_account(
        &self,
        actor: Actor,
        email: &Email,
        name: Option<&str>,
        admin: bool,
    ) -> Result<(User, String)> {
        Self::require_site(actor, SiteAction::Administer)?;
        let user = self.create_user_as(actor, email, name, None, admin).await?;
        let token = self
            .create_link_token(
                "reset",
                Some(user.id),
                Duration::days(NEW_ACCOUNT_LINK_DAYS),
            )
            .await?;
        Ok((user, token))
    }
}
