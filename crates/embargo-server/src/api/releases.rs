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
pub async fn list(
    Req(st): Req,
    Path((org, repo)): Path<(String, String)>,
) -> Result<Json<Vec<ReleaseRecord>>, AppError> {
    let (org, repo) = (slug(&org, "organisation")?, slug(&repo, "repository")?);
    Ok(Json(st.store.releases(&org, &repo).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRelease {
    tag: String,
}

/// `POST /orgs/{org}/repos/{repo}/releases {tag}`: a release entered by hand (201 when new,
/// 200 when it was known).
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
