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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSubscriber {
    email: String,
}

/// `POST /orgs/{org}/subscribers {email}`: 202 and a confirmation mail (the same answer
/// whether the address is subscribed already or not).
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
