//! Whether a version of a package is affected: the evaluation behind the OSV query API.
//!
//! Events are evaluated as the OSV specification describes: sorted by version, an
//! `introduced` at or below the version makes it affected, a `fixed` at or below it (or a
//! `last_affected` below it) makes it unaffected again, and a `limit` at or below it ends the
//! range. `SEMVER` ranges order versions by Semantic Versioning; `ECOSYSTEM` ranges use a
//! general order (numbers compared as numbers, pre-release words before the release) that
//! agrees with most ecosystems' common versions but not with every rule of PEP 440, Maven or
//! Debian. `GIT` ranges cannot be ordered without the repository's history: a commit matches
//! only where a range or the version list names it as affected.

use std::cmp::Ordering;

use embargo_domain::advisory::Vulnerability;
use embargo_domain::affected::{AffectedRange, RangeEvent, RangeKind};

/// Whether `version` of this vulnerability's package is affected.
pub fn version_affected(v: &Vulnerability, version: &str) -> bool {
    let (ranges, versions) = v.effective_ranges();
    if versions.iter().any(|x| x == version) {
        return true;
    }
    ranges
        .iter()
        .filter(|r| r.kind != RangeKind::Git)
        .any(|r| range_affects(r, version))
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

fn range_affects(r: &AffectedRange, version: &str) -> bool {
    let cmp = |a: &str, b: &str| compare(r.kind, a, b);
    let mut events: Vec<&RangeEvent> = r.events.iter().collect();
    events.sort_by(|a, b| {
        let (x, y) = (a.version(), b.version());
        match (x == "0", y == "0") {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => cmp(x, y),
        }
    });
    let mut affected = false;
    for e in events {
        match e {
            RangeEvent::Introduced(i) => {
                if i == "0" || cmp(version, i) != Ordering::Less {
                    affected = true;
                }
            }
            RangeEvent::Fixed(f) => {
                if cmp(version, f) != Ordering::Less {
                    affected = false;
                }
            }
            RangeEvent::LastAffected(l) => {
                if cmp(version, l) == Ordering::Greater {
                    affected = false;
                }
            }
            RangeEvent::Limit(l) => {
                if cmp(version, l) != Ordering::Less {
                    return false;
                }
            }
        }
    }
    affected
}

/// Orders two versions of a range of `kind`.
pub fn compare(kind: RangeKind, a: &str, b: &str) -> Ordering {
    if kind == RangeKind::Semver
        && let (Some(x), Some(y)) = (semver(a), semver(b))
    {
        return x.cmp_precedence(&y);
    }
    generic(a, b)
}

/// A SemVer version, accepting a leading `v` and missing minor or patch (`1.2` → `1.2.0`).
fn semver(s: &str) -> Option<semver::Version> {
    let s = s.strip_prefix('v').unwrap_or(s);
    if let Ok(v) = semver::Version::parse(s) {
        return Some(v);
    }
    let (core, rest) = match s.find(['-', '+']) {
        Some(i) => s.split_at(i),
        None => (s, ""),
    };
    let padded = match core.split('.').count() {
        1 => format!("{core}.0.0{rest}"),
        2 => format!("{core}.0{rest}"),
        _ => return None,
    };
    semver::Version::parse(&padded).ok()
}

/// A part of a version: a number, or a word.
#[derive(Debug, PartialEq, Eq)]
enum Part<'a> {
    Num(u128),
    Word(&'a str),
}

fn parts(s: &str) -> Vec<Part<'_>> {
    let s = s.strip_prefix('v').unwrap_or(s);
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = s.as_bytes();
    while start < bytes.len() {
        let digit = bytes.get(start).is_some_and(u8::is_ascii_digit);
        let mut end = start;
        while end < bytes.len()
            && bytes
                .get(end)
                .is_some_and(|b| b.is_ascii_digit() == digit && b.is_ascii_alphanumeric())
        {
            end += 1;
        }
        if end == start {
            // A separator (`.`, `-`, `+`, `~`, `_`): skipped.
            start += 1;
            continue;
        }
        let piece = s.get(start..end).unwrap_or_default();
        out.push(if digit {
            Part::Num(piece.parse().unwrap_or(u128::MAX))
        } else {
            Part::Word(piece)
        });
        start = end;
    }
    out
}

/// Words that mark a release after the one they follow (`1.2.post1`, `1.2p1`).
fn post(w: &str) -> bool {
    ["post", "p", "pl", "patch", "rev", "r"]
        .iter()
        .any(|p| w.eq_ignore_ascii_case(p))
}

/// Numbers compare as numbers; a word where the other version has ended or has a number
/// marks a pre-release (`1.0rc1` < `1.0` < `1.0.1`), except post-release words (`1.0.post1` > `1.0`); words compare case-insensitively.
fn generic(a: &str, b: &str) -> Ordering {
    let (x, y) = (parts(a), parts(b));
    let mut i = 0;
    loop {
        match (x.get(i), y.get(i)) {
            (None, None) => return Ordering::Equal,
            (Some(Part::Word(w)), None) => {
                return if post(w) {
                    Ordering::Greater
                } else {
                    Ordering::Less
                };
            }
            (None, Some(Part::Word(w))) => {
                return if post(w) {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
            }
            (Some(Part::Num(_)), None) => return Ordering::Greater,
            (None, Some(Part::Num(_))) => return Ordering::Less,
            (Some(Part::Num(m)), Some(Part::Num(n))) if m != n => return m.cmp(n),
            (Some(Part::Word(_)), Some(Part::Num(_))) => return Ordering::Less,
            (Some(Part::Num(_)), Some(Part::Word(_))) => return Ordering::Greater,
            (Some(Part::Word(m)), Some(Part::Word(n))) => {
                let o = m.to_ascii_lowercase().cmp(&n.to_ascii_lowercase());
                if o != Ordering::Equal {
                    return o;
                }
            }
            _ => {}
        }
        i += 1;
    }
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

    #[test]
    fn generic_order() {
        let mut list = [
            "1.10",
            "1.2",
            "1.2rc1",
            "1.2.1",
            "1.2a1",
            "0.9",
            "1.2.post1",
        ];
        list.sort_by(|a, b| generic(a, b));
        assert_eq!(
            list,
            [
                "0.9",
                "1.2a1",
                "1.2rc1",
                "1.2",
                "1.2.post1",
                "1.2.1",
                "1.10"
            ]
        );
    }
}
