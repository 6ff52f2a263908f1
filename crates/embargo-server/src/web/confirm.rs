//! Risky actions confirmed: publish, withdraw, close and transfer each have a confirmation
//! page (what will happen, a preview of the public page, and the documents as they would be
//! published), which is also what the advisory page's `<dialog>` shows when scripts run.
//! The page's form posts to the same `/advisories/{id}/state` as before.

use askama::Template;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use embargo_domain::access::Permissions;
use embargo_domain::advisory::{Advisory, Change};
use embargo_formats::csaf::CsafOptions;
use embargo_formats::cve::CveOptions;
use embargo_formats::osv::OsvOptions;

use super::advisory::{PublicView, close_reasons, org_repos};
use super::auth::to_login;
use super::{Nav, redirect, render};
use crate::api::advisories::advisory_id;
use crate::error::{AppError, PageError};
use crate::extract::{Req, WebCaller};

/// The actions that are confirmed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Risky {
    Publish,
    Withdraw,
    Close,
    Transfer,
}

impl Risky {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "publish" => Some(Self::Publish),
            "withdraw" => Some(Self::Withdraw),
            "close" => Some(Self::Close),
            "transfer" => Some(Self::Transfer),
            _ => None,
        }
    }

    fn allowed(self, p: &Permissions) -> bool {
        match self {
            Self::Publish => p.can_publish,
            Self::Withdraw => p.can_withdraw,
            Self::Close => p.can_close,
            Self::Transfer => p.can_transfer,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Self::Publish => "publish",
            Self::Withdraw => "withdraw",
            Self::Close => "close",
            Self::Transfer => "transfer",
        }
    }
}

/// The documents of a draft as they would be published: `(label, file)`.
pub fn export_previews(a: &Advisory) -> Vec<(&'static str, &'static str)> {
    let mut v = vec![
        ("OSV", "osv.json"),
        ("CSAF advisory", "csaf.json"),
        ("CSAF VEX", "vex.json"),
    ];
    if a.content.cve_id.is_some() {
        v.push(("CVE record", "cve.json"));
    }
    v
}

#[derive(Template)]
#[template(path = "advisory_confirm.html")]
struct ConfirmPage {
    user: Option<Nav>,
    csrf: String,
    a: Advisory,
    action: &'static str,
    /// The advisory as the public would see it after the action (publish, withdraw).
    preview: Option<PublicView>,
    preview_state: String,
    exports: Vec<(&'static str, &'static str)>,
    org_repos: Vec<String>,
    close_reasons: Vec<(&'static str, &'static str)>,
    fix_publish: crate::fix_checks::PublishForm,
}

/// `GET /advisories/{id}/confirm/{action}`: what the action will do, before doing it.
pub async fn show(
    Req(st): Req,
    caller: WebCaller,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, PageError> {
    if caller.session.is_none() {
        return Ok(to_login(&format!("/advisories/{id}/confirm/{action}")));
    }
    let Some(risky) = Risky::parse(&action) else {
        return Err(PageError(AppError::not_found("page")));
    };
    let aid = advisory_id(&id)?;
    let a = st.store.advisory(caller.actor, &aid).await?;
    let p = a.permissions();
    if !risky.allowed(&p) {
        return Err(PageError(AppError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("you may not {} this advisory now", risky.verb()),
        )));
    }
    let now = st.store.now();
    let adv = a.get().clone();
    let (preview, preview_state) = match risky {
        Risky::Publish => {
            let mut future = st.store.with_public_credits(adv.clone()).await?;
            future.apply(&Change::Published, now);
            (Some(PublicView::of(&future, false)), "published".to_owned())
        }
        Risky::Withdraw => (
            Some(PublicView::of(
                &st.store.with_public_credits(adv.clone()).await?,
                false,
            )),
            "withdrawn".to_owned(),
        ),
        Risky::Close | Risky::Transfer => (None, String::new()),
    };
    let fix_publish =
        crate::fix_checks::publish_form(&st, caller.actor, &aid, risky == Risky::Publish).await?;
    Ok(render(&ConfirmPage {
        user: Nav::of(&caller),
        csrf: caller
            .session
            .as_ref()
            .map(|s| s.csrf_token.clone())
            .unwrap_or_default(),
        exports: if risky == Risky::Publish {
            export_previews(&adv)
        } else {
            Vec::new()
        },
        org_repos: org_repos(&st, &adv, &p).await?,
        close_reasons: close_reasons(),
        a: adv,
        action: risky.verb(),
        preview,
        preview_state,
        fix_publish,
    }))
}

/// `GET /advisories/{id}/preview/{file}`: a document of the advisory as it would be published
/// now, for those who may read the unpublished advisory (the same rule as its page; each
/// preview is a read in the access log). Once public, the real document.
pub async fn export(
    Req(st): Req,
    caller: WebCaller,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, PageError> {
    if !matches!(
        file.as_str(),
        "osv.json" | "csaf.json" | "vex.json" | "cve.json"
    ) {
        return Err(PageError(AppError::not_found("document")));
    }
    let a = st.store.advisory(caller.actor, &advisory_id(&id)?).await?;
    let adv = a.get();
    if adv.state.is_advisory() {
        return Ok(redirect(&format!("/advisories/{id}/{file}")));
    }
    // A disclosed report is public as a report, never published as an advisory.
    if adv.state.is_public() {
        return Err(PageError(AppError::not_found("document")));
    }
    // What publishing would show: credits only with their person's consent.
    let mut future = st.store.with_public_credits(adv.clone()).await?;
    future.apply(&Change::Published, st.store.now());
    let base = &st.config.server.public_url;
    let vendor = st.store.org(&future.org).await?.name;
    let csaf = CsafOptions {
        publisher_name: &st.config.publishing.publisher_name,
        base_url: base,
        vendor: &vendor,
    };
    let doc = match file.as_str() {
        "osv.json" => embargo_formats::osv::record(
            &future,
            &OsvOptions {
                id_prefix: &st.config.osv.id_prefix,
                base_url: base,
            },
        ),
        "csaf.json" => embargo_formats::csaf::advisory(&future, &csaf),
        "vex.json" => embargo_formats::csaf::vex(&future, &csaf),
        _ => embargo_formats::cve::record(
            &future,
            &CveOptions {
                assigner_org_id: &st.config.publishing.cve_assigner_org_id,
                assigner_short_name: &st.config.publishing.cve_assigner_short_name,
                vendor: &vendor,
                base_url: base,
            },
        ),
    }
    .ok_or_else(|| PageError(AppError::not_found("document")))?;
    let text = serde_json::to_string_pretty(&doc)
        .map_err(|e| PageError(AppError::internal(&e.to_string())))?;
    let mut resp = text.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // A preview of an unpublished advisory: never kept by a cache.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(resp)
}
