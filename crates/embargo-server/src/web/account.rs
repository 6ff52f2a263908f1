//! The account page (mail, two-factor sign-in, the browser sessions signed in) and the
//! second step of signing in.

use askama::Template;
use axum::Form;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use embargo_store::TotpEnrolment;

use super::auth::{anon_csrf, safe_next, sign_in, to_login, with_anon_cookie};
use super::format::filters;
use super::{
    Fields, Nav, SessionForm, check_anonymous_form, redirect_with_cookies, render, set_cookie,
};
use crate::error::{AppError, PageError};
use crate::extract::{Req, WebCaller, cookie};

pub const MFA_COOKIE: &str = "embargo_mfa";
/// How long the second step may take after the password.
pub const MFA_TTL: time::Duration = time::Duration::minutes(5);

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    user: Option<Nav>,
    csrf: String,
    enabled: bool,
    required: bool,
    enrolment: Option<TotpEnrolment>,
    codes: Vec<String>,
    error: Option<String>,
    mail: embargo_store::MailPreferences,
    /// The user's sessions, this one marked `current`.
    sessions: Vec<embargo_store::SessionInfo>,
}

async fn page(
    st: &crate::AppState,
    caller: &WebCaller,
    enrolment: Option<TotpEnrolment>,
    codes: Vec<String>,
    error: Option<String>,
) -> Result<AccountPage, PageError> {
    let Some(session) = &caller.session else {
        return Err(PageError(AppError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "sign in first",
        )));
    };
    let user = st
        .store
        .user_by_id(session.user.id)
        .await?
        .ok_or_else(|| PageError(AppError::not_found("user")))?;
    let required = st.store.requires_two_factor(user.id).await?;
    let mail = st.store.mail_preferences(user.id).await?;
    let sessions = st.store.list_sessions(user.id, Some(&session.id)).await?;
    Ok(AccountPage {
        mail,
        sessions,
        user: Nav::of(caller),
        csrf: session.csrf_token.clone(),
        enabled: user.two_factor,
        required,
        enrolment,
        codes,
        error,
    })
}

pub async fn show(Req(st): Req, caller: WebCaller) -> Result<Response, PageError> {
    if caller.session.is_none() {
        return Ok(to_login("/account"));
    }
    Ok(render(&page(&st, &caller, None, Vec::new(), None).await?))
}

pub async fn begin(
    Req(st): Req,
    SessionForm { caller, .. }: SessionForm,
) -> Result<Response, PageError> {
    let user = caller
        .session
        .as_ref()
        .map(|s| s.user.id)
        .unwrap_or_default();
    let enrolment = st.store.begin_totp(user).await?;
    Ok(render(
        &page(&st, &caller, Some(enrolment), Vec::new(), None).await?,
    ))
}

