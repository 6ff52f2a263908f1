//! CSAF 2.0 documents of a public advisory: a `csaf_security_advisory` and a `csaf_vex`,
//! valid against the CSAF 2.0 schema and written to pass its mandatory tests (section 6.1).
//!
//! Choices where the standard leaves room:
//! - CSAF 2.0 scores only CVSS v2 and v3: a v4.0 vector is given as a vulnerability note.
//! - CSAF 2.0 has no "withdrawn" status: a withdrawn advisory stays `final`, gains a
//!   revision "Withdrawn" and a document note saying so.
//! - The VEX document has its own tracking id (`<id>-VEX`): a publisher's ids are unique.
//! - Versions are integers counted from the advisory's public history (1 = publication).
//! - `GIT` ranges (commits) are not products: they appear in the OSV record only.

use embargo_domain::advisory::{Advisory, PublicRevision, State, Vulnerability};
use embargo_domain::affected::{End, RangeKind};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::csaf_provider::{WELL_KNOWN, WHITE, directory_path};
use crate::{cvss, cwe};

/// Who publishes.
#[derive(Debug, Clone)]
pub struct CsafOptions<'a> {
    /// The organisation running Embargo (`document.publisher.name`).
    pub publisher_name: &'a str,
    /// The server's public address, no trailing slash (also the publisher's namespace).
    pub base_url: &'a str,
    /// The vendor of the affected products: the advisory organisation's name.
    pub vendor: &'a str,
}

/// The tracking id of the advisory document, and of the VEX document.
pub fn tracking_id(a: &Advisory, vex: bool) -> String {
    if vex {
        format!("{}-VEX", a.id)
    } else {
        a.id.to_string()
    }
}

/// The file name CSAF 2.0 section 5.1 derives from a tracking id.
pub fn file_name_of(tracking_id: &str) -> String {
    let name: String = tracking_id
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '+' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{name}.json")
}

/// Where the document lives in the provider's directory: `2026/emb-….json`.
pub fn path_in_directory(a: &Advisory, vex: bool) -> Option<String> {
    let initial = a.published_at?;
    Some(directory_path(initial, &file_name_of(&tracking_id(a, vex))))
}

/// One product of the tree.
struct Product {
    id: String,
    name: String,
    purl: Option<String>,
}

/// The products of one package: its affected ranges and listed versions, and its fixed
/// versions, each with a product id.
struct PackageProducts {
    /// `name (ecosystem)`, which tells packages apart.
    package: String,
    name: String,
    affected: Vec<(Product, Option<String>, bool)>,
    fixed: Vec<Product>,
}

/// The `vers:` scheme of a range.
fn vers_scheme(kind: RangeKind, ecosystem: &str) -> &'static str {
    match (kind, crate::purl::purl_type(ecosystem)) {
        (RangeKind::Semver, _) => "semver",
        (_, Some("pypi")) => "pypi",
        (_, Some("maven")) => "maven",
        (_, Some("gem")) => "gem",
        (_, Some("nuget")) => "nuget",
        (_, Some("npm")) => "npm",
        _ => "generic",
    }
}

