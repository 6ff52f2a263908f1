//! Collaborators on one advisory, and the invitations addressed to the caller.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use embargo_store::{Collaborator, Invitation, NewInvitation};
use serde::Serialize;
use serde_json::{Value, json};

use super::advisories::advisory_id;
use crate::error::AppError;
use crate::extract::{ApiCaller, ApiJson, ApiUser, Req};

#[utoipa::path(
    get,
    path = "/api/v1/advisories/{id}/collaborators",
    tag = "collaborators",
    operation_id = "collaborators_list",
    params(("id" = String, Path, description = "The advisory's id")),
    responses(
        (status = 200, description = "The collaborators", body = [embargo_store::Collaborator]),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn list(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Vec<Collaborator>>, AppError> {
    Ok(Json(
        st.store
            .collaborators(caller.actor, &advisory_id(&id)?)
            .await?,
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Invited {
    #[serde(flatten)]
    collaborator: Collaborator,
    /// For an address without an account: the link where they sign up and accept. Give it
    /// to them over a channel you trust; it works once.
    #[serde(skip_serializing_if = "Option::is_none")]
    signup_url: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/advisories/{id}/collaborators",
    tag = "collaborators",
    operation_id = "collaborators_invite",
    params(("id" = String, Path, description = "The advisory's id")),
    request_body = embargo_store::NewInvitation,
    responses(
        (status = 201, description = "Invited", body = Invited),
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
pub async fn invite(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewInvitation>,
) -> Result<(StatusCode, Json<Invited>), AppError> {
    let id = advisory_id(&id)?;
    let actor = super::advisories::authenticated(&st, caller, &id).await?;
    let base = st.config.server.public_url.clone();
    let (collaborator, token) = st
        .store
        .invite(actor, &id, body, |t| format!("{base}/invite/{t}"))
        .await?;
    let signup_url = token.map(|t| format!("{base}/invite/{t}"));
    Ok((
        StatusCode::CREATED,
        Json(Invited {
            collaborator,
            signup_url,
        }),
    ))
}

#[utoipa::path(
    delete,
    path = "/api/v1/advisories/{id}/collaborators/{cid}",
    tag = "collaborators",
    operation_id = "collaborators_revoke",
    params(("id" = String, Path, description = "The advisory's id"), ("cid" = i64, Path, description = "The collaborator's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn revoke(
    Req(st): Req,
    caller: ApiCaller,
    Path((id, cid)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let id = advisory_id(&id)?;
    let cid: i64 = cid.parse().map_err(|_| AppError::not_found("invitation"))?;
    let actor = super::advisories::authenticated(&st, caller, &id).await?;
    st.store.revoke(actor, &id, cid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v1/invitations",
    tag = "collaborators",
    operation_id = "collaborators_mine",
    responses(
        (status = 200, description = "Invitations waiting for the caller", body = [embargo_store::Invitation]),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn mine(Req(st): Req, caller: ApiUser) -> Result<Json<Vec<Invitation>>, AppError> {
    Ok(Json(st.store.invitations(caller.actor).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/invitations/{iid}/accept",
    tag = "collaborators",
    operation_id = "collaborators_accept",
    params(("iid" = i64, Path, description = "The invitation's id")),
    responses(
        (status = 200, description = "Accepted", body = crate::openapi::Accepted),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn accept(
    Req(st): Req,
    caller: ApiUser,
    Path(iid): Path<String>,
) -> Result<Json<Value>, AppError> {
    let iid: i64 = iid.parse().map_err(|_| AppError::not_found("invitation"))?;
    let id = st.store.accept_invitation(caller.actor, iid).await?;
    Ok(Json(
        json!({"advisory_id": id, "html_url": format!("{}/advisories/{id}", st.config.server.public_url)}),
    ))
}
