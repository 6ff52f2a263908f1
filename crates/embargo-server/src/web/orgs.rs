//! An organisation's page: its repositories, their upstreams, and syncing maintainers from
//! CODEOWNERS (for its security managers).

use askama::Template;
use axum::Form;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use embargo_store::{Org, OrgPermissions, Repo, SyncReport};

use super::{Fields, Nav, check_session_form, redirect, render};
use crate::api::slug;
use crate::error::PageError;
use crate::extract::{Req, WebCaller};

#[derive(Template)]
#[template(path = "org.html")]
struct OrgPage {
    user: Option<Nav>,
    csrf: String,
    org: Org,
    repos: Vec<Repo>,
    p: OrgPermissions,
    report: Option<SyncReport>,
    error: Option<String>,
}

async fn page(
    st: &crate::AppState,
    caller: &WebCaller,
    org: &str,
    report: Option<SyncReport>,
    error: Option<String>,
) -> Result<OrgPage, PageError> {
    let org = st.store.org(&slug(org, "organisation")?).await?;
    let repos = st.store.repos(Some(&org.slug)).await?;
    let p = st.store.org_permissions(caller.actor, &org).await?;
    let csrf = caller
        .session
        .as_ref()
        .map(|s| s.csrf_token.clone())
        .unwrap_or_default();
    Ok(OrgPage {
        user: Nav::of(caller),
        csrf,
        org,
        repos,
        p,
        report,
        error,
    })
}

pub async fn show(
    Req(st): Req,
    caller: WebCaller,
    Path(org): Path<String>,
) -> Result<Response, PageError> {
    Ok(render(&page(&st, &caller, &org, None, None).await?))
}

pub async fn set_upstream(
    Req(st): Req,
    headers: HeaderMap,
    caller: WebCaller,
    Path((org, repo)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let f = Fields(form);
    check_session_form(&st, &headers, &caller, &f)?;
    let (o, r) = (slug(&org, "organisation")?, slug(&repo, "repository")?);
    let raw = f.get("upstream").trim();
    let upstream = if raw.is_empty() {
        None
    } else {
        Some(embargo_domain::types::Upstream::parse(raw).map_err(crate::error::AppError::invalid)?)
    };
    st.store
        .set_upstream(caller.actor, &o, &r, upstream.as_ref())
        .await?;
    Ok(redirect(&format!("/orgs/{org}")))
}

pub async fn sync(
    Req(st): Req,
    headers: HeaderMap,
    caller: WebCaller,
    Path((org, repo)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    check_session_form(&st, &headers, &caller, &Fields(form))?;
    let (o, r) = (slug(&org, "organisation")?, slug(&repo, "repository")?);
    match crate::sync_maintainers(&st.store, caller.actor, &o, &r).await {
        Ok(report) => Ok(render(&page(&st, &caller, &org, Some(report), None).await?)),
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&page(&st, &caller, &org, None, Some(e.message)).await?),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}
