//! The REST API under `/api/v1`.

pub mod account;
pub mod advisories;
pub mod attachments;
pub mod clock;
pub mod collaborators;
pub mod credits;
pub mod cve;
pub mod fix;
pub mod fix_checks;
pub mod mail_intake;
pub mod orgs;
pub mod releases;
pub mod subscribers;
pub mod webhooks;

use embargo_domain::types::{Email, Slug};

use crate::error::AppError;

/// Path segments become domain types before any query; a malformed slug cannot name
/// anything, so it is "not found".
pub fn slug(s: &str, what: &'static str) -> Result<Slug, AppError> {
    Slug::parse(s).map_err(|_| AppError::not_found(what))
}

pub fn email(s: &str) -> Result<Email, AppError> {
    Email::parse(s).map_err(AppError::invalid)
}
