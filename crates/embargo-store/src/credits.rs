//! Credits need the credited person's consent.
//!
//! A credit that names a person by an e-mail address stands for that address's account
//! (as a forge's advisory credits a user): the public side (pages, exports, feeds, the
//! CVE record) shows it only once that account accepted it, and then under the account's
//! name, never the address. Until then, or once declined, the public sees nothing of it.
//! A credit in words ("Alice Finder", "The Fuzzing Team") names no account and is shown as
//! the advisory's editors wrote it. The advisory's audience sees every credit with its
//! answer; the credited person answers from the advisory's page or the API.

use embargo_domain::access::{Action, Actor};
use embargo_domain::advisory::{Advisory, CreditType};
use embargo_domain::ids::AdvisoryId;
use embargo_domain::types::Email;
use serde::Serialize;
use sqlx::Row;

use crate::clock::to_ms;
use crate::{Authorized, Result, Store, StoreError};

/// Where a credit stands with the person it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CreditConsent {
    /// Names no account by address: shown as written.
    NotNeeded,
    /// Names an address; its person has not answered (or has no account yet).
    Pending,
    Accepted,
    Declined,
}

impl CreditConsent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotNeeded => "not_needed",
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
        }
    }

    /// In words, for pages.
    pub fn label(self) -> &'static str {
        match self {
            Self::NotNeeded => "shown as written",
            Self::Pending => "waiting for the person's answer; not public",
            Self::Accepted => "accepted; public under their account's name",
            Self::Declined => "declined; never public",
        }
    }
}

/// One credit as the advisory's audience (or the credited person) sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CreditEntry {
    /// As written on the advisory (an address, for a credit that needs consent).
    pub name: String,
    #[serde(rename = "type")]
    pub kind: CreditType,
    pub consent: CreditConsent,
    /// Whether it names the caller, who may then accept or decline it.
    pub mine: bool,
}

/// The account a credit's address names, with its answer on this advisory.
struct Named {
    user_id: i64,
    name: String,
    state: Option<String>,
}

async fn named(
    conn: &mut sqlx::AnyConnection,
    advisory: &AdvisoryId,
    email: &Email,
) -> Result<Option<Named>> {
    let row = sqlx::query(
        "SELECT u.id, u.name, c.state FROM users u
         LEFT JOIN credit_consents c ON c.user_id = u.id AND c.advisory_id = $1
         WHERE lower(u.email) = lower($2)",
    )
    .bind(advisory.as_str())
    .bind(email.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(Named {
            user_id: r.try_get("id")?,
            name: r.try_get("name")?,
            state: r.try_get("state")?,
        })
    })
    .transpose()
}

fn consent_of(n: Option<&Named>) -> CreditConsent {
    match n.and_then(|n| n.state.as_deref()) {
        Some("accepted") => CreditConsent::Accepted,
        Some("declined") => CreditConsent::Declined,
        _ => CreditConsent::Pending,
    }
}

/// Leaves on `a` only the credits the public may see: those in words, and those whose
/// person accepted, under their account's name.
pub(crate) async fn keep_public_credits(
    conn: &mut sqlx::AnyConnection,
    a: &mut Advisory,
) -> Result<()> {
    if !a
        .content
        .credits
        .iter()
        .any(|c| Email::parse(&c.name).is_ok())
    {
        return Ok(());
    }
    let mut kept = Vec::with_capacity(a.content.credits.len());
    for mut c in std::mem::take(&mut a.content.credits) {
        let Ok(email) = Email::parse(&c.name) else {
            kept.push(c);
            continue;
        };
        let n = named(conn, &a.id, &email).await?;
        if let Some(n) = n
            .filter(|n| consent_of(Some(n)) == CreditConsent::Accepted && !n.name.trim().is_empty())
        {
            c.name = n.name;
            kept.push(c);
        }
    }
    a.content.credits = kept;
    Ok(())
}

impl Store {
    /// [`keep_public_credits`] for several advisories, on the pool.
    pub(crate) async fn keep_public_credits(&self, list: &mut [Advisory]) -> Result<()> {
        if list.iter().all(|a| {
            a.content
                .credits
                .iter()
                .all(|c| Email::parse(&c.name).is_err())
        }) {
            return Ok(());
        }
        let mut conn = self.pool.acquire().await?;
        for a in list {
            keep_public_credits(&mut conn, a).await?;
        }
        Ok(())
    }

