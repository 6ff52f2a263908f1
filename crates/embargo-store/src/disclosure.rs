//! Disclosure of closed reports (as curl does): where an organisation's policy says so,
//! closed reports other than spam become public after a number of days, with their thread
//! minus internal notes. The reporter is told a week ahead (or at once, when the period is
//! shorter); a security manager may exempt one report, with a reason.
//!
//! The scheduler makes these changes as the system (no actor). They are the only changes
//! taken without an access decision, and each is checked against the stored state inside
//! the advisory's row lock.

use embargo_domain::FieldError;
use embargo_domain::access::{Action, Actor, SystemTask};
use embargo_domain::advisory::{Advisory, Change, State, limits};
use embargo_domain::error::check_text;
use embargo_domain::ids::AdvisoryId;
use sqlx::Row;
use time::{Duration, OffsetDateTime};

use crate::{Authorized, Result, Store, StoreError};

const NOT_DUE: &str = "no disclosure step is due";

/// How long ahead the reporter is told.
pub const NOTICE: Duration = Duration::days(7);

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DisclosureRun {
    pub announced: usize,
    pub disclosed: usize,
}

/// The next step for a closed report, if any.
fn due(a: &Advisory, days: u32, now: OffsetDateTime) -> Option<Change> {
    if a.state != State::Closed || a.disclosure_exempt.is_some() || days == 0 {
        return None;
    }
    if a.close_reason == Some(embargo_domain::advisory::CloseReason::Spam) {
        return None;
    }
    let on = a.closed_at? + Duration::days(i64::from(days));
    if on <= now {
        return Some(Change::Disclosed);
    }
    if a.disclosure_announced_for.is_none() && on - NOTICE <= now {
        return Some(Change::DisclosureAnnounced { on });
    }
    None
}

impl Store {
    /// Announces and discloses what the policies make due now.
    pub async fn run_disclosures(&self) -> Result<DisclosureRun> {
        let rows = sqlx::query(
            "SELECT a.id, a.doc, o.disclose_closed_days FROM advisories a JOIN orgs o ON o.id = a.org_id
             WHERE a.state = 'closed' AND o.disclose_closed_days > 0
             AND (a.close_reason IS NULL OR a.close_reason <> 'spam')",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut run = DisclosureRun::default();
        let now = self.now();
        for r in &rows {
            let id = AdvisoryId::parse(&r.try_get::<String, _>("id")?)?;
            let days = u32::try_from(r.try_get::<i64, _>("disclose_closed_days")?).unwrap_or(0);
            // Most closed reports have nothing due: read, not a write transaction each. The
            // step itself decides again on what is stored under the advisory's lock.
            let stored = crate::advisories::open_doc(
                &self.keys,
                id.as_str(),
                &r.try_get::<String, _>("doc")?,
            )?;
            if due(&stored, days, now).is_none() {
                continue;
            }
            match self.system_step(&id, days).await? {
                Some(Change::Disclosed) => run.disclosed += 1,
                Some(_) => run.announced += 1,
                None => {}
            }
        }
        Ok(run)
    }

    /// One scheduled step for one advisory, decided on what is stored under its lock,
    /// through the change path as the disclosure policy (a system actor).
    async fn system_step(&self, id: &AdvisoryId, days: u32) -> Result<Option<Change>> {
        let now = self.now();
        let result = self
            .change(
                Actor::System(SystemTask::Disclosure),
                id,
                Action::Disclose,
                "disclose",
                None,
                |current| due(current.get(), days, now).ok_or(StoreError::Conflict(NOT_DUE.into())),
            )
            .await;
        match result {
            Ok((_, change)) => Ok(Some(change)),
            // Not due, or another instance took the step (the state moved on).
            Err(StoreError::Conflict(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Keeps a closed report from being disclosed (security managers), with a reason.
    pub async fn exempt_from_disclosure(
        &self,
        actor: Actor,
        id: &AdvisoryId,
        reason: &str,
    ) -> Result<Authorized<Advisory>> {
        if reason.trim().is_empty() {
            return Err(StoreError::Invalid(FieldError::new(
                "reason",
                "is empty; say why this report stays private",
            )));
        }
        check_text("reason", reason, limits::CLOSE_MESSAGE, true)?;
        let reason = reason.trim().to_owned();
        let (a, _) = self
            .change(
                actor,
                id,
                Action::ExemptFromDisclosure,
                "exempt from disclosure",
                None,
                move |_| {
                    Ok(Change::DisclosureExempted {
                        reason: reason.clone(),
                    })
                },
            )
            .await?;
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embargo_domain::advisory::CloseReason;
    use time::macros::datetime;

    #[test]
    fn steps_follow_the_policy() {
        let mut a: Advisory = serde_json::from_value(serde_json::json!({
            "id": "EMB-2222-2222-2222", "org": "coco", "repo": "guest", "reporter_id": 1,
            "state": "closed", "close_reason": "wont_fix", "close_message": null,
            "content": {"title": "t", "summary": null, "description": "d", "cve_id": null,
                "cvss_vectors": [], "cwe_ids": [], "references": [], "credits": [], "vulnerabilities": []},
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
            "published_at": null, "first_response_at": null, "response_due_at": "2026-01-15T00:00:00Z",
            "revision": 3, "closed_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        let day = |d: u8| datetime!(2026-01-01 0:00 UTC) + Duration::days(i64::from(d));
        assert_eq!(due(&a, 0, day(100)), None, "policy off");
        assert_eq!(due(&a, 30, day(22)), None);
        assert_eq!(
            due(&a, 30, day(23)),
            Some(Change::DisclosureAnnounced { on: day(30) })
        );
        a.disclosure_announced_for = Some(day(30));
        assert_eq!(due(&a, 30, day(29)), None, "told once");
        assert_eq!(due(&a, 30, day(30)), Some(Change::Disclosed));
        a.disclosure_exempt = Some("embargoed elsewhere".into());
        assert_eq!(due(&a, 30, day(31)), None);
        a.disclosure_exempt = None;
        a.close_reason = Some(CloseReason::Spam);
        assert_eq!(due(&a, 30, day(31)), None, "spam stays private");
    }
}
