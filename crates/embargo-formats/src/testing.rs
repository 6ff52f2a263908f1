//! Advisories for the tests of this crate, built the way the store builds them.

use embargo_domain::advisory::{Advisory, Change, Content, Filing, Package, Vulnerability};
use embargo_domain::affected::{AffectedRange, RangeEvent, RangeKind};
use embargo_domain::ids::AdvisoryId;
use embargo_domain::types::{CveId, CvssVector, CweId, Ecosystem, PackageName, ReferenceUrl, Slug};
use embargo_domain::version_range::VersionRange;
use time::macros::datetime;

/// An advisory reported, accepted and published, with `content`.
pub fn published(content: Content) -> Advisory {
    let filing = Filing {
        id: AdvisoryId::from_random([3; 12]),
        org: Slug::parse("coco").unwrap(),
        repo: Some(Slug::parse("guest").unwrap()),
        reporter_id: 1,
        response_due_at: datetime!(2026-02-15 0:00 UTC),
    };
    let mut a = Advisory::reported(filing, content, datetime!(2026-02-01 9:00 UTC));
    a.apply(&Change::Accepted, datetime!(2026-02-02 9:00 UTC));
    a.apply(&Change::Published, datetime!(2026-03-01 12:00 UTC));
    a
}

pub fn vuln(eco: &str, name: &str, range: Option<&str>, patched: Option<&str>) -> Vulnerability {
    Vulnerability {
        package: Package {
            ecosystem: Ecosystem::parse(eco).unwrap(),
            name: PackageName::parse(name).unwrap(),
        },
        vulnerable_version_range: range.map(|r| VersionRange::parse(r).unwrap()),
        patched_versions: patched.map(str::to_owned),
        ranges: Vec::new(),
        versions: Vec::new(),
    }
}

/// An advisory with every kind of fact: two packages (a forge range with a patch, a GIT
/// range and an open SemVer range, a listed version), CVSS v3.1 and v4.0 vectors with
/// threat and environmental metrics, CWE ids, credits, references and aliases.
pub fn full() -> Advisory {
    use embargo_domain::advisory::{Credit, CreditType};
    let mut git = vuln("crates.io", "guest-components", None, None);
    git.ranges = vec![
        AffectedRange {
            kind: RangeKind::Git,
            repo: Some("https://github.com/confidential-containers/guest-components".into()),
            events: vec![
                RangeEvent::Introduced("0".into()),
                RangeEvent::Fixed("0123456789abcdef0123456789abcdef01234567".into()),
            ],
        },
        AffectedRange {
            kind: RangeKind::Semver,
            repo: None,
            events: vec![
                RangeEvent::Introduced("0.8.0".into()),
                RangeEvent::Fixed("0.8.3".into()),
                RangeEvent::Introduced("0.9.0".into()),
            ],
        },
    ];
    git.versions = vec!["0.7.9".into()];
    published(Content {
        title: "Attestation agent accepts forged evidence".into(),
        summary: Some("Forged evidence accepted by the attestation agent".into()),
        description: "The agent does not check the signature of the evidence.\n\nDetails follow.".into(),
        cve_id: Some(CveId::parse("CVE-2026-12345").unwrap()),
        cvss_vectors: vec![
            CvssVector::parse("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N/E:P/RL:O/RC:C/CR:H").unwrap(),
            CvssVector::parse("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N/E:P").unwrap(),
        ],
        cwe_ids: vec![CweId::parse("CWE-347").unwrap(), CweId::parse("CWE-99999").unwrap()],
        references: vec![
            ReferenceUrl::parse("https://github.com/confidential-containers/guest-components/commit/0123456789abcdef0123456789abcdef01234567").unwrap(),
            ReferenceUrl::parse("https://example.org/blog/forged-evidence").unwrap(),
        ],
        credits: vec![
            Credit { name: "Alice Finder".into(), kind: CreditType::Finder },
            Credit { name: "Bob Fixer".into(), kind: CreditType::RemediationDeveloper },
        ],
        vulnerabilities: vec![
            vuln("npm", "@coco/attester", Some(">= 1.0.0, < 1.2.3"), Some("1.2.3")),
            git,
        ],
        aliases: vec!["GHSA-abcd-efgh-ijkl".into()],
    })
}