    async fn caller_email(&self, actor: Actor) -> Result<Option<(i64, String)>> {
        let Some(id) = actor.user_id() else {
            return Ok(None);
        };
        let email: Option<String> = sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(email.map(|e| (id, e)))
    }

    /// The advisory's credits with where each stands: all of them for its audience; for
    /// anyone else who may read it, only those naming them (the rest they see on the
    /// public page). A read of an unpublished advisory, so in the access log.
    pub async fn credits(&self, actor: Actor, id: &AdvisoryId) -> Result<Vec<CreditEntry>> {
        let a = self
            .decided(actor, id, Action::Read, "read the credits of")
            .await?;
        if !a.get().state.is_public() {
            self.audit_read(actor, "read", id).await?;
        }
        self.credit_entries(actor, id).await
    }

    /// [`Store::credits`] for a page that already read the advisory (and logged that).
    pub async fn credits_on_page(
        &self,
        actor: Actor,
        viewed: &Authorized<Advisory>,
    ) -> Result<Vec<CreditEntry>> {
        self.credit_entries(actor, &viewed.get().id).await
    }

    async fn credit_entries(&self, actor: Actor, id: &AdvisoryId) -> Result<Vec<CreditEntry>> {
        let mut conn = self.pool.acquire().await?;
        // The stored credits, all of them (a read's result outside the audience has only
        // the public ones); the same decision as the read.
        let a = crate::advisories::decided_on(
            &mut conn,
            &self.keys,
            self.now(),
            actor,
            id,
            Action::Read,
            "read the credits of",
        )
        .await?;
        let audience = a.relations().in_audience();
        let me = self.caller_email(actor).await?;
        let mut out = Vec::new();
        for c in &a.get().content.credits {
            let (consent, mine) = match Email::parse(&c.name) {
                Err(_) => (CreditConsent::NotNeeded, false),
                Ok(email) => {
                    let n = named(&mut conn, id, &email).await?;
                    let mine = matches!((&n, &me), (Some(n), Some((uid, _))) if n.user_id == *uid);
                    (consent_of(n.as_ref()), mine)
                }
            };
            if audience || mine {
                out.push(CreditEntry {
                    name: c.name.clone(),
                    kind: c.kind,
                    consent,
                    mine,
                });
            }
        }
        Ok(out)
    }

    /// The advisory with only the credits the public may see: what publishing it would
    /// show, for previews.
    pub async fn with_public_credits(&self, mut a: Advisory) -> Result<Advisory> {
        self.keep_public_credits(std::slice::from_mut(&mut a))
            .await?;
        Ok(a)
    }

    /// The caller's answer to the credits naming them on the advisory (all of them, when
    /// it names them more than once): accepted ones become public, declined ones never.
    /// `NotFound("credit")` when the advisory names them in no credit.
    pub async fn answer_credit(&self, actor: Actor, id: &AdvisoryId, accept: bool) -> Result<()> {
        let Some((user_id, email)) = self.caller_email(actor).await? else {
            return Err(StoreError::Forbidden(
                "sign in with the account the credit names to answer it".into(),
            ));
        };
        let (mut tx, a) = self
            .begin_decided(actor, id, Action::Read, "answer a credit on")
            .await?;
        let names_me = a.get().content.credits.iter().any(|c| {
            Email::parse(&c.name).is_ok_and(|e| e.as_str().eq_ignore_ascii_case(email.as_str()))
        });
        if !names_me {
            return Err(StoreError::NotFound("credit"));
        }
        let state = if accept { "accepted" } else { "declined" };
        let now = self.now();
        sqlx::query(
            "INSERT INTO credit_consents (advisory_id, user_id, state, decided_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (advisory_id, user_id) DO UPDATE SET state = excluded.state, decided_at = excluded.decided_at",
        )
        .bind(id.as_str())
        .bind(user_id)
        .bind(state)
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
        let action = if accept {
            "credit_accepted"
        } else {
            "credit_declined"
        };
        crate::audit::append(
            &mut tx,
            now,
            actor,
            self.origin(),
            action,
            Some(id),
            &serde_json::json!({}),
        )
        .await?;
        if a.get().state.is_public() {
            // The public documents change: feeds and directories are rebuilt.
            crate::public_index::bump(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
