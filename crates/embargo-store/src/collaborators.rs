//! Collaborators: people invited to one advisory on a need-to-know basis (a downstream
//! distributor, another vendor). Security managers and the repository's maintainers invite
//! by e-mail, optionally until a date; the invited accept; revoking or expiry ends access on
//! the next request. Every step is an event of the advisory and an entry of the access log.

use embargo_domain::FieldError;
use embargo_domain::access::{Action, Actor, decide_invitation};
use embargo_domain::advisory::Change;
use embargo_domain::ids::AdvisoryId;
use embargo_domain::types::{DisplayName, Email};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use time::{Duration, OffsetDateTime};

use crate::clock::{from_ms, to_ms};
use crate::secrets::{new_token, token_hash};
use crate::{Result, Store, StoreError, User};

/// What an invitation's sign-up page tells the holder of its link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignupDetails {
    pub email: Email,
    /// The inviter's display name.
    pub inviter: String,
    pub advisory_id: String,
    /// `org/repo`, or `org`.
    pub place: String,
}

/// An invitation as the advisory's people see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Collaborator {
    pub id: i64,
    pub email: String,
    /// A downstream organisation the person speaks for, if any.
    pub organisation: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub invited_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub accepted_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// `pending`, `active`, `revoked` or `expired`.
    pub status: &'static str,
    /// The invitation lets them push to the advisory's fix repository.
    pub write: bool,
}

/// An invitation as the invited person sees it before accepting: where, not what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Invitation {
    pub id: i64,
    pub advisory_id: String,
    pub organisation: String,
    pub repository: String,
    #[serde(with = "time::serde::rfc3339")]
    pub invited_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// What an inviter sends.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvitation {
    pub email: Email,
    #[serde(default)]
    pub organisation: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Lets them push to the advisory's fix repository (only those who may invite give it).
    #[serde(default)]
    pub write: bool,
}

/// How long an invitation may run at most.
const MAX_INVITATION: Duration = Duration::days(366);
/// How long a sign-up link works when the invitation has no earlier expiry.
const SIGNUP_LINK: Duration = Duration::days(14);

fn status(row: &AnyRow, now: OffsetDateTime) -> Result<&'static str> {
    let revoked: Option<i64> = row.try_get("revoked_at")?;
    let accepted: Option<i64> = row.try_get("accepted_at")?;
    let expires: Option<i64> = row.try_get("expires_at")?;
    Ok(if revoked.is_some() {
        "revoked"
    } else if expires.is_some_and(|e| e <= to_ms(now)) {
        "expired"
    } else if accepted.is_some() {
        "active"
    } else {
        "pending"
    })
}

fn collaborator_from_row(row: &AnyRow, now: OffsetDateTime) -> Result<Collaborator> {
    Ok(Collaborator {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        organisation: row.try_get("organisation")?,
        invited_at: from_ms(row.try_get("invited_at")?),
        expires_at: row.try_get::<Option<i64>, _>("expires_at")?.map(from_ms),
        accepted_at: row.try_get::<Option<i64>, _>("accepted_at")?.map(from_ms),
        revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(from_ms),
        status: status(row, now)?,
        write: row.try_get::<i64, _>("can_write")? != 0,
    })
}

const COLUMNS: &str = "id, advisory_id, email, user_id, organisation, invited_at, expires_at, accepted_at, revoked_at, can_write";

