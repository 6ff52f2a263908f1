//! The administration pages: organisations, their members, repositories, maintainers and
//! policy, and the site's accounts. Every decision is the store's (the organisation rule and
//! the site rule); a page the caller may not use answers 404, as for a page that is not there.

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use embargo_domain::types::{Email, OrgRole, Slug};
use embargo_store::{Org, Person, Repo, Store, StoreError, SyncReport, User};

use super::auth::to_login;
use super::{Fields, Nav, SessionForm, redirect, render};
use crate::AppState;
use crate::api::slug;
use crate::error::{AppError, PageError};
use crate::extract::{Req, WebCaller};

/// A page the caller may not use: the same answer as for one that does not exist.
fn hidden() -> PageError {
    PageError(AppError::not_found("page"))
}

/// The caller may use the administration pages; 404 otherwise.
fn administrator(caller: &WebCaller) -> Result<(), PageError> {
    if Store::may_administer(caller.actor) {
        Ok(())
    } else {
        Err(hidden())
    }
}

fn csrf(caller: &WebCaller) -> String {
    caller
        .session
        .as_ref()
        .map(|s| s.csrf_token.clone())
        .unwrap_or_default()
}

/// A store refusal a form can show next to itself; other errors stay errors.
fn form_error(e: StoreError) -> Result<String, PageError> {
    match e {
        StoreError::Invalid(f) => Ok(f.to_string()),
        StoreError::Conflict(m) | StoreError::Forbidden(m) => Ok(m),
        StoreError::NotFound(what) => Ok(format!("no such {what}")),
        other => Err(other.into()),
    }
}

fn role_label(role: Option<OrgRole>) -> &'static str {
    match role {
        Some(OrgRole::SecurityManager) => "Security manager",
        Some(OrgRole::SteeringCommittee) => "Steering committee",
        None => "Maintainer",
    }
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    user: Option<Nav>,
    csrf: String,
    orgs: Vec<Org>,
    error: Option<String>,
    slug: String,
    name: String,
}

async fn admin_page(
    st: &AppState,
    caller: &WebCaller,
    error: Option<String>,
    f: Option<&Fields>,
) -> Result<Response, PageError> {
    let page = AdminPage {
        user: Nav::of(caller),
        csrf: csrf(caller),
        orgs: st.store.orgs().await?,
        slug: f.map(|f| f.get("slug").to_owned()).unwrap_or_default(),
        name: f.map(|f| f.get("name").to_owned()).unwrap_or_default(),
        error,
    };
    let status = if page.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, render(&page)).into_response())
}

/// `GET /admin`: the organisations, and a form to create one.
pub async fn index(Req(st): Req, caller: WebCaller) -> Result<Response, PageError> {
    if caller.session.is_none() {
        return Ok(to_login("/admin"));
    }
    administrator(&caller)?;
    admin_page(&st, &caller, None, None).await
}

/// `POST /admin/orgs`: creates an organisation, then opens its page.
pub async fn create_org(
    Req(st): Req,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    administrator(&caller)?;
    let slug = match Slug::parse(f.get("slug").trim()) {
        Ok(s) => s,
        Err(e) => return admin_page(&st, &caller, Some(e.to_string()), Some(&f)).await,
    };
    match st
        .store
        .create_org(caller.actor, &slug, f.get("name").trim())
        .await
    {
        Ok(org) => Ok(redirect(&format!("/admin/orgs/{}", org.slug))),
        Err(e) => admin_page(&st, &caller, Some(form_error(e)?), Some(&f)).await,
    }
}

/// A person as a row of a table.
struct PersonRow {
    email: String,
    name: String,
    role: &'static str,
}

impl From<Person> for PersonRow {
    fn from(p: Person) -> Self {
        Self {
            email: p.email.to_string(),
            name: p.name,
            role: role_label(p.role),
        }
    }
}

struct RepoRow {
    repo: Repo,
    maintainers: Vec<PersonRow>,
}

