//! Advisories: filing, reading, the thread, editing and state changes.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use embargo_domain::access::Permissions;
use embargo_domain::advisory::{
    Advisory, CloseReason, Credit, Edit, NewReport, State as AdvState, Vulnerability,
};
use embargo_domain::ids::AdvisoryId;
use embargo_domain::types::{CveId, CvssVector, CweId, ReferenceUrl, Slug};
use embargo_store::{AdvisoryFilter, Authorized, Comment, EventRecord, Store, Transition};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::slug;
use crate::AppState;
use crate::error::AppError;
use crate::extract::Req;
use crate::extract::{ApiCaller, ApiJson, ApiUser};

/// An advisory as the API shows it. Fields of the private tracking appear only for the
/// advisory's audience; the public sees the published text.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AdvisoryView {
    id: AdvisoryId,
    state: AdvState,
    organisation: Slug,
    /// `null` while the report waits in the organisation's inbox.
    repository: Option<Slug>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    summary: String,
    description: String,
    cve_id: Option<CveId>,
    /// The first severity vector, for clients that know one.
    cvss_vector: Option<CvssVector>,
    cvss_vectors: Vec<CvssVector>,
    /// Each vector scored by Embargo: vector, version, base_score, severity (and for v3.x
    /// temporal_score and environmental_score).
    cvss: Vec<serde_json::Value>,
    cwe_ids: Vec<CweId>,
    references: Vec<ReferenceUrl>,
    credits: Vec<Credit>,
    vulnerabilities: Vec<Vulnerability>,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    published_at: Option<OffsetDateTime>,
    revision: i64,
    html_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    osv_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tracking: Option<Tracking>,
    #[serde(skip_serializing_if = "Option::is_none")]
    permissions: Option<Permissions>,
    /// The embargo's negotiation (for the audience).
    #[serde(skip_serializing_if = "Option::is_none")]
    embargo: Option<embargo_domain::embargo::Embargo>,
    /// Vultron's case flags set so far, each with when (for the audience).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>)]
    case: Option<std::collections::BTreeMap<&'static str, String>>,
    /// Marked to publish itself when the embargo ends (for the audience).
    #[serde(skip_serializing_if = "Option::is_none")]
    ready: Option<bool>,
    /// The CVE id's backend and where its record stands (for the audience).
    #[serde(skip_serializing_if = "Option::is_none")]
    cve: Option<embargo_store::CveStatus>,
}

/// The report's private tracking: who filed it, the response clock, the outcome.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Tracking {
    reporter: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    first_response_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    response_due_at: OffsetDateTime,
    response_overdue: bool,
    close_reason: Option<CloseReason>,
    close_message: Option<String>,
    /// The original of a duplicate, for the triagers (the reporter is told it is a
    /// duplicate, and sees nothing of the original unless added to it).
    #[serde(skip_serializing_if = "Option::is_none")]
    duplicate_of: Option<AdvisoryId>,
    /// For a report closed as not a vulnerability: a link that opens a public issue on the
    /// repository's forge, filled with the report's title and text.
    #[serde(skip_serializing_if = "Option::is_none")]
    public_issue_url: Option<String>,
}

