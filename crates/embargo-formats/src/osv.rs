//! OSV records (<https://ossf.github.io/osv-schema/>) of published advisories.

use embargo_domain::advisory::{Advisory, State, Vulnerability};
use embargo_domain::version_range::VersionRange;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

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

fn ts(t: OffsetDateTime) -> String {
    // OSV asks for RFC 3339 in UTC with a `Z`.
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// The OSV id of an advisory.
pub fn osv_id(advisory: &Advisory, opts: &OsvOptions<'_>) -> String {
    format!("{}{}", opts.id_prefix, advisory.id)
}

/// The OSV record of a public advisory; `None` for one that is not public.
pub fn record(advisory: &Advisory, opts: &OsvOptions<'_>) -> Option<Value> {
    if !advisory.state.is_public() {
        return None;
    }
    let c = &advisory.content;
    let mut rec = serde_json::Map::new();
    rec.insert("schema_version".into(), json!(SCHEMA_VERSION));
    rec.insert("id".into(), json!(osv_id(advisory, opts)));
    rec.insert("modified".into(), json!(ts(advisory.updated_at)));
    if let Some(p) = advisory.published_at {
        rec.insert("published".into(), json!(ts(p)));
    }
    if advisory.state == State::Withdrawn {
        rec.insert("withdrawn".into(), json!(ts(advisory.updated_at)));
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
    let affected: Vec<Value> = c.vulnerabilities.iter().map(affected).collect();
    rec.insert("affected".into(), Value::Array(affected));
    let mut refs = vec![
        json!({"type": "ADVISORY", "url": format!("{}/advisories/{}", opts.base_url, advisory.id)}),
    ];
    refs.extend(
        c.references
            .iter()
            .map(|u| json!({"type": "WEB", "url": u.as_str()})),
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

fn affected(v: &Vulnerability) -> Value {
    let patched: Option<&str> = v
        .patched_versions
        .as_deref()
        .and_then(|p| p.split(',').map(str::trim).find(|s| !s.is_empty()));
    let semver = v.package.ecosystem.is_semver();
    let range_type = if semver { "SEMVER" } else { "ECOSYSTEM" };
    let mut out = serde_json::Map::new();
    out.insert(
        "package".into(),
        json!({"ecosystem": v.package.ecosystem.as_str(), "name": v.package.name.as_str()}),
    );
    let mut events: Vec<Value> = Vec::new();
    let mut versions: Vec<Value> = Vec::new();
    match &v.vulnerable_version_range {
        Some(VersionRange::Exact(x)) => match patched {
            Some(p) => events.extend([json!({"introduced": x}), json!({"fixed": p})]),
            None => versions.push(json!(x)),
        },
        Some(VersionRange::Between { lower, upper }) => {
            let introduced = match lower {
                None => "0".to_owned(),
                Some(b) if b.inclusive => b.version.clone(),
                Some(b) => next_after(&b.version, semver),
            };
            events.push(json!({"introduced": introduced}));
            match (upper, patched) {
                (Some(b), _) if !b.inclusive => events.push(json!({"fixed": b.version})),
                (Some(_), Some(p)) => events.push(json!({"fixed": p})),
                (Some(b), None) => events.push(json!({"last_affected": b.version})),
                (None, Some(p)) => events.push(json!({"fixed": p})),
                (None, None) => {}
            }
        }
        None => {
            events.push(json!({"introduced": "0"}));
            if let Some(p) = patched {
                events.push(json!({"fixed": p}));
            }
        }
    }
    if !events.is_empty() {
        out.insert(
            "ranges".into(),
            json!([{"type": range_type, "events": events}]),
        );
    }
    if !versions.is_empty() {
        out.insert("versions".into(), Value::Array(versions));
    }
    Value::Object(out)
}

/// The first version after `v` for an exclusive lower bound (`> 2.1.0`). For SemVer it is the
/// lowest pre-release of the next patch (`2.1.1-0`), as the forge-to-OSV converter writes it;
/// elsewhere there is no general successor and the bound's own version is used.
fn next_after(v: &str, semver: bool) -> String {
    let parts: Vec<&str> = v.split('.').collect();
    if let [maj, min, patch] = parts.as_slice()
        && semver
        && let Ok(patch) = patch.parse::<u64>()
    {
        return format!("{maj}.{min}.{}-0", patch + 1);
    }
    v.to_owned()
}
