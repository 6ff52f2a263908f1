//! Server-rendered pages. They work without JavaScript; every form carries a CSRF token and
//! cross-site posts are refused.

mod account;
mod admin;
mod advisory;
mod auth;
mod clock;
mod collaborators;
mod confirm;
mod credits;
mod cve;
mod dashboard;
mod draft;
pub mod format;
mod inbox;
mod org_settings;
mod orgs;
mod pages;
mod releases;
mod report_form;
mod reporter;
mod subscriptions;

use askama::Template;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::AppState;
use crate::error::{AppError, PageError};
use crate::extract::{WebCaller, cookie};

pub fn routes(max_upload: usize) -> Router<AppState> {
    Router::new()
        .merge(admin::routes())
        .route("/", get(pages::index))
        .route("/static/style.css", get(style))
        .route("/static/cvss.js", get(cvss_js))
        .route("/cvss/score", get(cvss_score))
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/login/link", post(auth::send_link))
        .route(
            "/login/link/{token}",
            get(auth::link_form).post(auth::link_sign_in),
        )
        .route("/logout", post(auth::logout))
        .route(
            "/login/two-factor",
            get(account::second_step_form).post(account::second_step),
        )
        .route("/account", get(account::show))
        .route("/account/mail", post(account::set_mail))
        .route("/account/two-factor/begin", post(account::begin))
        .route("/account/two-factor/confirm", post(account::confirm))
        .route("/account/two-factor/disable", post(account::disable))
        .route(
            "/account/sessions/end-others",
            post(account::end_other_sessions),
        )
        .route("/account/sessions/{sid}/end", post(account::end_session))
        .route("/setup/{token}", get(auth::setup_form).post(auth::setup))
        .route("/reset/{token}", get(auth::reset_form).post(auth::reset))
        .route(
            "/report",
            get(pages::report_form).post(pages::report).layer(
                axum::extract::DefaultBodyLimit::max(report_form::body_limit(max_upload)),
            ),
        )
        .route(
            "/confirm/{token}",
            get(pages::confirm_form).post(pages::confirm),
        )
        .route("/r/{token}", get(reporter::show))
        .route("/r/{token}/comments", post(reporter::reply))
        .route("/r/{token}/revoke", post(reporter::revoke))
        .route(
            "/r/{token}/attachments",
            post(reporter::attach).layer(axum::extract::DefaultBodyLimit::max(max_upload)),
        )
        .route("/r/{token}/attachments/{aid}", get(reporter::download))
        .route("/r/{token}/account", post(reporter::account))
        .route("/advisories", get(pages::list))
        .route("/advisories/{id}", get(advisory::show))
        .route(
            "/advisories/{id}/edit",
            get(draft::edit_form).post(draft::edit),
        )
        .route("/advisories/{id}/confirm/{action}", get(confirm::show))
        .route("/advisories/{id}/preview/{file}", get(confirm::export))
        .route("/static/workspace.js", get(workspace_js))
        .route("/static/ui2.css", get(ui2_css))
        .route("/advisories/{id}/comments", post(advisory::comment))
        .route("/advisories/{id}/credit", post(credits::answer))
        .route("/advisories/{id}/state", post(advisory::transition))
        .route("/advisories/{id}/embargo", post(clock::embargo))
        .route("/advisories/{id}/ready", post(clock::ready))
        .route("/advisories/{id}/case", post(clock::case))
        .route(
            "/advisories/{id}/disclosure-exemption",
            post(advisory::exempt_from_disclosure),
        )
        .route("/advisories/{id}/cve", get(cve::show).post(cve::request))
        .route("/advisories/{id}/audit", get(advisory::audit))
        .route(
            "/advisories/{id}/attachments",
            post(advisory::upload).layer(axum::extract::DefaultBodyLimit::max(max_upload)),
        )
        .route(
            "/advisories/{id}/attachments/{aid}",
            get(advisory::download),
        )
        .route(
            "/advisories/{id}/collaborators",
            post(collaborators::invite),
        )
        .route(
            "/advisories/{id}/collaborators/{cid}/revoke",
            post(collaborators::revoke),
        )
        .route("/invitations", get(collaborators::list))
        .route("/orgs/{org}", get(orgs::show))
        .route("/orgs/{org}/policy", post(orgs::set_policy))
        .route(
            "/orgs/{org}/webhooks",
            get(org_settings::webhooks).post(org_settings::add_webhook),
        )
        .route(
            "/orgs/{org}/webhooks/{id}/remove",
            post(org_settings::remove_webhook),
        )
        .route(
            "/orgs/{org}/webhooks/{id}/deliveries",
            get(org_settings::deliveries),
        )
        .route(
            "/orgs/{org}/webhooks/{id}/deliveries/{delivery}/redeliver",
            post(org_settings::redeliver),
        )
        .route(
            "/orgs/{org}/mail-intake",
            get(org_settings::mail_intake).post(org_settings::set_mail_intake),
        )
        .route(
            "/orgs/{org}/mail-intake/remove",
            post(org_settings::remove_mail_intake),
        )
        .route(
            "/orgs/{org}/subscribe",
            get(subscriptions::subscribe_page).post(subscriptions::subscribe_form),
        )
        .route("/subscriptions/{token}", get(subscriptions::show))
        .route(
            "/subscriptions/{token}/confirm",
            post(subscriptions::confirm),
        )
        .route(
            "/subscriptions/{token}/unsubscribe",
            post(subscriptions::unsubscribe),
        )
        .route("/orgs/{org}/releases/{release}", get(releases::show))
        .route("/static/copy.js", get(releases::copy_js))
        .route(
            "/orgs/{org}/repos/{repo}/upstream",
            post(orgs::set_upstream),
        )
        .route("/orgs/{org}/repos/{repo}/sync", post(orgs::sync))
        .route("/invitations/{iid}/accept", post(collaborators::accept))
        .route(
            "/invite/{token}",
            get(collaborators::signup_form).post(collaborators::signup),
        )
        .route("/advisories/{id}/audit.jsonl", get(advisory::audit_jsonl))
}

