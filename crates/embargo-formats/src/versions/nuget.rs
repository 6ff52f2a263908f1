//! NuGet: `NuGetVersion`'s order, written from NuGet.Versioning's `VersionComparer`
//! (no crate implements it): up to four numbers (`1.0` = `1.0.0` = `1.0.0.0`), then
//! SemVer 2.0 pre-release labels compared without regard to case, numbers before words;
//! build metadata is ignored.

use std::cmp::Ordering;

struct NuGetVersion<'a> {
    numbers: [u32; 4],
    labels: Vec<&'a str>,
}

fn label_ok(l: &str) -> bool {
    !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn parse(s: &str) -> Option<NuGetVersion<'_>> {
    let (rest, meta) = match s.split_once('+') {
        Some((r, m)) => (r, Some(m)),
        None => (s, None),
    };
    if meta.is_some_and(|m| !m.split('.').all(label_ok)) {
        return None;
    }
    let (core, labels) = match rest.split_once('-') {
        Some((c, l)) => (c, l.split('.').collect::<Vec<_>>()),
        None => (rest, Vec::new()),
    };
    if !labels.iter().all(|l| label_ok(l)) {
        return None;
    }
    let mut numbers = [0_u32; 4];
    for (i, part) in core.split('.').enumerate() {
        let slot = numbers.get_mut(i)?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // .NET's `int.TryParse`: at most `int.MaxValue`.
        *slot = part.parse::<i32>().ok()?.unsigned_abs();
    }
    Some(NuGetVersion { numbers, labels })
}

/// One label: both numbers (`int.TryParse`) compare as numbers, a number before a word,
/// words by `StringComparer.OrdinalIgnoreCase`.
fn label_cmp(a: &str, b: &str) -> Ordering {
    let num = |s: &str| {
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse::<i32>().ok())
            .flatten()
    };
    match (num(a), num(b)) {
        (Some(m), Some(n)) => m.cmp(&n),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a
            .bytes()
            .map(|c| c.to_ascii_uppercase())
            .cmp(b.bytes().map(|c| c.to_ascii_uppercase())),
    }
}

/// Orders two NuGet versions; `None` where either is not one.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let (x, y) = (parse(a)?, parse(b)?);
    let release = match (x.labels.is_empty(), y.labels.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => x
            .labels
            .iter()
            .zip(&y.labels)
            .map(|(m, n)| label_cmp(m, n))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.labels.len().cmp(&y.labels.len())),
    };
    Some(x.numbers.cmp(&y.numbers).then(release))
}

#[cfg(test)]
mod tests {
    use super::super::{Order, assert_ascending, assert_equal};

    /// NuGet.Versioning's tests (VersionComparerTests, NuGetVersionTest): equal versions
    /// under the default comparison, and the SemVer 2.0 precedence list.
    #[test]
    fn nuget_versioning_cases() {
        assert_equal(
            Order::NuGet,
            &[
                ("1.0.0", "1.0.0"),
                ("1.0.0-BETA", "1.0.0-beta"),
                ("1.0.0-BETA+AA", "1.0.0-beta+aa"),
                ("1.0.0-BETA.X.y.5.77.0+AA", "1.0.0-beta.x.y.5.77.0+aa"),
                ("1.0.0", "1.0.0+beta"),
                ("1.0", "1.0.0.0"),
                ("1.0.0", "1.0.0.0"),
                ("1.0.01", "1.0.1"),
            ],
        );
        assert_ascending(
            Order::NuGet,
            &[
                "0.0.0",
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
                "1.0.0.1",
                "1.0.1-Alpha",
                "1.0.1",
                "1.1.0",
                "2.0.0.0",
            ],
        );
        assert_eq!(Order::NuGet.compare("1.0", "1.0.0.0.0"), None);
        assert_eq!(Order::NuGet.compare("1.0", "1.0.0-"), None);
        assert_eq!(Order::NuGet.compare("1.0", "v1.0"), None);
    }
}