#[derive(Template)]
#[template(path = "admin_org.html")]
struct OrgPage {
    user: Option<Nav>,
    csrf: String,
    org: Org,
    members: Vec<PersonRow>,
    repos: Vec<RepoRow>,
    /// Which form the error belongs to (`members`, `repos`, `policy`, or a repository's slug).
    error_at: String,
    error: Option<String>,
    report: Option<(String, SyncReport)>,
    policy_text_max: usize,
}

/// Renders an organisation's administration page; 404 for those who may not manage it.
async fn org_page(
    st: &AppState,
    caller: &WebCaller,
    org: &str,
    error: Option<(&str, String)>,
    report: Option<(String, SyncReport)>,
) -> Result<Response, PageError> {
    let o = slug(org, "organisation")?;
    let org = st.store.org(&o).await?;
    let members = match st.store.org_members(caller.actor, &o).await {
        Ok(m) => m,
        Err(StoreError::Forbidden(_)) => return Err(hidden()),
        Err(e) => return Err(e.into()),
    };
    let mut repos = Vec::new();
    for repo in st.store.repos(Some(&o)).await? {
        let maintainers = st.store.maintainers(caller.actor, &o, &repo.slug).await?;
        repos.push(RepoRow {
            repo,
            maintainers: maintainers.into_iter().map(PersonRow::from).collect(),
        });
    }
    let (error_at, error) = match error {
        Some((at, m)) => (at.to_owned(), Some(m)),
        None => (String::new(), None),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = OrgPage {
        user: Nav::of(caller),
        csrf: csrf(caller),
        org,
        members: members.into_iter().map(PersonRow::from).collect(),
        repos,
        error_at,
        error,
        report,
        policy_text_max: embargo_store::POLICY_TEXT_MAX,
    };
    Ok((status, render(&page)).into_response())
}

/// `GET /admin/orgs/{org}`: members, repositories, maintainers and policy (administrators,
/// and the organisation's security managers).
pub async fn org(
    Req(st): Req,
    caller: WebCaller,
    Path(org): Path<String>,
) -> Result<Response, PageError> {
    if caller.session.is_none() {
        return Ok(to_login(&format!("/admin/orgs/{}", slug(&org, "page")?)));
    }
    org_page(&st, &caller, &org, None, None).await
}

/// The outcome of a form on the organisation page: back to it, or the page with the error.
async fn after(
    st: &AppState,
    caller: &WebCaller,
    org: &str,
    at: &str,
    result: Result<(), StoreError>,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(redirect(&format!("/admin/orgs/{org}#{at}"))),
        Err(e) => {
            let message = form_error(e)?;
            org_page(st, caller, org, Some((at, message)), None).await
        }
    }
}

fn email_field(f: &Fields) -> Result<Email, StoreError> {
    Email::parse(f.get("email").trim()).map_err(StoreError::Invalid)
}

/// `POST /admin/orgs/{org}/members`: names a security manager or steering committee member.
pub async fn set_member(
    Req(st): Req,
    Path(org): Path<String>,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    let o = slug(&org, "organisation")?;
    let result = async {
        let email = email_field(&f)?;
        let role = OrgRole::parse(f.get("role")).map_err(StoreError::Invalid)?;
        st.store.set_member(caller.actor, &o, &email, role).await
    }
    .await;
    after(&st, &caller, &org, "members", result).await
}

/// `POST /admin/orgs/{org}/members/remove`.
pub async fn remove_member(
    Req(st): Req,
    Path(org): Path<String>,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    let o = slug(&org, "organisation")?;
    let result = async {
        let email = email_field(&f)?;
        st.store.remove_member(caller.actor, &o, &email).await
    }
    .await;
    after(&st, &caller, &org, "members", result).await
}

