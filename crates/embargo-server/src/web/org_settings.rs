//! An organisation's webhooks (each with its delivery log and redelivery) and its IMAP
//! mailbox, as pages for its security managers: the same store calls, and so the same rule
//! (`OrgAction::ManagePolicy`), as `/api/v1/orgs/{org}/webhooks` and `.../mail-intake`.
//! Everyone else gets the answer of a missing page; a visitor who is not signed in is sent
//! to sign in first.

use askama::Template;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use embargo_domain::FieldError;
use embargo_domain::access::OrgAction;
use embargo_domain::types::Slug;
use embargo_store::{
    Delivery, ImapIntakeRequest, ImapIntakeView, ImapTls, NewWebhook, Org, StoreError,
    WEBHOOK_EVENTS, Webhook,
};

use super::advisory::fmt_time;
use super::auth::to_login;
use super::{Fields, Nav, SessionForm, redirect, render};
use crate::AppState;
use crate::error::{AppError, PageError};
use crate::extract::{Req, WebCaller};

/// The organisation, when the caller manages it; otherwise the answer of a missing page
/// (a security manager who must turn on two-factor sign-in first is told so).
async fn managed(st: &AppState, caller: &WebCaller, org: &str) -> Result<Org, PageError> {
    let missing = || PageError(AppError::not_found("page"));
    let slug = Slug::parse(org).map_err(|_| missing())?;
    match st
        .store
        .check_org_action(caller.actor, &slug, OrgAction::ManagePolicy)
        .await
    {
        Ok(()) => Ok(st.store.org(&slug).await?),
        Err(StoreError::Forbidden(m)) if m == embargo_store::TWO_FACTOR_REQUIRED => Err(PageError(
            AppError::new(StatusCode::FORBIDDEN, "forbidden", m),
        )),
        Err(StoreError::Forbidden(_) | StoreError::NotFound(_)) => Err(missing()),
        Err(e) => Err(e.into()),
    }
}

/// A number in a path, or a missing page.
fn id_in_path(s: &str) -> Result<i64, PageError> {
    s.parse()
        .map_err(|_| PageError(AppError::not_found("page")))
}

