//! An organisation's page: its published advisories, where to report, and for its security
//! managers the response record and a link to its settings under `/admin` (the policy,
//! repositories, upstreams and maintainers are managed there). The old forms' addresses
//! still answer, for scripts and bookmarks.

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use embargo_store::{Org, OrgPermissions, Repo, SyncReport};

use super::format::filters;
use super::{Nav, SessionForm, redirect, render};
use crate::api::slug;
use crate::error::PageError;
use crate::extract::{Req, WebCaller};

#[derive(Template)]
#[template(path = "org.html")]
struct OrgPage {
    user: Option<Nav>,
    org: Org,
    repos: Vec<Repo>,
    p: OrgPermissions,
    report: Option<SyncReport>,
    error: Option<String>,
    /// The response record, for the organisation's security managers and steering committee.
    record: Option<embargo_domain::record::ResponseRecord>,
    /// Its chart: SVG made by Embargo from numbers only.
    chart: String,
    /// The subscribers to its advisories, counted (for those who manage its settings).
    subscribers: Option<embargo_store::SubscriberCount>,
    /// Its public advisories, as filtered.
    rows: Vec<super::pages::Row>,
    filter: PublicFilter,
}

/// The filters of the organisation's public advisories, as asked (`?severity=&state=&repo=&q=`).
#[derive(Default)]
struct PublicFilter {
    severity: String,
    state: String,
    repo: String,
    q: String,
}

impl PublicFilter {
    fn of(q: &super::Fields) -> Self {
        Self {
            severity: q.get("severity").trim().to_owned(),
            state: q.get("state").trim().to_owned(),
            repo: q.get("repo").trim().to_owned(),
            q: q.get("q").trim().to_owned(),
        }
    }

    fn any(&self) -> bool {
        !(self.severity.is_empty()
            && self.state.is_empty()
            && self.repo.is_empty()
            && self.q.is_empty())
    }
}

/// The organisation's public advisories (read as the anonymous actor: the public page shows
/// the same to everyone), narrowed by `f`.
async fn public_rows(
    st: &crate::AppState,
    org: &Org,
    f: &PublicFilter,
) -> Result<Vec<super::pages::Row>, PageError> {
    use embargo_domain::advisory::State;
    let invalid = |e: embargo_domain::FieldError| PageError(crate::error::AppError::invalid(e));
    let state = match f.state.as_str() {
        "" => None,
        s => match State::parse(s) {
            Ok(s) if s.is_public() => Some(s),
            _ => {
                return Err(invalid(embargo_domain::FieldError::new(
                    "state",
                    "is one of published, withdrawn or disclosed",
                )));
            }
        },
    };
    let severity = super::pages::severity_filter(&f.severity)?;
    if f.q.chars().count() > 200 {
        return Err(invalid(embargo_domain::FieldError::new(
            "q",
            "is at most 200 characters",
        )));
    }
    let filter = embargo_store::AdvisoryFilter {
        state,
        org: Some(org.slug.clone()),
        repo: match f.repo.as_str() {
            "" => None,
            r => Some(embargo_domain::types::Slug::parse(r).map_err(invalid)?),
        },
        q: Some(f.q.clone()).filter(|q| !q.is_empty()),
        limit: 200,
        ..embargo_store::AdvisoryFilter::default()
    };
    Ok(st
        .store
        .advisories(embargo_domain::access::Actor::Anonymous, &filter)
        .await?
        .iter()
        .map(super::pages::Row::of)
        .filter(|r| severity.is_none() || r.severity() == severity)
        .collect())
}

async fn page(
    st: &crate::AppState,
    caller: &WebCaller,
    org: &str,
    report: Option<SyncReport>,
    error: Option<String>,
) -> Result<OrgPage, PageError> {
    page_filtered(st, caller, org, report, error, PublicFilter::default()).await
}

