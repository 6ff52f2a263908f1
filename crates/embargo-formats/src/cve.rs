//! CVE records (CVE JSON 5.1) of published advisories that have a CVE id: what the CNA
//! submits to the CVE Program, valid against the bundled 5.1.1 schema.

use embargo_domain::advisory::{Advisory, CreditType, State, Vulnerability};
use embargo_domain::affected::{End, RangeKind};
use serde_json::{Value, json};

use crate::{cvss, cwe};

/// Who assigns and publishes the record.
#[derive(Debug, Clone)]
pub struct CveOptions<'a> {
    /// The CNA's organisation id (a UUID).
    pub assigner_org_id: &'a str,
    /// The CNA's short name (2 to 32 characters).
    pub assigner_short_name: &'a str,
    /// The vendor of the affected products: the organisation's name.
    pub vendor: &'a str,
    /// The server's public address, no trailing slash.
    pub base_url: &'a str,
}

/// The CVE record: `PUBLISHED` for a published advisory, `REJECTED` for a withdrawn one;
/// `None` without a CVE id or before publication.
pub fn record(a: &Advisory, o: &CveOptions<'_>) -> Option<Value> {
    if !a.state.is_advisory() {
        return None;
    }
    let cve = a.content.cve_id.as_ref()?;
    let updated = crate::utc_seconds(a.public_modified_at());
    let published = crate::utc_seconds(a.published_at.unwrap_or(a.public_modified_at()));
    let provider = json!({
        "orgId": o.assigner_org_id,
        "shortName": o.assigner_short_name,
        "dateUpdated": updated,
    });
    let mut meta = json!({
        "cveId": cve.as_str(),
        "assignerOrgId": o.assigner_org_id,
        "assignerShortName": o.assigner_short_name,
        "datePublished": published,
        "dateUpdated": updated,
    });
    let cna = if a.state == State::Withdrawn {
        if let Some(m) = meta.as_object_mut() {
            m.insert("state".into(), json!("REJECTED"));
            m.insert(
                "dateRejected".into(),
                json!(crate::utc_seconds(
                    a.withdrawn_at.unwrap_or(a.public_modified_at())
                )),
            );
        }
        json!({
            "providerMetadata": provider,
            "rejectedReasons": [{
                "lang": "en",
                "value": match &a.withdrawn_reason {
                    Some(r) => format!(
                        "This candidate was withdrawn by its CNA: advisory {} was withdrawn. {r}",
                        a.id
                    ),
                    None => format!(
                        "This candidate was withdrawn by its CNA: advisory {} was withdrawn.",
                        a.id
                    ),
                },
            }],
        })
    } else {
        if let Some(m) = meta.as_object_mut() {
            m.insert("state".into(), json!("PUBLISHED"));
        }
        published_container(a, o, provider, &published)
    };
    Some(json!({
        "dataType": "CVE_RECORD",
        "dataVersion": "5.1",
        "cveMetadata": meta,
        "containers": {"cna": cna},
    }))
}

fn published_container(
    a: &Advisory,
    o: &CveOptions<'_>,
    provider: Value,
    published: &str,
) -> Value {
    let c = &a.content;
    let mut cna = serde_json::Map::new();
    cna.insert("providerMetadata".into(), provider);
    cna.insert("title".into(), json!(c.headline()));
    cna.insert("datePublic".into(), json!(published));
    cna.insert(
        "descriptions".into(),
        json!([{"lang": "en", "value": description(&c.description, &format!("{}/advisories/{}", o.base_url, a.id))}]),
    );
    let mut affected: Vec<Value> = c.vulnerabilities.iter().map(|v| product(v, o)).collect();
    if affected.is_empty() {
        let product = a
            .repo
            .as_ref()
            .map_or_else(|| a.org.to_string(), ToString::to_string);
        affected.push(json!({"vendor": o.vendor, "product": product, "defaultStatus": "unknown"}));
    }
    cna.insert("affected".into(), Value::Array(affected));
    if !c.cwe_ids.is_empty() {
        let descriptions: Vec<Value> = c
            .cwe_ids
            .iter()
            .map(|w| {
                let id = w.as_str();
                let text = cwe::name(id).map_or_else(|| id.to_owned(), |n| format!("{id}: {n}"));
                json!({"lang": "en", "cweId": id, "description": text, "type": "CWE"})
            })
            .collect();
        cna.insert(
            "problemTypes".into(),
            json!([{"descriptions": descriptions}]),
        );
    }
    let metrics: Vec<Value> = c
        .cvss_vectors
        .iter()
        .filter_map(|v| cvss::parse(v.as_str()).ok())
        .map(|s| {
            let key = match s.version() {
                "3.0" => "cvssV3_0",
                "3.1" => "cvssV3_1",
                _ => "cvssV4_0",
            };
            json!({"format": "CVSS", "scenarios": [{"lang": "en", "value": "GENERAL"}], key: cvss::first_json(&s)})
        })
        .collect();
    if !metrics.is_empty() {
        cna.insert("metrics".into(), Value::Array(metrics));
    }
    let mut refs = vec![json!({
        "url": format!("{}/advisories/{}", o.base_url, a.id),
        "tags": ["vendor-advisory"],
    })];
    for r in &c.references {
        let u = r.as_str();
        let tag = match crate::osv::reference_type(u) {
            "FIX" => Some("patch"),
            "REPORT" => Some("issue-tracking"),
            "ADVISORY" => Some("third-party-advisory"),
            "PACKAGE" => Some("product"),
            _ => None,
        };
        refs.push(match tag {
            Some(t) => json!({"url": u, "tags": [t]}),
            None => json!({"url": u}),
        });
    }
    cna.insert("references".into(), Value::Array(refs));
    if !c.credits.is_empty() {
        let credits: Vec<Value> = c
            .credits
            .iter()
            .map(|cr| json!({"lang": "en", "value": cr.name, "type": credit_type(cr.kind)}))
            .collect();
        cna.insert("credits".into(), Value::Array(credits));
    }
    cna.insert(
        "source".into(),
        json!({"advisory": a.id.as_str(), "discovery": "UNKNOWN"}),
    );
    Value::Object(cna)
}

