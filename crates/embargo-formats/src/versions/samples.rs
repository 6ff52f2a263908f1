//! The OSV query's matching against real advisories: every OSV record in the shared test
//! data (`samples/`: RustSec, Go, GHSA converted to OSV, the OSV linter's cases) is read,
//! and for each affected package whose ecosystem Embargo knows, under that ecosystem's
//! order:
//! - every version its `versions` list names is affected by its ranges;
//! - every `introduced` and `last_affected` version is affected by its range, every `fixed`
//!   and `limit` version is not;
//! - a version just below an `introduced` that starts the range or follows a fix is not.
#![allow(clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test: a broken sample should stop the test loudly

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use embargo_domain::advisory::{Package, Vulnerability};
use embargo_domain::affected::{AffectedRange, RangeEvent, RangeKind};
use embargo_domain::types::{Ecosystem, PackageName};
use serde_json::Value;

use super::{Order, compare};
use crate::affects::{range_affects, version_affected};

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

fn event(e: &Value) -> RangeEvent {
    let (k, v) = e
        .as_object()
        .and_then(|o| o.iter().next())
        .expect("an event has one key");
    let v = v.as_str().expect("event versions are strings").to_owned();
    match k.as_str() {
        "introduced" => RangeEvent::Introduced(v),
        "fixed" => RangeEvent::Fixed(v),
        "last_affected" => RangeEvent::LastAffected(v),
        "limit" => RangeEvent::Limit(v),
        other => panic!("unknown event {other}"),
    }
}

/// Versions just below `v` in `order`: the last non-zero number lowered by one, and for
/// orders with one, the earliest pre-release of `v` itself.
fn just_below(order: Order, v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = v.as_bytes();
    let mut end = bytes.len();
    while end > 0 {
        if !bytes[end - 1].is_ascii_digit() {
            end -= 1;
            continue;
        }
        let start = bytes[..end]
            .iter()
            .rposition(|b| !b.is_ascii_digit())
            .map_or(0, |i| i + 1);
        let n: u128 = v[start..end].parse().unwrap_or(0);
        if n > 0 {
            out.push(format!("{}{}{}", &v[..start], n - 1, &v[end..]));
            break;
        }
        end = start;
    }
    let plain = v.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    match order {
        Order::SemVer if plain => out.push(format!("{v}-0")),
        Order::Pep440 if plain => out.push(format!("{v}.dev0")),
        Order::Maven if plain => out.push(format!("{v}-alpha")),
        _ => {}
    }
    out
}

#[derive(Default)]
struct Tally {
    listed: usize,
    bounds: usize,
    below: usize,
}

