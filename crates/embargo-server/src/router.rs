//! Every route in one place. Public routes are marked as such by their handlers' extractors:
//! `ApiCaller`/`WebCaller` (anonymous allowed, the store decides), `ApiUser` (signed in).

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::{delete, get, post, put};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::api::{
    account, advisories, attachments, clock, collaborators, orgs, releases, subscribers, webhooks,
};
use crate::{AppState, BODY_LIMIT, public, web};

pub fn router(state: AppState) -> Router {
    // The release watch reads upstreams under the same network rule as the handlers.
    let api = Router::new()
        .route("/openapi.json", get(crate::openapi::document))
        .route("/user", get(advisories::me))
        .route(
            "/user/two-factor",
            post(account::begin).delete(account::disable),
        )
        .route("/user/two-factor/confirm", post(account::confirm))
        .route("/user/sessions", get(account::sessions))
        .route("/user/sessions/{sid}", delete(account::end_session))
        .route(
            "/user/mail-preferences",
            get(account::mail_preferences).put(account::set_mail_preferences),
        )
        .route("/orgs", post(orgs::create).get(orgs::list))
        .route("/orgs/{org}", get(orgs::show).patch(orgs::set_policy))
        .route(
            "/orgs/{org}/cve",
            get(crate::api::cve::settings).put(crate::api::cve::set_settings),
        )
        .route("/advisories/{id}/cve", post(crate::api::cve::request))
        .route("/orgs/{org}/subscribers", post(subscribers::subscribe))
        .route(
            "/orgs/{org}/mail-intake",
            get(crate::api::mail_intake::show)
                .put(crate::api::mail_intake::set)
                .delete(crate::api::mail_intake::remove),
        )
        .route(
            "/orgs/{org}/webhooks",
            post(webhooks::add).get(webhooks::list),
        )
        .route("/orgs/{org}/webhooks/{id}", delete(webhooks::remove))
        .route(
            "/orgs/{org}/webhooks/{id}/deliveries",
            get(webhooks::deliveries),
        )
        .route(
            "/orgs/{org}/webhooks/{id}/deliveries/{delivery}/redeliver",
            post(webhooks::redeliver),
        )
        .route("/orgs/{org}/blocks", get(orgs::blocks))
        .route("/orgs/{org}/blocks/{id}", delete(orgs::lift_block))
        .route(
            "/orgs/{org}/members/{email}",
            put(orgs::set_member).delete(orgs::remove_member),
        )
        .route(
            "/orgs/{org}/repos",
            post(orgs::create_repo).get(orgs::repos),
        )
        .route(
            "/orgs/{org}/repos/{repo}",
            axum::routing::patch(orgs::update_repo),
        )
        .route(
            "/orgs/{org}/repos/{repo}/sync-maintainers",
            post(orgs::sync_maintainers),
        )
        .route(
            "/orgs/{org}/repos/{repo}/releases",
            get(releases::list).post(releases::enter),
        )
        .route(
            "/orgs/{org}/repos/{repo}/releases/sync",
            post(releases::sync),
        )
        .route("/advisories/{id}/release-proposal", get(releases::proposal))
        .route(
            "/orgs/{org}/repos/{repo}/maintainers/{email}",
            put(orgs::add_maintainer).delete(orgs::remove_maintainer),
        )
        .route(
            "/orgs/{org}/repos/{repo}/advisories",
            post(advisories::file),
        )
        .route("/orgs/{org}/advisories", post(advisories::file_to_org))
        .route("/advisories/{id}/transfer", post(advisories::transfer))
        .route("/advisories", get(advisories::list))
        .route(
            "/advisories/{id}",
            get(advisories::show).patch(advisories::edit),
        )
        .route(
            "/advisories/{id}/comments",
            get(advisories::comments).post(advisories::comment),
        )
        .route("/advisories/{id}/events", get(advisories::events))
        .route("/advisories/{id}/credits", get(crate::api::credits::list))
        .route("/advisories/{id}/credit", post(crate::api::credits::answer))
        .route("/advisories/{id}/embargo", post(clock::embargo))
        .route("/advisories/{id}/ready", post(clock::ready))
        .route("/advisories/{id}/case", post(clock::case))
        .route(
            "/advisories/{id}/pre-notification.json",
            get(clock::pre_notification),
        )
        .route("/advisories/{id}/audit", get(advisories::audit))
        .route(
            "/advisories/{id}/collaborators",
            get(collaborators::list).post(collaborators::invite),
        )
        .route(
            "/advisories/{id}/collaborators/{cid}",
            delete(collaborators::revoke),
        )
        .route(
            "/advisories/{id}/attachments",
            get(attachments::list)
                .post(attachments::upload)
                .layer(DefaultBodyLimit::max(state.config.attachments.max_bytes)),
        )
        .route(
            "/advisories/{id}/attachments/{aid}",
            get(attachments::download),
        )
        .route(
            "/advisories/{id}/fix-repository",
            get(crate::api::fix::show).post(crate::api::fix::create),
        )
        .route("/invitations", get(collaborators::mine))
        .route("/invitations/{iid}/accept", post(collaborators::accept))
        .route("/advisories/{id}/accept", post(advisories::accept))
        .route("/advisories/{id}/close", post(advisories::close))
        .route("/advisories/{id}/reopen", post(advisories::reopen))
        .route("/advisories/{id}/publish", post(advisories::publish))
        .route(
            "/advisories/{id}/fix/statuses",
            post(crate::api::fix_checks::post_status).get(crate::api::fix_checks::statuses),
        )
        .route(
            "/advisories/{id}/fix/checks",
            get(crate::api::fix_checks::checks),
        )
        .route(
            "/orgs/{org}/repos/{repo}/fix-settings",
            get(crate::api::fix_checks::settings).put(crate::api::fix_checks::set_settings),
        )
        .route("/advisories/{id}/withdraw", post(advisories::withdraw))
        .route(
            "/advisories/{id}/disclosure-exemption",
            post(advisories::exempt_from_disclosure),
        )
        .fallback(|| async { crate::error::AppError::not_found("API endpoint") });

    let x_request_id = HeaderName::from_static("x-request-id");
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request| {
            // The route template, never the raw path: paths can carry one-time tokens.
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map_or("unmatched", MatchedPath::as_str)
                .to_owned();
            let id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_owned();
            tracing::info_span!("request", method = %req.method(), route, request_id = id)
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO));

    Router::new()
        .nest("/api/v1", api)
        .merge(web::routes(state.config.attachments.max_bytes + 64 * 1024))
        .route("/osv/v1/vulns/{id}", get(public::osv::vuln))
        .route("/osv/v1/query", post(public::osv::query))
        .route("/osv/v1/querybatch", post(public::osv::querybatch))
        .route("/advisories/{id}/osv.json", get(public::osv::advisory_osv))
        .route("/advisories/{id}/bulletin.md", get(public::pages::bulletin))
        .route("/advisories/{id}/csaf.json", get(public::csaf::advisory_csaf))
        .route("/advisories/{id}/vex.json", get(public::csaf::advisory_vex))
        .route("/advisories/{id}/cve.json", get(public::csaf::advisory_cve))
        .route("/.well-known/csaf/provider-metadata.json", get(public::csaf::provider))
        .route("/.well-known/csaf/white/index.txt", get(public::csaf::index))
        .route("/.well-known/csaf/openpgp/{file}", get(public::csaf::openpgp_key))
        .route("/.well-known/csaf/white/changes.csv", get(public::csaf::changes))
        .route("/.well-known/csaf/white/{year}/{file}", get(public::csaf::directory_file))
        .route("/orgs/{org}/bulletins.md", get(public::pages::org_bulletins))
        .route("/orgs/{org}/SECURITY.md", get(public::pages::org_security_md))
        .route("/orgs/{org}/openpgp.asc", get(public::pages::org_openpgp_key))
        .route("/orgs/{org}/advisories.atom", get(public::pages::org_feed))
        .route("/feeds/advisories.atom", get(public::pages::site_feed))
        .route("/.well-known/security.txt", get(public::pages::security_txt_file))
        .route("/healthz", get(public::healthz))
        // Fix repositories over git's smart HTTP (their own limits on bodies), and the page's
        // button that creates one.
        .route("/git/{repo}/info/refs", get(crate::fix_repo::http::info_refs))
        .route("/git/{repo}/git-upload-pack", post(crate::fix_repo::http::upload_pack))
        .route("/git/{repo}/git-receive-pack", post(crate::fix_repo::http::receive_pack))
        .route("/advisories/{id}/fix-repository", post(crate::fix_repo::page::create))
        .route("/metrics", get(crate::metrics::serve))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::tls::hsts))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(x_request_id.clone(), MakeRequestUuid))
                .layer(trace)
                .layer(PropagateRequestIdLayer::new(x_request_id))
                .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
                .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
                .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
                .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
                )),
        )
        .with_state(state)
}
