//! Embargo's pure translations: an advisory into the documents others consume.
#![forbid(unsafe_code)]

pub mod affects;
pub mod csaf;
pub mod csaf_provider;
pub mod cve;
pub mod cvss;
pub mod cwe;
pub mod import;
pub mod markdown;
pub mod osv;
pub mod web;

#[cfg(any(test, feature = "schema-check"))]
pub mod schemas;

#[cfg(test)]
mod testing;
