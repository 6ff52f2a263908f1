//! The private link of a reporter without an account (`/r/{token}`): the one report it was
//! made for, its thread as the reporter sees it (never internal notes), a reply form, and a
//! button that revokes the link. Acting through the link is acting as that reporter, on that
//! advisory only; a wrong or revoked token answers exactly as a missing report.

use askama::Template;
use axum::Form;
use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::Response;
use embargo_domain::advisory::Advisory;
use embargo_store::Comment;

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

async fn open(
    st: &crate::AppState,
    token: &str,
) -> Result<(Advisory, Vec<Comment>, embargo_domain::access::Actor), PageError> {
    if token.len() > 128 {
        return Err(missing());
    }
    let (id, actor) = st.store.reporter_link(token).await.map_err(|_| missing())?;
    let a = st
        .store
        .advisory(actor, &id)
        .await
        .map_err(|_| missing())?
        .into_inner();
    let comments = st.store.comments(actor, &id).await.map_err(|_| missing())?;
    Ok((a, comments, actor))
}

/// `GET /r/{token}`.
pub async fn show(
    Req(st): Req,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let (a, comments, _) = open(&st, &token).await?;
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
