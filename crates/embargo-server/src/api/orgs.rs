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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrg {
    slug: Slug,
    name: String,
}

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

pub async fn list(Req(st): Req) -> Result<Json<Vec<Org>>, AppError> {
    Ok(Json(st.store.orgs().await?))
}

pub async fn show(Req(st): Req, Path(org): Path<String>) -> Result<Json<Org>, AppError> {
    Ok(Json(st.store.org(&slug(&org, "organisation")?).await?))
}

/// `PATCH /orgs/{org} {response_days?, require_two_factor?, spam_block_days?, reports_per_hour?}`.
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Membership {
    role: OrgRole,
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRepo {
    slug: Slug,
    name: String,
}

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

pub async fn repos(Req(st): Req, Path(org): Path<String>) -> Result<Json<Vec<Repo>>, AppError> {
    let org = slug(&org, "organisation")?;
    st.store.org(&org).await?;
    Ok(Json(st.store.repos(Some(&org)).await?))
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoChange {
    /// An https:// URL (others where `[network] allow` allows them); `null` clears it.
    upstream: Option<embargo_domain::types::Upstream>,
}

/// `PATCH /orgs/{org}/repos/{repo} {upstream}`.
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
