//! OSV records (<https://ossf.github.io/osv-schema/>) of published advisories.

use embargo_domain::advisory::{Advisory, Package, State, Vulnerability};
use embargo_domain::affected::AffectedRange;
use serde_json::{Value, json};

/// The OSV schema version the records follow.
pub const SCHEMA_VERSION: &str = "1.7.0";

/// Settings that shape the record.
#[derive(Debug, Clone)]
pub struct OsvOptions<'a> {
    /// Put before the advisory id; the default `x_` is the prefix the OSV schema reserves
    /// for databases that have not registered one.
    pub id_prefix: &'a str,
    /// Where the advisory's public page lives (`https://embargo.example.org`), no trailing slash.
    pub base_url: &'a str,
}

/// The OSV id of an advisory.
pub fn osv_id(advisory: &Advisory, opts: &OsvOptions<'_>) -> String {
    format!("{}{}", opts.id_prefix, advisory.id)
}

/// The OSV record of a public advisory; `None` for one that is not public.
pub fn record(advisory: &Advisory, opts: &OsvOptions<'_>) -> Option<Value> {
    if !advisory.state.is_advisory() {
        return None;
    }
    let c = &advisory.content;
    let mut rec = serde_json::Map::new();
    rec.insert("schema_version".into(), json!(SCHEMA_VERSION));
    rec.insert("id".into(), json!(osv_id(advisory, opts)));
    rec.insert(
        "modified".into(),
        json!(crate::utc(advisory.public_modified_at())),
    );
    if let Some(p) = advisory.published_at {
        rec.insert("published".into(), json!(crate::utc(p)));
    }
    if advisory.state == State::Withdrawn {
        let at = advisory
            .withdrawn_at
            .unwrap_or(advisory.public_modified_at());
        rec.insert("withdrawn".into(), json!(crate::utc(at)));
    }
    let mut aliases = vec![json!(advisory.id.as_str())];
    if let Some(cve) = &c.cve_id {
        aliases.push(json!(cve.as_str()));
    }
    aliases.extend(c.aliases.iter().map(|a| json!(a)));
    rec.insert("aliases".into(), Value::Array(aliases));
    rec.insert("summary".into(), json!(c.headline()));
    rec.insert("details".into(), json!(c.description));
    if !c.cvss_vectors.is_empty() {
        let severity: Vec<Value> = c
            .cvss_vectors
            .iter()
            .map(|v| {
                let kind = if v.version() == "4.0" {
                    "CVSS_V4"
                } else {
                    "CVSS_V3"
                };
                json!({"type": kind, "score": v.as_str()})
            })
            .collect();
        rec.insert("severity".into(), Value::Array(severity));
    }
    let affected: Vec<Value> = affected(&c.vulnerabilities);
    rec.insert("affected".into(), Value::Array(affected));
    let mut refs = vec![
        json!({"type": "ADVISORY", "url": format!("{}/advisories/{}", opts.base_url, advisory.id)}),
    ];
    refs.extend(
        c.references
            .iter()
            .map(|u| json!({"type": reference_type(u.as_str()), "url": u.as_str()})),
    );
    rec.insert("references".into(), Value::Array(refs));
    if !c.credits.is_empty() {
        let credits = c
            .credits
            .iter()
            .map(|cr| json!({"name": cr.name, "type": cr.kind.osv()}))
            .collect();
        rec.insert("credits".into(), Value::Array(credits));
    }
    if !c.cwe_ids.is_empty() {
        let cwes: Vec<&str> = c.cwe_ids.iter().map(|w| w.as_str()).collect();
        rec.insert("database_specific".into(), json!({"cwe_ids": cwes}));
    }
    Some(Value::Object(rec))
}

/// The OSV type of a reference, from its address: advisory databases are `ADVISORY` (as
/// the forge's converter writes them), commits and pull requests `FIX`, issues `REPORT`,
/// package registries `PACKAGE`, anything else `WEB`.
pub fn reference_type(url: &str) -> &'static str {
    let u = url
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| u.starts_with(p));
    if starts(&[
        "nvd.nist.gov/vuln/detail/",
        "github.com/advisories/",
        "rustsec.org/advisories/",
        "osv.dev/vulnerability/",
        "pkg.go.dev/vuln/",
        "www.cve.org/CVERecord",
        "cve.mitre.org/cgi-bin/cvename",
    ]) {
        "ADVISORY"
    } else if ["/commit/", "/commits/", "/pull/", "/merge_requests/"]
        .iter()
        .any(|p| u.contains(p))
        || starts(&["go.dev/cl/", "go-review.googlesource.com/"])
    {
        "FIX"
    } else if u.contains("/issues/") || starts(&["go.dev/issue/"]) {
        "REPORT"
    } else if starts(&[
        "crates.io/crates/",
        "www.npmjs.com/package/",
        "pypi.org/project/",
        "rubygems.org/gems/",
        "pkg.go.dev/",
        "www.nuget.org/packages/",
        "packagist.org/packages/",
    ]) {
        "PACKAGE"
    } else {
        "WEB"
    }
}

/// The `affected` entries: one per package, the ranges of every vulnerability entry of that
/// package joined (as the forge's converter does), events of ranges of one kind and repository
/// gathered into one range.
fn affected(vulns: &[Vulnerability]) -> Vec<Value> {
    let mut packages: Vec<(&Package, Vec<AffectedRange>, Vec<String>)> = Vec::new();
    for v in vulns {
        let (ranges, versions) = v.effective_ranges();
        if !packages.iter().any(|(p, ..)| **p == v.package) {
            packages.push((&v.package, Vec::new(), Vec::new()));
        }
        let Some(entry) = packages.iter_mut().find(|(p, ..)| **p == v.package) else {
            continue;
        };
        for r in ranges {
            match entry
                .1
                .iter_mut()
                .find(|o| o.kind == r.kind && o.repo == r.repo)
            {
                Some(o) => o.events.extend(r.events),
                None => entry.1.push(r),
            }
        }
        for v in versions {
            if !entry.2.contains(&v) {
                entry.2.push(v);
            }
        }
    }
    packages
        .into_iter()
        .map(|(p, ranges, versions)| {
            let mut out = serde_json::Map::new();
            out.insert(
                "package".into(),
                json!({"ecosystem": p.ecosystem.as_str(), "name": p.name.as_str()}),
            );
            if !ranges.is_empty() {
                out.insert("ranges".into(), json!(ranges));
            }
            if !versions.is_empty() {
                out.insert("versions".into(), json!(versions));
            }
            Value::Object(out)
        })
        .collect()
}
