//! Checks on an advisory's private fix over the API: commit statuses as forges have them
//! (`/advisories/{id}/fix/statuses`), the check command's runs (`/advisories/{id}/fix/checks`),
//! a repository's fix settings (`/orgs/{org}/repos/{repo}/fix-settings`), and the publish
//! body's `push_fix`. A caller who may not act on the fix hears "advisory not found", as for
//! an advisory that does not exist.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, Path, Query, Request};
use axum::http::StatusCode;
use embargo_domain::FieldError;
use embargo_domain::access::{Action, OrgAction};
use embargo_store::{FixSettings, FixSettingsChange, FixStatus, NewFixStatus};
use serde::Deserialize;
use serde_json::{Value, json};

use super::advisories::{advisory_id, authenticated};
use super::slug;
use crate::error::AppError;
use crate::extract::{ApiCaller, ApiJson, ApiUser, Req};

/// `POST /advisories/{id}/fix/statuses {sha, context, state, target_url, description}` →
/// 201 with the status (Action::PushFix: maintainers, security managers, collaborators with
/// write access, as a CI posting with one of their tokens).
#[utoipa::path(
    post,
    path = "/api/v1/advisories/{id}/fix/statuses",
    tag = "fix_checks",
    operation_id = "fix_checks_post_status",
    params(("id" = String, Path, description = "The advisory's id")),
    request_body = NewFixStatus,
    responses(
        (status = 201, description = "Recorded", body = FixStatus),
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
pub async fn post_status(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewFixStatus>,
) -> Result<(StatusCode, Json<FixStatus>), AppError> {
    let id = advisory_id(&id)?;
    let actor = authenticated(&st, caller, &id).await?;
    // The decision first: nothing about the repository is looked at for a stranger.
    st.store.fix_decided(actor, &id, Action::PushFix).await?;
    embargo_store::check_sha("sha", &body.sha)?;
    match crate::fix_checks::has_commit(&st, &id, &body.sha).await {
        None => return Err(AppError::not_found("fix repository")),
        Some(false) => {
            return Err(AppError::invalid(FieldError::new(
                "sha",
                "is not a commit of the advisory's fix repository: push it first",
            )));
        }
        Some(true) => {}
    }
    let status = st.store.post_fix_status(actor, &id, &body).await?;
    Ok((StatusCode::CREATED, Json(status)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatusQuery {
    sha: Option<String>,
}

/// `GET /advisories/{id}/fix/statuses[?sha=]` (Action::FetchFix).
#[utoipa::path(
    get,
    path = "/api/v1/advisories/{id}/fix/statuses",
    tag = "fix_checks",
    operation_id = "fix_checks_statuses",
    params(("id" = String, Path, description = "The advisory's id"), StatusQuery),
    responses(
        (status = 200, description = "Commit statuses", body = [FixStatus]),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn statuses(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
    q: Result<Query<StatusQuery>, QueryRejection>,
) -> Result<Json<Vec<FixStatus>>, AppError> {
    let Query(q) = q.map_err(|e| AppError::bad_request(e.body_text()))?;
    let id = advisory_id(&id)?;
    Ok(Json(
        st.store
            .fix_statuses(caller.actor, &id, q.sha.as_deref())
            .await?,
    ))
}

/// `GET /advisories/{id}/fix/checks`: the check command's runs with their output, the
/// pushes to the upstream after publication, and when the repository was removed
/// (Action::FetchFix).
#[utoipa::path(
    get,
    path = "/api/v1/advisories/{id}/fix/checks",
    tag = "fix_checks",
    operation_id = "fix_checks_checks",
    params(("id" = String, Path, description = "The advisory's id")),
    responses(
        (status = 200, description = "Check runs and upstream pushes", body = crate::openapi::FixChecks),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn checks(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let id = advisory_id(&id)?;
    let runs = st.store.fix_check_runs(caller.actor, &id).await?;
    let pushes = st.store.upstream_pushes(Some(caller.actor), &id).await?;
    let removed = st.store.fix_removed_at(&id).await?;
    Ok(Json(json!({
        "check_runs": runs,
        "upstream_pushes": pushes,
        "removed_at": removed.map(embargo_domain::rfc3339),
    })))
}

/// `GET /orgs/{org}/repos/{repo}/fix-settings` (security managers): never the credentials,
/// only whether they are set.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/repos/{repo}/fix-settings",
    tag = "fix_checks",
    operation_id = "fix_checks_settings",
    params(("org" = String, Path, description = "The organisation's slug"), ("repo" = String, Path, description = "The repository's slug")),
    responses(
        (status = 200, description = "The settings (never the credentials)", body = FixSettings),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn settings(
    Req(st): Req,
    caller: ApiUser,
    Path((org, repo)): Path<(String, String)>,
) -> Result<Json<FixSettings>, AppError> {
    let org = slug(&org, "organisation")?;
    let repo = slug(&repo, "repository")?;
    Ok(Json(
        st.store.fix_settings(caller.actor, &org, &repo).await?,
    ))
}

/// `PUT /orgs/{org}/repos/{repo}/fix-settings` (security managers).
#[utoipa::path(
    put,
    path = "/api/v1/orgs/{org}/repos/{repo}/fix-settings",
    tag = "fix_checks",
    operation_id = "fix_checks_set_settings",
    params(("org" = String, Path, description = "The organisation's slug"), ("repo" = String, Path, description = "The repository's slug")),
    request_body = FixSettingsChange,
    responses(
        (status = 200, description = "Saved", body = FixSettings),
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
pub async fn set_settings(
    Req(st): Req,
    caller: ApiUser,
    Path((org, repo)): Path<(String, String)>,
    ApiJson(change): ApiJson<FixSettingsChange>,
) -> Result<Json<FixSettings>, AppError> {
    let org = slug(&org, "organisation")?;
    let repo = slug(&repo, "repository")?;
    // The right first: a stranger learns nothing about the network rule.
    st.store
        .check_org_action(caller.actor, &org, OrgAction::ManageRepos)
        .await?;
    if let Some(url) = change
        .push_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        st.config
            .network_policy()
            .map_err(|e| AppError::internal(&e.to_string()))?
            .permits(url)
            .map_err(|e| AppError::invalid(FieldError::new("push_url", e.to_string())))?;
    }
    Ok(Json(
        st.store
            .set_fix_settings(caller.actor, &org, &repo, change)
            .await?,
    ))
}

/// The publish body: none, `{}`, or `{"push_fix": true}` to push the fix branches to the
/// upstream once published (when the repository's fix settings allow it).
#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishOptions {
    #[serde(default)]
    pub push_fix: bool,
}

impl<S: Send + Sync> FromRequest<S> for PublishOptions {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| AppError::bad_request("the body could not be read"))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            AppError::invalid(FieldError::new(
                "push_fix",
                format!("the body must be {{}} or {{\"push_fix\": true}}: {e}"),
            ))
        })
    }
}
