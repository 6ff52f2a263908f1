//! Helpers of `scripts/bench` (never part of the product or of `scripts/test`): a bare axum
//! "hello" server built in the same profile as `embargo`, the ceiling the figures are
//! measured against, and a seeder that prepares a data folder and N OSV records for `embargo import`.
#![forbid(unsafe_code)]