/// `POST /admin/orgs/{org}/repos`: a new repository, with its upstream if given.
pub async fn create_repo(
    Req(st): Req,
    Path(org): Path<String>,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    let o = slug(&org, "organisation")?;
    let upstream = match upstream_field(&st, &f) {
        Ok(u) => u,
        Err(e) => return org_page(&st, &caller, &org, Some(("repos", e)), None).await,
    };
    let result = async {
        let s = Slug::parse(f.get("slug").trim()).map_err(StoreError::Invalid)?;
        let repo = st
            .store
            .create_repo(caller.actor, &o, &s, f.get("name").trim())
            .await?;
        if let Some(u) = &upstream {
            st.store
                .set_upstream(caller.actor, &o, &repo.slug, Some(u))
                .await?;
        }
        Ok(())
    }
    .await;
    after(&st, &caller, &org, "repos", result).await
}

/// The `upstream` field: empty for none; otherwise an address the network rule allows.
fn upstream_field(
    st: &AppState,
    f: &Fields,
) -> Result<Option<embargo_domain::types::Upstream>, String> {
    let raw = f.get("upstream").trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let u = embargo_domain::types::Upstream::parse(raw).map_err(|e| e.to_string())?;
    crate::codeowners::check_new_upstream(&st.config, &u).map_err(|e| e.message)?;
    Ok(Some(u))
}

/// `POST /admin/orgs/{org}/repos/{repo}/upstream`: sets (or, empty, clears) the upstream.
pub async fn set_upstream(
    Req(st): Req,
    Path((org, repo)): Path<(String, String)>,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    let (o, r) = (slug(&org, "organisation")?, slug(&repo, "repository")?);
    let at = format!("repo-{r}");
    let upstream = match upstream_field(&st, &f) {
        Ok(u) => u,
        Err(e) => return org_page(&st, &caller, &org, Some((&at, e)), None).await,
    };
    let result = st
        .store
        .set_upstream(caller.actor, &o, &r, upstream.as_ref())
        .await;
    after(&st, &caller, &org, &at, result).await
}

/// `POST /admin/orgs/{org}/repos/{repo}/maintainers`.
pub async fn add_maintainer(
    Req(st): Req,
    Path((org, repo)): Path<(String, String)>,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    let (o, r) = (slug(&org, "organisation")?, slug(&repo, "repository")?);
    let result = async {
        let email = email_field(&f)?;
        st.store.add_maintainer(caller.actor, &o, &r, &email).await
    }
    .await;
    after(&st, &caller, &org, &format!("repo-{r}"), result).await
}

/// `POST /admin/orgs/{org}/repos/{repo}/maintainers/remove`.
pub async fn remove_maintainer(
    Req(st): Req,
    Path((org, repo)): Path<(String, String)>,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    let (o, r) = (slug(&org, "organisation")?, slug(&repo, "repository")?);
    let result = async {
        let email = email_field(&f)?;
        st.store
            .remove_maintainer(caller.actor, &o, &r, &email)
            .await
    }
    .await;
    after(&st, &caller, &org, &format!("repo-{r}"), result).await
}