pub async fn confirm(
    Req(st): Req,
    headers: axum::http::HeaderMap,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    // This browser's session stays; every other one ends.
    let keep = crate::extract::cookie(&headers, crate::extract::SESSION_COOKIE);
    let user = caller
        .session
        .as_ref()
        .map(|s| s.user.id)
        .unwrap_or_default();
    match st
        .store
        .confirm_totp(user, f.get("code"), keep.as_deref())
        .await
    {
        Ok(codes) => Ok(render(&page(&st, &caller, None, codes, None).await?)),
        Err(embargo_store::StoreError::Invalid(e)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&page(&st, &caller, None, Vec::new(), Some(e.to_string())).await?),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

pub async fn disable(
    Req(st): Req,
    headers: axum::http::HeaderMap,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    // This browser's session stays; every other one ends.
    let keep = crate::extract::cookie(&headers, crate::extract::SESSION_COOKIE);
    let user = caller
        .session
        .as_ref()
        .map(|s| s.user.id)
        .unwrap_or_default();
    match st
        .store
        .disable_totp(user, f.get("code"), keep.as_deref())
        .await
    {
        Ok(()) => Ok(render(&page(&st, &caller, None, Vec::new(), None).await?)),
        Err(embargo_store::StoreError::Invalid(e)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&page(&st, &caller, None, Vec::new(), Some(e.to_string())).await?),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "two_factor_login.html")]
struct SecondStep {
    user: Option<Nav>,
    csrf: String,
    next: String,
    error: Option<String>,
}

/// After a correct password for an account with two-factor sign-in: a short-lived token in
/// a cookie stands for "password checked", and the code form follows.
pub async fn start_second_step(
    st: &crate::AppState,
    user_id: i64,
    next: &str,
) -> Result<Response, PageError> {
    let token = st
        .store
        .create_link_token("mfa", Some(user_id), MFA_TTL)
        .await?;
    let to = format!(
        "/login/two-factor?next={}",
        url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    );
    Ok(redirect_with_cookies(
        &to,
        &[set_cookie(
            MFA_COOKIE,
            &token,
            MFA_TTL.whole_seconds(),
            st.config.secure_cookies(),
        )],
    ))
}

pub async fn second_step_form(
    Req(st): Req,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let pending = match cookie(&headers, MFA_COOKIE) {
        Some(t) => st.store.check_link_token("mfa", &t).await?.flatten(),
        None => None,
    };
    if pending.is_none() {
        return Ok(to_login("/"));
    }
    let (csrf, new) = anon_csrf(&headers)?;
    let page = SecondStep {
        user: None,
        csrf,
        next: safe_next(Fields(q).get("next")),
        error: None,
    };
    Ok(with_anon_cookie(
        render(&page),
        new,
        st.config.secure_cookies(),
    ))
}

pub async fn second_step(
    Req(st): Req,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let f = Fields(form);
    check_anonymous_form(&st, &headers, &f)?;
    let token = cookie(&headers, MFA_COOKIE).unwrap_or_default();
    let Some(Some(user_id)) = st.store.check_link_token("mfa", &token).await? else {
        return Ok(to_login("/"));
    };
    if !st
        .store
        .verify_second_factor(user_id, f.get("code"))
        .await?
    {
        let page = SecondStep {
            user: None,
            csrf: f.get("csrf").to_owned(),
            next: safe_next(f.get("next")),
            error: Some("That code does not match (or was used already).".into()),
        };
        return Ok((StatusCode::UNAUTHORIZED, render(&page)).into_response());
    }
    if !st.store.use_link_token("mfa", &token).await? {
        return Ok(to_login("/"));
    }
    let mut resp = sign_in(&st, user_id, &safe_next(f.get("next"))).await?;
    if let Ok(v) = set_cookie(MFA_COOKIE, "", 0, st.config.secure_cookies()).parse() {
        resp.headers_mut().append(axum::http::header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// `POST /account/mail`: the mail preferences form.
pub async fn set_mail(
    Req(st): Req,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    let user = caller
        .session
        .as_ref()
        .map(|s| s.user.id)
        .unwrap_or_default();
    let on = |k: &str| f.get(k) == "on";
    st.store
        .set_mail_preferences(
            user,
            embargo_store::MailPreferences {
                new_reports: on("new_reports"),
                replies: on("replies"),
                reminders: on("reminders"),
                daily_digest: on("daily_digest"),
            },
        )
        .await?;
    Ok(super::redirect("/account"))
}

/// `POST /account/sessions/{id}/end`: ends one of the user's sessions (this one too, which
/// signs this browser out).
pub async fn end_session(
    Req(st): Req,
    axum::extract::Path(sid): axum::extract::Path<String>,
    SessionForm { caller, .. }: SessionForm,
) -> Result<Response, PageError> {
    let Some(session) = &caller.session else {
        return Ok(to_login("/account"));
    };
    if !crate::api::account::session_id_shape(&sid)
        || !st.store.end_session_by_id(session.user.id, &sid).await?
    {
        return Err(PageError(AppError::not_found("session")));
    }
    if sid == session.id {
        return Ok(redirect_with_cookies(
            "/",
            &[set_cookie(
                crate::extract::SESSION_COOKIE,
                "",
                0,
                st.config.secure_cookies(),
            )],
        ));
    }
    Ok(super::redirect("/account#sessions"))
}

/// `POST /account/sessions/end-others`: signs out every other browser.
pub async fn end_other_sessions(
    Req(st): Req,
    SessionForm { caller, .. }: SessionForm,
) -> Result<Response, PageError> {
    let Some(session) = &caller.session else {
        return Ok(to_login("/account"));
    };
    st.store
        .end_other_sessions(session.user.id, &session.id)
        .await?;
    Ok(super::redirect("/account#sessions"))
}
