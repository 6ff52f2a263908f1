//! The API described: `GET /api/v1/openapi.json`, an OpenAPI 3.1 document generated from
//! the handlers' `#[utoipa::path]` attributes and the types they read and answer. Answers
//! built as ad-hoc JSON in a handler are described here by a schema type of the same shape.

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// The error every API endpoint answers with: `{"error": {"code", "message", "field"?}}`.
#[derive(Serialize, ToSchema)]
pub struct ApiError {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// What went wrong, for programs: `bad_request`, `unauthorized`, `forbidden`,
    /// `not_found`, `conflict`, `invalid`, `payload_too_large`, `unsupported_media_type`,
    /// `too_many_requests`, `internal`, ...
    pub code: String,
    /// What went wrong and what to do, for people.
    pub message: String,
    /// The request field at fault (with `invalid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A report as filed: the report's fields, and `reporter_email` to file without an account
/// (the report is then held until the address confirms it).
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub struct Filing {
    #[serde(flatten)]
    report: embargo_domain::advisory::NewReport,
    /// Only without a token: where the confirmation link goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    reporter_email: Option<String>,
}

/// Accepted, waiting for a confirmation by e-mail.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub struct Pending {
    status: String,
    message: String,
}

#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub struct Created {
    id: i64,
}

#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub struct TwoFactorOn {
    enabled: bool,
    /// Each works once in place of a code; shown only now.
    recovery_codes: Vec<String>,
}

#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub struct MemberView {
    organisation: embargo_domain::types::Slug,
    email: embargo_domain::types::Email,
    role: embargo_domain::types::OrgRole,
}

#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub struct MaintainerView {
    organisation: embargo_domain::types::Slug,
    repository: embargo_domain::types::Slug,
    email: embargo_domain::types::Email,
    /// Always `maintainer`.
    role: String,
}

#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub struct UpstreamView {
    organisation: embargo_domain::types::Slug,
    repository: embargo_domain::types::Slug,
    upstream: Option<String>,
}

#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    advisory_id: embargo_domain::ids::AdvisoryId,
    html_url: String,
}

/// The CVE settings, and CVE Services' quota (or why it could not be read).
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub struct CveSettingsView {
    #[serde(flatten)]
    settings: embargo_store::CveSettings,
    #[serde(skip_serializing_if = "Option::is_none")]
    quota: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quota_error: Option<String>,
}

/// A published advisory, with what became of its fix.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub struct Published {
    #[serde(flatten)]
    advisory: crate::api::advisories::AdvisoryView,
    /// Warnings about fix branches whose checks are not green, and the push of the fix.
    fix_checks: serde_json::Value,
}

#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub struct FixBranch {
    name: String,
    head: String,
    ahead_of_upstream: Option<i64>,
    statuses: Vec<serde_json::Value>,
}

/// An advisory's private fix repository.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub struct FixRepository {
    clone_url: String,
    upstream: Option<String>,
    default_branch: Option<String>,
    created_at: String,
    branches: Vec<FixBranch>,
}

#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub struct FixChecks {
    check_runs: Vec<serde_json::Value>,
    upstream_pushes: Vec<serde_json::Value>,
    removed_at: Option<String>,
}

/// A document in another standard's format (OSV, CSAF 2.0, CVE JSON 5), as JSON.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
#[schema(value_type = Object)]
pub struct Document(serde_json::Map<String, serde_json::Value>);

/// `POST /osv/v1/query`'s answer: `{}` when nothing matches.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub struct OsvVulns {
    #[serde(skip_serializing_if = "Option::is_none")]
    vulns: Option<Vec<Document>>,
}

#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub struct OsvBatchHit {
    id: String,
    modified: String,
}

#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub struct OsvBatchResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    vulns: Option<Vec<OsvBatchHit>>,
}

#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub struct OsvBatch {
    results: Vec<OsvBatchResult>,
}

// The public documents' handlers live with the pages; their descriptions are here.

const NOT_PUBLIC: &str = "No such published advisory";

#[utoipa::path(get, path = "/osv/v1/vulns/{id}", tag = "public", operation_id = "osv_vuln",
    params(("id" = String, Path, description = "The OSV id (with the configured prefix) or the advisory's id")),
    responses(
        (status = 200, description = "The OSV record", body = Document),
        (status = 404, description = NOT_PUBLIC, body = ApiError),
    ), security(()))]
#[allow(dead_code)]
fn osv_vuln() {}

#[utoipa::path(post, path = "/osv/v1/query", tag = "public", operation_id = "osv_query",
    request_body = crate::public::osv::Query,
    responses(
        (status = 200, description = "The records that affect the package version or commit", body = OsvVulns),
        (status = 400, description = "The body could not be read", body = ApiError),
        (status = 413, description = "The body is larger than the limit", body = ApiError),
        (status = 422, description = "A field is not valid", body = ApiError),
    ), security(()))]