async fn page_filtered(
    st: &crate::AppState,
    caller: &WebCaller,
    org: &str,
    report: Option<SyncReport>,
    error: Option<String>,
    filter: PublicFilter,
) -> Result<OrgPage, PageError> {
    let org = st.store.org(&slug(org, "organisation")?).await?;
    let rows = public_rows(st, &org, &filter).await?;
    let repos = st.store.repos(Some(&org.slug)).await?;
    let p = st.store.org_permissions(caller.actor, &org).await?;
    let record = if p.can_read_record {
        Some(st.store.response_record(caller.actor, &org.slug).await?)
    } else {
        None
    };
    let chart = record
        .as_ref()
        .map(embargo_formats::chart::response_chart)
        .unwrap_or_default();
    let subscribers = if p.can_manage_policy {
        Some(st.store.subscriber_count(caller.actor, &org.slug).await?)
    } else {
        None
    };
    Ok(OrgPage {
        user: Nav::of(caller),
        org,
        repos,
        p,
        report,
        error,
        record,
        chart,
        subscribers,
        rows,
        filter,
    })
}

/// `GET /orgs/{org}`: the organisation's public page (its published advisories, filtered by
/// `severity`, `state`, `repo` and `q`; a report link per repository), and its settings for
/// those who manage them.
pub async fn show(
    Req(st): Req,
    caller: WebCaller,
    Path(org): Path<String>,
    axum::extract::Query(q): axum::extract::Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let filter = PublicFilter::of(&super::Fields(q));
    Ok(render(
        &page_filtered(&st, &caller, &org, None, None, filter).await?,
    ))
}

pub async fn set_upstream(
    Req(st): Req,
    Path((org, repo)): Path<(String, String)>,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    let (o, r) = (slug(&org, "organisation")?, slug(&repo, "repository")?);
    let raw = f.get("upstream").trim();
    let upstream = if raw.is_empty() {
        None
    } else {
        let u =
            embargo_domain::types::Upstream::parse(raw).map_err(crate::error::AppError::invalid)?;
        crate::codeowners::check_new_upstream(&st.config, &u)?;
        Some(u)
    };
    st.store
        .set_upstream(caller.actor, &o, &r, upstream.as_ref())
        .await?;
    Ok(redirect(&format!("/orgs/{org}")))
}

pub async fn sync(
    Req(st): Req,
    Path((org, repo)): Path<(String, String)>,
    SessionForm { caller, .. }: SessionForm,
) -> Result<Response, PageError> {
    let (o, r) = (slug(&org, "organisation")?, slug(&repo, "repository")?);
    match crate::codeowners::sync_maintainers(&st.store, &st.config, caller.actor, &o, &r).await {
        Ok(report) => Ok(render(&page(&st, &caller, &org, Some(report), None).await?)),
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&page(&st, &caller, &org, None, Some(e.message)).await?),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

/// `POST /orgs/{org}/policy`: the policy form (administrators and security managers).
pub async fn set_policy(
    Req(st): Req,
    Path(org): Path<String>,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    let o = slug(&org, "organisation")?;
    let number = |field: &str| -> Result<u32, embargo_domain::FieldError> {
        f.get(field)
            .trim()
            .parse()
            .map_err(|_| embargo_domain::FieldError::new(field, "must be a whole number"))
    };
    let change = (|| {
        Ok::<_, embargo_domain::FieldError>(embargo_store::PolicyChange {
            response_days: Some(number("response_days")?),
            require_two_factor: Some(f.get("require_two_factor") == "on"),
            spam_block_days: Some(number("spam_block_days")?),
            reports_per_hour: Some(number("reports_per_hour")?),
            mail_titles: Some(f.get("mail_titles") == "on"),
            disclose_closed_days: Some(number("disclose_closed_days")?),
            ..embargo_store::PolicyChange::default()
        })
    })();
    let result = match change {
        Ok(c) => st.store.set_policy(caller.actor, &o, c).await,
        Err(e) => Err(embargo_store::StoreError::Invalid(e)),
    };
    match result {
        Ok(_) => Ok(redirect(&format!("/orgs/{o}"))),
        Err(embargo_store::StoreError::Invalid(e)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&page(&st, &caller, &org, None, Some(e.to_string())).await?),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

/// Whole days and hours, for the record.
fn span(secs: &Option<i64>) -> String {
    match secs {
        None => "no data yet".into(),
        Some(s) if *s >= 86_400 => format!("{:.1} days", *s as f64 / 86_400.0),
        Some(s) => format!("{:.1} hours", *s as f64 / 3600.0),
    }
}
