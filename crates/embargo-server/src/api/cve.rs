//! CVE numbering: an organisation's settings (`/orgs/{org}/cve`) and requesting an id for
//! an advisory (`/advisories/{id}/cve`).

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use embargo_domain::FieldError;
use embargo_domain::access::{Actor, OrgAction};
use embargo_domain::advisory::{Advisory, CveBackend};
use embargo_domain::ids::AdvisoryId;
use embargo_domain::types::{CveId, Slug};
use embargo_store::{ApiKey, Authorized, CveServicesAccount, CveSettingsChange};
use serde::Deserialize;
use serde_json::{Value, json};

use super::advisories::{AdvisoryView, advisory_id};
use super::slug;
use crate::AppState;
use crate::cve_client::{CveError, CveServices};
use crate::error::AppError;
use crate::extract::{ApiJson, ApiUser, Req};
use crate::net::{Checked, NetworkPolicy};

/// `PUT /orgs/{org}/cve`: one of `{"backend":"cve_services","url","short_name","user","key"}`,
/// `{"backend":"block","ids":[...]}`, `{"backend":"manual"}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    backend: CveBackend,
    url: Option<String>,
    short_name: Option<String>,
    user: Option<String>,
    key: Option<String>,
    ids: Option<Vec<CveId>>,
}

/// CVE Services' answer as an error for the person who asked: its own message, 502.
pub(crate) fn upstream_error(e: CveError) -> AppError {
    match e {
        CveError::Refused(_) => AppError::invalid(FieldError::new("url", e.to_string())),
        other => AppError::new(StatusCode::BAD_GATEWAY, "cve_services", other.to_string()),
    }
}

fn network(st: &AppState) -> Result<NetworkPolicy, AppError> {
    st.config
        .network_policy()
        .map_err(|e| AppError::internal(&e.to_string()))
}

fn required(v: Option<String>, field: &str, max: usize) -> Result<String, AppError> {
    let v = v.map(|s| s.trim().to_owned()).unwrap_or_default();
    if v.is_empty() {
        return Err(FieldError::new(field, "is required for backend cve_services").into());
    }
    if v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            format!("must be one line of at most {max} characters"),
        )
        .into());
    }
    Ok(v)
}

/// The CVE Services account a body describes, checked against the network rule and then
/// by CVE Services itself (which also gives the organisation's UUID).
async fn checked_account(
    st: &AppState,
    body: SettingsBody,
) -> Result<CveServicesAccount, AppError> {
    if body.ids.is_some() {
        return Err(FieldError::new("ids", "is for backend block only").into());
    }
    let url = required(body.url, "url", 2000)?
        .trim_end_matches('/')
        .to_owned();
    let short_name = required(body.short_name, "short_name", 32)?;
    let user = required(body.user, "user", 256)?;
    let key = required(body.key, "key", 256)?;
    let policy = network(st)?;
    let field = |e: crate::net::NetError| AppError::invalid(FieldError::new("url", e.to_string()));
    policy.permits(&url).map_err(field)?;
    if let Checked::Local(_) = policy.check_url(&url).await.map_err(field)? {
        return Err(FieldError::new("url", "must be an http(s) address").into());
    }
    let mut account = CveServicesAccount {
        url,
        short_name,
        user,
        key: ApiKey::new(key),
        org_uuid: None,
    };
    let uuid = CveServices::new(&account, policy)
        .org_uuid()
        .await
        .map_err(|e| {
            if e.is_authentication() {
                AppError::invalid(FieldError::new(
                    "key",
                    format!("CVE Services refused the account: {e}"),
                ))
            } else {
                upstream_error(e)
            }
        })?;
    account.org_uuid = Some(uuid);
    Ok(account)
}

