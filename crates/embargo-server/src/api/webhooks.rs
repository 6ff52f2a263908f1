//! An organisation's webhooks (security managers): add, list, remove, the delivery log and
//! redelivery. The URL obeys the network rule when it is set and at every delivery.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use embargo_store::{Delivery, NewWebhook, Webhook};
use serde_json::{Value, json};

use super::slug;
use crate::AppState;
use crate::error::AppError;
use crate::extract::{ApiJson, ApiUser, Req};

fn number(s: &str, what: &'static str) -> Result<i64, AppError> {
    s.parse().map_err(|_| AppError::not_found(what))
}

/// The network rule for a webhook's address (also for the web form).
pub(crate) fn check_url(st: &AppState, url: &str) -> Result<(), AppError> {
    st.config
        .network_policy()
        .map_err(|e| AppError::internal(&e.to_string()))?
        .permits(url)
        .map_err(|e| AppError::invalid(embargo_domain::FieldError::new("url", e.to_string())))
}

/// `POST /orgs/{org}/webhooks {url, events, secret, inside_audience?}` → 201 `{id}`.
pub async fn add(
    Req(st): Req,
    caller: ApiUser,
    Path(org): Path<String>,
    ApiJson(hook): ApiJson<NewWebhook>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let org = slug(&org, "organisation")?;
    // The right first: a stranger learns nothing about the network rule.
    st.store
        .check_org_action(
            caller.actor,
            &org,
            embargo_domain::access::OrgAction::ManagePolicy,
        )
        .await?;
    check_url(&st, &hook.url)?;
    let id = st.store.add_webhook(caller.actor, &org, hook).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

/// `GET /orgs/{org}/webhooks`.
pub async fn list(
    Req(st): Req,
    caller: ApiUser,
    Path(org): Path<String>,
) -> Result<Json<Vec<Webhook>>, AppError> {
    let org = slug(&org, "organisation")?;
    Ok(Json(st.store.webhooks(caller.actor, &org).await?))
}

/// `DELETE /orgs/{org}/webhooks/{id}`.
pub async fn remove(
    Req(st): Req,
    caller: ApiUser,
    Path((org, id)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let org = slug(&org, "organisation")?;
    st.store
        .delete_webhook(caller.actor, &org, number(&id, "webhook")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /orgs/{org}/webhooks/{id}/deliveries`: status, time and response code of each.
pub async fn deliveries(
    Req(st): Req,
    caller: ApiUser,
    Path((org, id)): Path<(String, String)>,
) -> Result<Json<Vec<Delivery>>, AppError> {
    let org = slug(&org, "organisation")?;
    Ok(Json(
        st.store
            .deliveries(caller.actor, &org, number(&id, "webhook")?)
            .await?,
    ))
}

/// `POST /orgs/{org}/webhooks/{id}/deliveries/{delivery}/redeliver`.
pub async fn redeliver(
    Req(st): Req,
    caller: ApiUser,
    Path((org, id, delivery)): Path<(String, String, String)>,
) -> Result<StatusCode, AppError> {
    let org = slug(&org, "organisation")?;
    st.store
        .redeliver(
            caller.actor,
            &org,
            number(&id, "webhook")?,
            number(&delivery, "delivery")?,
        )
        .await?;
    Ok(StatusCode::ACCEPTED)
}
