//! The caller's own account: two-factor sign-in.

use axum::Json;
use axum::http::StatusCode;
use embargo_store::TotpEnrolment;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::AppError;
use crate::extract::{ApiJson, ApiUser, Req};

/// `POST /user/two-factor`: a new TOTP secret, in force once confirmed with a code.
#[utoipa::path(
    post,
    path = "/api/v1/user/two-factor",
    tag = "account",
    operation_id = "account_begin",
    responses(
        (status = 201, description = "A new secret, in force once confirmed", body = embargo_store::TotpEnrolment),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn begin(
    Req(st): Req,
    caller: ApiUser,
) -> Result<(StatusCode, Json<TotpEnrolment>), AppError> {
    Ok((
        StatusCode::CREATED,
        Json(st.store.begin_totp(caller.user.id).await?),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TwoFactorCode)]
pub struct Code {
    code: String,
}

/// `POST /user/two-factor/confirm {code}`: turns it on; answers the recovery codes, once.
#[utoipa::path(
    post,
    path = "/api/v1/user/two-factor/confirm",
    tag = "account",
    operation_id = "account_confirm",
    request_body = Code,
    responses(
        (status = 200, description = "On; the recovery codes, shown once", body = crate::openapi::TwoFactorOn),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
        (status = 413, description = "The body is larger than the limit", body = crate::openapi::ApiError),
        (status = 415, description = "The body is not `application/json`", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
        (status = 429, description = "Too many requests (`Retry-After` says when to try again)", body = crate::openapi::ApiError, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = [])),
)]
pub async fn confirm(
    Req(st): Req,
    caller: ApiUser,
    ApiJson(c): ApiJson<Code>,
) -> Result<Json<Value>, AppError> {
    let codes = st.store.confirm_totp(caller.user.id, &c.code, None).await?;
    Ok(Json(json!({"enabled": true, "recovery_codes": codes})))
}

/// `DELETE /user/two-factor {code}`: turns it off, given a current code or a recovery code.
#[utoipa::path(
    delete,
    path = "/api/v1/user/two-factor",
    tag = "account",
    operation_id = "account_disable",
    request_body = Code,
    responses(
        (status = 204, description = "Two-factor sign-in is off"),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
        (status = 413, description = "The body is larger than the limit", body = crate::openapi::ApiError),
        (status = 415, description = "The body is not `application/json`", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
        (status = 429, description = "Too many requests (`Retry-After` says when to try again)", body = crate::openapi::ApiError, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = [])),
)]
pub async fn disable(
    Req(st): Req,
    caller: ApiUser,
    ApiJson(c): ApiJson<Code>,
) -> Result<StatusCode, AppError> {
    st.store.disable_totp(caller.user.id, &c.code, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /user/mail-preferences`: which mail the caller gets.
#[utoipa::path(
    get,
    path = "/api/v1/user/mail-preferences",
    tag = "account",
    operation_id = "account_mail_preferences",
    responses(
        (status = 200, description = "Which mail the caller gets", body = embargo_store::MailPreferences),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn mail_preferences(
    Req(st): Req,
    caller: ApiUser,
) -> Result<Json<embargo_store::MailPreferences>, AppError> {
    Ok(Json(st.store.mail_preferences(caller.user.id).await?))
}

/// `PUT /user/mail-preferences {new_reports, replies, reminders, daily_digest}` (each optional;
/// the first three default on).
/// Sign-in links, escalations, embargo warnings, invitations and news of one's own reports
/// are always sent.
#[utoipa::path(
    put,
    path = "/api/v1/user/mail-preferences",
    tag = "account",
    operation_id = "account_set_mail_preferences",
    request_body = embargo_store::MailPreferences,
    responses(
        (status = 200, description = "Saved", body = embargo_store::MailPreferences),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 413, description = "The body is larger than the limit", body = crate::openapi::ApiError),
        (status = 415, description = "The body is not `application/json`", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn set_mail_preferences(
    Req(st): Req,
    caller: ApiUser,
    ApiJson(p): ApiJson<embargo_store::MailPreferences>,
) -> Result<Json<embargo_store::MailPreferences>, AppError> {
    st.store.set_mail_preferences(caller.user.id, p).await?;
    Ok(Json(p))
}

/// `GET /user/sessions`: the caller's browser sessions, the most recently used first. Ids
/// name sessions only (they are not the cookies); `current` is false for every one, as an API
/// token is not a browser session.
#[utoipa::path(
    get,
    path = "/api/v1/user/sessions",
    tag = "account",
    operation_id = "account_sessions",
    responses(
        (status = 200, description = "The caller's browser sessions, the most recently used first", body = [embargo_store::SessionInfo]),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn sessions(
    Req(st): Req,
    caller: ApiUser,
) -> Result<Json<Vec<embargo_store::SessionInfo>>, AppError> {
    Ok(Json(st.store.list_sessions(caller.user.id, None).await?))
}

/// `DELETE /user/sessions/{id}`: ends one of the caller's sessions; 404 for an id that is not
/// one of theirs (another user's session looks like none at all).
#[utoipa::path(
    delete,
    path = "/api/v1/user/sessions/{sid}",
    tag = "account",
    operation_id = "account_end_session",
    params(("sid" = String, Path, description = "The session's id")),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn end_session(
    Req(st): Req,
    caller: ApiUser,
    axum::extract::Path(sid): axum::extract::Path<String>,
) -> Result<StatusCode, AppError> {
    if !session_id_shape(&sid) || !st.store.end_session_by_id(caller.user.id, &sid).await? {
        return Err(AppError::not_found("session"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A session id as the store makes them: hexadecimal, of bounded length.
pub(crate) fn session_id_shape(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit())
}
