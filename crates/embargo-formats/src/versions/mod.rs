//! Versions ordered as each ecosystem orders them, for OSV's `ECOSYSTEM` and `SEMVER` ranges.
//!
//! OSV evaluates a range by sorting its events "in the ecosystem's own order", so the order
//! is chosen by the package's ecosystem (the part before any `:release` suffix):
//!
//! | order | ecosystems | how |
//! |---|---|---|
//! | PEP 440 | PyPI | `pep440_rs` (uv's parser): normalisation, epochs, pre/post/dev, local |
//! | dpkg | Debian, Ubuntu, Echo; opam (dpkg's string order without epoch or revision) | `debversion` |
//! | rpmvercmp | Red Hat, AlmaLinux, Rocky Linux, openSUSE, SUSE, Mageia, openEuler, Photon OS, Azure Linux | `rpm-version` |
//! | apk | Alpine, Wolfi, Chainguard, MinimOS, Alpaquita, BellSoft Hardened Containers | [`alpine`] |
//! | Maven | Maven | [`maven`], `ComparableVersion` |
//! | RubyGems | RubyGems | [`rubygems`], `Gem::Version` |
//! | NuGet | NuGet | [`nuget`], `NuGetVersion` |
//! | Composer | Packagist | [`packagist`], Composer's normalisation then PHP's `version_compare` |
//! | pub_semver | Pub | [`semver::pub_compare`]: build metadata orders after the release |
//! | numbers | Hackage, GHC, CRAN, Bioconductor | [`numeric`]: lists of numbers |
//! | SemVer 2.0 | npm, crates.io, Go, Hex, SwiftURL, Julia, Bitnami, VSCode, and every `SEMVER` range | `semver` precedence, with a leading `v` and missing minor or patch accepted |
//! | general | the rest (Android, Linux, GitHub Actions, ConanCenter, FreeBSD, ...) | [`generic`]: numbers as numbers, words before the release |
//!
//! A `SEMVER` range is ordered by SemVer 2.0 whatever the ecosystem, as OSV defines it.
//!
//! **A version that cannot be ordered** (not valid in its ecosystem's syntax, empty, or longer
//! than [`MAX_LEN`]) gives `None`. OSV asks tools not to match what they cannot order, so
//! [`crate::affects`] treats it as not affected by that range (an exact entry in the
//! advisory's `versions` list still matches).

use std::cmp::Ordering;

use embargo_domain::affected::RangeKind;
use embargo_domain::types::Ecosystem;

pub mod alpine;
pub mod debian;
pub mod generic;
pub mod maven;
pub mod nuget;
pub mod numeric;
pub mod packagist;
pub mod python;
pub mod rpm;
pub mod rubygems;
pub mod semver;

#[cfg(test)]
mod samples;

/// The longest version ordered; longer ones cannot be ordered (`None`).
pub const MAX_LEN: usize = 256;

/// An ecosystem's way of ordering versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Order {
    SemVer,
    Pub,
    Pep440,
    Dpkg,
    Opam,
    Rpm,
    Apk,
    Maven,
    RubyGems,
    NuGet,
    Packagist,
    Numeric,
    Generic,
}

impl Order {
    /// The order of versions in `ecosystem` (`Debian:12` orders as `Debian`).
    pub fn of(ecosystem: &Ecosystem) -> Self {
        let name = ecosystem.as_str();
        let base = name.split_once(':').map_or(name, |(b, _)| b);
        match base {
            "npm" | "crates.io" | "Go" | "Hex" | "SwiftURL" | "Julia" | "Bitnami" | "VSCode" => {
                Self::SemVer
            }
            "Pub" => Self::Pub,
            "PyPI" => Self::Pep440,
            "Debian" | "Ubuntu" | "Echo" => Self::Dpkg,
            "opam" => Self::Opam,
            "Red Hat" | "AlmaLinux" | "Rocky Linux" | "openSUSE" | "SUSE" | "Mageia"
            | "openEuler" | "Photon OS" | "Azure Linux" => Self::Rpm,
            "Alpine"
            | "Wolfi"
            | "Chainguard"
            | "MinimOS"
            | "Alpaquita"
            | "BellSoft Hardened Containers" => Self::Apk,
            "Maven" => Self::Maven,
            "RubyGems" => Self::RubyGems,
            "NuGet" => Self::NuGet,
            "Packagist" => Self::Packagist,
            "Hackage" | "GHC" | "CRAN" | "Bioconductor" => Self::Numeric,
            _ => Self::Generic,
        }
    }

