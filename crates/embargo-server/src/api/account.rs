//! The caller's own account: two-factor sign-in.

use axum::Json;
use axum::http::StatusCode;
use embargo_store::TotpEnrolment;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::AppError;
use crate::extract::{ApiJson, ApiUser, Req};

/// `POST /user/two-factor`: a new TOTP secret, in force once confirmed with a code.
pub async fn begin(
    Req(st): Req,
    caller: ApiUser,
) -> Result<(StatusCode, Json<TotpEnrolment>), AppError> {
    Ok((
        StatusCode::CREATED,
        Json(st.store.begin_totp(caller.user.id).await?),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Code {
    code: String,
}

/// `POST /user/two-factor/confirm {code}`: turns it on; answers the recovery codes, once.
pub async fn confirm(
    Req(st): Req,
    caller: ApiUser,
    ApiJson(c): ApiJson<Code>,
) -> Result<Json<Value>, AppError> {
    let codes = st.store.confirm_totp(caller.user.id, &c.code, None).await?;
    Ok(Json(json!({"enabled": true, "recovery_codes": codes})))
}

/// `DELETE /user/two-factor {code}`: turns it off, given a current code or a recovery code.
pub async fn disable(
    Req(st): Req,
    caller: ApiUser,
    ApiJson(c): ApiJson<Code>,
) -> Result<StatusCode, AppError> {
    st.store.disable_totp(caller.user.id, &c.code, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /user/mail-preferences`: which mail the caller gets.
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
pub async fn set_mail_preferences(
    Req(st): Req,
    caller: ApiUser,
    ApiJson(p): ApiJson<embargo_store::MailPreferences>,
) -> Result<Json<embargo_store::MailPreferences>, AppError> {
    st.store.set_mail_preferences(caller.user.id, p).await?;
    Ok(Json(p))
}
