//! Embargo's pure rules: identifiers and checked input types, the advisory and its life
//! (states, transitions, events), the organisation's policy, and the one access rule.
//!
//! Nothing here touches the network, the clock or the disk: time comes in as a parameter.
#![forbid(unsafe_code)]

pub mod access;
pub mod advisory;
pub mod affected;
pub mod codeowners;
pub mod embargo;
pub mod error;
pub mod ids;
pub mod notify;
pub mod policy;
pub mod record;
pub mod release;
pub mod types;
pub mod version_range;

pub use error::FieldError;

/// An instant as RFC 3339 text, in UTC.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
