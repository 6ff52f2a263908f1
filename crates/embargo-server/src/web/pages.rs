//! The home page, the list of advisories, and the report form.

use askama::Template;
use axum::Form;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use embargo_domain::advisory::{Advisory, NewReport, State as AdvState};
use embargo_domain::types::Slug;
use embargo_store::{AdvisoryFilter, Authorized};

use super::auth::to_login;
use super::{Fields, Nav, check_session_form, redirect, render};
use crate::error::PageError;
use crate::extract::Req;
use crate::extract::WebCaller;

/// One line of a list.
pub struct Row {
    pub id: String,
    pub headline: String,
    pub state: &'static str,
    pub place: String,
    pub updated: String,
    /// For the audience of an unanswered report: when the first reply is due.
    pub due: String,
    pub overdue: bool,
}

impl Row {
    fn of(a: &Authorized<Advisory>) -> Self {
        let adv = a.get();
        // The public sees the published summary; the audience the report's title too.
        let headline = if a.relations().in_audience() {
            adv.content.title.clone()
        } else {
            adv.content.headline().to_owned()
        };
        Self {
            id: adv.id.to_string(),
            headline,
            state: adv.state.as_str(),
            place: adv.place(),
            updated: adv.updated_at.date().to_string(),
            due: if a.relations().in_audience()
                && adv.first_response_at.is_none()
                && !adv.state.is_public()
            {
                adv.response_due_at.date().to_string()
            } else {
                String::new()
            },
            overdue: false,
        }
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
    let now = st.store.now().date().to_string();
    let rows: Vec<Row> = st
        .store
        .advisories(caller.actor, &f)
        .await?
        .iter()
        .map(Row::of)
        .map(|mut r| {
            r.overdue = !r.due.is_empty() && r.due < now;
            r
        })
        .collect();
    Ok(render(&ListPage {
        user: Nav::of(&caller),
        rows,
    }))
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    user: Option<Nav>,
    csrf: String,
    repos: Vec<String>,
    repo: String,
    title: String,
    description: String,
    error: Option<String>,
}

pub async fn report_form(Req(st): Req, caller: WebCaller) -> Result<Response, PageError> {
    if caller.session.is_none() {
        return Ok(to_login("/report"));
    }
    let repos = report_targets(&st.store).await?;
    let csrf = caller
        .session
        .as_ref()
        .map(|s| s.csrf_token.clone())
        .unwrap_or_default();
    let page = ReportPage {
        user: Nav::of(&caller),
        csrf,
        repos,
        repo: String::new(),
        title: String::new(),
        description: String::new(),
        error: None,
    };
    Ok(render(&page))
}

pub async fn report(
    Req(st): Req,
    headers: HeaderMap,
    caller: WebCaller,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let f = Fields(form);
    check_session_form(&st, &headers, &caller, &f)?;
    let again = |error: String, repos: Vec<String>| ReportPage {
        user: Nav::of(&caller),
        csrf: f.get("csrf").to_owned(),
        repos,
        repo: f.get("repo").to_owned(),
        title: f.get("title").to_owned(),
        description: f.get("description").to_owned(),
        error: Some(error),
    };
    let place = f.get("repo").split_once('/').and_then(|(o, r)| {
        let repo = if r.is_empty() {
            None
        } else {
            Some(Slug::parse(r).ok()?)
        };
        Some((Slug::parse(o).ok()?, repo))
    });
    let report = NewReport {
        title: f.get("title").to_owned(),
        description: f.get("description").to_owned(),
        cvss_vector: None,
        cvss_vectors: Vec::new(),
        cvss_score: None,
        cwe_ids: Vec::new(),
        vulnerabilities: Vec::new(),
    };
    let result = match &place {
        Some((org, repo)) => {
            st.store
                .file_report(caller.actor, org, repo.as_ref(), report)
                .await
        }
        None => Err(embargo_store::StoreError::Invalid(
            embargo_domain::FieldError::new(
                "repository",
                "choose the repository the report is about",
            ),
        )),
    };
    match result {
        Ok(a) => Ok(redirect(&format!("/advisories/{}", a.get().id))),
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
