//! A subscriber's pages, opened from the links in their messages: confirm (double opt-in)
//! and unsubscribe. The token in the address is the only credential, so these take no
//! session and no CSRF token; a GET only shows a button (mail scanners follow links), and
//! unsubscribing is one POST, as RFC 8058's one-click unsubscribe sends it.

use askama::Template;
use axum::Form;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use embargo_store::Subscription;

use super::auth::{anon_csrf, with_anon_cookie};
use super::{Fields, Nav, check_anonymous_form, render};
use crate::error::{AppError, PageError};
use crate::extract::Req;

#[derive(Template)]
#[template(path = "subscription.html")]
struct SubscriptionPage {
    user: Option<Nav>,
    token: String,
    s: Subscription,
    done: Option<&'static str>,
}

fn missing() -> PageError {
    PageError(AppError::not_found("subscription"))
}

fn page(token: String, s: Subscription, done: Option<&'static str>) -> Response {
    let mut r = render(&SubscriptionPage {
        user: None,
        token,
        s,
        done,
    });
    r.headers_mut().insert(
        axum::http::header::REFERRER_POLICY,
        axum::http::HeaderValue::from_static("same-origin"),
    );
    r
}

/// `GET /subscriptions/{token}`.
pub async fn show(Req(st): Req, Path(token): Path<String>) -> Result<Response, PageError> {
    if token.len() > 128 {
        return Err(missing());
    }
    let s = st.store.subscription(&token).await.map_err(|_| missing())?;
    Ok(page(token, s, None))
}

/// `POST /subscriptions/{token}/confirm`.
pub async fn confirm(Req(st): Req, Path(token): Path<String>) -> Result<Response, PageError> {
    if token.len() > 128 {
        return Err(missing());
    }
    let s = st
        .store
        .set_subscription(&token, true)
        .await
        .map_err(|_| missing())?;
    Ok(page(token, s, Some("Subscribed.")))
}

/// `POST /subscriptions/{token}/unsubscribe` (also the `List-Unsubscribe` one-click target).
pub async fn unsubscribe(Req(st): Req, Path(token): Path<String>) -> Result<Response, PageError> {
    if token.len() > 128 {
        return Err(missing());
    }
    let s = st
        .store
        .set_subscription(&token, false)
        .await
        .map_err(|_| missing())?;
    Ok(page(token, s, Some("Unsubscribed: no more messages.")))
}

#[derive(Template)]
#[template(path = "subscribe.html")]
struct SubscribePage {
    user: Option<Nav>,
    csrf: String,
    org: embargo_store::Org,
}

/// `GET /orgs/{org}/subscribe`: the form (signed out is fine).
pub async fn subscribe_page(
    Req(st): Req,
    headers: HeaderMap,
    Path(org): Path<String>,
) -> Result<Response, PageError> {
    let org = st
        .store
        .org(&crate::api::slug(&org, "organisation")?)
        .await?;
    let (csrf, new) = anon_csrf(&headers)?;
    Ok(with_anon_cookie(
        render(&SubscribePage {
            user: None,
            csrf,
            org,
        }),
        new,
        st.config.secure_cookies(),
    ))
}

/// `POST /orgs/{org}/subscribe` from that form.
pub async fn subscribe_form(
    Req(st): Req,
    headers: HeaderMap,
    Path(org): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let f = Fields(form);
    check_anonymous_form(&st, &headers, &f)?;
    let org = crate::api::slug(&org, "organisation")?;
    let address = embargo_domain::types::Email::parse(f.get("email")).map_err(AppError::invalid)?;
    let base = st.config.server.public_url.clone();
    st.store
        .subscribe(&org, &address, |t| format!("{base}/subscriptions/{t}"))
        .await?;
    let (_, new) = anon_csrf(&headers)?;
    Ok(with_anon_cookie(
        (
            StatusCode::ACCEPTED,
            render(&super::pages::SentPage {
                user: None,
                heading: "Check your e-mail".into(),
                message: "We sent a link to confirm the subscription; nothing is sent before it is followed.".into(),
                link: None,
            }),
        )
            .into_response(),
        new,
        st.config.secure_cookies(),
    ))
}
