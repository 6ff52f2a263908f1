//! Version ranges (the forge's `>= 1.0, < 1.2` syntax, and OSV events) never panic: a range
//! that parses prints back to itself, and deciding whether a version is affected always
//! answers, for every ecosystem's order; a version listed as affected is affected.
#![no_main]

use embargo_domain::advisory::{Package, Vulnerability};
use embargo_domain::affected::{AffectedRange, RangeEvent, RangeKind};
use embargo_domain::types::{Ecosystem, PackageName};
use embargo_domain::version_range::VersionRange;
use embargo_formats::affects;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

/// One ecosystem of each order.
const ECOSYSTEMS: &[&str] = &[
    "npm",
    "Pub",
    "PyPI",
    "Debian:12",
    "opam",
    "Red Hat",
    "Alpine:v3.20",
    "Maven",
    "RubyGems",
    "NuGet",
    "Packagist",
    "CRAN",
    "Linux",
];

#[derive(Debug, Arbitrary)]
struct Input {
    ecosystem: u8,
    range: String,
    patched: Option<String>,
    ranges: Vec<(u8, Vec<(u8, String)>)>,
    versions: Vec<String>,
    version: String,
}

fuzz_target!(|input: Input| {
    let range = VersionRange::parse(&input.range).ok();
    if let Some(r) = &range {
        assert_eq!(VersionRange::parse(&r.to_string()).as_ref(), Ok(r));
    }
    let ecosystem = ECOSYSTEMS[usize::from(input.ecosystem) % ECOSYSTEMS.len()];
    let (Ok(ecosystem), Ok(name)) = (Ecosystem::parse(ecosystem), PackageName::parse("p")) else {
        return;
    };
    let ranges = input
        .ranges
        .into_iter()
        .map(|(kind, events)| AffectedRange {
            kind: [RangeKind::Semver, RangeKind::Ecosystem, RangeKind::Git][usize::from(kind) % 3],
            repo: None,
            events: events
                .into_iter()
                .map(|(e, v)| match e % 4 {
                    0 => RangeEvent::Introduced(v),
                    1 => RangeEvent::Fixed(v),
                    2 => RangeEvent::LastAffected(v),
                    _ => RangeEvent::Limit(v),
                })
                .collect(),
        })
        .collect();
    let v = Vulnerability {
        package: Package { ecosystem, name },
        vulnerable_version_range: range,
        patched_versions: input.patched,
        ranges,
        versions: input.versions,
    };
    let _ = v.check();
    let _ = affects::version_affected(&v, &input.version);
    let _ = affects::commit_affected(&v, &input.version);
    let (_, listed) = v.effective_ranges();
    for x in listed.iter().take(4) {
        assert!(
            affects::version_affected(&v, x),
            "{x:?} is listed but not affected"
        );
    }
});
