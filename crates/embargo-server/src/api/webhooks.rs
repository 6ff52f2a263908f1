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
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/webhooks",
    tag = "webhooks",
    operation_id = "webhooks_add",
    params(("org" = String, Path, description = "The organisation's slug")),
    request_body = embargo_store::NewWebhook,
    responses(
        (status = 201, description = "Added", body = crate::openapi::Created),
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
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/webhooks",
    tag = "webhooks",
    operation_id = "webhooks_list",
    params(("org" = String, Path, description = "The organisation's slug")),
    responses(
        (status = 200, description = "The webhooks", body = [embargo_store::Webhook]),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn list(
    Req(st): Req,
    caller: ApiUser,
    Path(org): Path<String>,
) -> Result<Json<Vec<Webhook>>, AppError> {
    let org = slug(&org, "organisation")?;
    Ok(Json(st.store.webhooks(caller.actor, &org).await?))
}

/// `DELETE /orgs/{org}/webhooks/{id}`.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/webhooks/{id}",
    tag = "webhooks",
    operation_id = "webhooks_remove",
    params(("org" = String, Path, description = "The organisation's slug"), ("id" = i64, Path, description = "The webhook's id")),
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
    Path((org, id)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let org = slug(&org, "organisation")?;
    st.store
        .delete_webhook(caller.actor, &org, number(&id, "webhook")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /orgs/{org}/webhooks/{id}/deliveries`: status, time and response code of each.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/webhooks/{id}/deliveries",
    tag = "webhooks",
    operation_id = "webhooks_deliveries",
    params(("org" = String, Path, description = "The organisation's slug"), ("id" = i64, Path, description = "The webhook's id")),
    responses(
        (status = 200, description = "The delivery log", body = [embargo_store::Delivery]),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
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
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/webhooks/{id}/deliveries/{delivery}/redeliver",
    tag = "webhooks",
    operation_id = "webhooks_redeliver",
    params(("org" = String, Path, description = "The organisation's slug"), ("id" = i64, Path, description = "The webhook's id"), ("delivery" = i64, Path, description = "The delivery's id")),
    responses(
        (status = 202, description = "Queued again"),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
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
