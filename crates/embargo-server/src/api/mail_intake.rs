//! An organisation's IMAP intake (security managers): set, read (never the password back),
//! turn off. The server's address obeys the network rule when it is set and at every poll.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use embargo_domain::access::OrgAction;
use embargo_store::{ImapIntakeRequest, ImapIntakeView};

use super::slug;
use crate::error::AppError;
use crate::extract::{ApiJson, ApiUser, Req};

/// `PUT /orgs/{org}/mail-intake {url, user, password, tls?, folder?, repo?}` → the settings
/// without the password.
#[utoipa::path(
    put,
    path = "/api/v1/orgs/{org}/mail-intake",
    tag = "mail_intake",
    operation_id = "mail_intake_set",
    params(("org" = String, Path, description = "The organisation's slug")),
    request_body = embargo_store::ImapIntakeRequest,
    responses(
        (status = 200, description = "Saved", body = embargo_store::ImapIntakeView),
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
pub async fn set(
    Req(st): Req,
    caller: ApiUser,
    Path(org): Path<String>,
    ApiJson(req): ApiJson<ImapIntakeRequest>,
) -> Result<Json<ImapIntakeView>, AppError> {
    let org = slug(&org, "organisation")?;
    // The right first: a stranger learns nothing about the network rule.
    st.store
        .check_org_action(caller.actor, &org, OrgAction::ManagePolicy)
        .await?;
    check_server(&st, &req.url)?;
    Ok(Json(
        st.store.set_imap_intake(caller.actor, &org, req).await?,
    ))
}

/// The network rule for a mailbox's address (also for the web form).
pub(crate) fn check_server(st: &crate::AppState, url: &str) -> Result<(), AppError> {
    st.config
        .network_policy()
        .map_err(|e| AppError::internal(&e.to_string()))?
        .permits_mail_server(url)
        .map_err(|_| {
            AppError::invalid(embargo_domain::FieldError::new(
                "url",
                "must be imaps://host:port or imap://host:port on a public host (an administrator can allow other hosts with [network] allow)",
            ))
        })
}

/// `GET /orgs/{org}/mail-intake` → the settings without the password, or 404 when off.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/mail-intake",
    tag = "mail_intake",
    operation_id = "mail_intake_show",
    params(("org" = String, Path, description = "The organisation's slug")),
    responses(
        (status = 200, description = "The IMAP mailbox read for reports", body = embargo_store::ImapIntakeView),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn show(
    Req(st): Req,
    caller: ApiUser,
    Path(org): Path<String>,
) -> Result<Json<ImapIntakeView>, AppError> {
    let org = slug(&org, "organisation")?;
    st.store
        .imap_intake(caller.actor, &org)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::not_found("mail intake"))
}

/// `DELETE /orgs/{org}/mail-intake`: turns the intake off (taken messages stay recorded).
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/mail-intake",
    tag = "mail_intake",
    operation_id = "mail_intake_remove",
    params(("org" = String, Path, description = "The organisation's slug")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn remove(
    Req(st): Req,
    caller: ApiUser,
    Path(org): Path<String>,
) -> Result<StatusCode, AppError> {
    let org = slug(&org, "organisation")?;
    if st.store.delete_imap_intake(caller.actor, &org).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::not_found("mail intake"))
    }
}
