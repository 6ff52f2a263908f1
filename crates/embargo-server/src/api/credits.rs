//! Credits and their consent: `GET /advisories/{id}/credits` (each credit with where it
//! stands; the caller's own only, outside the audience) and `POST /advisories/{id}/credit`
//! (`{"accept": true|false}`), the credited person's answer.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use embargo_store::CreditEntry;
use serde::Deserialize;

use super::advisories::advisory_id;
use crate::error::AppError;
use crate::extract::{ApiCaller, ApiJson, ApiUser, Req};

#[utoipa::path(
    get,
    path = "/api/v1/advisories/{id}/credits",
    tag = "credits",
    operation_id = "credits_list",
    params(("id" = String, Path, description = "The advisory's id")),
    responses(
        (status = 200, description = "The credits and where each stands", body = [embargo_store::CreditEntry]),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn list(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Vec<CreditEntry>>, AppError> {
    Ok(Json(
        st.store.credits(caller.actor, &advisory_id(&id)?).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    accept: bool,
}

#[utoipa::path(
    post,
    path = "/api/v1/advisories/{id}/credit",
    tag = "credits",
    operation_id = "credits_answer",
    params(("id" = String, Path, description = "The advisory's id")),
    request_body = AnswerBody,
    responses(
        (status = 204, description = "Answered"),
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
pub async fn answer(
    Req(st): Req,
    caller: ApiUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AnswerBody>,
) -> Result<StatusCode, AppError> {
    st.store
        .answer_credit(caller.actor, &advisory_id(&id)?, body.accept)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
