//! Versions that are lists of numbers, compared number by number, a list before its own
//! extensions (`1.0` < `1.0.0` < `1.0.1`): Hackage and GHC (Haskell's `Data.Version`,
//! the Package Versioning Policy) with `.` between numbers, CRAN and Bioconductor (R's
//! `package_version`) with `.` or `-`.

use std::cmp::Ordering;

/// The numbers of a version, without leading zeros; `None` if it is not such a list.
fn numbers(s: &str) -> Option<Vec<&str>> {
    s.split(['.', '-'])
        .map(|n| {
            (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .then(|| n.trim_start_matches('0'))
        })
        .collect()
}

/// Orders two lists of numbers; `None` where either is not one.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let (x, y) = (numbers(a)?, numbers(b)?);
    for (m, n) in x.iter().zip(&y) {
        let o = m.len().cmp(&n.len()).then_with(|| m.cmp(n));
        if o.is_ne() {
            return Some(o);
        }
    }
    Some(x.len().cmp(&y.len()))
}

#[cfg(test)]
mod tests {
    use super::super::{Order, assert_ascending, assert_equal};

    /// The PVP's lexicographic order of version lists (`Data.Version`'s `Ord`), and R's
    /// `package_version`, where `-` and `.` separate alike.
    #[test]
    fn lists_of_numbers() {
        assert_ascending(
            Order::Numeric,
            &[
                "0.9", "1", "1.0", "1.0.0", "1.0.1", "1.0.10", "1.1", "2", "2.0.0.1", "10",
            ],
        );
        assert_equal(
            Order::Numeric,
            &[("1.0-1", "1.0.1"), ("1.01", "1.1"), ("2.00", "2.0")],
        );
        assert_eq!(Order::Numeric.compare("1.0", "1.0a"), None);
        assert_eq!(Order::Numeric.compare("1.0", "1..0"), None);
    }
}