    /// Orders two versions, or `None` where either cannot be ordered this way.
    pub fn compare(self, a: &str, b: &str) -> Option<Ordering> {
        let (a, b) = (a.trim(), b.trim());
        if a.is_empty() || b.is_empty() || a.len() > MAX_LEN || b.len() > MAX_LEN {
            return None;
        }
        match self {
            Self::SemVer => semver::compare(a, b),
            Self::Pub => semver::pub_compare(a, b),
            Self::Pep440 => python::compare(a, b),
            Self::Dpkg => debian::compare(a, b),
            Self::Opam => debian::opam_compare(a, b),
            Self::Rpm => Some(rpm::compare(a, b)),
            Self::Apk => alpine::compare(a, b),
            Self::Maven => Some(maven::compare(a, b)),
            Self::RubyGems => rubygems::compare(a, b),
            Self::NuGet => nuget::compare(a, b),
            Self::Packagist => packagist::compare(a, b),
            Self::Numeric => numeric::compare(a, b),
            Self::Generic => Some(generic::compare(a, b)),
        }
    }
}

/// Orders two versions of `ecosystem` in a range of `kind`: SemVer 2.0 for `SEMVER` ranges,
/// the ecosystem's own order otherwise. `None` where either version cannot be ordered.
/// `GIT` ranges have no order (commits): always `None`.
pub fn compare(ecosystem: &Ecosystem, kind: RangeKind, a: &str, b: &str) -> Option<Ordering> {
    match kind {
        RangeKind::Semver => Order::SemVer.compare(a, b),
        RangeKind::Ecosystem => Order::of(ecosystem).compare(a, b),
        RangeKind::Git => None,
    }
}

/// Test support: asserts that `list` is strictly ascending under `order`, pair by pair and
/// across every pair, and that each version equals itself.
#[cfg(test)]
#[allow(clippy::panic)]
pub(crate) fn assert_ascending(order: Order, list: &[&str]) {
    for (i, a) in list.iter().enumerate() {
        assert_eq!(
            order.compare(a, a),
            Some(Ordering::Equal),
            "{order:?}: {a} = {a}"
        );
        for (j, b) in list.iter().enumerate() {
            let want = i.cmp(&j);
            assert_eq!(
                order.compare(a, b),
                Some(want),
                "{order:?}: {a} should be {want:?} {b}"
            );
        }
    }
}

/// Test support: asserts each pair is equal under `order`, both ways.
#[cfg(test)]
pub(crate) fn assert_equal(order: Order, pairs: &[(&str, &str)]) {
    for (a, b) in pairs {
        assert_eq!(
            order.compare(a, b),
            Some(Ordering::Equal),
            "{order:?}: {a} = {b}"
        );
        assert_eq!(
            order.compare(b, a),
            Some(Ordering::Equal),
            "{order:?}: {b} = {a}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eco(s: &str) -> Ecosystem {
        Ecosystem::parse(s).unwrap_or_else(|e| unreachable!("{s}: {e:?}"))
    }

    #[test]
    fn ecosystems_choose_their_order() {
        for (e, want) in [
            ("PyPI", Order::Pep440),
            ("Debian:12", Order::Dpkg),
            ("Ubuntu:22.04:LTS", Order::Dpkg),
            ("Red Hat", Order::Rpm),
            ("Alpine:v3.20", Order::Apk),
            ("Maven", Order::Maven),
            ("RubyGems", Order::RubyGems),
            ("NuGet", Order::NuGet),
            ("Packagist", Order::Packagist),
            ("Pub", Order::Pub),
            ("Go", Order::SemVer),
            ("CRAN", Order::Numeric),
            ("Linux", Order::Generic),
        ] {
            assert_eq!(Order::of(&eco(e)), want, "{e}");
        }
    }

    #[test]
    fn the_range_kind_decides_between_semver_and_the_ecosystem() {
        let pypi = eco("PyPI");
        // PEP 440: `1.0.post1` is after 1.0; SemVer cannot read it at all.
        assert_eq!(
            compare(&pypi, RangeKind::Ecosystem, "1.0.post1", "1.0"),
            Some(Ordering::Greater)
        );
        assert_eq!(compare(&pypi, RangeKind::Semver, "1.0.post1", "1.0"), None);
        assert_eq!(compare(&pypi, RangeKind::Git, "a", "a"), None);
    }

    #[test]
    fn what_cannot_be_ordered_is_none() {
        let long = "1.".repeat(MAX_LEN);
        for order in [
            Order::SemVer,
            Order::Pep440,
            Order::Rpm,
            Order::Maven,
            Order::Generic,
        ] {
            assert_eq!(order.compare("", "1"), None, "{order:?}");
            assert_eq!(order.compare("1", &long), None, "{order:?}");
        }
        assert_eq!(Order::Pep440.compare("1.0", "not a version"), None);
        assert_eq!(Order::Dpkg.compare("1.0", "1.0 beta"), None);
        assert_eq!(Order::NuGet.compare("1.0", "1.0.0.0.0"), None);
    }
}
