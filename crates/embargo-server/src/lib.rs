//! Embargo's HTTP surfaces: the REST API under `/api/v1`, the server-rendered pages, and the
//! public documents of published advisories.
#![forbid(unsafe_code)]

mod api;
pub mod config;
mod error;
mod extract;
mod public;
mod router;
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
}

/// Limit on request bodies (JSON and forms).
pub const BODY_LIMIT: usize = 1024 * 1024;
