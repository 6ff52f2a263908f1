//! Debian, Ubuntu and Echo: dpkg's order (epoch, upstream version, revision; `~` before
//! anything, even the end), through `debversion`. opam orders its versions by the same
//! string comparison, applied to the whole version (no epoch, no revision).

use std::cmp::Ordering;
use std::str::FromStr;

use debversion::Version;

/// Orders two Debian versions; `None` where either is not one (Debian Policy §5.6.12:
/// `[epoch:]upstream_version[-debian_revision]`).
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(Version::from_str(a).ok()?.cmp(&Version::from_str(b).ok()?))
}

/// Orders two opam versions: dpkg's comparison of the whole strings.
pub fn opam_compare(a: &str, b: &str) -> Option<Ordering> {
    let whole = |s: &str| {
        s.bytes().all(|c| c.is_ascii_graphic()).then(|| Version {
            epoch: None,
            upstream_version: s.to_owned(),
            debian_revision: None,
        })
    };
    Some(whole(a)?.cmp(&whole(b)?))
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use super::super::{Order, assert_ascending, assert_equal};

    /// Debian Policy §5.6.12's sort example (`~~` < `~~a` < `~` < the end < `a`), dpkg's
    /// own cases (lib/dpkg/t/t-version.c: equal zeros, epochs, version and revision
    /// differences) and python-debian's comparison tests (test_debian_support.py).
    const ORDERED: &[&str] = &[
        "0.9.2-5",
        "0.9.2+cvs.1.0.dev.2004.07.28-1.5",
        "1.0~~",
        "1.0~~a",
        "1.0~",
        "1.0-0.1",
        "1.0-1",
        "1.0a",
        "1.0a7-2",
        "1.0final-5",
        "1.0final-5sarge1",
        "1.0pre7-2",
        "1.0.4-2",
        "1.1",
        "1.2",
        "1.5~dev0",
        "1.5~rc1",
        "1.5~rc2",
        "1.5",
        "1.5+b1",
        "1.11",
        "1:0.1",
        "1:500",
        "1:5000",
        "11:5000",
        "100:500",
    ];

    #[test]
    fn dpkg_order() {
        assert_ascending(Order::Dpkg, ORDERED);
        assert_equal(
            Order::Dpkg,
            &[
                ("0-0", "00-0"),
                ("0-00", "00-0"),
                ("1:2-3", "1:2-3"),
                ("1.0", "1.0-0"),
                ("0:1.0", "1.0"),
                ("1:1.0-0.1", "1:1.0-0.1"),
            ],
        );
        assert_ascending(Order::Dpkg, &["a-0", "b-0"]);
        assert_ascending(Order::Dpkg, &["0-a", "0-b"]);
        assert_eq!(Order::Dpkg.compare("1.0", "1.0 beta"), None);
        assert_eq!(Order::Dpkg.compare("1.0", "1.0_1"), None);
    }

    /// The same list against dpkg itself (`dpkg --compare-versions`), where it is installed.
    #[test]
    fn dpkg_agrees() {
        let run = |a: &str, op: &str, b: &str| {
            std::process::Command::new("dpkg")
                .args(["--compare-versions", a, op, b])
                .status()
                .ok()
                .map(|s| s.success())
        };
        if run("1", "lt", "2").is_none() {
            eprintln!("!!! SKIPPING: dpkg is not installed");
            return;
        }
        for a in ORDERED {
            for b in ORDERED {
                let ours = Order::Dpkg.compare(a, b);
                let op = match ours {
                    Some(Ordering::Less) => "lt",
                    Some(Ordering::Equal) => "eq",
                    Some(Ordering::Greater) => "gt",
                    None => unreachable!("{a} and {b} are valid"),
                };
                assert_eq!(run(a, op, b), Some(true), "dpkg disagrees: {a} {op} {b}");
            }
        }
    }

    /// opam: dpkg's string order on the whole version (opam's OpamVersionCompare), so `-`
    /// and `:` are plain characters.
    #[test]
    fn opam_order() {
        assert_ascending(
            Order::Opam,
            &["0.1~beta", "0.1", "0.1a", "0.1.1", "1.0-1", "1.0.0", "v1"],
        );
        assert_equal(Order::Opam, &[("1.01", "1.1")]);
    }
}