fn products(vulns: &[Vulnerability], vendor: &str) -> Vec<PackageProducts> {
    let mut out: Vec<PackageProducts> = Vec::new();
    let mut n = 0;
    let mut next_id = || {
        n += 1;
        format!("CSAFPID-{n:04}")
    };
    for v in vulns {
        let eco = v.package.ecosystem.as_str();
        let name = v.package.name.as_str();
        let label = format!("{name} ({eco})");
        if !out.iter().any(|p| p.package == label) {
            out.push(PackageProducts {
                package: label.clone(),
                name: name.to_owned(),
                affected: Vec::new(),
                fixed: Vec::new(),
            });
        }
        let Some(entry) = out.iter_mut().find(|p| p.package == label) else {
            continue;
        };
        let (ranges, listed) = v.effective_ranges();
        for r in ranges.iter().filter(|r| r.kind != RangeKind::Git) {
            let scheme = vers_scheme(r.kind, eco);
            for i in r.intervals() {
                let mut constraints: Vec<String> = Vec::new();
                if i.introduced != "0" {
                    constraints.push(format!(">={}", i.introduced));
                }
                let fix = match i.end {
                    Some(End::Fixed(f)) => {
                        constraints.push(format!("<{f}"));
                        Some(f.to_owned())
                    }
                    Some(End::LastAffected(l)) => {
                        constraints.push(format!("<={l}"));
                        None
                    }
                    None => None,
                };
                let vers = if constraints.is_empty() {
                    format!("vers:{scheme}/*")
                } else {
                    format!("vers:{scheme}/{}", constraints.join("|"))
                };
                if entry.affected.iter().any(|(p, ..)| p.name.ends_with(&vers)) {
                    continue;
                }
                let product = Product {
                    id: next_id(),
                    name: format!("{vendor} {name} {vers}"),
                    purl: crate::purl::build(eco, name, None),
                };
                entry.affected.push((product, fix.clone(), true));
                if let Some(f) = fix
                    && !entry
                        .fixed
                        .iter()
                        .any(|p| p.name.ends_with(&format!(" {f}")))
                {
                    entry.fixed.push(Product {
                        id: next_id(),
                        name: format!("{vendor} {name} {f}"),
                        purl: crate::purl::build(eco, name, Some(&f)),
                    });
                }
            }
        }
        for x in listed {
            entry.affected.push((
                Product {
                    id: next_id(),
                    name: format!("{vendor} {name} {x}"),
                    purl: crate::purl::build(eco, name, Some(&x)),
                },
                None,
                false,
            ));
        }
    }
    out.retain(|p| !p.affected.is_empty());
    out
}

fn full_product(p: &Product) -> Value {
    let mut v = json!({"product_id": p.id, "name": p.name});
    if let (Some(purl), Some(obj)) = (&p.purl, v.as_object_mut()) {
        obj.insert(
            "product_identification_helper".into(),
            json!({"purl": purl}),
        );
    }
    v
}

fn product_tree(packages: &[PackageProducts], vendor: &str) -> Value {
    let mut names: Vec<Value> = Vec::new();
    for pp in packages {
        let mut leaves: Vec<Value> = Vec::new();
        for (p, _, range) in &pp.affected {
            let category = if *range {
                "product_version_range"
            } else {
                "product_version"
            };
            let version_part = p.name.rsplit(' ').next().unwrap_or_default();
            leaves.push(
                json!({"category": category, "name": version_part, "product": full_product(p)}),
            );
        }
        for p in &pp.fixed {
            let version_part = p.name.rsplit(' ').next().unwrap_or_default();
            leaves.push(json!({"category": "product_version", "name": version_part, "product": full_product(p)}));
        }
        names.push(json!({"category": "product_name", "name": pp.name, "branches": leaves}));
    }
    json!({"branches": [{"category": "vendor", "name": vendor, "branches": names}]})
}

