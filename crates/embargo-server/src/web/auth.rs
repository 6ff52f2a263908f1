//! Signing in and out, first-run setup, and password reset links.

use askama::Template;
use axum::Form;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use embargo_domain::types::Email;

use super::{
    ANON_CSRF_COOKIE, Fields, Nav, check_anonymous_form, check_session_form, redirect,
    redirect_with_cookies, render, set_cookie,
};
use crate::AppState;
use crate::error::PageError;
use crate::extract::Req;
use crate::extract::{SESSION_COOKIE, WebCaller, cookie};

const SESSION_MAX_AGE: i64 = 14 * 24 * 3600;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    user: Option<Nav>,
    csrf: String,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    user: Option<Nav>,
    csrf: String,
    heading: String,
    setup: bool,
    email: String,
    name: String,
    error: Option<String>,
}

/// The anonymous CSRF token: the browser's cookie if it has one, else a new one to set.
pub(crate) fn anon_csrf(headers: &HeaderMap) -> Result<(String, Option<String>), PageError> {
    if let Some(c) = cookie(headers, ANON_CSRF_COOKIE).filter(|c| c.len() == 64) {
        return Ok((c, None));
    }
    let t = embargo_store::secrets::new_token("").map_err(|e| PageError(e.into()))?;
    Ok((t.clone(), Some(t)))
}

pub(crate) fn with_anon_cookie(mut resp: Response, new: Option<String>, secure: bool) -> Response {
    if let Some(t) = new
        && let Ok(v) = set_cookie(ANON_CSRF_COOKIE, &t, 3600 * 24, secure).parse()
    {
        resp.headers_mut().append(axum::http::header::SET_COOKIE, v);
    }
    resp
}

/// Only local paths are followed after signing in.
pub(crate) fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}

pub async fn login_form(
    Req(st): Req,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let (csrf, new) = anon_csrf(&headers)?;
    let next = safe_next(Fields(q).get("next"));
    let page = LoginPage {
        user: None,
        csrf,
        email: String::new(),
        next,
        error: None,
    };
    Ok(with_anon_cookie(
        render(&page),
        new,
        st.config.secure_cookies(),
    ))
}

pub async fn login(
    Req(st): Req,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let f = Fields(form);
    check_anonymous_form(&st, &headers, &f)?;
    let Some(user) = st
        .store
        .authenticate(f.get("email"), f.get("password"))
        .await?
    else {
        let page = LoginPage {
            user: None,
            csrf: f.get("csrf").to_owned(),
            email: f.get("email").to_owned(),
            next: safe_next(f.get("next")),
            error: Some("Wrong e-mail address or password.".into()),
        };
        return Ok((StatusCode::UNAUTHORIZED, render(&page)).into_response());
    };
    if user.two_factor {
        return super::account::start_second_step(&st, user.id, &safe_next(f.get("next"))).await;
    }
    sign_in(&st, user.id, &safe_next(f.get("next"))).await
}

pub(crate) async fn sign_in(st: &AppState, user_id: i64, to: &str) -> Result<Response, PageError> {
    let (token, _csrf) = st.store.create_session(user_id).await?;
    Ok(redirect_with_cookies(
        to,
        &[set_cookie(
            SESSION_COOKIE,
            &token,
            SESSION_MAX_AGE,
            st.config.secure_cookies(),
        )],
    ))
}

pub async fn logout(
    Req(st): Req,
    headers: HeaderMap,
    caller: WebCaller,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    check_session_form(&st, &headers, &caller, &Fields(form))?;
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        st.store.end_session(&token).await?;
    }
    Ok(redirect_with_cookies(
        "/",
        &[set_cookie(
            SESSION_COOKIE,
            "",
            0,
            st.config.secure_cookies(),
        )],
    ))
}

pub async fn setup_form(
    Req(st): Req,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    if !st.store.needs_setup().await? || st.store.check_link_token("setup", &token).await?.is_none()
    {
        return Err(PageError(crate::error::AppError::not_found("setup link")));
    }
    let (csrf, new) = anon_csrf(&headers)?;
    let page = PasswordPage {
        user: None,
        csrf,
        heading: "Create the first administrator".into(),
        setup: true,
        email: String::new(),
        name: String::new(),
        error: None,
    };
    Ok(with_anon_cookie(
        render(&page),
        new,
        st.config.secure_cookies(),
    ))
}

pub async fn setup(
    Req(st): Req,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let f = Fields(form);
    check_anonymous_form(&st, &headers, &f)?;
    let again = |error: String| PasswordPage {
        user: None,
        csrf: f.get("csrf").to_owned(),
        heading: "Create the first administrator".into(),
        setup: true,
        email: f.get("email").to_owned(),
        name: f.get("name").to_owned(),
        error: Some(error),
    };
    let email = match Email::parse(f.get("email")) {
        Ok(e) => e,
        Err(e) => {
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                render(&again(e.to_string())),
            )
                .into_response());
        }
    };
    if f.get("password") != f.get("password2") {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&again("The two passwords differ.".into())),
        )
            .into_response());
    }
    match st
        .store
        .complete_setup(&token, &email, f.get("name"), f.get("password"))
        .await
    {
        Ok(user) => sign_in(&st, user.id, "/").await,
        Err(embargo_store::StoreError::Invalid(e)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&again(e.to_string())),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

pub async fn reset_form(
    Req(st): Req,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let Some(Some(user_id)) = st.store.check_link_token("reset", &token).await? else {
        return Err(PageError(crate::error::AppError::not_found("reset link")));
    };
    let email = st
        .store
        .user_by_id(user_id)
        .await?
        .map(|u| u.email.to_string())
        .unwrap_or_default();
    let (csrf, new) = anon_csrf(&headers)?;
    let page = PasswordPage {
        user: None,
        csrf,
        heading: "Choose a password".into(),
        setup: false,
        email,
        name: String::new(),
        error: None,
    };
    Ok(with_anon_cookie(
        render(&page),
        new,
        st.config.secure_cookies(),
    ))
}

pub async fn reset(
    Req(st): Req,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let f = Fields(form);
    check_anonymous_form(&st, &headers, &f)?;
    let Some(Some(user_id)) = st.store.check_link_token("reset", &token).await? else {
        return Err(PageError(crate::error::AppError::not_found("reset link")));
    };
    let again = |error: String| PasswordPage {
        user: None,
        csrf: f.get("csrf").to_owned(),
        heading: "Choose a password".into(),
        setup: false,
        email: String::new(),
        name: String::new(),
        error: Some(error),
    };
    if f.get("password") != f.get("password2") {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&again("The two passwords differ.".into())),
        )
            .into_response());
    }
    if let Err(e) = embargo_store::users_check_password(f.get("password")) {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&again(e.to_string())),
        )
            .into_response());
    }
    if !st.store.use_link_token("reset", &token).await? {
        return Err(PageError(crate::error::AppError::not_found("reset link")));
    }
    st.store.set_password(user_id, f.get("password")).await?;
    if st
        .store
        .user_by_id(user_id)
        .await?
        .is_some_and(|u| u.two_factor)
    {
        return super::account::start_second_step(&st, user_id, "/").await;
    }
    sign_in(&st, user_id, "/").await
}

/// Sends a visitor who must sign in to the login page, coming back afterwards.
pub fn to_login(next: &str) -> Response {
    redirect(&format!(
        "/login?next={}",
        url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    ))
}