/// `PUT /orgs/{org}/cve` (security managers).
#[utoipa::path(
    put,
    path = "/api/v1/orgs/{org}/cve",
    tag = "cve",
    operation_id = "cve_set_settings",
    params(("org" = String, Path, description = "The organisation's slug")),
    request_body = SettingsBody,
    responses(
        (status = 200, description = "Saved", body = crate::openapi::CveSettingsView),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
        (status = 413, description = "The body is larger than the limit", body = crate::openapi::ApiError),
        (status = 415, description = "The body is not `application/json`", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
        (status = 502, description = "An upstream service refused or failed", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn set_settings(
    Req(st): Req,
    caller: ApiUser,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<SettingsBody>,
) -> Result<Json<Value>, AppError> {
    let org = slug(&org, "organisation")?;
    // The right first: nothing is sent anywhere for a caller who may not set this.
    st.store
        .check_org_action(caller.actor, &org, OrgAction::ManagePolicy)
        .await?;
    let change = match body.backend {
        CveBackend::CveServices => CveSettingsChange::CveServices {
            account: checked_account(&st, body).await?,
        },
        CveBackend::Block => {
            only_backend_fields(&body, "block")?;
            CveSettingsChange::Block {
                ids: body.ids.ok_or_else(|| {
                    FieldError::new(
                        "ids",
                        "list the block's CVE ids, such as [\"CVE-2026-1000\"]",
                    )
                })?,
            }
        }
        CveBackend::Manual => {
            only_backend_fields(&body, "manual")?;
            if body.ids.is_some() {
                return Err(FieldError::new("ids", "is for backend block only").into());
            }
            CveSettingsChange::Manual
        }
    };
    st.store
        .set_cve_settings(caller.actor, &org, change)
        .await?;
    settings_view(&st, caller.actor, &org).await.map(Json)
}

fn only_backend_fields(body: &SettingsBody, backend: &str) -> Result<(), AppError> {
    for (name, given) in [
        ("url", body.url.is_some()),
        ("short_name", body.short_name.is_some()),
        ("user", body.user.is_some()),
        ("key", body.key.is_some()),
    ] {
        if given {
            return Err(FieldError::new(
                name,
                format!("is for backend cve_services, not {backend}"),
            )
            .into());
        }
    }
    Ok(())
}

/// The settings without the key, the block's ids left, and CVE Services' quota (or why it
/// could not be read).
async fn settings_view(st: &AppState, actor: Actor, org: &Slug) -> Result<Value, AppError> {
    let settings = st.store.cve_settings(actor, org).await?;
    let mut v = serde_json::to_value(&settings).map_err(|e| AppError::internal(&e.to_string()))?;
    if let Some(account) = st.store.cve_account(actor, org).await?
        && let Some(obj) = v.as_object_mut()
    {
        match CveServices::new(&account, network(st)?).quota().await {
            Ok(q) => obj.insert("quota".into(), json!(q)),
            Err(e) => obj.insert("quota_error".into(), json!(e.to_string())),
        };
    }
    Ok(v)
}

/// `GET /orgs/{org}/cve` (security managers).
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/cve",
    tag = "cve",
    operation_id = "cve_settings",
    params(("org" = String, Path, description = "The organisation's slug")),
    responses(
        (status = 200, description = "How the organisation numbers CVE ids (never the key)", body = crate::openapi::CveSettingsView),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn settings(
    Req(st): Req,
    caller: ApiUser,
    Path(org): Path<String>,
) -> Result<Json<Value>, AppError> {
    let org = slug(&org, "organisation")?;
    settings_view(&st, caller.actor, &org).await.map(Json)
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CveRequest)]
pub struct RequestBody {
    /// For manual numbering: the id issued elsewhere.
    #[serde(default)]
    pub cve_id: Option<CveId>,
}

/// Gives the advisory a CVE id the organisation's way: reserved from CVE Services (before
/// the change that records it), the block's next, or the one entered.
pub(crate) async fn request_cve(
    st: &AppState,
    actor: Actor,
    id: &AdvisoryId,
    given: Option<CveId>,
) -> Result<Authorized<Advisory>, AppError> {
    let plan = st.store.cve_plan(actor, id).await?;
    let not_manual = |backend: &str| -> Result<(), AppError> {
        if given.is_some() {
            return Err(FieldError::new(
                "cve_id",
                format!(
                    "organisation {} numbers {backend}; leave cve_id out (or switch it to manual numbering)",
                    plan.org
                ),
            )
            .into());
        }
        Ok(())
    };
    match plan.backend {
        CveBackend::Manual => {
            let cve_id = given.clone().ok_or_else(|| {
                FieldError::new(
                    "cve_id",
                    "enter the id issued elsewhere, such as CVE-2026-12345",
                )
            })?;
            Ok(st
                .store
                .assign_cve(actor, id, &cve_id, CveBackend::Manual)
                .await?)
        }
        CveBackend::Block => {
            not_manual("from its block of ids")?;
            Ok(st.store.assign_cve_from_block(actor, id).await?)
        }
        CveBackend::CveServices => {
            not_manual("with CVE Services")?;
            let account = plan
                .account
                .as_ref()
                .ok_or_else(|| AppError::internal("CVE Services numbering without an account"))?;
            let cve_id = CveServices::new(account, network(st)?)
                .reserve(st.store.now().year())
                .await
                .map_err(upstream_error)?;
            st.store
                .assign_cve(actor, id, &cve_id, CveBackend::CveServices)
                .await
                .map_err(|e| {
                    // Reserved at CVE Services, yet not recorded here: say which id.
                    tracing::warn!(advisory = %id, cve_id = %cve_id, "a reserved CVE id was not recorded");
                    AppError::from(e)
                })
        }
    }
}

/// `POST /advisories/{id}/cve` (security managers): answers the advisory.
#[utoipa::path(
    post,
    path = "/api/v1/advisories/{id}/cve",
    tag = "cve",
    operation_id = "cve_request",
    params(("id" = String, Path, description = "The advisory's id")),
    request_body = Option<RequestBody>,
    responses(
        (status = 200, description = "The advisory with its CVE id", body = crate::api::advisories::AdvisoryView),
        (status = 400, description = "The body or the query could not be read", body = crate::openapi::ApiError),
        (status = 401, description = "Sign in first (`Authorization: Bearer TOKEN`); also for a token that is not valid", body = crate::openapi::ApiError),
        (status = 403, description = "The caller may not do this", body = crate::openapi::ApiError),
        (status = 404, description = "Not found, or not visible to the caller", body = crate::openapi::ApiError),
        (status = 409, description = "Conflicts with the current state", body = crate::openapi::ApiError),
        (status = 413, description = "The body is larger than the limit", body = crate::openapi::ApiError),
        (status = 415, description = "The body is not `application/json`", body = crate::openapi::ApiError),
        (status = 422, description = "A field is not valid (`field` names it)", body = crate::openapi::ApiError),
        (status = 502, description = "An upstream service refused or failed", body = crate::openapi::ApiError),
    ),
    security((), ("bearer" = [])),
)]
pub async fn request(
    Req(st): Req,
    caller: ApiUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RequestBody>,
) -> Result<Json<AdvisoryView>, AppError> {
    let id = advisory_id(&id)?;
    let a = request_cve(&st, caller.actor, &id, body.cve_id).await?;
    Ok(Json(AdvisoryView::build(&st, &a).await?))
}