/// A page answered with `status`, never stored by a cache (it may carry a secret).
fn private(status: StatusCode, page: Response) -> Response {
    let mut r = (status, page).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn csrf_of(caller: &WebCaller) -> String {
    caller
        .session
        .as_ref()
        .map(|s| s.csrf_token.clone())
        .unwrap_or_default()
}

// ---------------------------------------------------------------- webhooks

/// One webhook, as its row shows it.
struct HookRow {
    id: i64,
    url: String,
    events: String,
    inside_audience: bool,
    created: String,
}

impl From<Webhook> for HookRow {
    fn from(h: Webhook) -> Self {
        Self {
            id: h.id,
            url: h.url,
            events: h.events.join(", "),
            inside_audience: h.inside_audience,
            created: fmt_time(h.created_at),
        }
    }
}

/// What the add form held, to show it again after a refusal.
#[derive(Default)]
struct HookForm {
    url: String,
    events: Vec<String>,
    inside_audience: bool,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    user: Option<Nav>,
    csrf: String,
    org: Org,
    hooks: Vec<HookRow>,
    /// Each event the form offers, and whether it is ticked.
    events: Vec<(&'static str, bool)>,
    form: HookForm,
    /// The hook just added and its secret: shown on this answer only.
    created: Option<(i64, String)>,
    error: Option<String>,
}

async fn webhooks_page(
    st: &AppState,
    caller: &WebCaller,
    org: Org,
    form: HookForm,
    created: Option<(i64, String)>,
    error: Option<String>,
) -> Result<WebhooksPage, PageError> {
    let hooks = st
        .store
        .webhooks(caller.actor, &org.slug)
        .await?
        .into_iter()
        .map(HookRow::from)
        .collect();
    let events = WEBHOOK_EVENTS
        .iter()
        .map(|e| (*e, form.events.iter().any(|f| f == e)))
        .collect();
    Ok(WebhooksPage {
        user: Nav::of(caller),
        csrf: csrf_of(caller),
        org,
        hooks,
        events,
        form,
        created,
        error,
    })
}

/// `GET /orgs/{org}/webhooks`.
pub async fn webhooks(
    Req(st): Req,
    caller: WebCaller,
    Path(org): Path<String>,
) -> Result<Response, PageError> {
    if caller.session.is_none() {
        return Ok(to_login(&format!("/orgs/{org}/webhooks")));
    }
    let o = managed(&st, &caller, &org).await?;
    let page = webhooks_page(&st, &caller, o, HookForm::default(), None, None).await?;
    Ok(render(&page))
}

/// `POST /orgs/{org}/webhooks`: adds a hook with a secret made here, shown once.
pub async fn add_webhook(
    Req(st): Req,
    Path(org): Path<String>,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    let o = managed(&st, &caller, &org).await?;
    let form = HookForm {
        url: f.get("url").trim().to_owned(),
        events: f.all("events").into_iter().map(str::to_owned).collect(),
        inside_audience: f.get("inside_audience") == "on",
    };
    let secret = embargo_store::secrets::new_token("whsec_")?;
    let added = match crate::api::webhooks::check_url(&st, &form.url) {
        Ok(()) => st
            .store
            .add_webhook(
                caller.actor,
                &o.slug,
                NewWebhook {
                    url: form.url.clone(),
                    events: form.events.clone(),
                    secret: secret.clone(),
                    inside_audience: form.inside_audience,
                },
            )
            .await
            .map_err(AppError::from),
        Err(e) => Err(e),
    };
    match added {
        Ok(id) => {
            let page = webhooks_page(
                &st,
                &caller,
                o,
                HookForm::default(),
                Some((id, secret)),
                None,
            )
            .await?;
            Ok(private(StatusCode::CREATED, render(&page)))
        }
        Err(e) if is_refusal(&e) => {
            let page = webhooks_page(&st, &caller, o, form, None, Some(e.message)).await?;
            Ok(private(StatusCode::UNPROCESSABLE_ENTITY, render(&page)))
        }
        Err(e) => Err(e.into()),
    }
}

/// An answer the form shows beside itself (a wrong field, or a limit reached).
fn is_refusal(e: &AppError) -> bool {
    e.status == StatusCode::UNPROCESSABLE_ENTITY || e.status == StatusCode::CONFLICT
}

/// `POST /orgs/{org}/webhooks/{id}/remove`.
pub async fn remove_webhook(
    Req(st): Req,
    Path((org, id)): Path<(String, String)>,
    SessionForm { caller, .. }: SessionForm,
) -> Result<Response, PageError> {
    let o = managed(&st, &caller, &org).await?;
    st.store
        .delete_webhook(caller.actor, &o.slug, id_in_path(&id)?)
        .await?;
    Ok(redirect(&format!("/orgs/{}/webhooks", o.slug)))
}

/// One delivery, as its row shows it.
struct DeliveryRow {
    id: i64,
    event: String,
    state: String,
    attempts: i64,
    status: String,
    error: String,
    last_attempt: String,
    delivered: String,
}

impl From<Delivery> for DeliveryRow {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            event: d.event,
            state: d.state,
            attempts: d.attempts,
            status: d.last_status.map(|s| s.to_string()).unwrap_or_default(),
            error: d.last_error.unwrap_or_default(),
            last_attempt: d.last_attempt_at.map(fmt_time).unwrap_or_default(),
            delivered: d.delivered_at.map(fmt_time).unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "deliveries.html")]
struct DeliveriesPage {
    user: Option<Nav>,
    csrf: String,
    org: Org,
    hook: HookRow,
    deliveries: Vec<DeliveryRow>,
    max_attempts: i64,
}

/// `GET /orgs/{org}/webhooks/{id}/deliveries`: each delivery's state, time, attempts and the
/// receiver's answer, newest first, each with a button to send it again.
pub async fn deliveries(
    Req(st): Req,
    caller: WebCaller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    if caller.session.is_none() {
        return Ok(to_login(&format!("/orgs/{org}/webhooks/{id}/deliveries")));
    }
    let o = managed(&st, &caller, &org).await?;
    let id = id_in_path(&id)?;
    let deliveries = st
        .store
        .deliveries(caller.actor, &o.slug, id)
        .await?
        .into_iter()
        .map(DeliveryRow::from)
        .collect();
    let hook = st
        .store
        .webhooks(caller.actor, &o.slug)
        .await?
        .into_iter()
        .find(|h| h.id == id)
        .ok_or_else(|| PageError(AppError::not_found("webhook")))?;
    Ok(render(&DeliveriesPage {
        user: Nav::of(&caller),
        csrf: csrf_of(&caller),
        org: o,
        hook: hook.into(),
        deliveries,
        max_attempts: embargo_store::WEBHOOK_MAX_ATTEMPTS,
    }))
}

/// `POST /orgs/{org}/webhooks/{id}/deliveries/{delivery}/redeliver`: queued again, attempts
/// counted from zero.
pub async fn redeliver(
    Req(st): Req,
    Path((org, id, delivery)): Path<(String, String, String)>,
    SessionForm { caller, .. }: SessionForm,
) -> Result<Response, PageError> {
    let o = managed(&st, &caller, &org).await?;
    let id = id_in_path(&id)?;
    st.store
        .redeliver(caller.actor, &o.slug, id, id_in_path(&delivery)?)
        .await?;
    Ok(redirect(&format!(
        "/orgs/{}/webhooks/{id}/deliveries",
        o.slug
    )))
}

// ---------------------------------------------------------------- mail intake

/// The mailbox form's fields (never the password).
struct IntakeForm {
    host: String,
    port: String,
    tls: &'static str,
    user: String,
    folder: String,
    repo: String,
}

impl IntakeForm {
    fn blank() -> Self {
        Self {
            host: String::new(),
            port: String::new(),
            tls: "implicit",
            user: String::new(),
            folder: "INBOX".into(),
            repo: String::new(),
        }
    }

    fn of(v: &ImapIntakeView) -> Self {
        let url = url::Url::parse(&v.url).ok();
        Self {
            host: url
                .as_ref()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default(),
            port: url
                .as_ref()
                .and_then(url::Url::port)
                .map(|p| p.to_string())
                .unwrap_or_default(),
            tls: tls_name(v.tls),
            user: v.user.clone(),
            folder: v.folder.clone(),
            repo: v.repo.as_ref().map(ToString::to_string).unwrap_or_default(),
        }
    }
}

fn tls_name(t: ImapTls) -> &'static str {
    match t {
        ImapTls::Implicit => "implicit",
        ImapTls::Starttls => "starttls",
        ImapTls::None => "none",
    }
}

