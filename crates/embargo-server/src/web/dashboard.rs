//! `GET /orgs/{org}/dashboard`: the security managers' view of an organisation during an
//! incident: open advisories by state, replies at risk, embargoes ending soon, the response
//! record and its chart, and the CVE ids left in the block.
//!
//! Those the organisation rule does not let read the response record (its security managers
//! and steering committee) get 404, as for an organisation without a dashboard. The lists are
//! the store's, decided row by row.

use askama::Template;
use axum::extract::Path;
use axum::response::Response;
use embargo_domain::advisory::{Advisory, State as AdvState};
use embargo_store::{AdvisoryFilter, Authorized, Org, Sort, StoreError};
use time::Duration;

use super::auth::to_login;
use super::pages::Row;
use super::{Nav, render};
use crate::api::slug;
use crate::error::{AppError, PageError};
use crate::extract::{Req, WebCaller};

/// How near a reply deadline is "at risk".
const AT_RISK: Duration = Duration::days(3);
/// How near an embargo's end is "soon", at least (the policy's warnings may reach further).
const ENDING_SOON: Duration = Duration::days(14);

struct StateCount {
    state: &'static str,
    count: usize,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    user: Option<Nav>,
    org: Org,
    open: usize,
    by_state: Vec<StateCount>,
    at_risk: Vec<Row>,
    ending: Vec<Row>,
    ending_days: i64,
    record: embargo_domain::record::ResponseRecord,
    /// SVG made by Embargo from numbers only.
    chart: String,
    /// The CVE block's ids left, and its warning (for those who manage the settings).
    cve_left: Option<i64>,
    cve_warning: Option<String>,
}

pub async fn show(
    Req(st): Req,
    caller: WebCaller,
    Path(org): Path<String>,
) -> Result<Response, PageError> {
    let o = slug(&org, "organisation")?;
    if caller.session.is_none() {
        return Ok(to_login(&format!("/orgs/{o}/dashboard")));
    }
    let record = match st.store.response_record(caller.actor, &o).await {
        Ok(r) => r,
        Err(StoreError::Forbidden(_)) => return Err(PageError(AppError::not_found("page"))),
        Err(e) => return Err(e.into()),
    };
    let org = st.store.org(&o).await?;
    let now = st.store.now();
    let filter = AdvisoryFilter {
        org: Some(o.clone()),
        audience_only: true,
        sort: Sort::Deadline,
        limit: 500,
        ..AdvisoryFilter::default()
    };
    let all = st.store.advisories(caller.actor, &filter).await?;
    let open: Vec<&Authorized<Advisory>> = all
        .iter()
        .filter(|a| matches!(a.get().state, AdvState::Triage | AdvState::Draft))
        .collect();
    let by_state = [AdvState::Triage, AdvState::Draft]
        .into_iter()
        .map(|s| StateCount {
            state: s.as_str(),
            count: open.iter().filter(|a| a.get().state == s).count(),
        })
        .collect();
    let at_risk = open
        .iter()
        .filter(|a| {
            let adv = a.get();
            adv.first_response_at.is_none() && adv.response_due_at < now + AT_RISK
        })
        .map(|a| {
            let mut r = Row::of(a);
            r.overdue = a.get().response_due_at < now;
            r
        })
        .collect();
    // The earliest warning of the policy flags an embargo that is not ready, as the list does.
    let warn = org
        .policy
        .embargo_warnings
        .iter()
        .map(|w| w.0)
        .max()
        .unwrap_or(Duration::ZERO);
    let soon = warn.max(ENDING_SOON);
    let mut ending: Vec<(time::OffsetDateTime, Row)> = open
        .iter()
        .filter_map(|a| {
            let e = &a.get().embargo;
            let end = e.ends_at.filter(|_| e.state.in_force())?;
            (end < now + soon).then(|| {
                let mut r = Row::of(a);
                r.attention = embargo_store::embargo_needs_attention(a.get(), warn, now);
                (end, r)
            })
        })
        .collect();
    ending.sort_by_key(|(end, _)| *end);
    let (cve_left, cve_warning) = match st.store.cve_settings(caller.actor, &o).await {
        Ok(s) => (s.ids_left, s.warning),
        Err(StoreError::Forbidden(_)) => (None, None),
        Err(e) => return Err(e.into()),
    };
    let chart = embargo_formats::chart::response_chart(&record);
    Ok(render(&DashboardPage {
        user: Nav::of(&caller),
        open: open.len(),
        by_state,
        at_risk,
        ending: ending.into_iter().map(|(_, r)| r).collect(),
        ending_days: soon.whole_days(),
        record,
        chart,
        cve_left,
        cve_warning,
        org,
    }))
}

/// Days or hours, for the record.
fn span(secs: &Option<i64>) -> String {
    match secs {
        None => "no data yet".into(),
        Some(s) if *s >= 86_400 => format!("{:.1} days", *s as f64 / 86_400.0),
        Some(s) => format!("{:.1} hours", *s as f64 / 3600.0),
    }
}
