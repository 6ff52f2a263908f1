//! Embargo's HTTP surfaces: the REST API under `/api/v1`, the server-rendered pages, and the
//! public documents of published advisories.
#![forbid(unsafe_code)]

mod api;
pub mod codeowners;
pub mod config;
pub mod cve_client;
pub mod error;
mod extract;
pub mod fix_checks;
pub mod fix_repo;
pub mod http_out;
pub mod imap;
pub mod intake;
pub mod jobs;
pub mod mail;
pub mod markdown;
mod metrics;
pub mod net;
pub mod openapi;
pub mod openpgp;
pub mod proxy;
mod public;
pub mod releases;
mod router;
pub mod signing;
pub mod tls;
pub mod upstream_git;
mod web;
pub mod webhooks;

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
    /// Feeds, the CSAF directory and bulletins, built once per public revision.
    pub public_cache: Arc<DocumentCache>,
}

pub use public::cache::DocumentCache;

pub use codeowners::sync_maintainers;

/// Limit on request bodies (JSON and forms).
pub const BODY_LIMIT: usize = 1024 * 1024;
