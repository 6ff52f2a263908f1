//! An advisory's CVE id page: where its record stands (for its audience), and the form a
//! security manager requests an id with.

use askama::Template;
use axum::extract::Path;
use axum::response::Response;
use embargo_domain::types::CveId;
use embargo_store::CveStatus;

use super::{Nav, SessionForm, redirect, render};
use crate::AppState;
use crate::api::advisories::advisory_id;
use crate::error::PageError;
use crate::extract::{Req, WebCaller};

#[derive(Template)]
#[template(path = "cve.html")]
struct CvePage {
    user: Option<Nav>,
    csrf: String,
    id: String,
    headline: String,
    cve_id: String,
    status: Option<CveStatus>,
    can_request: bool,
    error: Option<String>,
}

async fn page(
    st: &AppState,
    caller: &WebCaller,
    id: &str,
    error: Option<String>,
) -> Result<CvePage, PageError> {
    let aid = advisory_id(id)?;
    let a = st.store.advisory(caller.actor, &aid).await?;
    let adv = a.get();
    let audience = a.relations().in_audience();
    Ok(CvePage {
        user: Nav::of(caller),
        csrf: caller
            .session
            .as_ref()
            .map(|s| s.csrf_token.clone())
            .unwrap_or_default(),
        id: adv.id.to_string(),
        headline: if audience {
            adv.content.title.clone()
        } else {
            adv.content.headline().to_owned()
        },
        cve_id: adv
            .content
            .cve_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        status: st.store.cve_status(&a).await?,
        can_request: a.permissions().can_request_cve && adv.content.cve_id.is_none(),
        error,
    })
}

/// `GET /advisories/{id}/cve`.
pub async fn show(
    Req(st): Req,
    caller: WebCaller,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    Ok(render(&page(&st, &caller, &id, None).await?))
}

/// `POST /advisories/{id}/cve` from the page: back to the advisory, or this page with what
/// went wrong (CVE Services' own message among them).
pub async fn request(
    Req(st): Req,
    Path(id): Path<String>,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    let aid = advisory_id(&id)?;
    let given = match f.get("cve_id").trim() {
        "" => None,
        s => match CveId::parse(s) {
            Ok(c) => Some(c),
            Err(e) => {
                return Ok(render(&page(&st, &caller, &id, Some(e.to_string())).await?));
            }
        },
    };
    match crate::api::cve::request_cve(&st, caller.actor, &aid, given).await {
        Ok(_) => Ok(redirect(&format!("/advisories/{aid}"))),
        // What the person can act on (a refusal, a field, CVE Services' answer) shows on
        // the page; the rest is an error page.
        Err(e) if matches!(e.status.as_u16(), 400 | 409 | 422 | 502) => {
            Ok(render(&page(&st, &caller, &id, Some(e.message)).await?))
        }
        Err(e) => Err(PageError(e)),
    }
}
