//! Whether a version of a package is affected: the evaluation behind the OSV query API.
//!
//! Events are evaluated as the OSV specification describes: sorted by version, an
//! `introduced` at or below the version makes it affected, a `fixed` at or below it (or a
//! `last_affected` below it) makes it unaffected again, and a `limit` at or below it ends the
//! range. Versions are ordered as the package's ecosystem orders them ([`crate::versions`]):
//! PEP 440 for PyPI, dpkg's order for Debian, and so on; `SEMVER` ranges by SemVer 2.0.
//!
//! What cannot be ordered is not matched, as OSV asks: a queried version its ecosystem
//! cannot read, or a range with an event it cannot read, affects nothing through that
//! range. The advisory's `versions` list still matches a version it names (exactly, or
//! equal in the ecosystem's order: PyPI's `1.0` names `1.0.0`). `GIT` ranges cannot be
//! ordered without the repository's history: a commit matches only where a range or the
//! version list names it as affected.

use std::cmp::Ordering;

use embargo_domain::advisory::Vulnerability;
use embargo_domain::affected::{AffectedRange, RangeEvent, RangeKind};
use embargo_domain::types::Ecosystem;

use crate::versions;

/// Whether `version` of this vulnerability's package is affected.
pub fn version_affected(v: &Vulnerability, version: &str) -> bool {
    let eco = &v.package.ecosystem;
    let (ranges, versions) = v.effective_ranges();
    let order = versions::Order::of(eco);
    if versions
        .iter()
        .any(|x| x == version || order.compare(x, version) == Some(Ordering::Equal))
    {
        return true;
    }
    ranges
        .iter()
        .filter(|r| r.kind != RangeKind::Git)
        .any(|r| range_affects(eco, r, version))
}

/// Whether `commit` is named as affected by a GIT range (as its `introduced` or
/// `last_affected`) or listed among the versions.
pub fn commit_affected(v: &Vulnerability, commit: &str) -> bool {
    let (ranges, versions) = v.effective_ranges();
    versions.iter().any(|x| x == commit)
        || ranges.iter().filter(|r| r.kind == RangeKind::Git).any(|r| {
            r.events.iter().any(|e| match e {
                RangeEvent::Introduced(c) | RangeEvent::LastAffected(c) => c == commit,
                RangeEvent::Fixed(_) | RangeEvent::Limit(_) => false,
            })
        })
}

/// Whether `version` falls in range `r` of a package of `eco`; `false` where the version or
/// any event's version cannot be ordered.
pub fn range_affects(eco: &Ecosystem, r: &AffectedRange, version: &str) -> bool {
    let cmp = |a: &str, b: &str| versions::compare(eco, r.kind, a, b);
    // `introduced: 0` means "from the first version", whatever the ecosystem's syntax.
    let zero = |e: &RangeEvent| matches!(e, RangeEvent::Introduced(i) if i == "0");
    let readable = |s: &str| cmp(s, s).is_some();
    if !readable(version) || !r.events.iter().all(|e| zero(e) || readable(e.version())) {
        return false;
    }
    let at_or_after = |v: &str| cmp(version, v).is_some_and(Ordering::is_ge);
    let after = |a: &RangeEvent, b: &RangeEvent| match (zero(a), zero(b)) {
        (true, _) => false,
        (false, true) => true,
        (false, false) => cmp(a.version(), b.version()) == Some(Ordering::Greater),
    };
    // A stable insertion sort: ranges have a few events, and unlike `sort_by` it cannot
    // panic should a hand-written order ever not be total.
    let mut events: Vec<&RangeEvent> = Vec::with_capacity(r.events.len());
    for e in &r.events {
        let at = events
            .iter()
            .rposition(|x| !after(x, e))
            .map_or(0, |i| i + 1);
        events.insert(at, e);
    }
    let mut affected = false;
    for e in events {
        match e {
            RangeEvent::Introduced(i) => {
                if zero(e) || at_or_after(i) {
                    affected = true;
                }
            }
            RangeEvent::Fixed(f) => {
                if at_or_after(f) {
                    affected = false;
                }
            }
            RangeEvent::LastAffected(l) => {
                if cmp(version, l) == Some(Ordering::Greater) {
                    affected = false;
                }
            }
            RangeEvent::Limit(l) => {
                if at_or_after(l) {
                    return false;
                }
            }
        }
    }
    affected
}

