//! The clock of an advisory: its embargo, its case flags, and whether it is ready to
//! publish itself when the embargo ends.

use axum::Json;
use axum::extract::Path;
use axum::response::IntoResponse;
use embargo_domain::embargo::{CaseFlag, EmbargoAction};
use serde::Deserialize;
use time::OffsetDateTime;

use super::advisories::{AdvisoryView, advisory_id, authenticated};
use crate::error::AppError;
use crate::extract::{ApiCaller, ApiJson, Req};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmbargoBody {
    action: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    ends_at: Option<OffsetDateTime>,
}

impl EmbargoBody {
    fn action(&self) -> Result<EmbargoAction, AppError> {
        let field = |f: &str, m: &str| AppError::invalid(embargo_domain::FieldError::new(f, m));
        let a = match (self.action.as_str(), self.ends_at) {
            ("propose", Some(ends_at)) => EmbargoAction::Propose { ends_at },
            ("propose", None) => {
                return Err(field(
                    "ends_at",
                    "is required to propose: an RFC 3339 instant such as 2027-01-15T14:00:00Z",
                ));
            }
            ("accept", None) => EmbargoAction::Accept,
            ("reject", None) => EmbargoAction::Reject,
            ("terminate", None) => EmbargoAction::Terminate,
            ("accept" | "reject" | "terminate", Some(_)) => {
                return Err(field("ends_at", "is only given with propose"));
            }
            _ => {
                return Err(field(
                    "action",
                    "must be propose, accept, reject or terminate",
                ));
            }
        };
        Ok(a)
    }
}

/// `POST /advisories/{id}/embargo {action: propose|accept|reject|terminate, ends_at?}`;
/// `propose` while an embargo is in force asks for a revision.
#[utoipa::path(
    post,
    path = "/api/v1/advisories/{id}/embargo",
    tag = "clock",
    operation_id = "clock_embargo",
    params(("id" = String, Path, description = "The advisory's id")),
    request_body = EmbargoBody,
    responses(
        (status = 200, description = "The negotiation moved", body = crate::api::advisories::AdvisoryView),
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
pub async fn embargo(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<EmbargoBody>,
) -> Result<Json<AdvisoryView>, AppError> {
    let id = advisory_id(&id)?;
    let actor = authenticated(&st, caller, &id).await?;
    let action = b.action()?;
    let a = st.store.negotiate_embargo(actor, &id, action).await?;
    Ok(Json(AdvisoryView::build(&st, &a).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadyBody {
    ready: bool,
}

/// `POST /advisories/{id}/ready {ready}`: the fix is released; publish at the embargo's end.
#[utoipa::path(
    post,
    path = "/api/v1/advisories/{id}/ready",
    tag = "clock",
    operation_id = "clock_ready",
    params(("id" = String, Path, description = "The advisory's id")),
    request_body = ReadyBody,
    responses(
        (status = 200, description = "Marked", body = crate::api::advisories::AdvisoryView),
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
pub async fn ready(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReadyBody>,
) -> Result<Json<AdvisoryView>, AppError> {
    let id = advisory_id(&id)?;
    let actor = authenticated(&st, caller, &id).await?;
    let a = st.store.set_ready(actor, &id, b.ready).await?;
    Ok(Json(AdvisoryView::build(&st, &a).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseBody {
    flag: String,
}

/// `POST /advisories/{id}/case {flag}`: sets one of Vultron's case flags (409 out of order).
#[utoipa::path(
    post,
    path = "/api/v1/advisories/{id}/case",
    tag = "clock",
    operation_id = "clock_case",
    params(("id" = String, Path, description = "The advisory's id")),
    request_body = CaseBody,
    responses(
        (status = 200, description = "Flag set", body = crate::api::advisories::AdvisoryView),
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
pub async fn case(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CaseBody>,
) -> Result<Json<AdvisoryView>, AppError> {
    let id = advisory_id(&id)?;
    let flag = CaseFlag::parse(&b.flag).map_err(AppError::invalid)?;
    let actor = authenticated(&st, caller, &id).await?;
    let a = st.store.set_case_flag(actor, &id, flag).await?;
    Ok(Json(AdvisoryView::build(&st, &a).await?))
}

/// `GET /advisories/{id}/pre-notification.json`: while an embargo is in force, the advisory
/// as the CSAF document planned for its end (TLP:AMBER), for its audience only; every
/// fetch is a read in its access log.
#[utoipa::path(
    get,
    path = "/api/v1/advisories/{id}/pre-notification.json",
    tag = "clock",
    operation_id = "clock_pre_notification",
    params(("id" = String, Path, description = "The advisory's id")),
    responses(
        (status = 200, description = "The CSAF document planned for the embargo's end (TLP:AMBER)", body = crate::openapi::Document),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "No embargo is in force", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn pre_notification(
    Req(st): Req,
    caller: crate::extract::ApiUser,
    Path(id): Path<String>,
) -> Result<axum::response::Response, AppError> {
    let id = advisory_id(&id)?;
    let (a, planned) = st.store.pre_notification_of(caller.actor, &id).await?;
    let adv = a.get();
    let vendor = st.store.org(&adv.org).await?.name;
    let url = format!(
        "{}/api/v1/advisories/{}/pre-notification.json",
        st.config.server.public_url, adv.id
    );
    let doc = embargo_formats::csaf::pre_notification(
        adv,
        &embargo_formats::csaf::CsafOptions {
            publisher_name: &st.config.publishing.publisher_name,
            base_url: &st.config.server.public_url,
            vendor: &vendor,
        },
        planned,
        &url,
    )
    .ok_or_else(|| AppError::not_found("advisory"))?;
    let mut resp = Json(doc).into_response();
    resp.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("private, no-store"),
    );
    Ok(resp)
}
