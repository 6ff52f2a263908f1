//! The embargo, readiness and case-flag forms of an advisory's page.

use axum::extract::Path;
use axum::response::Response;
use embargo_domain::embargo::{CaseFlag, EmbargoAction};

use super::SessionForm;
use super::advisory::after;
use crate::api::advisories::advisory_id;
use crate::error::PageError;
use crate::extract::Req;

/// A `datetime-local` value (`2027-01-15T14:00`, read as UTC) or RFC 3339.
fn instant(s: &str) -> Result<time::OffsetDateTime, embargo_store::StoreError> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    let full = if s.len() == 16 {
        format!("{s}:00Z")
    } else if s.len() == 19 {
        format!("{s}Z")
    } else {
        s.to_owned()
    };
    time::OffsetDateTime::parse(&full, &Rfc3339).map_err(|_| {
        embargo_store::StoreError::Invalid(embargo_domain::FieldError::new(
            "ends_at",
            "give the end as a date and time (UTC)",
        ))
    })
}

/// `POST /advisories/{id}/embargo` from the page.
pub async fn embargo(
    Req(st): Req,
    Path(id): Path<String>,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    let aid = advisory_id(&id)?;
    let action = match f.get("action") {
        "propose" => instant(f.get("ends_at")).map(|ends_at| EmbargoAction::Propose { ends_at }),
        "accept" => Ok(EmbargoAction::Accept),
        "reject" => Ok(EmbargoAction::Reject),
        "terminate" => Ok(EmbargoAction::Terminate),
        _ => Err(embargo_store::StoreError::Invalid(
            embargo_domain::FieldError::new(
                "action",
                "must be propose, accept, reject or terminate",
            ),
        )),
    };
    let r = match action {
        Ok(a) => st
            .store
            .negotiate_embargo(caller.actor, &aid, a)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    after(&st, &caller, &id, r).await
}

/// `POST /advisories/{id}/ready` from the page.
pub async fn ready(
    Req(st): Req,
    Path(id): Path<String>,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    let aid = advisory_id(&id)?;
    let r = st
        .store
        .set_ready(caller.actor, &aid, f.get("ready") == "true")
        .await
        .map(|_| ());
    after(&st, &caller, &id, r).await
}

/// `POST /advisories/{id}/case` from the page.
pub async fn case(
    Req(st): Req,
    Path(id): Path<String>,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    let aid = advisory_id(&id)?;
    let r = match CaseFlag::parse(f.get("flag")) {
        Ok(flag) => st
            .store
            .set_case_flag(caller.actor, &aid, flag)
            .await
            .map(|_| ()),
        Err(e) => Err(embargo_store::StoreError::Invalid(e)),
    };
    after(&st, &caller, &id, r).await
}
