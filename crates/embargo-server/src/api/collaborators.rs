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

#[derive(Serialize)]
pub struct Invited {
    #[serde(flatten)]
    collaborator: Collaborator,
    /// For an address without an account: the link where they sign up and accept. Give it
    /// to them over a channel you trust; it works once.
    #[serde(skip_serializing_if = "Option::is_none")]
    signup_url: Option<String>,
}

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

pub async fn mine(Req(st): Req, caller: ApiUser) -> Result<Json<Vec<Invitation>>, AppError> {
    Ok(Json(st.store.invitations(caller.actor).await?))
}

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