#[derive(Template)]
#[template(path = "mail_intake.html")]
struct MailIntakePage {
    user: Option<Nav>,
    csrf: String,
    org: Org,
    /// The stored settings (without the password), if the intake is on.
    current: Option<ImapIntakeView>,
    /// How the stored settings protect the connection, in words.
    protection: &'static str,
    form: IntakeForm,
    repos: Vec<String>,
    /// Whether the administrator named extra certificates to trust (`[mail] imap_ca_file`).
    extra_ca: bool,
    error: Option<String>,
}

async fn mail_intake_page(
    st: &AppState,
    caller: &WebCaller,
    org: Org,
    form: Option<IntakeForm>,
    error: Option<String>,
) -> Result<MailIntakePage, PageError> {
    let current = st.store.imap_intake(caller.actor, &org.slug).await?;
    let form = form.unwrap_or_else(|| {
        current
            .as_ref()
            .map_or_else(IntakeForm::blank, IntakeForm::of)
    });
    let repos = st
        .store
        .repos(Some(&org.slug))
        .await?
        .into_iter()
        .map(|r| r.slug.to_string())
        .collect();
    let protection = match current.as_ref().map(|c| c.tls) {
        Some(ImapTls::Implicit) => "TLS (imaps)",
        Some(ImapTls::Starttls) => "STARTTLS",
        Some(ImapTls::None) => "none (a host the administrator listed)",
        None => "",
    };
    Ok(MailIntakePage {
        user: Nav::of(caller),
        csrf: csrf_of(caller),
        org,
        current,
        protection,
        form,
        repos,
        extra_ca: !st.config.mail.imap_ca_file.is_empty(),
        error,
    })
}

