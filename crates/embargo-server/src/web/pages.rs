//! The home page, the list of advisories, and the report form.

use askama::Template;
use axum::Form;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use embargo_domain::advisory::{Advisory, NewReport, State as AdvState};
use embargo_domain::types::Slug;
use embargo_store::{AdvisoryFilter, Authorized};

use super::format::{Badge, When, filters};
use super::{Fields, Nav, check_session_form, redirect, render};
use crate::error::PageError;
use crate::extract::Req;
use crate::extract::WebCaller;
use embargo_formats::cvss::Severity;

/// One line of a list.
pub struct Row {
    pub id: String,
    pub headline: String,
    pub state: &'static str,
    pub place: String,
    pub updated: time::OffsetDateTime,
    /// For the audience of an unanswered report: when the first reply is due.
    pub due: When,
    pub overdue: bool,
    /// For the audience: the end of the embargo in force (UTC).
    pub embargo: When,
    /// An embargo ends within the policy's warning and the advisory is not ready.
    pub attention: bool,
    /// A CVSS badge per vector (4.0 first).
    pub badges: Vec<Badge>,
}

impl Row {
    pub(crate) fn of(a: &Authorized<Advisory>) -> Self {
        let adv = a.get();
        let audience = a.relations().in_audience();
        // The public sees the published summary; the audience the report's title too.
        let headline = if audience {
            adv.content.title.clone()
        } else {
            adv.content.headline().to_owned()
        };
        Self {
            id: adv.id.to_string(),
            headline,
            state: adv.state.as_str(),
            place: adv.place(),
            updated: if audience {
                adv.updated_at
            } else {
                adv.public_modified_at()
            },
            due: When::maybe(
                (audience && adv.first_response_at.is_none() && !adv.state.is_public())
                    .then_some(adv.response_due_at),
            ),
            overdue: false,
            embargo: When::maybe(if audience && adv.embargo.state.in_force() {
                adv.embargo.ends_at
            } else {
                None
            }),
            attention: false,
            badges: Badge::all(&adv.content),
        }
    }

    /// The highest rating of the advisory's vectors, if it has any.
    pub(crate) fn severity(&self) -> Option<Severity> {
        self.badges
            .iter()
            .max_by(|a, b| a.score.total_cmp(&b.score))
            .map(|b| b.severity)
    }
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    user: Option<Nav>,
    orgs: Vec<embargo_store::Org>,
    mine: Vec<Row>,
    published: Vec<Row>,
}

pub async fn index(Req(st): Req, caller: WebCaller) -> Result<Response, PageError> {
    let mine = if caller.session.is_some() {
        let f = AdvisoryFilter {
            audience_only: true,
            limit: 50,
            ..AdvisoryFilter::default()
        };
        st.store
            .advisories(caller.actor, &f)
            .await?
            .iter()
            .map(Row::of)
            .collect()
    } else {
        Vec::new()
    };
    let f = AdvisoryFilter {
        state: Some(AdvState::Published),
        limit: 50,
        ..AdvisoryFilter::default()
    };
    let published = st
        .store
        .advisories(embargo_domain::access::Actor::Anonymous, &f)
        .await?
        .iter()
        .map(Row::of)
        .collect();
    let orgs = st.store.orgs().await?;
    Ok(render(&IndexPage {
        user: Nav::of(&caller),
        orgs,
        mine,
        published,
    }))
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    user: Option<Nav>,
    rows: Vec<Row>,
    /// The states the viewer may ask for: the public ones only, signed out.
    states: Vec<&'static str>,
    /// The filters as asked, to show them again.
    state: String,
    repo: String,
    q: String,
    sort: String,
    severity: String,
}

/// The `severity` filter (`critical`, `high`, `medium`, `low`, `none`), or none.
pub(crate) fn severity_filter(raw: &str) -> Result<Option<Severity>, PageError> {
    use Severity::{Critical, High, Low, Medium, None as Zero};
    Ok(Some(match raw {
        "" => return Ok(None),
        "critical" => Critical,
        "high" => High,
        "medium" => Medium,
        "low" => Low,
        "none" => Zero,
        _ => {
            return Err(PageError(crate::error::AppError::invalid(
                embargo_domain::FieldError::new(
                    "severity",
                    "is one of critical, high, medium, low or none",
                ),
            )));
        }
    }))
}