/// Renders a template, or a logged 500.
pub fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => AppError::internal(&format!("template: {e}")).into_response(),
    }
}

async fn cvss_js() -> Response {
    let mut r = include_str!("../../templates/cvss.js").into_response();
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

/// `GET /cvss/score?vector=`: a vector's score, for the calculator. Public by choice: it is
/// arithmetic on the query, and touches no stored data.
async fn cvss_score(
    axum::extract::Query(q): axum::extract::Query<Vec<(String, String)>>,
) -> Response {
    let vector = Fields(q).get("vector").to_owned();
    match embargo_formats::cvss::score_line(&vector) {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => AppError::invalid(embargo_domain::FieldError::new("vector", e.to_string()))
            .into_response(),
    }
}

/// The advisory workspace's script (dialogs, rows of the draft form).
async fn workspace_js() -> Response {
    static_file(
        include_str!("../../templates/workspace.js"),
        "text/javascript; charset=utf-8",
    )
}

/// The advisory workspace's styles, beside the shared stylesheet.
async fn ui2_css() -> Response {
    static_file(
        include_str!("../../templates/ui2.css"),
        "text/css; charset=utf-8",
    )
}

fn static_file(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

async fn style() -> Response {
    let mut r = include_str!("../../templates/style.css").into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

/// What the navigation bar shows: links by role (the pages themselves decide access).
pub struct Nav {
    pub name: String,
    pub csrf: String,
    /// An administrator: "Administration".
    pub admin: bool,
    /// A member of an organisation or a maintainer: "Inbox".
    pub triager: bool,
    /// The organisations whose dashboard the user has, as security manager.
    pub dashboards: Vec<String>,
}

impl Nav {
    pub fn of(caller: &WebCaller) -> Option<Nav> {
        caller.session.as_ref().map(|s| Nav {
            name: s.user.name.clone(),
            csrf: s.csrf_token.clone(),
            admin: s.user.is_admin,
            triager: s.maintainer || !s.memberships.is_empty(),
            dashboards: s
                .memberships
                .iter()
                .filter(|(_, role)| *role == embargo_domain::types::OrgRole::SecurityManager)
                .map(|(org, _)| org.to_string())
                .collect(),
        })
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub title: String,
    pub message: String,
    pub user: Option<Nav>,
}

/// Form fields in order, allowing repeated names.
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Refuses posts from other sites, by the browser's own headers: `Sec-Fetch-Site`, and an
/// `Origin` that is neither the configured public address nor the requested host.
fn same_origin(headers: &HeaderMap, public_url: &str) -> Result<(), PageError> {
    let cross = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site" || v == "same-site");
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty());
    let origin_mismatch = match headers.get(header::ORIGIN) {
        None => false,
        Some(v) => {
            let origin = v.to_str().unwrap_or("null");
            origin != public_url
                && (host.is_none() || origin.split_once("://").map(|(_, h)| h) != host)
        }
    };
    if cross || origin_mismatch {
        return Err(PageError(AppError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this form was sent from another site; open the page here and send it again",
        )));
    }
    Ok(())
}

/// Checks a signed-in form: same origin, and the session's CSRF token.
pub fn check_session_form(
    st: &AppState,
    headers: &HeaderMap,
    caller: &WebCaller,
    fields: &Fields,
) -> Result<(), PageError> {
    same_origin(headers, &st.config.server.public_url)?;
    let Some(session) = &caller.session else {
        return Err(PageError(AppError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "sign in first",
        )));
    };
    if !embargo_store::secrets::constant_time_eq(fields.get("csrf"), &session.csrf_token) {
        return Err(PageError(AppError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the form has expired; reload the page and send it again",
        )));
    }
    Ok(())
}