fn check_package(file: &str, eco: &Ecosystem, affected: &Value, t: &mut Tally) {
    let ranges: Vec<AffectedRange> = affected["ranges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let kind = match r["type"].as_str()? {
                "SEMVER" => RangeKind::Semver,
                "ECOSYSTEM" => RangeKind::Ecosystem,
                _ => return None,
            };
            let events = r["events"].as_array()?.iter().map(event).collect();
            Some(AffectedRange {
                kind,
                repo: None,
                events,
            })
        })
        .collect();
    if ranges.is_empty() {
        return;
    }
    let vuln = Vulnerability {
        package: Package {
            ecosystem: eco.clone(),
            name: PackageName::parse("sample").expect("a name"),
        },
        vulnerable_version_range: None,
        patched_versions: None,
        ranges: ranges.clone(),
        versions: Vec::new(),
    };
    for v in affected["versions"].as_array().into_iter().flatten() {
        let v = v.as_str().expect("versions are strings");
        assert!(
            version_affected(&vuln, v),
            "{file}: listed version {v} is not affected by the ranges ({eco})"
        );
        t.listed += 1;
    }
    for r in &ranges {
        let cmp = |a: &str, b: &str| compare(eco, r.kind, a, b);
        let same = |a: &str, b: &str| cmp(a, b) == Some(Ordering::Equal);
        let ends: Vec<&str> = r
            .events
            .iter()
            .filter(|e| matches!(e, RangeEvent::Fixed(_) | RangeEvent::Limit(_)))
            .map(RangeEvent::version)
            .collect();
        let starts: Vec<&str> = r
            .events
            .iter()
            .filter(|e| matches!(e, RangeEvent::Introduced(_)))
            .map(RangeEvent::version)
            .collect();
        for e in &r.events {
            let v = e.version();
            let want = match e {
                RangeEvent::Introduced(_) if v == "0" => continue,
                RangeEvent::Introduced(_) if ends.iter().any(|x| same(x, v)) => continue,
                RangeEvent::Fixed(_) | RangeEvent::Limit(_)
                    if starts.iter().any(|x| same(x, v)) =>
                {
                    continue;
                }
                RangeEvent::Introduced(_) | RangeEvent::LastAffected(_) => true,
                RangeEvent::Fixed(_) | RangeEvent::Limit(_) => false,
            };
            assert_eq!(
                range_affects(eco, r, v),
                want,
                "{file}: {e:?} in {:?} ({eco})",
                r.events
            );
            t.bounds += 1;
        }
        // Below an introduced that nothing open precedes, nothing is affected: the
        // event just before it (if any) must be a fix or a limit, at or below the probe.
        for i in starts.iter().filter(|i| **i != "0") {
            let before = r
                .events
                .iter()
                .filter(|e| e.version() != "0" && cmp(e.version(), i) == Some(Ordering::Less))
                .max_by(|a, b| cmp(a.version(), b.version()).unwrap_or(Ordering::Equal));
            let open_before = r
                .events
                .iter()
                .any(|e| matches!(e, RangeEvent::Introduced(z) if z == "0"));
            for probe in just_below(Order::of(eco), i) {
                let clear = match before {
                    None => !open_before,
                    Some(RangeEvent::Fixed(f) | RangeEvent::Limit(f)) => {
                        cmp(&probe, f).is_some_and(Ordering::is_ge)
                    }
                    Some(_) => false,
                };
                if !clear {
                    continue;
                }
                assert!(
                    cmp(&probe, i) == Some(Ordering::Less),
                    "{file}: {probe} should order below {i} ({eco})"
                );
                assert!(
                    !range_affects(eco, r, &probe),
                    "{file}: {probe}, just below introduced {i}, is affected ({eco})"
                );
                t.below += 1;
            }
        }
    }
}

#[test]
fn real_osv_records_match_as_their_events_say() {
    let Some(data) = crate::schemas::test_data() else {
        return;
    };
    let mut files = Vec::new();
    json_files(&data.join("samples"), &mut files);
    files.sort();
    let mut t = Tally::default();
    let mut ecosystems = std::collections::BTreeSet::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("readable sample");
        let Ok(doc) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        // OSV records only (CVE records have `affected` too, without `package`).
        if doc.get("schema_version").is_none() && doc.get("modified").is_none() {
            continue;
        }
        let name = f.strip_prefix(&data).unwrap_or(f).display().to_string();
        for a in doc["affected"].as_array().into_iter().flatten() {
            let Some(eco) = a["package"]["ecosystem"].as_str() else {
                continue;
            };
            let eco = Ecosystem::parse(eco).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            ecosystems.insert(Order::of(&eco));
            check_package(&name, &eco, a, &mut t);
        }
    }
    eprintln!(
        "{} files: {} listed versions, {} range bounds, {} versions below introduced, orders {:?}",
        files.len(),
        t.listed,
        t.bounds,
        t.below,
        ecosystems
    );
    // The samples hold RustSec, Go, GHSA (npm, Maven, RubyGems, PyPI) and Alpine records:
    // a test that checked nothing would pass silently.
    assert!(
        t.listed >= 60,
        "too few listed versions checked: {}",
        t.listed
    );
    assert!(t.bounds >= 80, "too few range bounds checked: {}", t.bounds);
    assert!(
        t.below >= 20,
        "too few versions below introduced: {}",
        t.below
    );
    for o in [
        Order::SemVer,
        Order::Pep440,
        Order::Maven,
        Order::RubyGems,
        Order::Apk,
    ] {
        assert!(ecosystems.contains(&o), "no sample ordered by {o:?}");
    }
}
