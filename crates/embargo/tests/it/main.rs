//! Embargo's one integration-test binary (one link for all): the HTTP API and pages
//! in-process on SQLite and PostgreSQL, the real binary over HTTP, and the browser test.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod subscribers;
mod support;

mod access_table;
mod attachments;
mod audit;
mod browser;
mod cli;
mod clock;
mod closing;
mod codeowners;
mod collaborators;
mod cve;
mod defects;
mod disclosure;
mod flow;
mod imap;
mod import;
mod inbox;
mod input;
mod intake;
mod mail;
mod mail_intake;
mod notes;
mod preferences;
mod publishing;
mod releases;
mod revisions;
mod scoring;
mod secrecy;
mod sign_in;
mod two_factor;
mod upstream;
mod web;
mod webhooks;
mod without_account;
