//! PyPI: PEP 440, through `pep440_rs` (the parser uv uses), which normalises as PEP 440
//! asks (`1.0-ALPHA-1` = `1.0a1`, `v1.0` = `1.0`) and orders epochs, pre-, post- and
//! development releases and local versions.

use std::cmp::Ordering;
use std::str::FromStr;

use pep440_rs::Version;

/// Orders two PEP 440 versions; `None` where either is not one.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(Version::from_str(a).ok()?.cmp(&Version::from_str(b).ok()?))
}

#[cfg(test)]
mod tests {
    use super::super::{Order, assert_ascending, assert_equal};

    /// PEP 440, "Summary of permitted suffixes and relative ordering": its example list,
    /// then an epoch after everything without one.
    #[test]
    fn pep_440_example_order() {
        assert_ascending(
            Order::Pep440,
            &[
                "1.dev0",
                "1.0.dev456",
                "1.0a1",
                "1.0a2.dev456",
                "1.0a12.dev456",
                "1.0a12",
                "1.0b1.dev456",
                "1.0b2",
                "1.0b2.post345.dev456",
                "1.0b2.post345",
                "1.0rc1.dev456",
                "1.0rc1",
                "1.0",
                "1.0+abc.5",
                "1.0+abc.7",
                "1.0+5",
                "1.0.post456.dev34",
                "1.0.post456",
                "1.0.15",
                "1.1.dev1",
                "2013.10",
                "1!1.0",
            ],
        );
    }

    /// PEP 440, "Normalization": every spelling it lists equals its normal form.
    #[test]
    fn pep_440_normalisation() {
        assert_equal(
            Order::Pep440,
            &[
                ("1.1RC1", "1.1rc1"),
                ("00", "0"),
                ("09000", "9000"),
                ("1.1.a1", "1.1a1"),
                ("1.1-a1", "1.1a1"),
                ("1.0a.1", "1.0a1"),
                ("1.1alpha1", "1.1a1"),
                ("1.1beta2", "1.1b2"),
                ("1.1c3", "1.1rc3"),
                ("1.1pre3", "1.1rc3"),
                ("1.1preview3", "1.1rc3"),
                ("1.2a", "1.2a0"),
                ("1.2-post2", "1.2.post2"),
                ("1.2post2", "1.2.post2"),
                ("1.2.post.2", "1.2.post2"),
                ("1.0-r4", "1.0.post4"),
                ("1.0-rev4", "1.0.post4"),
                ("1.2.post", "1.2.post0"),
                ("1.0-1", "1.0.post1"),
                ("1.2-dev2", "1.2.dev2"),
                ("1.2dev2", "1.2.dev2"),
                ("1.2.dev", "1.2.dev0"),
                ("1.0+ubuntu-1", "1.0+ubuntu.1"),
                ("v1.0", "1.0"),
                ("1.0", "1.0.0"),
            ],
        );
        assert_eq!(Order::Pep440.compare("1.0", "1.0-beta-gamma"), None);
        assert_eq!(Order::Pep440.compare("1.0", "french toast"), None);
    }
}
