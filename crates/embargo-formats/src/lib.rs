//! Embargo's pure translations: an advisory into the documents others consume.
#![forbid(unsafe_code)]

pub mod cvss;
pub mod osv;
