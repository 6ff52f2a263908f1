//! SemVer 2.0 precedence (npm, crates.io, Go, Hex, SwiftURL, ... and every `SEMVER` range),
//! and Pub's variant of it, where build metadata orders after the release.

use std::cmp::Ordering;

/// A SemVer version, accepting a leading `v` (Go) and missing minor or patch
/// (`1.2` → `1.2.0`), as OSV's own SemVer parsing does.
pub fn parse(s: &str) -> Option<::semver::Version> {
    let s = s.strip_prefix('v').unwrap_or(s);
    if let Ok(v) = ::semver::Version::parse(s) {
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
    ::semver::Version::parse(&padded).ok()
}

/// SemVer 2.0 precedence: build metadata is ignored (`v1.2.3+incompatible` = `1.2.3`).
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(parse(a)?.cmp_precedence(&parse(b)?))
}

/// A dotted part of a Pub pre-release or build: numbers order before words.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Ident<'a> {
    Num(u64),
    Word(&'a str),
}

struct PubVersion<'a> {
    core: [u64; 3],
    pre: Vec<Ident<'a>>,
    build: Vec<Ident<'a>>,
}

fn idents(s: &str) -> Option<Vec<Ident<'_>>> {
    s.split('.')
        .map(|p| {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                None
            } else if p.bytes().all(|b| b.is_ascii_digit()) {
                p.parse().ok().map(Ident::Num)
            } else {
                Some(Ident::Word(p))
            }
        })
        .collect()
}

fn pub_parse(s: &str) -> Option<PubVersion<'_>> {
    let (rest, build) = match s.split_once('+') {
        Some((r, b)) => (r, idents(b)?),
        None => (s, Vec::new()),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, idents(p)?),
        None => (rest, Vec::new()),
    };
    let mut nums = core.split('.').map(|n| {
        (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .then(|| n.parse::<u64>().ok())
            .flatten()
    });
    let core = [nums.next()??, nums.next()??, nums.next()??];
    if nums.next().is_some() {
        return None;
    }
    Some(PubVersion { core, pre, build })
}

/// Missing parts order first; then numbers before words, each in its own order.
fn lists(a: &[Ident<'_>], b: &[Ident<'_>]) -> Ordering {
    a.cmp(b)
}

/// Pub's order (`pub_semver`'s `Version.compareTo`): a pre-release before its release, and
/// build metadata after it (`1.0.0` < `1.0.0+1` < `1.0.0+2` < `1.0.1`).
pub fn pub_compare(a: &str, b: &str) -> Option<Ordering> {
    let (x, y) = (pub_parse(a)?, pub_parse(b)?);
    let pre = match (x.pre.is_empty(), y.pre.is_empty()) {
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => lists(&x.pre, &y.pre),
    };
    let build = match (x.build.is_empty(), y.build.is_empty()) {
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => lists(&x.build, &y.build),
    };
    Some(x.core.cmp(&y.core).then(pre).then(build))
}

#[cfg(test)]
mod tests {
    use super::super::{Order, assert_ascending, assert_equal};

    /// The precedence example of semver.org §11, and its rule that build metadata does not
    /// count.
    #[test]
    fn semver_org_precedence() {
        assert_ascending(
            Order::SemVer,
            &[
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
                "2.0.0",
                "2.1.0",
                "2.1.1",
            ],
        );
        assert_equal(
            Order::SemVer,
            &[
                ("1.0.0+20130313144700", "1.0.0"),
                ("1.0.0-beta+exp.sha.5114f85", "1.0.0-beta"),
            ],
        );
    }

    /// Go's module versions (golang.org/x/mod/semver's tests): a `v` prefix, shorthand
    /// `v1.2` = `v1.2.0`, pseudo-versions as pre-releases, `+incompatible` ignored.
    #[test]
    fn go_versions() {
        assert_ascending(
            Order::SemVer,
            &[
                "v0.0.0-20191109021931-daa7c04131f5",
                "v0.0.0",
                "v0.1.0",
                "v1.0.0-alpha",
                "v1.0.0",
                "v1.2.0",
                "v1.2.1-0.20210101000000-abcdefabcdef",
                "v1.2.1",
                "v2.0.0+incompatible",
                "v2.1.0",
            ],
        );
        assert_equal(
            Order::SemVer,
            &[
                ("v1.2", "v1.2.0"),
                ("v1", "1.0.0"),
                ("v2.0.0+incompatible", "2.0.0"),
            ],
        );
        assert_eq!(Order::SemVer.compare("1.2.3.4", "1.2.3"), None);
        assert_eq!(
            Order::SemVer.compare("1.0.0-01", "1.0.0"),
            None,
            "leading zero"
        );
    }

    /// pub_semver's own comparison test (test/version_test.dart, "comparison"): builds
    /// order after the release they build on.
    #[test]
    fn pub_orders_builds_after_the_release() {
        assert_ascending(
            Order::Pub,
            &[
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0-rc.1+build.1",
                "1.0.0",
                "1.0.0+0.3.7",
                "1.3.7+build",
                "1.3.7+build.2.b8f12d7",
                "1.3.7+build.11.e0f985a",
                "2.0.0",
                "2.1.0",
                "2.2.0",
                "2.11.0",
                "2.11.1",
            ],
        );
        assert_equal(Order::Pub, &[("01.2.3", "1.2.3")]);
        assert_eq!(
            Order::Pub.compare("1.2", "1.2.0"),
            None,
            "Pub needs three numbers"
        );
    }
}