#[allow(dead_code)]
fn osv_query() {}

#[utoipa::path(post, path = "/osv/v1/querybatch", tag = "public", operation_id = "osv_querybatch",
    request_body = crate::public::osv::Batch,
    responses(
        (status = 200, description = "For each query, the ids and modification times that match", body = OsvBatch),
        (status = 400, description = "The body could not be read", body = ApiError),
        (status = 413, description = "The body is larger than the limit", body = ApiError),
        (status = 422, description = "A field is not valid", body = ApiError),
    ), security(()))]
#[allow(dead_code)]
fn osv_querybatch() {}

#[utoipa::path(get, path = "/advisories/{id}/osv.json", tag = "public", operation_id = "advisory_osv",
    params(("id" = String, Path, description = "The advisory's id")),
    responses(
        (status = 200, description = "The OSV record", body = Document),
        (status = 404, description = NOT_PUBLIC, body = ApiError),
    ), security(()))]
#[allow(dead_code)]
fn advisory_osv() {}

#[utoipa::path(get, path = "/advisories/{id}/csaf.json", tag = "public", operation_id = "advisory_csaf",
    params(("id" = String, Path, description = "The advisory's id")),
    responses(
        (status = 200, description = "The CSAF 2.0 security advisory", body = Document),
        (status = 404, description = NOT_PUBLIC, body = ApiError),
    ), security(()))]
#[allow(dead_code)]
fn advisory_csaf() {}

#[utoipa::path(get, path = "/advisories/{id}/vex.json", tag = "public", operation_id = "advisory_vex",
    params(("id" = String, Path, description = "The advisory's id")),
    responses(
        (status = 200, description = "The CSAF 2.0 VEX document", body = Document),
        (status = 404, description = NOT_PUBLIC, body = ApiError),
    ), security(()))]
#[allow(dead_code)]
fn advisory_vex() {}

#[utoipa::path(get, path = "/advisories/{id}/cve.json", tag = "public", operation_id = "advisory_cve",
    params(("id" = String, Path, description = "The advisory's id")),
    responses(
        (status = 200, description = "The CVE JSON 5 record", body = Document),
        (status = 404, description = NOT_PUBLIC, body = ApiError),
    ), security(()))]
#[allow(dead_code)]
fn advisory_cve() {}

#[utoipa::path(get, path = "/healthz", tag = "public", operation_id = "healthz",
    responses(
        (status = 200, description = "The server and its database answer", body = String, content_type = "text/plain"),
        (status = 500, description = "The database does not answer", body = ApiError),
    ), security(()))]
#[allow(dead_code)]
fn healthz() {}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Document)),
    security(()))]
