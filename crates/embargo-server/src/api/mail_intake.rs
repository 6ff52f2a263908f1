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