/// `POST /admin/orgs/{org}/repos/{repo}/sync`: maintainers from the upstream's CODEOWNERS,
/// and the page with what changed.
pub async fn sync(
    Req(st): Req,
    Path((org, repo)): Path<(String, String)>,
    SessionForm { caller, .. }: SessionForm,
) -> Result<Response, PageError> {
    let (o, r) = (slug(&org, "organisation")?, slug(&repo, "repository")?);
    match crate::codeowners::sync_maintainers(&st.store, &st.config, caller.actor, &o, &r).await {
        Ok(report) => org_page(&st, &caller, &org, None, Some((r.to_string(), report))).await,
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            org_page(
                &st,
                &caller,
                &org,
                Some((&format!("repo-{r}"), e.message)),
                None,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/orgs/{org}/policy`: the policy settings, and the free text of SECURITY.md.
pub async fn set_policy(
    Req(st): Req,
    Path(org): Path<String>,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    let o = slug(&org, "organisation")?;
    let number = |field: &str| -> Result<u32, StoreError> {
        f.get(field).trim().parse().map_err(|_| {
            StoreError::Invalid(embargo_domain::FieldError::new(
                field,
                "must be a whole number",
            ))
        })
    };
    let result = async {
        let change = embargo_store::PolicyChange {
            response_days: Some(number("response_days")?),
            require_two_factor: Some(f.get("require_two_factor") == "on"),
            spam_block_days: Some(number("spam_block_days")?),
            reports_per_hour: Some(number("reports_per_hour")?),
            mail_titles: Some(f.get("mail_titles") == "on"),
            disclose_closed_days: Some(number("disclose_closed_days")?),
            // Browsers send CRLF line ends; SECURITY.md keeps LF.
            policy_text: Some(f.get("policy_text").replace("\r\n", "\n")),
            ..embargo_store::PolicyChange::default()
        };
        st.store
            .set_policy(caller.actor, &o, change)
            .await
            .map(|_| ())
    }
    .await;
    after(&st, &caller, &org, "policy", result).await
}

#[derive(Template)]
#[template(path = "admin_confirm.html")]
struct ConfirmPage {
    user: Option<Nav>,
    csrf: String,
    org: Org,
    heading: String,
    /// What will happen, in words.
    outcome: String,
    action: String,
    email: String,
    button: String,
}

/// `GET /admin/orgs/{org}/members/remove?email=`: what removing a member does, and the
/// button that does it (the page behind the dialog, for browsers without script).
pub async fn confirm_remove_member(
    Req(st): Req,
    caller: WebCaller,
    Path(org): Path<String>,
    axum::extract::Query(q): axum::extract::Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let o = slug(&org, "organisation")?;
    if caller.session.is_none() {
        return Ok(to_login(&format!("/admin/orgs/{o}")));
    }
    let members = match st.store.org_members(caller.actor, &o).await {
        Ok(m) => m,
        Err(StoreError::Forbidden(_)) => return Err(hidden()),
        Err(e) => return Err(e.into()),
    };
    let asked = Fields(q);
    let m = members
        .into_iter()
        .find(|m| m.email.as_str() == asked.get("email"))
        .ok_or_else(|| PageError(AppError::not_found("member")))?;
    let org = st.store.org(&o).await?;
    Ok(render(&ConfirmPage {
        user: Nav::of(&caller),
        csrf: csrf(&caller),
        heading: format!("Remove {} from {}?", m.email, org.name),
        outcome: format!(
            "{} ({}) will no longer be {} of {}: they lose access to its reports at once, unless they maintain the repository or were invited to it.",
            m.name,
            m.email,
            role_label(m.role).to_lowercase(),
            org.name
        ),
        action: format!("/admin/orgs/{o}/members/remove"),
        email: m.email.to_string(),
        button: "Remove them".into(),
        org,
    }))
}

/// `GET /admin/orgs/{org}/repos/{repo}/maintainers/remove?email=`: the same for a maintainer.
pub async fn confirm_remove_maintainer(
    Req(st): Req,
    caller: WebCaller,
    Path((org, repo)): Path<(String, String)>,
    axum::extract::Query(q): axum::extract::Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let (o, r) = (slug(&org, "organisation")?, slug(&repo, "repository")?);
    if caller.session.is_none() {
        return Ok(to_login(&format!("/admin/orgs/{o}")));
    }
    let maintainers = match st.store.maintainers(caller.actor, &o, &r).await {
        Ok(m) => m,
        Err(StoreError::Forbidden(_)) => return Err(hidden()),
        Err(e) => return Err(e.into()),
    };
    let asked = Fields(q);
    let m = maintainers
        .into_iter()
        .find(|m| m.email.as_str() == asked.get("email"))
        .ok_or_else(|| PageError(AppError::not_found("maintainer")))?;
    let org = st.store.org(&o).await?;
    Ok(render(&ConfirmPage {
        user: Nav::of(&caller),
        csrf: csrf(&caller),
        heading: format!("Remove {} from {o}/{r}?", m.email),
        outcome: format!(
            "{} ({}) will no longer maintain {o}/{r}: they lose access to its reports at once, unless they have another role there. A later sync from CODEOWNERS may add them again.",
            m.name, m.email
        ),
        action: format!("/admin/orgs/{o}/repos/{r}/maintainers/remove"),
        email: m.email.to_string(),
        button: "Remove the maintainer".into(),
        org,
    }))
}

struct UserRow {
    email: String,
    name: String,
    admin: bool,
    has_password: bool,
    two_factor: bool,
}

impl From<User> for UserRow {
    fn from(u: User) -> Self {
        Self {
            email: u.email.to_string(),
            name: u.name,
            admin: u.is_admin,
            has_password: u.has_password,
            two_factor: u.two_factor,
        }
    }
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    user: Option<Nav>,
    csrf: String,
    users: Vec<UserRow>,
    error: Option<String>,
    /// The new account's address and its one-time link, shown once.
    created: Option<(String, String)>,
    link_days: i64,
    email: String,
    name: String,
}

async fn users_page(
    st: &AppState,
    caller: &WebCaller,
    error: Option<String>,
    created: Option<(String, String)>,
    f: Option<&Fields>,
) -> Result<Response, PageError> {
    let users = match st.store.users(caller.actor).await {
        Ok(u) => u,
        Err(StoreError::Forbidden(_)) => return Err(hidden()),
        Err(e) => return Err(e.into()),
    };
    let status = match (&error, &created) {
        (Some(_), _) => StatusCode::UNPROCESSABLE_ENTITY,
        (None, Some(_)) => StatusCode::CREATED,
        (None, None) => StatusCode::OK,
    };
    let page = UsersPage {
        user: Nav::of(caller),
        csrf: csrf(caller),
        users: users.into_iter().map(UserRow::from).collect(),
        error,
        created,
        link_days: embargo_store::NEW_ACCOUNT_LINK_DAYS,
        email: f.map(|f| f.get("email").to_owned()).unwrap_or_default(),
        name: f.map(|f| f.get("name").to_owned()).unwrap_or_default(),
    };
    Ok((status, render(&page)).into_response())
}

/// `GET /admin/users`: the accounts (administrators only).
pub async fn users(Req(st): Req, caller: WebCaller) -> Result<Response, PageError> {
    if caller.session.is_none() {
        return Ok(to_login("/admin/users"));
    }
    users_page(&st, &caller, None, None, None).await
}

/// `POST /admin/users`: creates an account and shows, once, the link where its owner
/// chooses a password.
pub async fn create_user(
    Req(st): Req,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    administrator(&caller)?;
    let result = async {
        let email = email_field(&f)?;
        let name = Some(f.get("name").trim()).filter(|n| !n.is_empty());
        st.store
            .create_account(caller.actor, &email, name, f.get("admin") == "on")
            .await
    }
    .await;
    match result {
        Ok((user, token)) => {
            let link = format!("{}/reset/{token}", st.config.server.public_url);
            users_page(
                &st,
                &caller,
                None,
                Some((user.email.to_string(), link)),
                None,
            )
            .await
        }
        Err(e) => {
            let message = form_error(e)?;
            users_page(&st, &caller, Some(message), None, Some(&f)).await
        }
    }
}

/// The routes of the administration pages, the inbox and the dashboard.
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/admin", get(index))
        .route("/admin/orgs", post(create_org))
        .route("/admin/orgs/{org}", get(org))
        .route("/admin/orgs/{org}/members", post(set_member))
        .route(
            "/admin/orgs/{org}/members/remove",
            get(confirm_remove_member).post(remove_member),
        )
        .route("/admin/orgs/{org}/repos", post(create_repo))
        .route(
            "/admin/orgs/{org}/repos/{repo}/upstream",
            post(set_upstream),
        )
        .route(
            "/admin/orgs/{org}/repos/{repo}/maintainers",
            post(add_maintainer),
        )
        .route(
            "/admin/orgs/{org}/repos/{repo}/maintainers/remove",
            get(confirm_remove_maintainer).post(remove_maintainer),
        )
        .route("/admin/orgs/{org}/repos/{repo}/sync", post(sync))
        .route("/admin/orgs/{org}/policy", post(set_policy))
        .route("/admin/users", get(users).post(create_user))
        .route("/inbox", get(super::inbox::show))
        .route("/orgs/{org}/dashboard", get(super::dashboard::show))
}