pub async fn document() -> Response {
    static DOC: OnceLock<String> = OnceLock::new();
    let body = DOC.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_default());
    let mut resp = body.clone().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.description = Some(
            "An API token (`embargo token create`, or the account page): \
             `Authorization: Bearer TOKEN`"
                .into(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(http));
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Embargo",
        description = "Private vulnerability reporting and coordinated disclosure. Unpublished \
            advisories answer 404 to whoever may not see them."
    ),
    modifiers(&BearerToken),
    paths(
        document,
        osv_vuln,
        osv_query,
        osv_querybatch,
        advisory_osv,
        advisory_csaf,
        advisory_vex,
        advisory_cve,
        healthz,
        crate::api::advisories::me,
        crate::api::advisories::file,
        crate::api::advisories::file_to_org,
        crate::api::advisories::transfer,
        crate::api::advisories::list,
        crate::api::advisories::show,
        crate::api::advisories::edit,
        crate::api::advisories::comments,
        crate::api::advisories::comment,
        crate::api::advisories::events,
        crate::api::advisories::audit,
        crate::api::advisories::accept,
        crate::api::advisories::close,
        crate::api::advisories::reopen,
        crate::api::advisories::publish,
        crate::api::advisories::withdraw,
        crate::api::advisories::exempt_from_disclosure,
        crate::api::account::begin,
        crate::api::account::disable,
        crate::api::account::confirm,
        crate::api::account::mail_preferences,
        crate::api::account::set_mail_preferences,
        crate::api::orgs::create,
        crate::api::orgs::list,
        crate::api::orgs::show,
        crate::api::orgs::set_policy,
        crate::api::orgs::blocks,
        crate::api::orgs::lift_block,
        crate::api::orgs::set_member,
        crate::api::orgs::remove_member,
        crate::api::orgs::create_repo,
        crate::api::orgs::repos,
        crate::api::orgs::update_repo,
        crate::api::orgs::sync_maintainers,
        crate::api::orgs::add_maintainer,
        crate::api::orgs::remove_maintainer,
        crate::api::cve::settings,
        crate::api::cve::set_settings,
        crate::api::cve::request,
        crate::api::subscribers::subscribe,
        crate::api::mail_intake::show,
        crate::api::mail_intake::set,
        crate::api::mail_intake::remove,
        crate::api::webhooks::add,
        crate::api::webhooks::list,
        crate::api::webhooks::remove,
        crate::api::webhooks::deliveries,
        crate::api::webhooks::redeliver,
        crate::api::account::sessions,
        crate::api::account::end_session,
        crate::api::credits::list,
        crate::api::credits::answer,
        crate::api::releases::list,
        crate::api::releases::enter,
        crate::api::releases::sync,
        crate::api::releases::proposal,
        crate::api::clock::embargo,
        crate::api::clock::ready,
        crate::api::clock::case,
        crate::api::clock::pre_notification,
        crate::api::collaborators::list,
        crate::api::collaborators::invite,
        crate::api::collaborators::revoke,
        crate::api::collaborators::mine,
        crate::api::collaborators::accept,
        crate::api::attachments::list,
        crate::api::attachments::upload,
        crate::api::attachments::download,
        crate::api::fix::show,
        crate::api::fix::create,
        crate::api::fix_checks::post_status,
        crate::api::fix_checks::statuses,
        crate::api::fix_checks::checks,
        crate::api::fix_checks::settings,
        crate::api::fix_checks::set_settings
    )
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every `(METHOD, path)` the router serves under `/api/v1`, and the public JSON
    /// documents, read from `router.rs` itself: a route added there without a description
    /// here fails this test.
    fn routes() -> BTreeSet<(String, String)> {
        let src = include_str!("router.rs");
        let (api, rest) = src
            .split_once("let x_request_id")
            .expect("the API routes come first");
        let mut out = BTreeSet::new();
        let mut collect = |part: &str, prefix: &str, keep: &dyn Fn(&str) -> bool| {
            for call in part.split(".route(").skip(1) {
                let path = call.split('"').nth(1).expect("a quoted path");
                // The handlers of this route: up to the next `.route(` or the end.
                let methods = ["get", "post", "put", "patch", "delete"];
                let full = format!("{prefix}{path}");
                if !keep(&full) {
                    continue;
                }
                for m in methods {
                    let called = call.contains(&format!(" {m}("))
                        || call.contains(&format!("({m}("))
                        || call.contains(&format!(".{m}("))
                        || call.contains(&format!("::{m}("));
                    if called {
                        out.insert((m.to_owned(), full.clone()));
                    }
                }
            }
        };
        collect(api, "/api/v1", &|_| true);
        let public = |p: &str| {
            p.starts_with("/osv/v1/")
                || p == "/healthz"
                || ["osv.json", "csaf.json", "vex.json", "cve.json"]
                    .iter()
                    .any(|f| p.starts_with("/advisories/{id}/") && p.ends_with(f))
        };
        collect(rest, "", &public);
        out
    }

    fn documented() -> BTreeSet<(String, String)> {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("serialises");
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for m in item.as_object().expect("path item").keys() {
                if ["get", "post", "put", "patch", "delete"].contains(&m.as_str()) {
                    out.insert((m.clone(), path.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn every_route_is_described_and_nothing_else() {
        let routes = routes();
        let documented = documented();
        assert!(routes.len() > 70, "the router was read: {routes:?}");
        let missing: Vec<_> = routes.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&routes).collect();
        assert!(
            missing.is_empty(),
            "routes without a description: {missing:?}"
        );
        assert!(extra.is_empty(), "described but not routed: {extra:?}");
    }

    #[test]
    fn every_operation_says_who_may_call_it_and_how_it_fails() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("serialises");
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (m, op) in item.as_object().expect("path item") {
                assert!(op.get("security").is_some(), "{m} {path}: no security");
                let responses = op["responses"].as_object().expect("responses");
                assert!(
                    responses.keys().any(|s| s.starts_with('2')),
                    "{m} {path}: no success"
                );
                if path.starts_with("/api/v1/") && path != "/api/v1/openapi.json" {
                    let e = &responses["401"]["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(e, "#/components/schemas/ApiError", "{m} {path}");
                }
                for p in path.split('{').skip(1) {
                    let name = p.split('}').next().unwrap_or_default();
                    let params = op["parameters"].as_array().expect("parameters");
                    assert!(
                        params
                            .iter()
                            .any(|x| x["name"] == name && x["in"] == "path"),
                        "{m} {path}: path parameter {name} undescribed"
                    );
                }
            }
        }
    }
}