/// `GET /orgs/{org}/mail-intake`.
pub async fn mail_intake(
    Req(st): Req,
    caller: WebCaller,
    Path(org): Path<String>,
) -> Result<Response, PageError> {
    if caller.session.is_none() {
        return Ok(to_login(&format!("/orgs/{org}/mail-intake")));
    }
    let o = managed(&st, &caller, &org).await?;
    let page = mail_intake_page(&st, &caller, o, None, None).await?;
    Ok(private(StatusCode::OK, render(&page)))
}

/// The address the form's server, port and protection make (`imaps://host:port`).
fn server_url(f: &Fields) -> Result<(String, ImapTls), FieldError> {
    let host = f.get("host").trim();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.is_empty()
        || bare.len() > 253
        || !bare
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
    {
        return Err(FieldError::new(
            "host",
            "must be a host name or address, such as imap.example.org",
        ));
    }
    let tls = match f.get("tls") {
        "implicit" | "" => ImapTls::Implicit,
        "starttls" => ImapTls::Starttls,
        "none" => ImapTls::None,
        _ => {
            return Err(FieldError::new(
                "tls",
                "must be implicit (imaps), starttls or none",
            ));
        }
    };
    let port = match f.get("port").trim() {
        "" if tls == ImapTls::Implicit => 993,
        "" => 143,
        p => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| FieldError::new("port", "must be a port number, 1 to 65535"))?,
    };
    let scheme = if tls == ImapTls::Implicit {
        "imaps"
    } else {
        "imap"
    };
    // An IPv6 address goes in brackets.
    let host = if bare.contains(':') {
        format!("[{bare}]")
    } else {
        bare.to_owned()
    };
    Ok((format!("{scheme}://{host}:{port}"), tls))
}

/// `POST /orgs/{org}/mail-intake`: sets the mailbox. An empty password keeps the stored one,
/// for the same server and user only.
pub async fn set_mail_intake(
    Req(st): Req,
    Path(org): Path<String>,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    let o = managed(&st, &caller, &org).await?;
    let form = IntakeForm {
        host: f.get("host").trim().to_owned(),
        port: f.get("port").trim().to_owned(),
        tls: match f.get("tls") {
            "starttls" => "starttls",
            "none" => "none",
            _ => "implicit",
        },
        user: f.get("user").trim().to_owned(),
        folder: f.get("folder").trim().to_owned(),
        repo: f.get("repo").trim().to_owned(),
    };
    let result = async {
        let (url, tls) = server_url(&f).map_err(AppError::invalid)?;
        crate::api::mail_intake::check_server(&st, &url)?;
        st.store
            .set_imap_intake(
                caller.actor,
                &o.slug,
                ImapIntakeRequest {
                    url,
                    user: form.user.clone(),
                    password: f.get("password").to_owned(),
                    tls: Some(tls),
                    folder: Some(form.folder.clone()),
                    repo: Some(form.repo.clone()),
                },
            )
            .await
            .map_err(AppError::from)
    }
    .await;
    match result {
        Ok(_) => Ok(redirect(&format!("/orgs/{}/mail-intake", o.slug))),
        Err(e) if is_refusal(&e) => {
            let page = mail_intake_page(&st, &caller, o, Some(form), Some(e.message)).await?;
            Ok(private(StatusCode::UNPROCESSABLE_ENTITY, render(&page)))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /orgs/{org}/mail-intake/remove`: turns the intake off.
pub async fn remove_mail_intake(
    Req(st): Req,
    Path(org): Path<String>,
    SessionForm { caller, .. }: SessionForm,
) -> Result<Response, PageError> {
    let o = managed(&st, &caller, &org).await?;
    st.store.delete_imap_intake(caller.actor, &o.slug).await?;
    Ok(redirect(&format!("/orgs/{}/mail-intake", o.slug)))
}
