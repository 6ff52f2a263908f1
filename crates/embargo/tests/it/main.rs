//! Embargo's one integration-test binary (one link for all): the HTTP API and pages
//! in-process on SQLite and PostgreSQL, the real binary over HTTP, and the browser test.

mod support;

mod access_table;
mod browser;
mod cli;
mod flow;
mod input;
mod web;