/// `GET /advisories`: the inbox, with the API's filters (`state`, `org`, `repo`, `q`,
/// `sort`) as query parameters.
pub async fn list(
    Req(st): Req,
    caller: WebCaller,
    axum::extract::Query(q): axum::extract::Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let q = Fields(q);
    let opt = |k: &str| Some(q.get(k).trim().to_owned()).filter(|v| !v.is_empty());
    let invalid = |e: embargo_domain::FieldError| PageError(crate::error::AppError::invalid(e));
    let f = AdvisoryFilter {
        state: opt("state")
            .as_deref()
            .map(AdvState::parse)
            .transpose()
            .map_err(invalid)?,
        org: opt("org")
            .as_deref()
            .map(Slug::parse)
            .transpose()
            .map_err(invalid)?,
        repo: opt("repo")
            .as_deref()
            .map(Slug::parse)
            .transpose()
            .map_err(invalid)?,
        q: opt("q"),
        sort: opt("sort")
            .as_deref()
            .map(embargo_store::Sort::parse)
            .transpose()?
            .unwrap_or_default(),
        limit: 200,
        ..AdvisoryFilter::default()
    };
    let severity = severity_filter(q.get("severity").trim())?;
    let now = st.store.now();
    // Each organisation's earliest embargo warning, to flag advisories that need attention.
    let warn: std::collections::HashMap<Slug, time::Duration> = st
        .store
        .orgs()
        .await?
        .into_iter()
        .map(|o| {
            let w = o
                .policy
                .embargo_warnings
                .first()
                .map_or(time::Duration::ZERO, |w| w.0);
            (o.slug, w)
        })
        .collect();
    let rows: Vec<Row> = st
        .store
        .advisories(caller.actor, &f)
        .await?
        .iter()
        .map(|a| {
            let mut r = Row::of(a);
            r.overdue = r.due.is_some() && a.get().response_due_at < now;
            r.attention = a.relations().in_audience()
                && embargo_store::embargo_needs_attention(
                    a.get(),
                    warn.get(&a.get().org).copied().unwrap_or_default(),
                    now,
                );
            r
        })
        .filter(|r| severity.is_none() || r.severity() == severity)
        .collect();
    let states = if caller.session.is_some() {
        AdvState::ALL.iter().map(|s| s.as_str()).collect()
    } else {
        AdvState::ALL
            .iter()
            .filter(|s| s.is_public())
            .map(|s| s.as_str())
            .collect()
    };
    Ok(render(&ListPage {
        user: Nav::of(&caller),
        rows,
        states,
        state: q.get("state").trim().to_owned(),
        repo: q.get("repo").trim().to_owned(),
        q: q.get("q").trim().to_owned(),
        sort: q.get("sort").trim().to_owned(),
        severity: q.get("severity").trim().to_owned(),
    }))
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    user: Option<Nav>,
    csrf: String,
    /// Where a report can go, by organisation ([`super::report_form`]).
    groups: Vec<super::report_form::RepoGroup>,
    repo: String,
    title: String,
    description: String,
    versions: String,
    /// The affected packages' rows, and the ecosystems to choose from.
    packages: Vec<super::report_form::PackageRow>,
    ecosystems: Vec<&'static str>,
    cvss_vector: String,
    email: String,
    error: Option<String>,
    /// For the files' hint: how many, and how large together.
    files_max: usize,
    max_size: String,
}

/// `GET /report`, and `GET /report?repo=org/repo` with that repository chosen: the stable
/// link a project puts in its own SECURITY.md (an unknown one is simply not chosen).
pub async fn report_form(
    Req(st): Req,
    headers: HeaderMap,
    caller: WebCaller,
    axum::extract::Query(q): axum::extract::Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let repos = report_targets(&st.store).await?;
    let asked = Fields(q).get("repo").trim().to_owned();
    let repo = if repos.contains(&asked) {
        asked
    } else {
        String::new()
    };
    // Signed out, the form asks for an address instead, and guards itself with the
    // anonymous form cookie.
    let (csrf, new) = match &caller.session {
        Some(s) => (s.csrf_token.clone(), None),
        None => super::auth::anon_csrf(&headers)?,
    };
    let page = ReportPage {
        user: Nav::of(&caller),
        csrf,
        groups: super::report_form::groups(&repos),
        repo,
        title: String::new(),
        description: String::new(),
        versions: String::new(),
        packages: vec![super::report_form::PackageRow::default(); super::report_form::PACKAGE_ROWS],
        ecosystems: embargo_domain::types::Ecosystem::known().collect(),
        cvss_vector: String::new(),
        email: String::new(),
        error: None,
        files_max: super::report_form::FILES_MAX,
        max_size: super::report_form::size_label(st.config.attachments.max_bytes),
    };
    Ok(super::auth::with_anon_cookie(
        render(&page),
        new,
        st.config.secure_cookies(),
    ))
}

