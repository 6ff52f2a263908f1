//! Releases of a repository (`/orgs/{org}/repos/{repo}/releases`) and the fix proposal of an
//! advisory (`/advisories/{id}/release-proposal`).

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use embargo_domain::release::{Proposal, Release};
use embargo_store::{Recorded, ReleaseRecord, ReleaseSource};
use serde::Deserialize;

use super::slug;
use crate::error::AppError;
use crate::extract::{ApiJson, ApiUser, Req};
use crate::releases::SyncOutcome;

/// `GET /orgs/{org}/repos/{repo}/releases`: the recorded releases, oldest version first
/// (tags are public upstream).
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/repos/{repo}/releases",
    tag = "releases",
    operation_id = "releases_list",
    params(("org" = String, Path, description = "The organisation's slug"), ("repo" = String, Path, description = "The repository's slug")),
    responses(
        (status = 200, description = "Known releases", body = [embargo_store::ReleaseRecord]),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn list(
    Req(st): Req,
    Path((org, repo)): Path<(String, String)>,
) -> Result<Json<Vec<ReleaseRecord>>, AppError> {
    let (org, repo) = (slug(&org, "organisation")?, slug(&repo, "repository")?);
    Ok(Json(st.store.releases(&org, &repo).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRelease {
    tag: String,
}

/// `POST /orgs/{org}/repos/{repo}/releases {tag}`: a release entered by hand (201 when new,
/// 200 when it was known).
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/repos/{repo}/releases",
    tag = "releases",
    operation_id = "releases_enter",
    params(("org" = String, Path, description = "The organisation's slug"), ("repo" = String, Path, description = "The repository's slug")),
    request_body = NewRelease,
    responses(
        (status = 201, description = "Recorded", body = embargo_store::Recorded),
        (status = 200, description = "Known already", body = embargo_store::Recorded),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 413, description = "The body is larger than the limit", body = crate::openapi::ApiError),
        (status = 415, description = "The body is not `application/json`", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn enter(
    Req(st): Req,
    caller: ApiUser,
    Path((org, repo)): Path<(String, String)>,
    ApiJson(body): ApiJson<NewRelease>,
) -> Result<(StatusCode, Json<Recorded>), AppError> {
    let (org, repo) = (slug(&org, "organisation")?, slug(&repo, "repository")?);
    let release = Release::parse_field("tag", &body.tag).map_err(AppError::invalid)?;
    let recorded = st
        .store
        .record_releases(
            caller.actor,
            &org,
            &repo,
            &[release],
            ReleaseSource::Manual,
            &st.config.server.public_url,
        )
        .await?;
    let status = if recorded.added.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(recorded)))
}

/// `POST /orgs/{org}/repos/{repo}/releases/sync`: reads the upstream's tags now.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/repos/{repo}/releases/sync",
    tag = "releases",
    operation_id = "releases_sync",
    params(("org" = String, Path, description = "The organisation's slug"), ("repo" = String, Path, description = "The repository's slug")),
    responses(
        (status = 200, description = "What the sync recorded", body = crate::releases::SyncOutcome),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
        (status = 502, description = "An upstream service refused or failed", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn sync(
    Req(st): Req,
    caller: ApiUser,
    Path((org, repo)): Path<(String, String)>,
) -> Result<Json<SyncOutcome>, AppError> {
    let (org, repo) = (slug(&org, "organisation")?, slug(&repo, "repository")?);
    Ok(Json(
        crate::releases::sync(&st.store, &st.config, caller.actor, &org, &repo).await?,
    ))
}

/// `GET /advisories/{id}/release-proposal`: the affected range and patched version Embargo
/// proposes, the supported release lines and warnings (those who may edit the advisory).
#[utoipa::path(
    get,
    path = "/api/v1/advisories/{id}/release-proposal",
    tag = "releases",
    operation_id = "releases_proposal",
    params(("id" = String, Path, description = "The advisory's id")),
    responses(
        (status = 200, description = "The proposed affected range and patched version", body = embargo_domain::release::Proposal),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn proposal(
    Req(st): Req,
    caller: ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Proposal>, AppError> {
    let id = super::advisories::advisory_id(&id)?;
    Ok(Json(
        crate::releases::proposal(&st.store, caller.actor, &id).await?,
    ))
}
