//! An advisory's private fix repository: create it (seeded from the upstream) and read its
//! address and branches.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use serde_json::Value;

use super::advisories::{advisory_id, authenticated};
use crate::error::AppError;
use crate::extract::{ApiCaller, Req};

/// `POST /api/v1/advisories/{id}/fix-repository`: 201 `{clone_url, branches, ...}`.
#[utoipa::path(
    post,
    path = "/api/v1/advisories/{id}/fix-repository",
    tag = "fix",
    operation_id = "fix_create",
    params(("id" = String, Path, description = "The advisory's id")),
    responses(
        (status = 201, description = "Created", body = crate::openapi::FixRepository),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn create(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let id = advisory_id(&id)?;
    let actor = authenticated(&st, caller, &id).await?;
    let repo = crate::fix_repo::create(&st, actor, &id).await?;
    let body = crate::fix_repo::describe(&st, &id, &repo).await?;
    Ok((StatusCode::CREATED, Json(body)))
}

/// `GET /api/v1/advisories/{id}/fix-repository`: `{clone_url, branches: [{name, head,
/// ahead_of_upstream, statuses}], ...}` for the advisory's audience.
#[utoipa::path(
    get,
    path = "/api/v1/advisories/{id}/fix-repository",
    tag = "fix",
    operation_id = "fix_show",
    params(("id" = String, Path, description = "The advisory's id")),
    responses(
        (status = 200, description = "The private fix repository", body = crate::openapi::FixRepository),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn show(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let id = advisory_id(&id)?;
    let (_, repo) = st.store.fix_repository(caller.actor, &id).await?;
    let repo = repo.ok_or_else(|| AppError::not_found("fix repository"))?;
    Ok(Json(crate::fix_repo::describe(&st, &id, &repo).await?))
}
