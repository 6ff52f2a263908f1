//! One error type, two renderers: JSON for the API, HTML for pages. Unexpected errors are
//! logged and answered with a bare 500.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use embargo_domain::FieldError;
use embargo_store::StoreError;
use serde_json::json;

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Seconds after which a refused request (429) may be tried again.
    pub retry_after: Option<u64>,
}

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "sign in first: send Authorization: Bearer TOKEN",
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn invalid(e: FieldError) -> Self {
        let field = (!e.field.is_empty()).then(|| e.field.clone());
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid",
            message: e.to_string(),
            field,
            retry_after: None,
        }
    }

    pub fn internal(detail: &str) -> Self {
        tracing::error!(detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side; it has been logged",
        )
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::not_found(what),
            StoreError::Forbidden(m) => Self::new(StatusCode::FORBIDDEN, "forbidden", m),
            StoreError::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            StoreError::Invalid(f) => Self::invalid(f),
            StoreError::RateLimited {
                retry_after_secs,
                what,
            } => Self {
                retry_after: Some(retry_after_secs),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_requests",
                    format!("{what}; try again in {retry_after_secs} seconds"),
                )
            },
            StoreError::Internal(detail) => Self::internal(&detail),
        }
    }
}

impl From<FieldError> for AppError {
    fn from(e: FieldError) -> Self {
        Self::invalid(e)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if let (Some(f), Some(obj)) = (self.field, error.as_object_mut()) {
            obj.insert("field".into(), json!(f));
        }
        let mut resp = (self.status, axum::Json(json!({ "error": error }))).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs),
            );
        }
        resp
    }
}

/// The same error as a page.
pub struct PageError(pub AppError);

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        Self(e)
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = crate::web::ErrorPage {
            title: self
                .0
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_owned(),
            message: self.0.message,
            user: None,
        };
        let mut resp = (self.0.status, crate::web::render(&page)).into_response();
        if let Some(secs) = self.0.retry_after {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs),
            );
        }
        resp
    }
}
