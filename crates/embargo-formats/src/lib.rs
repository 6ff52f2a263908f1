//! Embargo's pure translations: an advisory into the documents others consume.
#![forbid(unsafe_code)]

pub mod affects;
pub mod cvss;
pub mod osv;

#[cfg(any(test, feature = "schema-check"))]
pub mod schemas;
