//! `GET /inbox`: the triager's inbox, the reports the caller works on (as security manager,
//! steering committee, maintainer, collaborator or reporter), with filters and search.
//!
//! The list is the store's (`AdvisoryFilter`, `audience_only`), where the one access rule
//! decides row by row; the filters the store has no column for (severity, deadline, embargo
//! end: they live in the sealed document) narrow that list further, so they can only ever
//! hide rows, never show more. With one of them asked, the store is read page after page
//! (up to [`SCAN`] rows) until a page of matching rows is full: the limit counts matching
//! rows, not rows read.

use askama::Template;
use axum::extract::Query;
use axum::response::Response;
use embargo_domain::advisory::{Advisory, State as AdvState};
use embargo_domain::types::Slug;
use embargo_store::{AdvisoryFilter, Authorized, Cursor, Sort};
use time::{Duration, OffsetDateTime};

use super::auth::to_login;
use super::format::{Badge, filters};
use super::pages::Row;
use super::{Fields, Nav, render};
use crate::error::{AppError, PageError};
use crate::extract::{Req, WebCaller};

/// The choices of the severity filter, as the query writes them.
const SEVERITIES: [&str; 6] = ["critical", "high", "medium", "low", "none", "unscored"];

/// The filters as asked, to show them again.
#[derive(Default)]
struct Asked {
    state: String,
    repo: String,
    severity: String,
    due: String,
    embargo: String,
    q: String,
    sort: String,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    user: Option<Nav>,
    rows: Vec<Row>,
    asked: Asked,
    states: Vec<&'static str>,
    repos: Vec<String>,
    severities: [&'static str; 6],
    /// The list was cut at its limit.
    more: bool,
}

const LIMIT: usize = 200;

/// Rows read from the store per page.
const PAGE: i64 = 250;

/// Rows read at most to fill one page of rows matching the filters the store cannot apply.
const SCAN: usize = 5000;

fn invalid(field: &str, message: &str) -> PageError {
    PageError(AppError::invalid(embargo_domain::FieldError::new(
        field,
        message.to_owned(),
    )))
}

/// The advisory's severity word for the filter: that of its first vector (4.0 first).
fn severity_of(a: &Advisory) -> &'static str {
    match Badge::all(&a.content).first().map(|b| b.severity) {
        None => "unscored",
        Some(s) => match s {
            embargo_formats::cvss::Severity::Critical => "critical",
            embargo_formats::cvss::Severity::High => "high",
            embargo_formats::cvss::Severity::Medium => "medium",
            embargo_formats::cvss::Severity::Low => "low",
            embargo_formats::cvss::Severity::None => "none",
        },
    }
}

/// When the first reply is due, for a report that has none yet.
fn due_at(a: &Advisory) -> Option<OffsetDateTime> {
    (a.first_response_at.is_none() && !a.state.is_public()).then_some(a.response_due_at)
}

/// Whether a row passes the filters the store does not apply.
fn keep(a: &Authorized<Advisory>, asked: &Asked, now: OffsetDateTime) -> bool {
    let adv = a.get();
    if !asked.severity.is_empty() && severity_of(adv) != asked.severity {
        return false;
    }
    let due = due_at(adv);
    let due_ok = match asked.due.as_str() {
        "overdue" => due.is_some_and(|d| d < now),
        "week" => due.is_some_and(|d| d < now + Duration::days(7)),
        "open" => due.is_some(),
        _ => true,
    };
    let ends = adv
        .embargo
        .state
        .in_force()
        .then_some(adv.embargo.ends_at)
        .flatten();
    let embargo_ok = match asked.embargo.as_str() {
        "week" => ends.is_some_and(|e| e < now + Duration::days(7)),
        "month" => ends.is_some_and(|e| e < now + Duration::days(30)),
        "any" => ends.is_some(),
        _ => true,
    };
    due_ok && embargo_ok
}

pub async fn show(
    Req(st): Req,
    caller: WebCaller,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    if caller.session.is_none() {
        return Ok(to_login("/inbox"));
    }
    let q = Fields(q);
    let get = |k: &str| q.get(k).trim().to_owned();
    let asked = Asked {
        state: get("state"),
        repo: get("repo"),
        severity: get("severity"),
        due: get("due"),
        embargo: get("embargo"),
        q: get("q"),
        sort: get("sort"),
    };
    if asked.q.len() > 200 {
        return Err(invalid("q", "search at most 200 characters"));
    }
    if !asked.severity.is_empty() && !SEVERITIES.contains(&asked.severity.as_str()) {
        return Err(invalid(
            "severity",
            "must be critical, high, medium, low, none or unscored",
        ));
    }
    if !["", "overdue", "week", "open"].contains(&asked.due.as_str()) {
        return Err(invalid("due", "must be overdue, week or open"));
    }
    if !["", "week", "month", "any"].contains(&asked.embargo.as_str()) {
        return Err(invalid("embargo", "must be week, month or any"));
    }
    let state = Some(asked.state.as_str())
        .filter(|s| !s.is_empty())
        .map(AdvState::parse)
        .transpose()
        .map_err(|e| PageError(AppError::invalid(e)))?;
    let (org, repo) = match asked.repo.split_once('/') {
        _ if asked.repo.is_empty() => (None, None),
        Some((o, r)) => {
            let o = Slug::parse(o).map_err(|_| invalid("repo", "choose a repository"))?;
            let r = Some(r)
                .filter(|r| !r.is_empty())
                .map(Slug::parse)
                .transpose()
                .map_err(|_| invalid("repo", "choose a repository"))?;
            (Some(o), r)
        }
        None => return Err(invalid("repo", "choose a repository")),
    };
    let sort = Some(asked.sort.as_str())
        .filter(|s| !s.is_empty())
        .map(Sort::parse)
        .transpose()?
        .unwrap_or(Sort::Deadline);
    let mut filter = AdvisoryFilter {
        state,
        org,
        repo,
        audience_only: true,
        q: Some(asked.q.clone()).filter(|s| !s.is_empty()),
        sort,
        limit: PAGE,
        ..AdvisoryFilter::default()
    };
    let now = st.store.now();
    let narrowed = !(asked.severity.is_empty() && asked.due.is_empty() && asked.embargo.is_empty());
    let mut kept: Vec<Authorized<Advisory>> = Vec::new();
    let mut read = 0;
    // Whether rows were left unread: the list is cut.
    let mut cut = false;
    loop {
        let found = st.store.advisories(caller.actor, &filter).await?;
        read += found.len();
        let next = found.last().map(|a| Cursor::after(sort, a.get()));
        kept.extend(found.into_iter().filter(|a| keep(a, &asked, now)));
        let Some(next) = next else { break };
        if kept.len() > LIMIT || !narrowed {
            cut = kept.len() > LIMIT;
            break;
        }
        if read >= SCAN {
            cut = true;
            break;
        }
        filter.cursor = Some(next);
    }
    let more = cut || kept.len() > LIMIT;
    let rows = kept
        .iter()
        .take(LIMIT)
        .map(|a| {
            let mut r = Row::of(a);
            r.overdue = due_at(a.get()).is_some_and(|d| d < now);
            r
        })
        .collect();
    let mut repos: Vec<String> = st
        .store
        .repos(None)
        .await?
        .iter()
        .map(|r| format!("{}/{}", r.org, r.slug))
        .collect();
    repos.sort();
    Ok(render(&InboxPage {
        user: Nav::of(&caller),
        rows,
        asked,
        states: AdvState::ALL.iter().map(|s| s.as_str()).collect(),
        repos,
        severities: SEVERITIES,
        more,
    }))
}
