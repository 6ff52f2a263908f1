//! Subscribing to an organisation's published advisories by e-mail: public by choice (no
//! sign-in), double opt-in, limited per address and per client.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{email, slug};
use crate::error::AppError;
use crate::extract::{ApiJson, Req};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscriber {
    email: String,
}

/// `POST /orgs/{org}/subscribers {email}`: 202 and a confirmation mail (the same answer
/// whether the address is subscribed already or not).
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/subscribers",
    tag = "subscribers",
    operation_id = "subscribers_subscribe",
    params(("org" = String, Path, description = "The organisation's slug")),
    request_body = NewSubscriber,
    responses(
        (status = 202, description = "A confirmation link was sent (the same answer whether subscribed already or not)", body = crate::openapi::Pending),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 413, description = "The body is larger than the limit", body = crate::openapi::ApiError),
        (status = 415, description = "The body is not `application/json`", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
        (status = 429, description = "Too many requests (`Retry-After` says when to try again)", body = crate::openapi::ApiError, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(()),
)]
pub async fn subscribe(
    Req(st): Req,
    Path(org): Path<String>,
    ApiJson(b): ApiJson<NewSubscriber>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let org = slug(&org, "organisation")?;
    let address = email(&b.email)?;
    let base = st.config.server.public_url.clone();
    st.store
        .subscribe(&org, &address, |t| format!("{base}/subscriptions/{t}"))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "status": "confirmation_sent",
            "message": "a confirmation link was sent to the address; nothing is sent before it is followed",
        })),
    ))
}
