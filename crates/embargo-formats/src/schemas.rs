#![allow(clippy::expect_used, clippy::panic)] // test support: a broken schema folder should stop the test loudly
//! Validation of emitted documents against the official schemas in the shared test data
//! (`../shared/data/schemas/`), for tests only: the schemas are read in place, and the
//! documents they reference by URL (the CVSS schemas, CSAF's own) are answered from the same
//! folder, never fetched.

use std::path::{Path, PathBuf};

use jsonschema::{Retrieve, Uri, Validator};
use serde_json::Value;

/// The shared test data folder (`EMBARGO_TEST_DATA`, else `../shared/data` beside the
/// repository). `None` outside CI when it is absent, said loudly; under `CI=true` a panic.
pub fn test_data() -> Option<PathBuf> {
    let dir = std::env::var("EMBARGO_TEST_DATA").map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
        PathBuf::from,
    );
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "test data folder {} is missing; CI requires it",
        dir.display()
    );
    eprintln!(
        "!!! SKIPPING: test data folder {} is missing (set EMBARGO_TEST_DATA)",
        dir.display()
    );
    None
}

/// The schemas Embargo's documents follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    Osv,
    Cve,
    Csaf,
    CsafProvider,
    CvssV30,
    CvssV31,
    CvssV40,
}

impl Schema {
    fn path(self) -> &'static str {
        match self {
            Self::Osv => "schemas/osv/schema.json",
            Self::Cve => "schemas/cve/CVE_JSON_bundled_5.1.1.json",
            Self::Csaf => "schemas/csaf/csaf_json_schema.json",
            Self::CsafProvider => "schemas/csaf/provider_json_schema.json",
            Self::CvssV30 => "schemas/cvss/cvss-v3.0.json",
            Self::CvssV31 => "schemas/cvss/cvss-v3.1.json",
            Self::CvssV40 => "schemas/cvss/cvss-v4.0.json",
        }
    }
}

/// Where the schemas reference each other by URL, and the local copy of each.
const KNOWN: &[(&str, &str)] = &[
    (
        "https://www.first.org/cvss/cvss-v2.0.json",
        "schemas/cvss/cvss-v2.0.json",
    ),
    (
        "https://www.first.org/cvss/cvss-v3.0.json",
        "schemas/cvss/cvss-v3.0.json",
    ),
    (
        "https://www.first.org/cvss/cvss-v3.1.json",
        "schemas/cvss/cvss-v3.1.json",
    ),
    (
        "https://www.first.org/cvss/cvss-v4.0.json",
        "schemas/cvss/cvss-v4.0.json",
    ),
    (
        "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json",
        "schemas/csaf/csaf_json_schema.json",
    ),
    (
        "https://docs.oasis-open.org/csaf/csaf/v2.0/provider_json_schema.json",
        "schemas/csaf/provider_json_schema.json",
    ),
];

struct LocalRetriever(PathBuf);

impl Retrieve for LocalRetriever {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let wanted = uri.as_str().split('#').next().unwrap_or_default();
        let Some((_, local)) = KNOWN.iter().find(|(url, _)| *url == wanted) else {
            return Err(format!("schema {wanted} is not in the shared test data").into());
        };
        read_json(&self.0.join(local))
    }
}

fn read_json(path: &Path) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

/// A validator for `schema`; `None` when the test data is absent outside CI.
pub fn validator(schema: Schema) -> Option<Validator> {
    let dir = test_data()?;
    let doc = read_json(&dir.join(schema.path())).expect("schema readable");
    let v = jsonschema::options()
        .with_retriever(LocalRetriever(dir))
        .should_validate_formats(true)
        .build(&doc)
        .unwrap_or_else(|e| panic!("{schema:?} schema compiles: {e}"));
    Some(v)
}

/// Every error of `doc` against `schema`, as readable lines (empty when valid, or when the
/// test data is absent outside CI).
pub fn errors(schema: Schema, doc: &Value) -> Vec<String> {
    let Some(v) = validator(schema) else {
        return Vec::new();
    };
    v.iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// Panics with every error when `doc` is not valid against `schema`.
pub fn assert_valid(schema: Schema, doc: &Value) {
    let errs = errors(schema, doc);
    assert!(
        errs.is_empty(),
        "{schema:?} document is not valid against its schema:\n{}\n{doc:#}",
        errs.join("\n")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_compile_and_refuse_nonsense() {
        for s in [Schema::Osv, Schema::Cve, Schema::Csaf, Schema::CsafProvider] {
            if validator(s).is_none() {
                return;
            }
            assert!(
                !errors(s, &serde_json::json!({"nonsense": true})).is_empty(),
                "{s:?}"
            );
        }
    }
}
