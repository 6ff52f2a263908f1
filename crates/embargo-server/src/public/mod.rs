//! Public, unauthenticated documents of published advisories, and the health check.
//!
//! Every handler here reads as the anonymous actor (`Actor::Anonymous`): being public is the
//! choice these signatures make, and the one access rule then lets only published and
//! withdrawn advisories through. Anything else answers exactly as a missing advisory does.

pub mod cache;
pub mod csaf;
pub mod osv;
pub mod pages;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use embargo_domain::access::Actor;
use embargo_domain::advisory::Advisory;

use crate::AppState;
use crate::api::advisories::advisory_id;
use crate::error::AppError;

/// A public advisory by id; 404 for anything the anonymous actor may not read, or that is
/// not public.
pub async fn public_advisory(st: &AppState, raw_id: &str) -> Result<Advisory, AppError> {
    let a = st
        .store
        .advisory(Actor::Anonymous, &advisory_id(raw_id)?)
        .await?
        .into_inner();
    if !a.state.is_advisory() {
        return Err(AppError::not_found("advisory"));
    }
    Ok(a)
}

/// A public document: its type, cacheable for five minutes.
pub fn document(body: impl Into<String>, content_type: &'static str) -> Response {
    let mut resp = body.into().into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

/// A public JSON document, pretty-printed as the formats' own examples are.
pub fn json_document(value: &serde_json::Value) -> Response {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    document(text, "application/json")
}

pub async fn healthz(State(st): State<AppState>) -> Result<(StatusCode, &'static str), AppError> {
    st.store.ping().await?;
    Ok((StatusCode::OK, "ok\n"))
}
