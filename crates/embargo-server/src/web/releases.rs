//! A release's page: its "Security bulletins" section for the release notes (escaped, in a
//! `<pre>`, with a copy button that a small script adds), the repositories that have it, and,
//! for people who may read them, the advisories it fixes that are still unpublished.

use askama::Template;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use embargo_domain::release::fixed_in_release;
use embargo_store::{AdvisoryFilter, ReleaseRecord};

use super::{Nav, render};
use crate::api::slug;
use crate::error::{AppError, PageError};
use crate::extract::{Req, WebCaller};

/// An unpublished advisory fixed in the release, as its audience sees it.
struct Pending {
    id: String,
    title: String,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "release.html")]
struct ReleasePage {
    user: Option<Nav>,
    org: String,
    org_name: String,
    release: String,
    bulletin: String,
    recorded: Vec<ReleaseRecord>,
    pending: Vec<Pending>,
}

impl ReleasePage {
    fn seen(&self, r: &ReleaseRecord) -> String {
        embargo_domain::embargo::format_instant(r.seen_at)
    }
}

/// `GET /orgs/{org}/releases/{release}`: public; the unpublished part only for their audience.
pub async fn show(
    Req(st): Req,
    caller: WebCaller,
    Path((org, release)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let org = st.store.org(&slug(&org, "organisation")?).await?;
    embargo_domain::affected::check_version("release", &release)
        .map_err(|_| AppError::not_found("release"))?;
    let bulletin =
        crate::releases::org_bulletin(&st.store, &org.slug, &release, &st.config.server.public_url)
            .await?;
    let recorded = st.store.releases_tagged(&org.slug, &release).await?;
    let mut pending = Vec::new();
    if caller.session.is_some() && !recorded.is_empty() {
        // The access rule decides inside the query what the caller may read.
        let visible = st
            .store
            .advisories(
                caller.actor,
                &AdvisoryFilter {
                    org: Some(org.slug.clone()),
                    audience_only: true,
                    limit: 500,
                    ..AdvisoryFilter::default()
                },
            )
            .await?;
        for a in visible.iter().map(|a| a.get()) {
            if !a.state.is_public()
                && recorded
                    .iter()
                    .any(|r| fixed_in_release(a, &r.repo, &r.tag))
            {
                pending.push(Pending {
                    id: a.id.to_string(),
                    title: a.content.title.clone(),
                    state: a.state.as_str(),
                });
            }
        }
    }
    Ok(render(&ReleasePage {
        user: Nav::of(&caller),
        org: org.slug.to_string(),
        org_name: org.name,
        release,
        bulletin,
        recorded,
        pending,
    }))
}

/// The copy button's script (pages allow scripts from this server only).
pub async fn copy_js() -> Response {
    let mut r = include_str!("../../templates/copy.js").into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}