/// The shared parts of both documents, `None` for an advisory that is not public.
fn document(a: &Advisory, o: &CsafOptions<'_>, vex: bool) -> Option<Value> {
    if !a.state.is_advisory() {
        return None;
    }
    let published = a.published_at?;
    let c = &a.content;
    let id = tracking_id(a, vex);
    let page = format!("{}/advisories/{}", o.base_url, a.id);
    let self_url = format!(
        "{}{WELL_KNOWN}/{WHITE}/{}",
        o.base_url,
        path_in_directory(a, vex).unwrap_or_default()
    );
    // Revisions: the public history, numbered 1, 2, ...
    let mut history: Vec<(OffsetDateTime, String)> = a
        .public_history
        .iter()
        .map(|r| (r.at, r.summary.clone()))
        .collect();
    if history.is_empty() {
        history.push((published, "Initial publication".into()));
    }
    let revisions: Vec<Value> = history
        .iter()
        .enumerate()
        .map(|(i, (at, summary))| json!({"number": (i + 1).to_string(), "date": crate::utc_seconds(*at), "summary": summary}))
        .collect();
    let current = history.last().map_or(published, |(at, _)| *at);
    let mut notes = vec![json!({"category": "summary", "title": "Summary", "text": c.headline()})];
    if a.state == State::Withdrawn {
        notes.push(json!({
            "category": "general",
            "title": "Withdrawn",
            "text": format!(
                "This advisory was withdrawn on {}.{}",
                crate::utc_seconds(a.withdrawn_at.unwrap_or(current)),
                a.withdrawn_reason.as_ref().map(|r| format!(" Reason: {r}")).unwrap_or_default()
            ),
        }));
    }
    let mut references = vec![
        json!({"category": "self", "summary": "This document", "url": self_url}),
        json!({"category": "external", "summary": "The advisory", "url": page}),
    ];
    if !vex {
        references.push(json!({"category": "external", "summary": "The advisory as OSV", "url": format!("{page}/osv.json")}));
    }
    references.extend(
        c.references
            .iter()
            .map(|r| json!({"category": "external", "summary": "Reference", "url": r.as_str()})),
    );
    let scored: Vec<cvss::Cvss> = c
        .cvss_vectors
        .iter()
        .filter_map(|v| cvss::parse(v.as_str()).ok())
        .collect();
    let title = if vex {
        format!("VEX: {}", c.headline())
    } else {
        c.headline().to_owned()
    };
    let mut doc = json!({
        "category": if vex { "csaf_vex" } else { "csaf_security_advisory" },
        "csaf_version": "2.0",
        "lang": "en",
        "title": title,
        "publisher": {"category": "vendor", "name": o.publisher_name, "namespace": o.base_url},
        "notes": notes,
        "references": references,
        "tracking": {
            "id": id,
            "status": "final",
            "version": history.len().to_string(),
            "revision_history": revisions,
            "initial_release_date": crate::utc_seconds(published),
            "current_release_date": crate::utc_seconds(current),
            "generator": {"engine": {"name": "Embargo", "version": env!("CARGO_PKG_VERSION")}},
        },
    });
    if let Some(worst) = scored
        .iter()
        .max_by(|x, y| x.base_score().total_cmp(&y.base_score()))
        && let Some(d) = doc.as_object_mut()
    {
        d.insert(
            "aggregate_severity".into(),
            json!({"text": worst.severity().as_str()}),
        );
    }
    let packages = products(&c.vulnerabilities, o.vendor);
    let affected_ids: Vec<&str> = packages
        .iter()
        .flat_map(|p| p.affected.iter().map(|(pr, ..)| pr.id.as_str()))
        .collect();
    let fixed_ids: Vec<&str> = packages
        .iter()
        .flat_map(|p| p.fixed.iter().map(|pr| pr.id.as_str()))
        .collect();
    let mut status = serde_json::Map::new();
    if !affected_ids.is_empty() {
        status.insert("known_affected".into(), json!(affected_ids));
    }
    if !fixed_ids.is_empty() {
        status.insert("fixed".into(), json!(fixed_ids));
    }
    let mut vnotes =
        vec![json!({"category": "description", "title": "Description", "text": c.description})];
    for s in scored.iter().filter(|s| s.version() == "4.0") {
        vnotes.push(json!({
            "category": "other",
            "title": "CVSS v4.0",
            "text": format!("{} (score {:.1}, severity {}). CSAF 2.0 has no field for CVSS v4.0 scores.", s, s.base_score(), s.severity()),
        }));
    }
    let mut vuln = serde_json::Map::new();
    if let Some(cve) = &c.cve_id {
        vuln.insert("cve".into(), json!(cve.as_str()));
    }
    let mut ids = vec![json!({"system_name": "Embargo", "text": a.id.as_str()})];
    ids.extend(c.aliases.iter().map(|al| {
        let system = al
            .split('-')
            .next()
            .filter(|p| !p.is_empty() && *p != al)
            .unwrap_or("alias");
        json!({"system_name": system, "text": al})
    }));
    vuln.insert("ids".into(), json!(ids));
    vuln.insert("title".into(), json!(c.headline()));
    if let Some(first) = c.cwe_ids.first()
        && let Some(name) = cwe::name(first.as_str())
    {
        vuln.insert("cwe".into(), json!({"id": first.as_str(), "name": name}));
    }
    vuln.insert("notes".into(), json!(vnotes));
    if !c.credits.is_empty() {
        let acks: Vec<Value> = c
            .credits
            .iter()
            .map(|cr| {
                json!({"names": [cr.name], "summary": cr.kind.osv().to_lowercase().replace('_', " ")})
            })
            .collect();
        vuln.insert("acknowledgments".into(), json!(acks));
    }
    vuln.insert("release_date".into(), json!(crate::utc_seconds(published)));
    if !status.is_empty() {
        vuln.insert("product_status".into(), Value::Object(status));
    }
    let scores: Vec<Value> = scored
        .iter()
        .filter(|s| s.version() != "4.0" && !affected_ids.is_empty())
        .map(|s| json!({"products": affected_ids, "cvss_v3": cvss::first_json(s)}))
        .collect();
    if !scores.is_empty() {
        vuln.insert("scores".into(), json!(scores));
    }
    let mut remediations: Vec<Value> = Vec::new();
    for p in &packages {
        for (pr, fix, _) in &p.affected {
            let r = match fix {
                Some(f) => {
                    json!({"category": "vendor_fix", "details": format!("Upgrade to {f} or later."), "product_ids": [pr.id], "url": page})
                }
                None => {
                    json!({"category": "none_available", "details": "No fixed version is known yet.", "product_ids": [pr.id]})
                }
            };
            remediations.push(r);
        }
    }
    if !remediations.is_empty() {
        vuln.insert("remediations".into(), json!(remediations));
    }
    vuln.insert(
        "references".into(),
        json!([{"category": "external", "summary": "The advisory", "url": page}]),
    );
    Some(json!({
        "document": doc,
        "product_tree": product_tree(&packages, o.vendor),
        "vulnerabilities": [Value::Object(vuln)],
    }))
}

