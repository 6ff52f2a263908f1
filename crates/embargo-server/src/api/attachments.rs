//! Attachments on an advisory's thread: upload (raw body, `?filename=`), list, download.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use embargo_store::Attachment;
use serde::Deserialize;

use super::advisories::{advisory_id, authenticated};
use crate::error::AppError;
use crate::extract::{ApiCaller, Req};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Upload {
    filename: String,
}

/// The error for a body over the limit, naming the limit.
pub fn too_large(max: usize) -> AppError {
    AppError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the file is larger than the limit of {max} bytes"),
    )
}

#[utoipa::path(
    post,
    path = "/api/v1/advisories/{id}/attachments",
    tag = "attachments",
    operation_id = "attachments_upload",
    params(("id" = String, Path, description = "The advisory's id"), Upload),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    responses(
        (status = 201, description = "Stored", body = embargo_store::Attachment),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
        (status = 413, description = "The body is larger than the limit", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
        (status = 429, description = "Too many requests (`Retry-After` says when to try again)", body = crate::openapi::ApiError, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security((), ("bearer" = [])),
)]
pub async fn upload(
    Req(st): Req,
    caller: ApiCaller,
    Path(id): Path<String>,
    query: Result<Query<Upload>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Attachment>), AppError> {
    let id = advisory_id(&id)?;
    let actor = authenticated(&st, caller, &id).await?;
    let Query(q) = query.map_err(|_| {
        AppError::invalid(embargo_domain::FieldError::new(
            "filename",
            "give the file's name: ?filename=poc.py",
        ))
    })?;
    let max = st.config.attachments.max_bytes;
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(max)
        } else {
            AppError::bad_request(e.body_text())
        }
    })?;
    let a = st
        .store
        .attach(actor, &id, &q.filename, &bytes, max)
        .await?;
    Ok((StatusCode::CREATED, Json(a)))
}

#[utoipa::path(
    get,
    path = "/api/v1/advisories/{id}/attachments",
    tag = "attachments",
    operation_id = "attachments_list",
    params(("id" = String, Path, description = "The advisory's id")),
    responses(
        (status = 200, description = "The attachments", body = [embargo_store::Attachment]),
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
) -> Result<Json<Vec<Attachment>>, AppError> {
    Ok(Json(
        st.store
            .attachments(caller.actor, &advisory_id(&id)?)
            .await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/advisories/{id}/attachments/{aid}",
    tag = "attachments",
    operation_id = "attachments_download",
    params(("id" = String, Path, description = "The advisory's id"), ("aid" = String, Path, description = "The attachment's id")),
    responses(
        (status = 200, description = "The file, always as a download, with the type sniffed from its first bytes when it was stored", content_type = "*/*", body = Vec<u8>),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn download(
    Req(st): Req,
    caller: ApiCaller,
    Path((id, aid)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (meta, bytes) = st
        .store
        .attachment(caller.actor, &advisory_id(&id)?, &aid)
        .await?;
    Ok(as_download(&meta, bytes))
}

/// A file response that browsers save and never render.
pub fn as_download(meta: &Attachment, bytes: Vec<u8>) -> Response {
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&meta.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    let ascii: String = meta
        .filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = url::form_urlencoded::byte_serialize(meta.filename.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    r
}