impl Store {
    /// Invites `who` to advisory `id`. Returns the invitation and, when the address has no
    /// account yet, a sign-up token to send them (only its hash is kept).
    ///
    /// Someone without an account gets a one-time sign-up link (`signup_link` of its token)
    /// by mail, and the token is given back for the inviter to pass on. The advisory's own
    /// reporter is refused: they read it already.
    pub async fn invite(
        &self,
        actor: Actor,
        id: &AdvisoryId,
        who: NewInvitation,
        signup_link: impl FnOnce(&str) -> String,
    ) -> Result<(Collaborator, Option<String>)> {
        let now = self.now();
        let organisation = match who.organisation.as_deref().map(str::trim) {
            Some("") | None => None,
            Some(o) => Some(
                DisplayName::parse(o)
                    .map_err(|e| FieldError::new("organisation", e.message))?
                    .to_string(),
            ),
        };
        if let Some(t) = who.expires_at {
            if t <= now {
                return Err(FieldError::new(
                    "expires_at",
                    "is in the past; give a time in the future",
                )
                .into());
            }
            if t > now + MAX_INVITATION {
                return Err(FieldError::new(
                    "expires_at",
                    "is more than a year away; invite again later instead",
                )
                .into());
            }
        }
        let invitee = self.user_by_email(&who.email).await?;
        let (mut tx, current) = self
            .begin_decided(actor, id, Action::Invite, "invite people to")
            .await?;
        if invitee
            .as_ref()
            .is_some_and(|u| u.id == current.get().reporter_id)
        {
            return Err(FieldError::new(
                "email",
                format!(
                    "{} reported this advisory and reads it already: there is no need to invite them",
                    who.email
                ),
            )
            .into());
        }
        let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM collaborators WHERE advisory_id = $1 AND email = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3)",
        )
        .bind(id.as_str())
        .bind(who.email.as_str())
        .bind(to_ms(now))
        .fetch_one(&mut *tx)
        .await?;
        if open > 0 {
            return Err(StoreError::Conflict(format!(
                "{} is invited to this advisory already",
                who.email
            )));
        }
        let token = if invitee.is_none() {
            Some(new_token("")?)
        } else {
            None
        };
        let row = sqlx::query(
            "INSERT INTO collaborators (advisory_id, email, user_id, organisation, invited_by, invited_at, expires_at, invite_token_hash, can_write)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(id.as_str())
        .bind(who.email.as_str())
        .bind(invitee.as_ref().map(|u| u.id))
        .bind(organisation.clone())
        .bind(actor.user_id())
        .bind(to_ms(now))
        .bind(who.expires_at.map(to_ms))
        .bind(token.as_deref().map(token_hash))
        .bind(i64::from(who.write))
        .fetch_one(&mut *tx)
        .await?;
        let collaborator_id: i64 = row.try_get("id")?;
        let org_id: i64 = sqlx::query_scalar("SELECT org_id FROM advisories WHERE id = $1")
            .bind(id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let change = Change::CollaboratorInvited {
            collaborator_id,
            email: who.email.to_string(),
            organisation: organisation.clone(),
            expires_at: who.expires_at,
        };
        self.insert_event(&mut tx, id, org_id, actor, &change, now)
            .await?;
        if let Some(t) = &token {
            // The notice of the event goes to accounts; this one carries the sign-up link.
            let a = current.get();
            let titles: i64 = sqlx::query_scalar("SELECT mail_titles FROM orgs WHERE id = $1")
                .bind(org_id)
                .fetch_one(&mut *tx)
                .await?;
            let place = a.place();
            let link = signup_link(t);
            let m = embargo_domain::notify::invitation_signup(
                &embargo_domain::notify::Facts {
                    id: &a.id,
                    place: &place,
                    title: (titles != 0).then_some(a.content.title.as_str()),
                    base_url: "",
                },
                who.email.as_str(),
                &link,
            );
            crate::mail::enqueue(&mut tx, &m, now).await?;
        }
        if who.write {
            // The event predates write access; the access log records the grant.
            crate::audit::append(
                &mut tx,
                now,
                actor,
                self.origin(),
                "fix_write_granted",
                Some(id),
                &serde_json::json!({ "collaborator_id": collaborator_id }),
            )
            .await?;
        }
        tx.commit().await?;
        let c = Collaborator {
            id: collaborator_id,
            email: who.email.to_string(),
            organisation,
            invited_at: now,
            expires_at: who.expires_at,
            accepted_at: None,
            revoked_at: None,
            status: "pending",
            write: who.write,
        };
        Ok((c, token))
    }

    /// The people invited to an advisory, for its audience.
    pub async fn collaborators(&self, actor: Actor, id: &AdvisoryId) -> Result<Vec<Collaborator>> {
        self.decided(
            actor,
            id,
            Action::ReadCollaborators,
            "see who is invited to",
        )
        .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM collaborators WHERE advisory_id = $1 ORDER BY id"
        )))
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?;
        let now = self.now();
        rows.iter().map(|r| collaborator_from_row(r, now)).collect()
    }

    /// Ends an invitation; access ends with the next request.
    pub async fn revoke(&self, actor: Actor, id: &AdvisoryId, collaborator_id: i64) -> Result<()> {
        let now = self.now();
        let (mut tx, _) = self
            .begin_decided(actor, id, Action::Revoke, "revoke invitations to")
            .await?;
        let done = sqlx::query("UPDATE collaborators SET revoked_at = $1 WHERE id = $2 AND advisory_id = $3 AND revoked_at IS NULL")
            .bind(to_ms(now))
            .bind(collaborator_id)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("invitation"));
        }
        let org_id: i64 = sqlx::query_scalar("SELECT org_id FROM advisories WHERE id = $1")
            .bind(id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        self.insert_event(
            &mut tx,
            id,
            org_id,
            actor,
            &Change::CollaboratorRevoked { collaborator_id },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The caller's pending invitations.
    pub async fn invitations(&self, actor: Actor) -> Result<Vec<Invitation>> {
        let rows = sqlx::query(
            "SELECT c.id, c.advisory_id, o.slug AS org_slug, r.slug AS repo_slug, c.invited_at, c.expires_at
             FROM collaborators c JOIN advisories a ON a.id = c.advisory_id JOIN orgs o ON o.id = a.org_id JOIN repos r ON r.id = a.repo_id
             WHERE c.user_id = $1 AND c.accepted_at IS NULL AND c.revoked_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > $2)
             ORDER BY c.id",
        )
        .bind(actor.account_id().unwrap_or(-1))
        .bind(to_ms(self.now()))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Invitation {
                    id: r.try_get("id")?,
                    advisory_id: r.try_get("advisory_id")?,
                    organisation: r.try_get("org_slug")?,
                    repository: r.try_get("repo_slug")?,
                    invited_at: from_ms(r.try_get("invited_at")?),
                    expires_at: r.try_get::<Option<i64>, _>("expires_at")?.map(from_ms),
                })
            })
            .collect()
    }

    /// Accepts an invitation addressed to the caller; returns the advisory's id.
    pub async fn accept_invitation(&self, actor: Actor, invitation_id: i64) -> Result<AdvisoryId> {
        let now = self.now();
        let mut tx = self.pool.begin().await?;
        // Take the write lock first (SQLite) and the row lock (both).
        sqlx::query("UPDATE collaborators SET accepted_at = accepted_at WHERE id = $1")
            .bind(invitation_id)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM collaborators WHERE id = $1"
        )))
        .bind(invitation_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("invitation"))?;
        let pending = status(&row, now)? == "pending";
        let invitee: Option<i64> = row.try_get("user_id")?;
        match decide_invitation(actor, invitee, pending) {
            embargo_domain::access::Decision::Allow => {}
            embargo_domain::access::Decision::Conflict => {
                return Err(StoreError::Conflict(
                    "this invitation is no longer open".into(),
                ));
            }
            _ => return Err(StoreError::NotFound("invitation")),
        }
        let id = AdvisoryId::parse(&row.try_get::<String, _>("advisory_id")?)?;
        self.accept_in(&mut tx, actor, &id, invitation_id, now)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn accept_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        actor: Actor,
        id: &AdvisoryId,
        invitation_id: i64,
        now: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query("UPDATE collaborators SET accepted_at = $1, user_id = $2, invite_token_hash = NULL WHERE id = $3")
            .bind(to_ms(now))
            .bind(actor.user_id())
            .bind(invitation_id)
            .execute(&mut **tx)
            .await?;
        let org_id: i64 = sqlx::query_scalar("SELECT org_id FROM advisories WHERE id = $1")
            .bind(id.as_str())
            .fetch_one(&mut **tx)
            .await?;
        self.insert_event(
            tx,
            id,
            org_id,
            actor,
            &Change::CollaboratorAccepted {
                collaborator_id: invitation_id,
            },
            now,
        )
        .await
    }

    /// The address a sign-up token was sent to, if the token is still good.
    /// What the sign-up page of an invitation says: who invited whom, to a report where.
    /// The title stays out: whoever holds the link is not known to be the invitee yet.
    pub async fn invitation_signup_details(&self, token: &str) -> Result<Option<SignupDetails>> {
        let Some(email) = self.invitation_signup(token).await? else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT c.advisory_id, u.name AS inviter, o.slug AS org, r.slug AS repo
             FROM collaborators c JOIN advisories a ON a.id = c.advisory_id
             JOIN orgs o ON o.id = a.org_id LEFT JOIN repos r ON r.id = a.repo_id
             LEFT JOIN users u ON u.id = c.invited_by
             WHERE c.invite_token_hash = $1",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let org: String = row.try_get("org")?;
        let place = match row.try_get::<Option<String>, _>("repo")? {
            Some(r) => format!("{org}/{r}"),
            None => org,
        };
        Ok(Some(SignupDetails {
            email,
            inviter: row
                .try_get::<Option<String>, _>("inviter")?
                .unwrap_or_else(|| "Its security team".into()),
            advisory_id: row.try_get("advisory_id")?,
            place,
        }))
    }

    pub async fn invitation_signup(&self, token: &str) -> Result<Option<Email>> {
        let row = sqlx::query(
            "SELECT email, invited_at, expires_at FROM collaborators
             WHERE invite_token_hash = $1 AND revoked_at IS NULL AND accepted_at IS NULL AND user_id IS NULL",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let now = self.now();
        let invited = from_ms(row.try_get("invited_at")?);
        let until = row
            .try_get::<Option<i64>, _>("expires_at")?
            .map(from_ms)
            .map_or(invited + SIGNUP_LINK, |e| e.min(invited + SIGNUP_LINK));
        if now >= until {
            return Ok(None);
        }
        Ok(Some(Email::parse(&row.try_get::<String, _>("email")?)?))
    }

    /// Creates the account an invitation's sign-up link was for, and accepts the invitation.
    pub async fn accept_with_signup(
        &self,
        token: &str,
        name: &str,
        password: &str,
    ) -> Result<User> {
        let email = self
            .invitation_signup(token)
            .await?
            .ok_or(StoreError::NotFound("invitation"))?;
        let user = self
            .create_user(&email, Some(name), Some(password), false)
            .await?;
        let now = self.now();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("UPDATE collaborators SET user_id = $1 WHERE invite_token_hash = $2 AND user_id IS NULL RETURNING id, advisory_id")
            .bind(user.id)
            .bind(token_hash(token))
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("invitation"))?;
        let id = AdvisoryId::parse(&row.try_get::<String, _>("advisory_id")?)?;
        self.accept_in(&mut tx, user.actor(), &id, row.try_get("id")?, now)
            .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Records, once, the expiry of invitations whose time has passed; returns how many.
    /// Runs from the server's scheduler; safe to run on several instances at once.
    pub async fn record_expiries(&self) -> Result<usize> {
        let now = self.now();
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "UPDATE collaborators SET expiry_recorded_at = $1
             WHERE expires_at <= $1 AND expiry_recorded_at IS NULL AND revoked_at IS NULL RETURNING id, advisory_id",
        )
        .bind(to_ms(now))
        .fetch_all(&mut *tx)
        .await?;
        for r in &rows {
            let id = AdvisoryId::parse(&r.try_get::<String, _>("advisory_id")?)?;
            let org_id: i64 = sqlx::query_scalar("SELECT org_id FROM advisories WHERE id = $1")
                .bind(id.as_str())
                .fetch_one(&mut *tx)
                .await?;
            let change = Change::CollaboratorExpired {
                collaborator_id: r.try_get("id")?,
            };
            let system = Actor::System(embargo_domain::access::SystemTask::InvitationExpiry);
            self.insert_event(&mut tx, &id, org_id, system, &change, now)
                .await?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }
}
