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

/// Runs the scheduled work of one instance: recording invitation expiries, once a minute.
/// Each step is safe to run on several instances at once (it claims its rows).
pub fn spawn_scheduler(store: Store) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            match store.record_expiries().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(n, "recorded expired invitations"),
                Err(e) => tracing::warn!(error = %e, "recording expired invitations failed"),
            }
        }
    })
}

/// Limit on request bodies (JSON and forms).
pub const BODY_LIMIT: usize = 1024 * 1024;
