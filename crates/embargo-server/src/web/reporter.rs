//! The private link of a reporter without an account (`/r/{token}`): the one report it was
//! made for, its thread as the reporter sees it (never internal notes), a reply form, and a
//! button that revokes the link. Acting through the link is acting as that reporter, on that
//! advisory only; a wrong or revoked token answers exactly as a missing report.

use askama::Template;
use axum::Form;
use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::Response;
use embargo_domain::access::Actor;
use embargo_domain::advisory::Advisory;
use embargo_store::{Authorized, Comment};

use super::auth::{anon_csrf, with_anon_cookie};
use super::{Fields, Nav, check_anonymous_form, redirect, render};
use crate::error::{AppError, PageError};
use crate::extract::Req;

#[derive(Template)]
#[template(path = "reporter.html")]
struct ReporterPage {
    user: Option<Nav>,
    csrf: String,
    token: String,
    a: Advisory,
    /// The description, as sanitised Markdown.
    description_html: String,
    /// The thread, each body as sanitised Markdown.
    comments: Vec<ThreadItem>,
    /// The report's files, and whether the link may add one now.
    attachments: Vec<embargo_store::Attachment>,
    can_attach: bool,
    /// The attachments' size limit, in words ("10 MiB").
    max_upload: String,
}

/// A comment as the private link shows it.
struct ThreadItem {
    author: String,
    created_at: String,
    body_html: String,
}

fn missing() -> PageError {
    PageError(AppError::not_found("advisory"))
}

/// The report a link opens, as the link's actor; a wrong or revoked token is missing.
async fn opened(
    st: &crate::AppState,
    token: &str,
) -> Result<(Authorized<Advisory>, Actor), PageError> {
    if token.len() > 128 {
        return Err(missing());
    }
    let (id, actor) = st.store.reporter_link(token).await.map_err(|_| missing())?;
    let a = st.store.advisory(actor, &id).await.map_err(|_| missing())?;
    Ok((a, actor))
}

async fn open(
    st: &crate::AppState,
    token: &str,
) -> Result<(Advisory, Vec<Comment>, Actor), PageError> {
    let (a, actor) = opened(st, token).await?;
    let a = a.into_inner();
    let comments = st
        .store
        .comments(actor, &a.id)
        .await
        .map_err(|_| missing())?;
    Ok((a, comments, actor))
}

/// `GET /r/{token}`.
pub async fn show(
    Req(st): Req,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let (a, actor) = opened(&st, &token).await?;
    let p = a.permissions();
    let a = a.into_inner();
    let comments = st
        .store
        .comments(actor, &a.id)
        .await
        .map_err(|_| missing())?;
    let attachments = if p.can_read_attachments {
        st.store.attachments(actor, &a.id).await?
    } else {
        Vec::new()
    };
    let (csrf, new) = anon_csrf(&headers)?;
    let page = ReporterPage {
        user: None,
        csrf,
        token,
        description_html: crate::markdown::to_html(&a.content.description),
        a,
        comments: comments
            .into_iter()
            .map(|c| ThreadItem {
                author: c.author,
                created_at: super::advisory::fmt_time(c.created_at),
                body_html: crate::markdown::to_html(&c.body),
            })
            .collect(),
        attachments,
        can_attach: p.can_attach,
        max_upload: super::report_form::size_label(st.config.attachments.max_bytes),
    };
    let mut resp = with_anon_cookie(render(&page), new, st.config.secure_cookies());
    // The token is in the address: `same-origin` sends no Referer at all to other sites,
    // while this page's own forms still carry their real `Origin` (under `no-referrer`
    // browsers send `Origin: null`, which the cross-site check rightly refuses).
    resp.headers_mut().insert(
        axum::http::header::REFERRER_POLICY,
        axum::http::HeaderValue::from_static("same-origin"),
    );
    Ok(resp)
}

/// `POST /r/{token}/comments`: a reply in the thread, as the reporter.
pub async fn reply(
    Req(st): Req,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let f = Fields(form);
    check_anonymous_form(&st, &headers, &f)?;
    let (a, _, actor) = open(&st, &token).await?;
    st.store.comment(actor, &a.id, f.get("body"), false).await?;
    Ok(redirect(&format!("/r/{token}")))
}

/// `POST /r/{token}/revoke`: the link stops working at once.
pub async fn revoke(
    Req(st): Req,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    check_anonymous_form(&st, &headers, &Fields(form))?;
    open(&st, &token).await?;
    st.store.revoke_reporter_link(&token).await?;
    Ok(redirect("/"))
}

/// `POST /r/{token}/account`: mails a link to set a password, so that the reporter can sign
/// in and keep every report filed under this address in one account.
pub async fn account(
    Req(st): Req,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    check_anonymous_form(&st, &headers, &Fields(form))?;
    open(&st, &token).await?;
    let base = st.config.server.public_url.clone();
    st.store
        .offer_account(&token, |t| format!("{base}/reset/{t}"))
        .await?;
    Ok(render(&super::pages::SentPage {
        user: None,
        heading: "Check your e-mail".into(),
        message: "We sent a link to set a password. Once it is set, sign in with this address to see all your reports.".into(),
        link: None,
    }))
}

/// `POST /r/{token}/attachments` (multipart: `csrf`, then `file`): a file for the report,
/// as the reporter, with the limits and checks of every attachment.
pub async fn attach(
    Req(st): Req,
    headers: HeaderMap,
    Path(token): Path<String>,
    mut form: axum::extract::Multipart,
) -> Result<Response, PageError> {
    let max = st.config.attachments.max_bytes;
    let (csrf, file) = super::advisory::read_upload(&mut form, max).await?;
    check_anonymous_form(&st, &headers, &Fields(vec![("csrf".into(), csrf)]))?;
    let (a, actor) = opened(&st, &token).await?;
    let (name, bytes) = super::advisory::chosen(file)?;
    st.store
        .attach(actor, &a.get().id, &name, &bytes, max)
        .await?;
    Ok(redirect(&format!("/r/{token}")))
}

/// `GET /r/{token}/attachments/{aid}`: one of the report's files, as a download.
pub async fn download(
    Req(st): Req,
    Path((token, aid)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let (a, actor) = opened(&st, &token).await?;
    let (meta, bytes) = st.store.attachment(actor, &a.get().id, &aid).await?;
    let mut resp = crate::api::attachments::as_download(&meta, bytes);
    resp.headers_mut().insert(
        axum::http::header::REFERRER_POLICY,
        axum::http::HeaderValue::from_static("same-origin"),
    );
    Ok(resp)
}