/// The schema allows 4,096 characters: a longer description is cut at a line or word and
/// points to the advisory for the rest.
fn description(text: &str, page: &str) -> String {
    const MAX: usize = 4096;
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let tail = format!("\n\n[…] The full description: {page}");
    let keep = MAX - tail.chars().count();
    let cut: String = text.chars().take(keep).collect();
    let at = cut
        .rfind('\n')
        .or_else(|| cut.rfind(' '))
        .unwrap_or(cut.len());
    format!("{}{tail}", cut.get(..at).unwrap_or(&cut).trim_end())
}

fn credit_type(k: CreditType) -> &'static str {
    match k {
        CreditType::Finder => "finder",
        CreditType::Reporter => "reporter",
        CreditType::Analyst => "analyst",
        CreditType::Coordinator => "coordinator",
        CreditType::RemediationDeveloper => "remediation developer",
        CreditType::RemediationReviewer => "remediation reviewer",
        CreditType::RemediationVerifier => "remediation verifier",
        CreditType::Tool => "tool",
        CreditType::Sponsor => "sponsor",
        CreditType::Other => "other",
    }
}

/// Where an ecosystem's packages are published, for `collectionURL`.
fn collection_url(ecosystem: &str) -> Option<&'static str> {
    Some(match ecosystem {
        "crates.io" => "https://crates.io",
        "npm" => "https://www.npmjs.com",
        "PyPI" => "https://pypi.org",
        "Go" => "https://pkg.go.dev",
        "Maven" => "https://repo.maven.apache.org/maven2",
        "RubyGems" => "https://rubygems.org",
        "NuGet" => "https://www.nuget.org",
        "Packagist" => "https://packagist.org",
        "Hex" => "https://hex.pm",
        "Pub" => "https://pub.dev",
        _ => return None,
    })
}

/// One affected product with its structured versions.
fn product(v: &Vulnerability, o: &CveOptions<'_>) -> Value {
    let name = v.package.name.as_str();
    let mut p = serde_json::Map::new();
    p.insert("vendor".into(), json!(o.vendor));
    p.insert("product".into(), json!(name));
    p.insert("packageName".into(), json!(name));
    if let Some(u) = collection_url(v.package.ecosystem.as_str()) {
        p.insert("collectionURL".into(), json!(u));
    }
    let (ranges, listed) = v.effective_ranges();
    let mut versions: Vec<Value> = Vec::new();
    for r in &ranges {
        let kind = match r.kind {
            RangeKind::Semver => "semver",
            RangeKind::Git => "git",
            RangeKind::Ecosystem => "custom",
        };
        // `repo` must be a URI; an scp-like address (`git@host:path`) stays out.
        if r.kind == RangeKind::Git
            && let Some(repo) = &r.repo
            && repo.contains("://")
        {
            p.insert("repo".into(), json!(repo));
        }
        for i in r.intervals() {
            let mut e = json!({"version": i.introduced, "status": "affected", "versionType": kind});
            if let Some(obj) = e.as_object_mut() {
                match i.end {
                    Some(End::Fixed(f)) => obj.insert("lessThan".into(), json!(f)),
                    Some(End::LastAffected(l)) => obj.insert("lessThanOrEqual".into(), json!(l)),
                    None => obj.insert("lessThan".into(), json!("*")),
                };
            }
            versions.push(e);
        }
    }
    versions.extend(
        listed
            .iter()
            .map(|x| json!({"version": x, "status": "affected"})),
    );
    p.insert("defaultStatus".into(), json!("unaffected"));
    if versions.is_empty() {
        p.insert("defaultStatus".into(), json!("affected"));
    } else {
        p.insert("versions".into(), Value::Array(versions));
    }
    Value::Object(p)
}

#[cfg(test)]
mod tests;
