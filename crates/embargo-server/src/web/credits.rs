//! The credited person's answer to a credit naming them (`POST /advisories/{id}/credit`),
//! from the advisory's page; see `embargo_store::CreditConsent` for what it changes.

use axum::extract::Path;
use axum::response::Response;
use embargo_domain::FieldError;

use super::SessionForm;
use crate::api::advisories::advisory_id;
use crate::error::{AppError, PageError};
use crate::extract::Req;

/// `answer=accept` or `answer=decline`; back to the advisory's page.
pub async fn answer(
    Req(st): Req,
    Path(id): Path<String>,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    let accept = match f.get("answer") {
        "accept" => true,
        "decline" => false,
        _ => {
            return Err(PageError(AppError::invalid(FieldError::new(
                "answer",
                "must be accept or decline",
            ))));
        }
    };
    let aid = advisory_id(&id)?;
    let r = st.store.answer_credit(caller.actor, &aid, accept).await;
    super::advisory::after(&st, &caller, &id, r).await
}