#[derive(Template)]
#[template(path = "sent.html")]
pub(crate) struct SentPage {
    pub user: Option<Nav>,
    pub heading: String,
    pub message: String,
    pub link: Option<String>,
}

pub async fn report(
    Req(st): Req,
    headers: HeaderMap,
    caller: WebCaller,
    body: axum::extract::Request,
) -> Result<Response, PageError> {
    let max = st.config.attachments.max_bytes;
    let (f, files) = super::report_form::read(body, max, caller.session.is_some()).await?;
    if caller.session.is_some() {
        check_session_form(&st, &headers, &caller, &f)?;
    } else {
        super::check_anonymous_form(&st, &headers, &f)?;
    }
    let again = |error: String, repos: Vec<String>| ReportPage {
        user: Nav::of(&caller),
        csrf: f.get("csrf").to_owned(),
        groups: super::report_form::groups(&repos),
        repo: f.get("repo").to_owned(),
        title: f.get("title").to_owned(),
        description: f.get("description").to_owned(),
        versions: f.get("versions").to_owned(),
        packages: super::report_form::package_rows(&f),
        ecosystems: embargo_domain::types::Ecosystem::known().collect(),
        cvss_vector: f.get("cvss_vector").to_owned(),
        email: f.get("email").to_owned(),
        error: Some(error),
        files_max: super::report_form::FILES_MAX,
        max_size: super::report_form::size_label(max),
    };
    let place = f.get("repo").split_once('/').and_then(|(o, r)| {
        let repo = if r.is_empty() {
            None
        } else {
            Some(Slug::parse(r).ok()?)
        };
        Some((Slug::parse(o).ok()?, repo))
    });
    let (description, cvss_vectors) = match super::report_form::details(&f) {
        Ok(d) => d,
        Err(e) => {
            let repos = report_targets(&st.store).await?;
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                render(&again(e.to_string(), repos)),
            )
                .into_response());
        }
    };
    let vulnerabilities =
        match super::report_form::vulnerabilities(&super::report_form::package_rows(&f)) {
            Ok(v) => v,
            Err(e) => {
                let repos = report_targets(&st.store).await?;
                return Ok((
                    StatusCode::UNPROCESSABLE_ENTITY,
                    render(&again(e.message, repos)),
                )
                    .into_response());
            }
        };
    let report = NewReport {
        title: f.get("title").to_owned(),
        description,
        cvss_vector: None,
        cvss_vectors,
        cvss_score: None,
        cwe_ids: Vec::new(),
        vulnerabilities,
    };
    let Some((org, repo)) = &place else {
        let repos = report_targets(&st.store).await?;
        let e = "repository: choose the repository the report is about".to_owned();
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&again(e, repos))).into_response());
    };
    if caller.session.is_none() && !files.is_empty() {
        let repos = report_targets(&st.store).await?;
        let e = "file: sign in to send files with a report".to_owned();
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&again(e, repos))).into_response());
    }
    if caller.session.is_none() {
        let base = st.config.server.public_url.clone();
        let result = match embargo_domain::types::Email::parse(f.get("email")) {
            Ok(email) => {
                st.store
                    .file_unconfirmed(
                        org,
                        repo.as_ref(),
                        &email,
                        report,
                        st.config.intake.unconfirmed_days,
                        |t| format!("{base}/confirm/{t}"),
                    )
                    .await
            }
            Err(e) => Err(embargo_store::StoreError::Invalid(e)),
        };
        return match result {
            Ok(()) => Ok(render(&SentPage {
                user: None,
                heading: "Check your e-mail".into(),
                message: format!(
                    "We sent a confirmation link to the address you gave. Nobody sees the report until you open it; it expires in {} days.",
                    st.config.intake.unconfirmed_days
                ),
                link: None,
            })),
            Err(embargo_store::StoreError::Invalid(e)) => {
                let repos = report_targets(&st.store).await?;
                Ok((
                    StatusCode::UNPROCESSABLE_ENTITY,
                    render(&again(e.to_string(), repos)),
                )
                    .into_response())
            }
            Err(e) => Err(e.into()),
        };
    }
    match st
        .store
        .file_report(caller.actor, org, repo.as_ref(), report)
        .await
    {
        Ok(a) => {
            let id = a.get().id.clone();
            let failed = attach_all(&st, &caller, &id, files, max).await;
            let link = format!("/advisories/{id}");
            if failed.is_empty() {
                return Ok(redirect(&link));
            }
            // The report is filed whatever happened to its files: say which were not kept.
            Ok(render(&SentPage {
                user: Nav::of(&caller),
                heading: format!("Report {id} sent; some files were not attached"),
                message: format!(
                    "Your report was filed and its security team can read it. These files were \
                     not attached: {}. Attach them again on the report's page.",
                    failed.join("; ")
                ),
                link: Some(link),
            }))
        }
        Err(embargo_store::StoreError::Invalid(e)) => {
            let repos = report_targets(&st.store).await?;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                render(&again(e.to_string(), repos)),
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// Stores the files sent with a report on the report just filed, one by one; answers what
/// failed ("name: reason"), so that a file never takes the report down with it.
async fn attach_all(
    st: &crate::AppState,
    caller: &WebCaller,
    id: &embargo_domain::ids::AdvisoryId,
    files: Vec<super::report_form::Upload>,
    max: usize,
) -> Vec<String> {
    let mut failed = Vec::new();
    for file in files {
        let shown = if file.name.is_empty() {
            "a file without a name".to_owned()
        } else {
            file.name.clone()
        };
        let why = match file.bytes {
            Err(why) => why,
            Ok(bytes) => match st
                .store
                .attach(caller.actor, id, &file.name, &bytes, max)
                .await
            {
                Ok(_) => continue,
                Err(embargo_store::StoreError::Invalid(e)) => e.to_string(),
                Err(e) => {
                    tracing::error!(error = %e, "attaching a file to a new report failed");
                    "it could not be stored".to_owned()
                }
            },
        };
        failed.push(format!("{shown} ({why})"));
    }
    failed
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage {
    user: Option<Nav>,
    csrf: String,
    token: String,
}

/// A confirmation link that leads nowhere, and what the reporter can do about it.
fn stale_confirmation() -> PageError {
    PageError(crate::error::AppError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "this confirmation link was used already or has expired: if you confirmed the report, \
         its private link was mailed to you; otherwise file the report again",
    ))
}

/// `GET /confirm/{token}`: asks to confirm (a button, so that mail scanners opening links do
/// not confirm reports by themselves).
pub async fn confirm_form(
    Req(st): Req,
    headers: HeaderMap,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> Result<Response, PageError> {
    if token.len() > 128 || !st.store.pending_exists(&token).await? {
        return Err(stale_confirmation());
    }
    let (csrf, new) = super::auth::anon_csrf(&headers)?;
    Ok(super::auth::with_anon_cookie(
        render(&ConfirmPage {
            user: None,
            csrf,
            token,
        }),
        new,
        st.config.secure_cookies(),
    ))
}

/// `POST /confirm/{token}`: files the report and opens its private link.
pub async fn confirm(
    Req(st): Req,
    headers: HeaderMap,
    axum::extract::Path(token): axum::extract::Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    super::check_anonymous_form(&st, &headers, &Fields(form))?;
    if token.len() > 128 {
        return Err(stale_confirmation());
    }
    let base = st.config.server.public_url.clone();
    let c = match st
        .store
        .confirm_report(&token, |t| format!("{base}/r/{t}"))
        .await
    {
        Err(embargo_store::StoreError::NotFound(_)) => return Err(stale_confirmation()),
        other => other?,
    };
    Ok(redirect(&format!("/r/{}", c.link_token)))
}

/// Where a report can go: every repository, and every organisation (when the reporter does
/// not know the repository), as `org/repo` and `org/`.
async fn report_targets(store: &embargo_store::Store) -> Result<Vec<String>, PageError> {
    let mut out: Vec<String> = store
        .orgs()
        .await?
        .iter()
        .map(|o| format!("{}/", o.slug))
        .collect();
    out.extend(
        store
            .repos(None)
            .await?
            .iter()
            .map(|r| format!("{}/{}", r.org, r.slug)),
    );
    out.sort();
    Ok(out)
}
