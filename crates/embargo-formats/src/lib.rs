//! Embargo's pure translations: an advisory into the documents others consume.
#![forbid(unsafe_code)]

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A time as RFC 3339 in UTC with `Z`, as every format here writes it (OSV, Atom keep the
/// milliseconds Embargo stores).
pub(crate) fn utc(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// The same in whole seconds (CVE, CSAF).
pub(crate) fn utc_seconds(t: OffsetDateTime) -> String {
    utc(t.replace_nanosecond(0).unwrap_or(t))
}

pub mod affects;
pub mod chart;
pub mod csaf;
pub mod csaf_provider;
pub mod cve;
pub mod cvss;
pub mod cwe;
pub mod import;
pub mod markdown;
pub mod osv;
pub mod purl;
pub mod versions;
pub mod web;

#[cfg(any(test, feature = "schema-check"))]
pub mod schemas;

#[cfg(test)]
mod testing;