impl AdvisoryView {
    pub async fn build(st: &AppState, a: &Authorized<Advisory>) -> Result<Self, AppError> {
        let adv = a.get();
        let audience = a.relations().in_audience();
        let tracking = if audience {
            Some(tracking(&st.store, a).await?)
        } else {
            None
        };
        let c = &adv.content;
        let base = &st.config.server.public_url;
        Ok(Self {
            id: adv.id.clone(),
            state: adv.state,
            organisation: adv.org.clone(),
            repository: adv.repo.clone(),
            title: audience.then(|| c.title.clone()),
            summary: c.headline().to_owned(),
            description: c.description.clone(),
            cve_id: c.cve_id.clone(),
            cvss_vector: c.cvss_vectors.first().cloned(),
            cvss_vectors: c.cvss_vectors.clone(),
            cvss: c
                .cvss_vectors
                .iter()
                .filter_map(|v| embargo_formats::cvss::score_line(v.as_str()).ok())
                .collect(),
            cwe_ids: c.cwe_ids.clone(),
            references: c.references.clone(),
            credits: c.credits.clone(),
            vulnerabilities: c.vulnerabilities.clone(),
            // The public sees when the public content changed, and its public revision:
            // what only the audience sees must not move them.
            updated_at: if audience {
                adv.updated_at
            } else {
                adv.public_modified_at()
            },
            published_at: adv.published_at,
            revision: if audience {
                adv.revision
            } else {
                adv.public_revision()
            },
            html_url: format!("{base}/advisories/{}", adv.id),
            osv_url: adv
                .state
                .is_advisory()
                .then(|| format!("{base}/osv/v1/vulns/{}{}", st.config.osv.id_prefix, adv.id)),
            tracking,
            permissions: audience.then(|| a.permissions()),
            embargo: audience.then(|| adv.embargo.clone()),
            case: audience.then(|| {
                adv.case
                    .flags
                    .iter()
                    .map(|(f, at)| (f.as_str(), at.clone()))
                    .collect()
            }),
            ready: audience.then_some(adv.ready),
            cve: st.store.cve_status(a).await?,
        })
    }
}

async fn tracking(store: &Store, a: &Authorized<Advisory>) -> Result<Tracking, AppError> {
    let adv = a.get();
    let reporter = store
        .user_by_id(adv.reporter_id)
        .await?
        .map(|u| u.name)
        .unwrap_or_default();
    let now = store.now();
    let public_issue_url = match (adv.close_reason, &adv.repo) {
        (Some(CloseReason::NotAVulnerability), Some(repo)) => store
            .upstream(&adv.org, repo)
            .await?
            .and_then(|u| new_issue_url(u.as_str(), &adv.content.title, &adv.content.description)),
        _ => None,
    };
    Ok(Tracking {
        reporter,
        created_at: adv.created_at,
        first_response_at: adv.first_response_at,
        response_due_at: adv.response_due_at,
        response_overdue: adv.first_response_at.is_none() && now > adv.response_due_at,
        close_reason: adv.close_reason,
        close_message: adv.close_message.clone(),
        duplicate_of: if a.relations().is_triager() {
            adv.duplicate_of.clone()
        } else {
            None
        },
        public_issue_url,
    })
}

/// The forge's "new issue" page for an https upstream, prefilled; `None` for other upstreams.
fn new_issue_url(upstream: &str, title: &str, body: &str) -> Option<String> {
    let base = upstream
        .strip_prefix("https://")?
        .trim_end_matches('/')
        .trim_end_matches(".git");
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("title", title)
        .append_pair("body", body.chars().take(4000).collect::<String>().as_str())
        .finish();
    Some(format!("https://{base}/issues/new?{q}"))
}

/// A malformed id cannot name an advisory: the same "not found" as a missing one.
pub fn advisory_id(s: &str) -> Result<AdvisoryId, AppError> {
    AdvisoryId::parse(s).map_err(|_| AppError::not_found("advisory"))
}

