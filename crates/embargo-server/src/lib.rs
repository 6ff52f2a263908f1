//! Embargo's HTTP surfaces: the REST API under `/api/v1`, the server-rendered pages, and the
//! public documents of published advisories.
#![forbid(unsafe_code)]

mod api;
pub mod codeowners;
pub mod config;
pub mod error;
mod extract;
pub mod mail;
mod public;
mod router;
pub mod signing;
mod web;

use std::sync::Arc;

use embargo_store::Store;

pub use config::Config;
pub use router::router;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    /// Signs the CSAF provider's documents, when a key is configured.
    pub signer: Option<Arc<signing::Signer>>,
}

/// Reads the repository's CODEOWNERS from its upstream and makes its owners maintainers.
/// The caller's right is checked before anything is fetched, and again when applying.
pub async fn sync_maintainers(
    store: &Store,
    actor: embargo_domain::access::Actor,
    org: &embargo_domain::types::Slug,
    repo: &embargo_domain::types::Slug,
) -> Result<embargo_store::SyncReport, error::AppError> {
    store
        .check_org_action(actor, org, embargo_domain::access::OrgAction::ManageRepos)
        .await?;
    let upstream = store.upstream(org, repo).await?.ok_or_else(|| {
        error::AppError::invalid(embargo_domain::FieldError::new(
            "upstream",
            "the repository has no upstream; set one first (PATCH .../repos/{repo} {\"upstream\": ...})",
        ))
    })?;
    let (owners, invalid) = codeowners::fetch_owners(&upstream).await.map_err(|m| {
        error::AppError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, "invalid", m)
    })?;
    let mut report = store.apply_codeowners(actor, org, repo, &owners).await?;
    report.unknown.extend(invalid);
    Ok(report)
}

/// Runs the scheduled work of one instance: recording invitation expiries, once a minute.
/// Each step is safe to run on several instances at once (it claims its rows).
pub fn spawn_scheduler(
    store: Store,
    config: Arc<Config>,
    mailer: Arc<mail::Mailer>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // Mail goes out within seconds; the rest is checked every minute.
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
        let mut rounds: u64 = 0;
        loop {
            tick.tick().await;
            // Each round runs as its own task: a panic in one is logged and the next round
            // still comes.
            let (s, m, base) = (
                store.clone(),
                mailer.clone(),
                config.server.public_url.clone(),
            );
            if let Err(e) = tokio::spawn(async move { mail::deliver(&s, &m, &base).await }).await {
                tracing::error!(error = %e, "a mail round failed");
            }
            if rounds.is_multiple_of(30) {
                match store.record_expiries().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(n, "recorded expired invitations"),
                    Err(e) => tracing::warn!(error = %e, "recording expired invitations failed"),
                }
                match store.run_disclosures().await {
                    Ok(r) if r == embargo_store::DisclosureRun::default() => {}
                    Ok(r) => tracing::info!(
                        announced = r.announced,
                        disclosed = r.disclosed,
                        "closed reports disclosed by policy"
                    ),
                    Err(e) => tracing::warn!(error = %e, "disclosing closed reports failed"),
                }
                match store.expire_pending_reports().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(n, "deleted unconfirmed reports past their time"),
                    Err(e) => tracing::warn!(error = %e, "deleting unconfirmed reports failed"),
                }
            }
            rounds += 1;
        }
    })
}

/// Limit on request bodies (JSON and forms).
pub const BODY_LIMIT: usize = 1024 * 1024;
