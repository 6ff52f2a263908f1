//! Public, unauthenticated documents of published advisories, and the health check.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use embargo_domain::access::Actor;
use embargo_formats::osv::{OsvOptions, record};

use crate::AppState;
use crate::api::advisories::advisory_id;
use crate::error::AppError;

/// `GET /osv/v1/vulns/{id}`: the OSV record, by OSV id (with the configured prefix) or by
/// advisory id. Public by choice: it reads as the anonymous actor, so only published and
/// withdrawn advisories exist here.
pub async fn osv_vuln(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let raw = id.strip_suffix(".json").unwrap_or(&id);
    let raw = raw
        .strip_prefix(st.config.osv.id_prefix.as_str())
        .unwrap_or(raw);
    let a = st
        .store
        .advisory(Actor::Anonymous, &advisory_id(raw)?)
        .await?;
    let opts = OsvOptions {
        id_prefix: &st.config.osv.id_prefix,
        base_url: &st.config.server.public_url,
    };
    let rec = record(a.get(), &opts).ok_or_else(|| AppError::not_found("advisory"))?;
    let mut resp = Json(rec).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(resp)
}

pub async fn healthz(State(st): State<AppState>) -> Result<(StatusCode, &'static str), AppError> {
    st.store.ping().await?;
    Ok((StatusCode::OK, "ok\n"))
}