#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/repos/{repo}/advisories",
    tag = "advisories",
    operation_id = "advisories_file",
    params(("org" = String, Path, description = "The organisation's slug"), ("repo" = String, Path, description = "The repository's slug")),
    request_body = crate::openapi::Filing,
    responses(
        (status = 201, description = "Filed (signed in)", body = crate::api::advisories::AdvisoryView),
        (status = 202, description = "Held until the reporter confirms by e-mail (anonymous, with `reporter_email`)", body = crate::openapi::Pending),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 413, description = "The body is larger than the limit", body = crate::openapi::ApiError),
        (status = 415, description = "The body is not `application/json`", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
        (status = 429, description = "Too many requests (`Retry-After` says when to try again)", body = crate::openapi::ApiError, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security((), ("bearer" = [])),
)]
pub async fn file(
    Req(st): Req,
    caller: ApiCaller,
    Path((org, repo)): Path<(String, String)>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Response, AppError> {
    let (org, repo) = (slug(&org, "organisation")?, slug(&repo, "repository")?);
    file_any(&st, caller, &org, Some(&repo), body).await
}

/// `POST /orgs/{org}/advisories`: a report to the organisation, for a reporter who does not
/// know the repository; it waits in the organisation's inbox.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/advisories",
    tag = "advisories",
    operation_id = "advisories_file_to_org",
    params(("org" = String, Path, description = "The organisation's slug")),
    request_body = crate::openapi::Filing,
    responses(
        (status = 201, description = "Filed into the inbox (signed in)", body = crate::api::advisories::AdvisoryView),
        (status = 202, description = "Held until the reporter confirms by e-mail", body = crate::openapi::Pending),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 413, description = "The body is larger than the limit", body = crate::openapi::ApiError),
        (status = 415, description = "The body is not `application/json`", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
        (status = 429, description = "Too many requests (`Retry-After` says when to try again)", body = crate::openapi::ApiError, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security((), ("bearer" = [])),
)]
pub async fn file_to_org(
    Req(st): Req,
    caller: ApiCaller,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Response, AppError> {
    let org = slug(&org, "organisation")?;
    file_any(&st, caller, &org, None, body).await
}

/// Files a report: as the signed-in caller (201 with the advisory), or, without a token and
/// with `reporter_email`, held until the reporter confirms it by e-mail (202, and nothing
/// about the report is visible to anyone until then).
async fn file_any(
    st: &crate::AppState,
    caller: ApiCaller,
    org: &Slug,
    repo: Option<&Slug>,
    mut body: serde_json::Value,
) -> Result<Response, AppError> {
    let email = body
        .as_object_mut()
        .and_then(|o| o.remove("reporter_email"));
    let report: NewReport = crate::extract::parse_json(body.to_string().as_bytes())?;
    match (caller.user, email) {
        (Some(_), Some(_)) => Err(AppError::invalid(embargo_domain::FieldError::new(
            "reporter_email",
            "you are signed in: the report is yours; leave reporter_email out",
        ))),
        (Some(_), None) => {
            let a = st
                .store
                .file_report(caller.actor, org, repo, report)
                .await?;
            Ok((
                StatusCode::CREATED,
                Json(AdvisoryView::build(st, &a).await?),
            )
                .into_response())
        }
        (None, None) => Err(AppError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "sign in (Authorization: Bearer TOKEN), or give reporter_email to file without an account",
        )),
        (None, Some(email)) => {
            let email = email
                .as_str()
                .ok_or_else(|| {
                    embargo_domain::FieldError::new("reporter_email", "must be a string")
                })
                .and_then(|e| {
                    embargo_domain::types::Email::parse(e)
                        .map_err(|e| embargo_domain::FieldError::new("reporter_email", e.message))
                })
                .map_err(AppError::invalid)?;
            let base = st.config.server.public_url.clone();
            st.store
                .file_unconfirmed(
                    org,
                    repo,
                    &email,
                    report,
                    st.config.intake.unconfirmed_days,
                    |t| format!("{base}/confirm/{t}"),
                )
                .await?;
            Ok((
                StatusCode::ACCEPTED,
                Json(serde_json::json!({
                    "status": "unconfirmed",
                    "message": format!(
                        "a confirmation link was sent to the reporter's address; the report reaches the triagers once it is opened (within {} days)",
                        st.config.intake.unconfirmed_days
                    ),
                })),
            )
                .into_response())
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    repo: String,
}

/// `POST /advisories/{id}/transfer {repo}`: to another repository of the organisation.
#[utoipa::path(
    post,
    path = "/api/v1/advisories/{id}/transfer",
    tag = "advisories",
    operation_id = "advisories_transfer",
    params(("id" = String, Path, description = "The advisory's id")),
    request_body = TransferBody,
    responses(
        (status = 200, description = "Moved", body = crate::api::advisories::AdvisoryView),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
        (status = 413, description = "The body is larger than the limit", body = crate::openapi::ApiError),
        (status = 415, description = "The body is not `application/json`", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn transfer(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<TransferBody>,
) -> Result<Json<AdvisoryView>, AppError> {
    let id = advisory_id(&id)?;
    let actor = authenticated(&st, caller, &id).await?;
    let to = Slug::parse(&b.repo)
        .map_err(|e| AppError::invalid(embargo_domain::FieldError::new("repo", e.message)))?;
    let a = st.store.transfer(actor, &id, &to).await?;
    Ok(Json(AdvisoryView::build(&st, &a).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<String>,
    org: Option<String>,
    /// `true`: only advisories the caller works on (not merely public ones).
    audience: Option<bool>,
    /// Closed with this reason (`spam` shows what every other list leaves out).
    reason: Option<String>,
    repo: Option<String>,
    /// Words the title or summary contains.
    q: Option<String>,
    /// `updated` (default), `created` or `deadline`.
    sort: Option<String>,
    /// From the `Link` header of the previous page.
    cursor: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /advisories`: what the caller may see, filtered and sorted; when a page is full, a
/// `Link: <...>; rel="next"` header continues after its last row.
#[utoipa::path(
    get,
    path = "/api/v1/advisories",
    tag = "advisories",
    operation_id = "advisories_list",
    params(ListQuery),
    responses(
        (status = 200, description = "What the caller may see; a full page has a `Link` header with `rel=\"next\"`", body = [crate::api::advisories::AdvisoryView], headers(("Link" = String, description = "The next page, when this one is full"))),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn list(
    Req(st): Req,
    caller: ApiCaller,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<axum::response::Response, AppError> {
    use axum::response::IntoResponse;
    let Query(q) = query.map_err(|e| AppError::bad_request(e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(AppError::invalid(embargo_domain::FieldError::new(
            "limit",
            "must be between 1 and 500",
        )));
    }
    if q.q.as_deref().is_some_and(|t| t.chars().count() > 200) {
        return Err(AppError::invalid(embargo_domain::FieldError::new(
            "q",
            "is longer than 200 characters",
        )));
    }
    let sort = q
        .sort
        .as_deref()
        .map(embargo_store::Sort::parse)
        .transpose()?
        .unwrap_or_default();
    let filter = AdvisoryFilter {
        state: q.state.as_deref().map(AdvState::parse).transpose()?,
        org: q.org.as_deref().map(Slug::parse).transpose()?,
        audience_only: q.audience.unwrap_or(false),
        reason: q.reason.as_deref().map(CloseReason::parse).transpose()?,
        repo: q.repo.as_deref().map(Slug::parse).transpose()?,
        q: q.q.clone().filter(|t| !t.trim().is_empty()),
        sort,
        cursor: q
            .cursor
            .as_deref()
            .map(embargo_store::Cursor::decode)
            .transpose()?,
        limit,
        offset: q.offset.unwrap_or(0),
    };
    let found = st.store.advisories(caller.actor, &filter).await?;
    let mut out = Vec::with_capacity(found.len());
    for a in &found {
        out.push(AdvisoryView::build(&st, a).await?);
    }
    let next = (i64::try_from(found.len()).unwrap_or(0) == limit)
        .then(|| found.last())
        .flatten()
        .map(|a| embargo_store::Cursor::after(sort, a.get()).encode());
    let mut resp = Json(out).into_response();
    if let Some(c) = next {
        let mut params: Vec<(String, String)> = Vec::new();
        for (k, v) in [
            ("state", &q.state),
            ("org", &q.org),
            ("repo", &q.repo),
            ("reason", &q.reason),
            ("q", &q.q),
            ("sort", &q.sort),
        ] {
            if let Some(v) = v {
                params.push((k.to_owned(), v.clone()));
            }
        }
        if q.audience == Some(true) {
            params.push(("audience".into(), "true".into()));
        }
        params.push(("limit".into(), limit.to_string()));
        params.push(("cursor".into(), c));
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let link = format!(
            "<{}/api/v1/advisories?{query}>; rel=\"next\"",
            st.config.server.public_url
        );
        if let Ok(v) = axum::http::HeaderValue::from_str(&link) {
            resp.headers_mut().insert(axum::http::header::LINK, v);
        }
    }
    Ok(resp)
}

#[utoipa::path(
    get,
    path = "/api/v1/advisories/{id}",
    tag = "advisories",
    operation_id = "advisories_show",
    params(("id" = String, Path, description = "The advisory's id")),
    responses(
        (status = 200, description = "The advisory", body = crate::api::advisories::AdvisoryView),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn show(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<AdvisoryView>, AppError> {
    let a = st.store.advisory(caller.actor, &advisory_id(&id)?).await?;
    Ok(Json(AdvisoryView::build(&st, &a).await?))
}

#[utoipa::path(
    patch,
    path = "/api/v1/advisories/{id}",
    tag = "advisories",
    operation_id = "advisories_edit",
    params(("id" = String, Path, description = "The advisory's id")),
    request_body = embargo_domain::advisory::Edit,
    responses(
        (status = 200, description = "Edited", body = crate::api::advisories::AdvisoryView),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
        (status = 413, description = "The body is larger than the limit", body = crate::openapi::ApiError),
        (status = 415, description = "The body is not `application/json`", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn edit(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(edit): ApiJson<Edit>,
) -> Result<Json<AdvisoryView>, AppError> {
    let id = advisory_id(&id)?;
    let a = st
        .store
        .edit(authenticated(&st, caller, &id).await?, &id, edit)
        .await?;
    Ok(Json(AdvisoryView::build(&st, &a).await?))
}

/// Writes need a signed-in caller. An anonymous caller learns nothing more than a read would
/// tell: "not found" for an unpublished advisory, "sign in" for a public one.
pub(crate) async fn authenticated(
    st: &AppState,
    caller: ApiCaller,
    id: &AdvisoryId,
) -> Result<embargo_domain::access::Actor, AppError> {
    if caller.user.is_some() {
        return Ok(caller.actor);
    }
    st.store.advisory(caller.actor, id).await?;
    Err(AppError::unauthorized())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    body: String,
    /// An internal note for the triagers, never shown to the reporter.
    #[serde(default)]
    internal: bool,
}

#[utoipa::path(
    post,
    path = "/api/v1/advisories/{id}/comments",
    tag = "advisories",
    operation_id = "advisories_comment",
    params(("id" = String, Path, description = "The advisory's id")),
    request_body = NewComment,
    responses(
        (status = 201, description = "Posted", body = embargo_store::Comment),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
        (status = 413, description = "The body is larger than the limit", body = crate::openapi::ApiError),
        (status = 415, description = "The body is not `application/json`", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
        (status = 429, description = "Too many requests (`Retry-After` says when to try again)", body = crate::openapi::ApiError, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security((), ("bearer" = [])),
)]
pub async fn comment(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(c): ApiJson<NewComment>,
) -> Result<(StatusCode, Json<Comment>), AppError> {
    let id = advisory_id(&id)?;
    let actor = authenticated(&st, caller, &id).await?;
    let (_, mine) = st.store.comment(actor, &id, &c.body, c.internal).await?;
    Ok((StatusCode::CREATED, Json(mine)))
}

#[utoipa::path(
    get,
    path = "/api/v1/advisories/{id}/comments",
    tag = "advisories",
    operation_id = "advisories_comments",
    params(("id" = String, Path, description = "The advisory's id")),
    responses(
        (status = 200, description = "The thread", body = [embargo_store::Comment]),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn comments(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Vec<Comment>>, AppError> {
    Ok(Json(
        st.store.comments(caller.actor, &advisory_id(&id)?).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/advisories/{id}/events",
    tag = "advisories",
    operation_id = "advisories_events",
    params(("id" = String, Path, description = "The advisory's id")),
    responses(
        (status = 200, description = "The audit trail of changes", body = [embargo_store::EventRecord]),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn events(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Vec<EventRecord>>, AppError> {
    Ok(Json(
        st.store.events(caller.actor, &advisory_id(&id)?).await?,
    ))
}

async fn transition(
    st: AppState,
    caller: ApiCaller,
    id: &str,
    t: Transition,
) -> Result<Json<AdvisoryView>, AppError> {
    let id = advisory_id(id)?;
    let actor = authenticated(&st, caller, &id).await?;
    let a = st.store.transition(actor, &id, t).await?;
    Ok(Json(AdvisoryView::build(&st, &a).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/advisories/{id}/accept",
    tag = "advisories",
    operation_id = "advisories_accept",
    params(("id" = String, Path, description = "The advisory's id")),
    responses(
        (status = 200, description = "Accepted as a draft", body = crate::api::advisories::AdvisoryView),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn accept(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<AdvisoryView>, AppError> {
    transition(st, caller, &id, Transition::Accept).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    reason: CloseReason,
    message: Option<String>,
    /// With `reason: duplicate`: the original advisory.
    duplicate_of: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/advisories/{id}/close",
    tag = "advisories",
    operation_id = "advisories_close",
    params(("id" = String, Path, description = "The advisory's id")),
    request_body = CloseBody,
    responses(
        (status = 200, description = "Closed", body = crate::api::advisories::AdvisoryView),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
        (status = 413, description = "The body is larger than the limit", body = crate::openapi::ApiError),
        (status = 415, description = "The body is not `application/json`", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn close(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CloseBody>,
) -> Result<Json<AdvisoryView>, AppError> {
    transition(
        st,
        caller,
        &id,
        Transition::Close {
            reason: b.reason,
            message: b.message,
            duplicate_of: b
                .duplicate_of
                .as_deref()
                .map(AdvisoryId::parse)
                .transpose()
                .map_err(|e| {
                    AppError::invalid(embargo_domain::FieldError::new("duplicate_of", e.message))
                })?,
        },
    )
    .await
}

#[utoipa::path(
    post,
    path = "/api/v1/advisories/{id}/reopen",
    tag = "advisories",
    operation_id = "advisories_reopen",
    params(("id" = String, Path, description = "The advisory's id")),
    responses(
        (status = 200, description = "Reopened", body = crate::api::advisories::AdvisoryView),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn reopen(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<AdvisoryView>, AppError> {
    transition(st, caller, &id, Transition::Reopen).await
}

/// `POST /advisories/{id}/publish [{push_fix}]`: the answer adds `fix_checks`, the warnings
/// about fix branches whose checks are not green (they do not block), and the push of the
/// fix to the upstream when asked for.
#[utoipa::path(
    post,
    path = "/api/v1/advisories/{id}/publish",
    tag = "advisories",
    operation_id = "advisories_publish",
    params(("id" = String, Path, description = "The advisory's id")),
    request_body = Option<crate::api::fix_checks::PublishOptions>,
    responses(
        (status = 200, description = "Published", body = crate::openapi::Published),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
        (status = 413, description = "The body is larger than the limit", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
        (status = 502, description = "An upstream service refused or failed", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn publish(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
    options: crate::api::fix_checks::PublishOptions,
) -> Result<Json<serde_json::Value>, AppError> {
    let id = advisory_id(&id)?;
    let actor = authenticated(&st, caller, &id).await?;
    if options.push_fix {
        crate::fix_checks::before_publish(&st, actor, &id).await?;
    }
    let a = st.store.transition(actor, &id, Transition::Publish).await?;
    let fix = crate::fix_checks::after_publish(&st, actor, &id, options.push_fix).await;
    let mut view = serde_json::to_value(AdvisoryView::build(&st, &a).await?)
        .map_err(|e| AppError::internal(&e.to_string()))?;
    if let Some(o) = view.as_object_mut() {
        o.insert("fix_checks".into(), fix);
    }
    Ok(Json(view))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawBody {
    reason: String,
}

/// `POST /advisories/{id}/withdraw {reason}`: the reason is shown publicly.
#[utoipa::path(
    post,
    path = "/api/v1/advisories/{id}/withdraw",
    tag = "advisories",
    operation_id = "advisories_withdraw",
    params(("id" = String, Path, description = "The advisory's id")),
    request_body = WithdrawBody,
    responses(
        (status = 200, description = "Withdrawn", body = crate::api::advisories::AdvisoryView),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
        (status = 413, description = "The body is larger than the limit", body = crate::openapi::ApiError),
        (status = 415, description = "The body is not `application/json`", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn withdraw(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<WithdrawBody>,
) -> Result<Json<AdvisoryView>, AppError> {
    transition(st, caller, &id, Transition::Withdraw { reason: b.reason }).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExemptBody {
    reason: String,
}

/// `POST /advisories/{id}/disclosure-exemption {reason}`: keeps a closed report private
/// although the organisation discloses closed reports (security managers).
#[utoipa::path(
    post,
    path = "/api/v1/advisories/{id}/disclosure-exemption",
    tag = "advisories",
    operation_id = "advisories_exempt_from_disclosure",
    params(("id" = String, Path, description = "The advisory's id")),
    request_body = ExemptBody,
    responses(
        (status = 200, description = "Kept private", body = crate::api::advisories::AdvisoryView),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
        (status = 413, description = "The body is larger than the limit", body = crate::openapi::ApiError),
        (status = 415, description = "The body is not `application/json`", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn exempt_from_disclosure(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ExemptBody>,
) -> Result<Json<AdvisoryView>, AppError> {
    let id = advisory_id(&id)?;
    let actor = authenticated(&st, caller, &id).await?;
    let a = st
        .store
        .exempt_from_disclosure(actor, &id, &b.reason)
        .await?;
    Ok(Json(AdvisoryView::build(&st, &a).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// `jsonl`: one JSON object a line, for export.
    format: Option<String>,
}

/// `GET /advisories/{id}/audit`: the advisory's access log (security managers), as JSON or
/// as JSON lines (`?format=jsonl`).
#[utoipa::path(
    get,
    path = "/api/v1/advisories/{id}/audit",
    tag = "advisories",
    operation_id = "advisories_audit",
    params(("id" = String, Path, description = "The advisory's id"), AuditQuery),
    responses(
        (status = 200, description = "The access log", content((Vec<embargo_store::AuditEntry> = "application/json"), (String = "application/x-ndjson"))),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn audit(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<axum::response::Response, AppError> {
    use axum::response::IntoResponse;
    let Query(q) = query.map_err(|e| AppError::bad_request(e.body_text()))?;
    let entries = st.store.audit_log(caller.actor, &advisory_id(&id)?).await?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(entries).into_response()),
        Some("jsonl") => {
            let mut body = String::new();
            for e in &entries {
                body.push_str(
                    &serde_json::to_string(e).map_err(|e| AppError::internal(&e.to_string()))?,
                );
                body.push('\n');
            }
            Ok((
                [(axum::http::header::CONTENT_TYPE, "application/x-ndjson")],
                body,
            )
                .into_response())
        }
        Some(_) => Err(AppError::invalid(embargo_domain::FieldError::new(
            "format",
            "must be json or jsonl",
        ))),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/user",
    tag = "advisories",
    operation_id = "advisories_me",
    responses(
        (status = 200, description = "The signed-in user", body = embargo_store::User),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn me(caller: ApiUser) -> Json<embargo_store::User> {
    Json(caller.user)
}