/// A form posted by a signed-in browser, taken only after the same-origin and CSRF checks
/// ([`check_session_form`]): handlers that take it cannot forget them.
pub struct SessionForm {
    pub caller: WebCaller,
    pub fields: Fields,
}

impl<S> axum::extract::FromRequest<S> for SessionForm
where
    S: Send + Sync,
    AppState: axum::extract::FromRef<S>,
{
    type Rejection = PageError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, PageError> {
        use axum::extract::{FromRef, FromRequestParts};
        let (mut parts, body) = req.into_parts();
        let caller = WebCaller::from_request_parts(&mut parts, state).await?;
        let headers = parts.headers.clone();
        let axum::Form(form) = axum::Form::<Vec<(String, String)>>::from_request(
            axum::extract::Request::from_parts(parts, body),
            state,
        )
        .await
        .map_err(|e| {
            PageError(AppError::bad_request(format!(
                "the form could not be read: {e}"
            )))
        })?;
        let fields = Fields(form);
        check_session_form(&AppState::from_ref(state), &headers, &caller, &fields)?;
        Ok(Self { caller, fields })
    }
}

pub const ANON_CSRF_COOKIE: &str = "embargo_csrf";

/// Checks a form sent before signing in (login, setup, reset) against its cookie.
pub fn check_anonymous_form(
    st: &AppState,
    headers: &HeaderMap,
    fields: &Fields,
) -> Result<(), PageError> {
    same_origin(headers, &st.config.server.public_url)?;
    let sent = fields.get("csrf");
    let ok = cookie(headers, ANON_CSRF_COOKIE)
        .is_some_and(|c| !sent.is_empty() && embargo_store::secrets::constant_time_eq(sent, &c));
    if !ok {
        return Err(PageError(AppError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the form has expired (or cookies are off); reload the page and send it again",
        )));
    }
    Ok(())
}

/// A `Set-Cookie` value with the flags every cookie of ours carries.
pub fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

pub fn redirect_with_cookies(to: &str, cookies: &[String]) -> Response {
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response();
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

pub fn redirect(to: &str) -> Response {
    redirect_with_cookies(to, &[])
}
