//! Shared extractors: who is calling (API token or browser session) and JSON bodies with
//! limits and field-naming errors.

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use embargo_domain::access::Actor;
use embargo_store::{Session, User};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::AppError;

/// The caller of an API endpoint: anonymous unless it sends `Authorization: Bearer TOKEN`;
/// a token that is sent but not valid is refused, never treated as anonymous.
pub struct ApiCaller {
    pub actor: Actor,
    pub user: Option<User>,
}

impl<S> FromRequestParts<S> for ApiCaller
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let state = AppState::from_ref(state);
        let Some(value) = parts.headers.get(AUTHORIZATION) else {
            return Ok(Self {
                actor: Actor::Anonymous,
                user: None,
            });
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 256)
            .ok_or_else(|| {
                AppError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "the Authorization header must be 'Bearer TOKEN'",
                )
            })?;
        let user = state
            .store
            .user_for_api_token(token)
            .await?
            .ok_or_else(|| {
                AppError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "the API token is not valid",
                )
            })?;
        Ok(Self {
            actor: user.actor(),
            user: Some(user),
        })
    }
}

/// An API caller that must be signed in.
pub struct ApiUser {
    pub actor: Actor,
    pub user: User,
}

impl<S> FromRequestParts<S> for ApiUser
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let caller = ApiCaller::from_request_parts(parts, state).await?;
        match caller.user {
            Some(user) => Ok(Self {
                actor: caller.actor,
                user,
            }),
            None => Err(AppError::unauthorized()),
        }
    }
}

/// A JSON body. Syntax errors are 400, a body over the limit 413, a wrong content type 415,
/// and a value that does not fit (unknown field, bad id, wrong type) 422 naming the field.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !json {
            return Err(AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as Content-Type: application/json",
            ));
        }
        read_json(req, state).await.map(ApiJson)
    }
}

/// A JSON body whatever its content type says: OSV clients in the wild post their queries
/// without `Content-Type: application/json`, and the public OSV API takes them. Only for
/// public, read-only endpoints (a cross-site form cannot change anything through them).
pub struct AnyJson<T>(pub T);

impl<S, T> FromRequest<S> for AnyJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        read_json(req, state).await.map(AnyJson)
    }
}

async fn read_json<S: Send + Sync, T: DeserializeOwned>(
    req: Request,
    state: &S,
) -> Result<T, AppError> {
    let bytes = Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is larger than the limit of 1 MiB",
            )
        } else {
            AppError::bad_request(format!("the request body could not be read: {e}"))
        }
    })?;
    parse_json(&bytes)
}

fn strip_position(msg: String) -> String {
    match msg.find(" at line ") {
        Some(i) => msg.get(..i).unwrap_or(&msg).to_owned(),
        None => msg,
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() {
            let field = if path == "." { String::new() } else { path };
            AppError::invalid(embargo_domain::FieldError::new(
                field,
                strip_position(inner.to_string()),
            ))
        } else {
            AppError::bad_request(format!("the body is not valid JSON: {inner}"))
        }
    })?;
    de.end()
        .map_err(|e| AppError::bad_request(format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
}

pub const SESSION_COOKIE: &str = "embargo_session";

/// The caller of a web page: anonymous, or signed in with a session cookie.
pub struct WebCaller {
    pub actor: Actor,
    pub session: Option<Session>,
}

impl<S> FromRequestParts<S> for WebCaller
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = crate::error::PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let session = match cookie(&parts.headers, SESSION_COOKIE) {
            Some(token) if token.len() <= 128 => {
                let agent = parts
                    .headers
                    .get(axum::http::header::USER_AGENT)
                    .and_then(|v| v.to_str().ok());
                state.store.session_seen(&token, agent).await?
            }
            _ => None,
        };
        let actor = session
            .as_ref()
            .map_or(Actor::Anonymous, |s| s.user.actor());
        Ok(Self { actor, session })
    }
}

/// The shared state for one request: the store records the client's address in the access
/// log. Handlers take this instead of `State<AppState>`.
pub struct Req(pub AppState);

impl<S> FromRequestParts<S> for Req
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let mut st = AppState::from_ref(state);
        let origin = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| {
                st.config
                    .server
                    .trusted
                    .client(c.0.ip(), &parts.headers)
                    .to_string()
            });
        st.store = st.store.at(origin);
        Ok(Self(st))
    }
}
