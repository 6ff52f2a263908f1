//! Signing in and out, sign-in links by mail, first-run setup, and password reset links.

use askama::Template;
use axum::Form;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
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
    /// Signing in is refused for a while: the sign-in link is offered first.
    locked: bool,
}

#[derive(Template)]
#[template(path = "sign_in_link.html")]
struct SignInLinkPage {
    user: Option<Nav>,
    csrf: String,
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

/// Only same-origin paths are followed after signing in. What the browser makes of `next`
/// (WHATWG URL parsing: leading and trailing C0 controls and spaces stripped, tabs and
/// newlines dropped anywhere, `\` read as `/`) must start with exactly one `/`, and so must
/// its percent-decoded form (for anything that decodes it later); else it is `/`. The result
/// is percent-encoded where a `Location` header could not carry it.
pub(crate) fn safe_next(next: &str) -> String {
    let cleaned = as_browsers_read(next);
    let decoded = as_browsers_read(&percent_decoded(&cleaned));
    if cleaned.contains('\\') || !one_leading_slash(&cleaned) || !one_leading_slash(&decoded) {
        return "/".to_owned();
    }
    cleaned.chars().fold(String::new(), |mut out, c| {
        if c.is_ascii_graphic() {
            out.push(c);
        } else {
            for b in c.encode_utf8(&mut [0; 4]).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    })
}

fn as_browsers_read(s: &str) -> String {
    s.trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

fn one_leading_slash(path: &str) -> bool {
    let mut c = path.chars();
    c.next() == Some('/') && !matches!(c.next(), Some('/' | '\\'))
}

fn percent_decoded(s: &str) -> String {
    let hex = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match (b, hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'%'));
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// "15 minutes", "40 seconds": how long to wait, for a person.
fn wait_text(secs: u64) -> String {
    if secs < 120 {
        format!("{secs} seconds")
    } else {
        format!("{} minutes", secs.div_ceil(60))
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
        locked: false,
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
    let again = |error: String, locked: bool| LoginPage {
        user: None,
        csrf: f.get("csrf").to_owned(),
        email: f.get("email").to_owned(),
        next: safe_next(f.get("next")),
        error: Some(error),
        locked,
    };
    let found = match st
        .store
        .authenticate(f.get("email"), f.get("password"))
        .await
    {
        Ok(found) => found,
        Err(embargo_store::StoreError::RateLimited {
            retry_after_secs, ..
        }) => {
            let page = again(
                format!(
                    "Too many failed attempts to sign in. Try again in {}, or have a sign-in link sent to you by e-mail.",
                    wait_text(retry_after_secs)
                ),
                true,
            );
            let mut resp = (StatusCode::TOO_MANY_REQUESTS, render(&page)).into_response();
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            return Ok(resp);
        }
        Err(e) => return Err(e.into()),
    };
    let Some(user) = found else {
        let page = again("Wrong e-mail address or password.".into(), false);
        return Ok((StatusCode::UNAUTHORIZED, render(&page)).into_response());
    };
    if user.two_factor {
        return super::account::start_second_step(&st, user.id, &safe_next(f.get("next"))).await;
    }
    sign_in(&st, user.id, &safe_next(f.get("next"))).await
}

/// `POST /login/link`: mails a one-time sign-in link to the account of the address, if there
/// is one; the same answer either way.
pub async fn send_link(
    Req(st): Req,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let f = Fields(form);
    check_anonymous_form(&st, &headers, &f)?;
    let base = st.config.server.public_url.clone();
    st.store
        .send_sign_in_link(f.get("email"), |t| format!("{base}/login/link/{t}"))
        .await?;
    Ok(render(&super::pages::SentPage {
        user: None,
        heading: "Check your e-mail".into(),
        message: "If an account with this address exists, a link to sign in is on its way to it. The link works once, for 15 minutes.".into(),
        link: None,
    }))
}

/// `GET /login/link/{token}`: a button, so that mail scanners opening the link do not use it.
pub async fn link_form(
    Req(st): Req,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    if st
        .store
        .check_link_token("sign_in", &token)
        .await?
        .is_none()
    {
        return Err(link_gone());
    }
    let (csrf, new) = anon_csrf(&headers)?;
    Ok(with_anon_cookie(
        render(&SignInLinkPage { user: None, csrf }),
        new,
        st.config.secure_cookies(),
    ))
}

/// `POST /login/link/{token}`: uses the link up and signs in, through the second factor if
/// the account has one on.
pub async fn link_sign_in(
    Req(st): Req,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    check_anonymous_form(&st, &headers, &Fields(form))?;
    let Some(user) = st.store.use_sign_in_link(&token).await? else {
        return Err(link_gone());
    };
    if user.two_factor {
        return super::account::start_second_step(&st, user.id, "/").await;
    }
    sign_in(&st, user.id, "/").await
}

fn link_gone() -> PageError {
    PageError(crate::error::AppError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "this sign-in link was used already or has expired; ask for a new one on the sign-in page",
    ))
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

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_a_path_of_this_site_as_the_browser_reads_it() {
        for (next, want) in [
            // Foreign, once the browser drops tabs and newlines or reads `\` as `/`.
            ("/\t/evil.example", "/"),
            ("/\r/evil.example", "/"),
            ("/\n/evil.example", "/"),
            ("/\t\\evil.example", "/"),
            ("\\/evil.example", "/"),
            ("/\\evil.example", "/"),
            ("/\\\\evil.example", "/"),
            ("\\\\evil.example", "/"),
            ("//evil.example", "/"),
            ("///evil.example", "/"),
            (" //evil.example", "/"),
            ("\u{0}//evil.example", "/"),
            // Foreign once percent-decoded, for anything that decodes it later.
            ("/%2F/evil.example", "/"),
            ("/%2f%2fevil.example", "/"),
            ("/%5Cevil.example", "/"),
            ("/%09/evil.example", "/"),
            ("/%0a/evil.example", "/"),
            // Not a path at all.
            ("https://evil.example/", "/"),
            ("http:/evil.example", "/"),
            ("javascript:alert(1)", "/"),
            (" javascript:alert(1)", "/"),
            ("evil.example", "/"),
            ("", "/"),
            ("\t", "/"),
            // Paths of this site stay, cleaned as the browser would, in a valid header.
            ("/", "/"),
            ("/advisories", "/advisories"),
            (
                "/advisories?state=triage&q=%2F%2F",
                "/advisories?state=triage&q=%2F%2F",
            ),
            ("/adv\tisories\n", "/advisories"),
            (" /report ", "/report"),
            ("/a b", "/a%20b"),
            // A vertical tab is no tab to the browser: it stays in the path, encoded.
            ("\u{1f}/\u{b}/evil.example", "/%0B/evil.example"),
            ("/a\u{0}b\u{7f}", "/a%00b%7F"),
            ("/é", "/%C3%A9"),
            ("/%", "/%"),
        ] {
            assert_eq!(safe_next(next), want, "safe_next({next:?})");
        }
    }

    #[test]
    fn whatever_it_gives_fits_a_location_header() {
        for next in ["/\u{0}\u{1}\u{1b}[31m", "/\u{2028}x", "/\"<>'", "/\u{feff}"] {
            let to = safe_next(next);
            assert!(
                axum::http::HeaderValue::from_str(&to).is_ok() && to.is_ascii(),
                "{next:?} -> {to:?}"
            );
        }
    }
}
