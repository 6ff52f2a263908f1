//! Embargo's one integration-test binary (one link for all): the HTTP API and pages
//! in-process on SQLite and PostgreSQL, the real binary over HTTP, and the browser test.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod driver;
mod subscribers;
mod support;

mod access_table;
mod attachments;
mod audit;
mod backup;
mod browser;
mod browser_coordination;
mod browser_public;
mod browser_setup;
mod browser_workspace;
mod cli;
mod clock;
mod closing;
mod codeowners;
mod collaborators;
mod crash;
mod credits;
mod cve;
mod defects;
mod disclosure;
mod filing_load;
mod fix_checks;
mod fix_repo;
mod flow;
mod imap;
mod import;
mod inbox;
mod input;
mod intake;
mod last_manager;
mod mail;
mod mail_and_hooks_contract;
mod mail_intake;
mod notes;
mod openapi;
mod operators;
mod org_page;
mod org_settings_web;
mod pki;
mod preferences;
mod proxy;
mod public_index;
mod publishing;
mod releases;
mod report_attachments;
mod report_packages;
mod reporter_link_files;
mod revisions;
mod scoring;
mod secrecy;
mod security_policy;
mod sessions;
mod setup_pages;
mod sign_in;
mod timeline_roles;
mod tls;
mod two_factor;
mod upgrade;
mod upstream;
mod web;
mod webhooks;
mod without_account;
mod workspace;