/// Orders two versions where no ecosystem is known (release tags): SemVer for `SEMVER`
/// ranges where both read as SemVer, else the general order ([`versions::generic`]).
pub fn compare(kind: RangeKind, a: &str, b: &str) -> Ordering {
    if kind == RangeKind::Semver
        && let Some(o) = versions::semver::compare(a, b)
    {
        return o;
    }
    versions::generic::compare(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use embargo_domain::advisory::Package;
    use embargo_domain::types::{Ecosystem, PackageName};
    use embargo_domain::version_range::VersionRange;

    fn vuln(eco: &str, range: Option<&str>, patched: Option<&str>) -> Vulnerability {
        Vulnerability {
            package: Package {
                ecosystem: Ecosystem::parse(eco).unwrap(),
                name: PackageName::parse("p").unwrap(),
            },
            vulnerable_version_range: range.map(|r| VersionRange::parse(r).unwrap()),
            patched_versions: patched.map(str::to_owned),
            ranges: Vec::new(),
            versions: Vec::new(),
        }
    }

    #[test]
    fn semver_ranges() {
        let v = vuln("crates.io", Some(">= 1.0.0, < 1.2.3"), Some("1.2.3"));
        for (ver, want) in [
            ("0.9.9", false),
            ("1.0.0", true),
            ("1.2.2", true),
            ("1.2.3-rc.1", true),
            ("1.2.3", false),
            ("2.0.0", false),
        ] {
            assert_eq!(version_affected(&v, ver), want, "{ver}");
        }
        // `> 2.1.0` starts at 2.1.1-0: 2.1.0 itself is not affected, 2.1.1-alpha is.
        let v = vuln("npm", Some("> 2.1.0, < 3.0.0"), None);
        assert!(!version_affected(&v, "2.1.0"));
        assert!(version_affected(&v, "2.1.1-alpha"));
        assert!(version_affected(&v, "2.9.0"));
        assert!(!version_affected(&v, "3.0.0"));
    }

    #[test]
    fn unfixed_and_exact() {
        let v = vuln("npm", Some("<= 1.2.1"), None);
        assert!(version_affected(&v, "0.1.0"));
        assert!(
            version_affected(&v, "9.0.0"),
            "no fix known: later versions stay affected"
        );
        let v = vuln("RubyGems", Some("= 1.1.6"), None);
        assert!(version_affected(&v, "1.1.6"));
        assert!(!version_affected(&v, "1.1.7"));
    }

    #[test]
    fn several_intervals_and_last_affected() {
        let mut v = vuln("PyPI", None, None);
        v.ranges = vec![AffectedRange {
            kind: RangeKind::Ecosystem,
            repo: None,
            events: vec![
                RangeEvent::Introduced("0".into()),
                RangeEvent::Fixed("1.0.5".into()),
                RangeEvent::Introduced("2.0".into()),
                RangeEvent::LastAffected("2.3rc1".into()),
            ],
        }];
        for (ver, want) in [
            ("1.0.4", true),
            ("1.0.5", false),
            ("1.9", false),
            ("2.0", true),
            ("2.3a1", true),
            ("2.3rc1", true),
            ("2.3", false),
        ] {
            assert_eq!(version_affected(&v, ver), want, "{ver}");
        }
    }

    #[test]
    fn commits_named_by_git_ranges() {
        let (a, b) = ("a".repeat(40), "b".repeat(40));
        let mut v = vuln("Go", None, None);
        v.ranges = vec![AffectedRange {
            kind: RangeKind::Git,
            repo: Some("https://example.org/r".into()),
            events: vec![
                RangeEvent::Introduced(a.clone()),
                RangeEvent::Fixed(b.clone()),
            ],
        }];
        assert!(commit_affected(&v, &a));
        assert!(
            !commit_affected(&v, &b),
            "the fixing commit is not affected"
        );
        assert!(!commit_affected(&v, &"c".repeat(40)));
        assert!(!version_affected(&v, &a), "commits are not versions");
    }

    fn ranged(eco: &str, kind: RangeKind, events: Vec<RangeEvent>) -> Vulnerability {
        let mut v = vuln(eco, None, None);
        v.ranges = vec![AffectedRange {
            kind,
            repo: None,
            events,
        }];
        v
    }

    fn check(v: &Vulnerability, cases: &[(&str, bool)]) {
        for (ver, want) in cases {
            assert_eq!(
                version_affected(v, ver),
                *want,
                "{} {ver}",
                v.package.ecosystem
            );
        }
    }

    #[test]
    fn each_ecosystem_orders_its_own_versions() {
        use RangeEvent::{Fixed, Introduced};
        // PEP 440: a post-release is after its release, a dev release before it; the
        // general order would put `1.0.dev1` after `1.0`.
        let v = ranged(
            "PyPI",
            RangeKind::Ecosystem,
            vec![Introduced("1.0".into()), Fixed("1.0.post1".into())],
        );
        check(
            &v,
            &[
                ("1.0.dev1", false),
                ("1.0", true),
                ("1.0.0", true),
                ("1.0.post1", false),
            ],
        );
        // Debian: an epoch outranks everything, `~` sorts before the release.
        let v = ranged(
            "Debian:12",
            RangeKind::Ecosystem,
            vec![Introduced("0".into()), Fixed("1:2.0-1".into())],
        );
        check(
            &v,
            &[("9.9-1", true), ("1:2.0~rc1-1", true), ("1:2.0-1", false)],
        );
        // Maven: `-SNAPSHOT` and `-rc` are before the release, `-sp` after it.
        let v = ranged(
            "Maven",
            RangeKind::Ecosystem,
            vec![Introduced("0".into()), Fixed("2.0".into())],
        );
        check(
            &v,
            &[
                ("2.0-SNAPSHOT", true),
                ("2.0-rc1", true),
                ("2.0.0", false),
                ("2.0-sp1", false),
            ],
        );
        // RPM: `~` pre-releases; the release after the version.
        let v = ranged(
            "Red Hat",
            RangeKind::Ecosystem,
            vec![Introduced("0".into()), Fixed("0:1.2-3.el9".into())],
        );
        check(
            &v,
            &[
                ("1.2~rc1-1.el9", true),
                ("1.2-2.el9", true),
                ("1.2-10.el9", false),
            ],
        );
        // Alpine: `_p` patches after the release, `-r` revisions.
        let v = ranged(
            "Alpine:v3.20",
            RangeKind::Ecosystem,
            vec![Introduced("0".into()), Fixed("1.2.3-r2".into())],
        );
        check(
            &v,
            &[
                ("1.2.3_rc1-r0", true),
                ("1.2.3-r1", true),
                ("1.2.3_p1-r0", false),
            ],
        );
    }

    #[test]
    fn what_cannot_be_ordered_does_not_match() {
        use RangeEvent::{Fixed, Introduced};
        let mut v = ranged(
            "PyPI",
            RangeKind::Ecosystem,
            vec![Introduced("0".into()), Fixed("2.0".into())],
        );
        assert!(version_affected(&v, "1.0"));
        assert!(
            !version_affected(&v, "not a version"),
            "a version PEP 440 cannot read is not matched"
        );
        v.versions = vec!["1.0".into(), "weird-build".into()];
        assert!(version_affected(&v, "1.0.0"), "listed, equal under PEP 440");
        assert!(version_affected(&v, "weird-build"), "listed exactly");
        // A range with an event the ecosystem cannot read matches nothing.
        let v = ranged(
            "NuGet",
            RangeKind::Ecosystem,
            vec![Introduced("1.0".into()), Fixed("garbage".into())],
        );
        assert!(!version_affected(&v, "1.5"));
    }
}