/// The `csaf_security_advisory` of a public advisory.
pub fn advisory(a: &Advisory, o: &CsafOptions<'_>) -> Option<Value> {
    document(a, o, false)
}

/// The `csaf_vex` document of a public advisory: the same products and their status, with
/// an action statement for every affected product.
pub fn vex(a: &Advisory, o: &CsafOptions<'_>) -> Option<Value> {
    document(a, o, true)
}

/// The pre-notification of an embargoed advisory: its security advisory as it is planned to
/// be published at `planned` (the embargo's end), for the advisory's audience only:
/// `distribution.tlp.label` `AMBER`, status `interim`, served from `url`.
pub fn pre_notification(
    a: &Advisory,
    o: &CsafOptions<'_>,
    planned: OffsetDateTime,
    url: &str,
) -> Option<Value> {
    let mut future = a.clone();
    future.state = State::Published;
    future.published_at = Some(planned);
    future.public_history = vec![PublicRevision {
        at: planned,
        summary: "Planned publication at the end of the embargo".into(),
    }];
    let mut doc = document(&future, o, false)?;
    let d = doc.get_mut("document")?.as_object_mut()?;
    d.insert(
        "distribution".into(),
        json!({
            "text": format!(
                "Embargoed until {}: for the advisory's invited participants only, not to be shared further.",
                crate::utc_seconds(planned)
            ),
            "tlp": {"label": "AMBER"},
        }),
    );
    if let Some(t) = d.get_mut("tracking").and_then(Value::as_object_mut) {
        t.insert("status".into(), json!("interim"));
    }
    if let Some(first) = d
        .get_mut("references")
        .and_then(Value::as_array_mut)
        .and_then(|r| r.first_mut())
    {
        *first = json!({"category": "self", "summary": "This document", "url": url});
    }
    Some(doc)
}

#[cfg(test)]
mod tests;
