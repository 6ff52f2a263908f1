//! Organisations, their members, repositories and maintainers.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use embargo_domain::types::{OrgRole, Slug};
use embargo_store::{Org, Repo};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{email, slug};
use crate::error::AppError;
use crate::extract::Req;
use crate::extract::{ApiJson, ApiUser};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrg {
    slug: Slug,
    name: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/orgs",
    tag = "orgs",
    operation_id = "orgs_create",
    request_body = NewOrg,
    responses(
        (status = 201, description = "Created", body = embargo_store::Org),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
        (status = 413, description = "The body is larger than the limit", body = crate::openapi::ApiError),
        (status = 415, description = "The body is not `application/json`", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn create(
    Req(st): Req,
    caller: ApiUser,
    ApiJson(body): ApiJson<NewOrg>,
) -> Result<(StatusCode, Json<Org>), AppError> {
    let org = st
        .store
        .create_org(caller.actor, &body.slug, &body.name)
        .await?;
    Ok((StatusCode::CREATED, Json(org)))
}

#[utoipa::path(
    get,
    path = "/api/v1/orgs",
    tag = "orgs",
    operation_id = "orgs_list",
    responses(
        (status = 200, description = "Every organisation", body = [embargo_store::Org]),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn list(Req(st): Req) -> Result<Json<Vec<Org>>, AppError> {
    Ok(Json(st.store.orgs().await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}",
    tag = "orgs",
    operation_id = "orgs_show",
    params(("org" = String, Path, description = "The organisation's slug")),
    responses(
        (status = 200, description = "The organisation", body = embargo_store::Org),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn show(Req(st): Req, Path(org): Path<String>) -> Result<Json<Org>, AppError> {
    Ok(Json(st.store.org(&slug(&org, "organisation")?).await?))
}

/// `PATCH /orgs/{org} {response_days?, require_two_factor?, spam_block_days?, reports_per_hour?}`.
#[utoipa::path(
    patch,
    path = "/api/v1/orgs/{org}",
    tag = "orgs",
    operation_id = "orgs_set_policy",
    params(("org" = String, Path, description = "The organisation's slug")),
    request_body = embargo_store::PolicyChange,
    responses(
        (status = 200, description = "The organisation with its new policy", body = embargo_store::Org),
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
pub async fn set_policy(
    Req(st): Req,
    caller: ApiUser,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<embargo_store::PolicyChange>,
) -> Result<Json<Org>, AppError> {
    let org = slug(&org, "organisation")?;
    Ok(Json(st.store.set_policy(caller.actor, &org, body).await?))
}

/// `GET /orgs/{org}/blocks`: senders kept from filing (security managers).
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/blocks",
    tag = "orgs",
    operation_id = "orgs_blocks",
    params(("org" = String, Path, description = "The organisation's slug")),
    responses(
        (status = 200, description = "Senders kept from filing", body = [embargo_store::Block]),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn blocks(
    Req(st): Req,
    caller: ApiUser,
    Path(org): Path<String>,
) -> Result<Json<Vec<embargo_store::Block>>, AppError> {
    Ok(Json(
        st.store
            .blocks(caller.actor, &slug(&org, "organisation")?)
            .await?,
    ))
}

/// `DELETE /orgs/{org}/blocks/{id}`: lets the sender file again.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/blocks/{id}",
    tag = "orgs",
    operation_id = "orgs_lift_block",
    params(("org" = String, Path, description = "The organisation's slug"), ("id" = i64, Path, description = "The block's id")),
    responses(
        (status = 204, description = "Lifted"),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn lift_block(
    Req(st): Req,
    caller: ApiUser,
    Path((org, id)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::not_found("block"))?;
    st.store
        .lift_block(caller.actor, &slug(&org, "organisation")?, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Membership {
    role: OrgRole,
}

#[utoipa::path(
    put,
    path = "/api/v1/orgs/{org}/members/{email}",
    tag = "orgs",
    operation_id = "orgs_set_member",
    params(("org" = String, Path, description = "The organisation's slug"), ("email" = String, Path, description = "The person's e-mail address")),
    request_body = Membership,
    responses(
        (status = 200, description = "The membership", body = crate::openapi::MemberView),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
        (status = 413, description = "The body is larger than the limit", body = crate::openapi::ApiError),
        (status = 415, description = "The body is not `application/json`", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn set_member(
    Req(st): Req,
    caller: ApiUser,
    Path((org, who)): Path<(String, String)>,
    ApiJson(body): ApiJson<Membership>,
) -> Result<Json<Value>, AppError> {
    let org = slug(&org, "organisation")?;
    let who = email(&who)?;
    st.store
        .set_member(caller.actor, &org, &who, body.role)
        .await?;
    Ok(Json(
        json!({"organisation": org, "email": who, "role": body.role}),
    ))
}

#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/members/{email}",
    tag = "orgs",
    operation_id = "orgs_remove_member",
    params(("org" = String, Path, description = "The organisation's slug"), ("email" = String, Path, description = "The person's e-mail address")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn remove_member(
    Req(st): Req,
    caller: ApiUser,
    Path((org, who)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    st.store
        .remove_member(caller.actor, &slug(&org, "organisation")?, &email(&who)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRepo {
    slug: Slug,
    name: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/repos",
    tag = "orgs",
    operation_id = "orgs_create_repo",
    params(("org" = String, Path, description = "The organisation's slug")),
    request_body = NewRepo,
    responses(
        (status = 201, description = "Created", body = embargo_store::Repo),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
        (status = 413, description = "The body is larger than the limit", body = crate::openapi::ApiError),
        (status = 415, description = "The body is not `application/json`", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn create_repo(
    Req(st): Req,
    caller: ApiUser,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<NewRepo>,
) -> Result<(StatusCode, Json<Repo>), AppError> {
    let repo = st
        .store
        .create_repo(
            caller.actor,
            &slug(&org, "organisation")?,
            &body.slug,
            &body.name,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(repo)))
}

#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/repos",
    tag = "orgs",
    operation_id = "orgs_repos",
    params(("org" = String, Path, description = "The organisation's slug")),
    responses(
        (status = 200, description = "The repositories", body = [embargo_store::Repo]),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn repos(Req(st): Req, Path(org): Path<String>) -> Result<Json<Vec<Repo>>, AppError> {
    let org = slug(&org, "organisation")?;
    st.store.org(&org).await?;
    Ok(Json(st.store.repos(Some(&org)).await?))
}

#[utoipa::path(
    put,
    path = "/api/v1/orgs/{org}/repos/{repo}/maintainers/{email}",
    tag = "orgs",
    operation_id = "orgs_add_maintainer",
    params(("org" = String, Path, description = "The organisation's slug"), ("repo" = String, Path, description = "The repository's slug"), ("email" = String, Path, description = "The person's e-mail address")),
    responses(
        (status = 200, description = "The maintainer", body = crate::openapi::MaintainerView),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn add_maintainer(
    Req(st): Req,
    caller: ApiUser,
    Path((org, repo, who)): Path<(String, String, String)>,
) -> Result<Json<Value>, AppError> {
    let (org, repo, who) = (
        slug(&org, "organisation")?,
        slug(&repo, "repository")?,
        email(&who)?,
    );
    st.store
        .add_maintainer(caller.actor, &org, &repo, &who)
        .await?;
    Ok(Json(
        json!({"organisation": org, "repository": repo, "email": who, "role": "maintainer"}),
    ))
}

#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/repos/{repo}/maintainers/{email}",
    tag = "orgs",
    operation_id = "orgs_remove_maintainer",
    params(("org" = String, Path, description = "The organisation's slug"), ("repo" = String, Path, description = "The repository's slug"), ("email" = String, Path, description = "The person's e-mail address")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn remove_maintainer(
    Req(st): Req,
    caller: ApiUser,
    Path((org, repo, who)): Path<(String, String, String)>,
) -> Result<StatusCode, AppError> {
    let (org, repo, who) = (
        slug(&org, "organisation")?,
        slug(&repo, "repository")?,
        email(&who)?,
    );
    st.store
        .remove_maintainer(caller.actor, &org, &repo, &who)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepoChange {
    /// An https:// URL (others where `[network] allow` allows them); `null` clears it.
    upstream: Option<embargo_domain::types::Upstream>,
}

/// `PATCH /orgs/{org}/repos/{repo} {upstream}`.
#[utoipa::path(
    patch,
    path = "/api/v1/orgs/{org}/repos/{repo}",
    tag = "orgs",
    operation_id = "orgs_update_repo",
    params(("org" = String, Path, description = "The organisation's slug"), ("repo" = String, Path, description = "The repository's slug")),
    request_body = RepoChange,
    responses(
        (status = 200, description = "Saved", body = crate::openapi::UpstreamView),
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
pub async fn update_repo(
    Req(st): Req,
    caller: ApiUser,
    Path((org, repo)): Path<(String, String)>,
    ApiJson(body): ApiJson<RepoChange>,
) -> Result<Json<Value>, AppError> {
    let (org, repo) = (slug(&org, "organisation")?, slug(&repo, "repository")?);
    if let Some(u) = &body.upstream {
        crate::codeowners::check_new_upstream(&st.config, u)?;
    }
    st.store
        .set_upstream(caller.actor, &org, &repo, body.upstream.as_ref())
        .await?;
    Ok(Json(
        json!({"organisation": org, "repository": repo, "upstream": body.upstream}),
    ))
}

/// `POST /orgs/{org}/repos/{repo}/sync-maintainers`: maintainers from the upstream's CODEOWNERS.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/repos/{repo}/sync-maintainers",
    tag = "orgs",
    operation_id = "orgs_sync_maintainers",
    params(("org" = String, Path, description = "The organisation's slug"), ("repo" = String, Path, description = "The repository's slug")),
    responses(
        (status = 200, description = "What the sync did", body = embargo_store::SyncReport),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
        (status = 502, description = "An upstream service refused or failed", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn sync_maintainers(
    Req(st): Req,
    caller: ApiUser,
    Path((org, repo)): Path<(String, String)>,
) -> Result<Json<embargo_store::SyncReport>, AppError> {
    let (org, repo) = (slug(&org, "organisation")?, slug(&repo, "repository")?);
    Ok(Json(
        crate::codeowners::sync_maintainers(&st.store, &st.config, caller.actor, &org, &repo)
            .await?,
    ))
}
