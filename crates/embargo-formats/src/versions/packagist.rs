//! Packagist: Composer's order, written from its definition (no crate implements it).
//! Composer normalises a version (`v1.0-RC1` → `1.0.0.0-RC1`, `1.0.0pl3` →
//! `1.0.0.0-patch3`, build metadata dropped) and compares the normal forms with PHP's
//! `version_compare`: `dev` < `alpha` < `beta` < `RC` < a release < `patch`.
//! Branches (`dev-main`) have no order.

use std::cmp::Ordering;

/// Composer's `VersionParser::normalize` for released versions: up to four numbers (more
/// for dates), then an optional stability with its number, then an optional `dev`.
fn normalize(s: &str) -> Option<String> {
    let s = match s.split_once('+') {
        Some((_, "")) => return None,
        Some((v, _)) => v,
        None => s,
    }
    .to_ascii_lowercase();
    let s = s.strip_prefix('v').unwrap_or(&s);
    let core_len = s
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    let (core, rest) = s.split_at(core_len);
    let core = core.strip_suffix('.').unwrap_or(core);
    let mut numbers: Vec<&str> = core.split('.').collect();
    if numbers.iter().any(|n| n.is_empty()) {
        return None;
    }
    while numbers.len() < 4 {
        numbers.push("0");
    }
    let mut out = numbers.join(".");
    // `[._-]?(stable|beta|b|rc|alpha|a|patch|pl|p)((?:[.-]?\d+)*)?([.-]?dev)?`
    let mut rest = rest.strip_prefix(['.', '_', '-']).unwrap_or(rest);
    let mut stable = false;
    for (word, normal) in [
        ("stable", ""),
        ("beta", "beta"),
        ("b", "beta"),
        ("rc", "RC"),
        ("alpha", "alpha"),
        ("a", "alpha"),
        ("patch", "patch"),
        ("pl", "patch"),
        ("p", "patch"),
    ] {
        if let Some(after) = rest.strip_prefix(word) {
            let (number, after) = stability_number(after);
            stable = normal.is_empty();
            if !stable {
                out.push('-');
                out.push_str(normal);
                out.push_str(&number);
            }
            rest = after;
            break;
        }
    }
    match rest {
        "" => {}
        // Composer returns at `stable`, before looking at a `dev` after it.
        "dev" | ".dev" | "-dev" if !stable => out.push_str("-dev"),
        "dev" | ".dev" | "-dev" => {}
        _ => return None,
    }
    Some(out)
}

/// `((?:[.-]?\d+)*)` after a stability word: its digits (separators dropped, as Composer
/// trims them), and what follows.
fn stability_number(mut s: &str) -> (String, &str) {
    let mut number = String::new();
    loop {
        let body = s.strip_prefix(['.', '-']).unwrap_or(s);
        let digits = body.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return (number, s);
        }
        let (d, after) = body.split_at(digits);
        if !number.is_empty() && s.len() > body.len() {
            number.push('.');
        }
        number.push_str(d);
        s = after;
    }
}

/// PHP's `version_compare` forms: any other word < `dev` < `alpha` = `a` < `beta` = `b`
/// < `RC` = `rc` < a number < `pl` = `p`, matched as prefixes in this order.
fn special(form: &str) -> i8 {
    const FORMS: [(&str, i8); 10] = [
        ("dev", 0),
        ("alpha", 1),
        ("a", 1),
        ("beta", 2),
        ("b", 2),
        ("RC", 3),
        ("rc", 3),
        ("#", 4),
        ("pl", 5),
        ("p", 5),
    ];
    FORMS
        .iter()
        .find(|(name, _)| form.starts_with(name))
        .map_or(-1, |(_, order)| *order)
}

/// PHP's `php_canonicalize_version`: `-`, `_` and `+` become `.`, and a `.` goes between
/// digits and other characters.
fn canonicalize(v: &str) -> String {
    let mut out = String::with_capacity(v.len() * 2);
    let mut last: Option<char> = None;
    for c in v.chars() {
        let sep = |out: &mut String| {
            if !out.ends_with('.') {
                out.push('.');
            }
        };
        let digit = |x: char| x.is_ascii_digit();
        let other = |x: char| !x.is_ascii_digit() && x != '.';
        match last {
            None => out.push(c),
            Some(_) if matches!(c, '-' | '_' | '+') => sep(&mut out),
            Some(l) if (other(l) && digit(c)) || (digit(l) && other(c)) => {
                sep(&mut out);
                out.push(c);
            }
            Some(_) if !c.is_ascii_alphanumeric() => sep(&mut out),
            Some(_) => out.push(c),
        }
        last = Some(c);
    }
    out
}

fn leading_number(p: &str) -> u64 {
    p.bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0_u64, |n, b| {
            n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
        })
}

fn starts_digit(p: &str) -> bool {
    p.starts_with(|c: char| c.is_ascii_digit())
}

/// PHP's `version_compare` without an operator.
fn version_compare(a: &str, b: &str) -> Ordering {
    let (a, b) = (canonicalize(a), canonicalize(b));
    let (mut x, mut y) = (a.split('.'), b.split('.'));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (Some(p), None) => {
                return if starts_digit(p) {
                    Ordering::Greater
                } else {
                    version_compare(
                        &[p].into_iter().chain(x).collect::<Vec<_>>().join("."),
                        "#N#",
                    )
                };
            }
            (None, Some(q)) => {
                return if starts_digit(q) {
                    Ordering::Less
                } else {
                    version_compare(
                        "#N#",
                        &[q].into_iter().chain(y).collect::<Vec<_>>().join("."),
                    )
                };
            }
            (Some(p), Some(q)) => {
                let o = match (starts_digit(p), starts_digit(q)) {
                    (true, true) => leading_number(p).cmp(&leading_number(q)),
                    (false, false) => special(p).cmp(&special(q)),
                    (true, false) => special("#N#").cmp(&special(q)),
                    (false, true) => special(p).cmp(&special("#N#")),
                };
                if o.is_ne() {
                    return o;
                }
            }
        }
    }
}

/// Orders two Packagist versions; `None` where either is not a released version.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(version_compare(&normalize(a)?, &normalize(b)?))
}

#[cfg(test)]
mod tests {
    use super::super::{Order, assert_ascending, assert_equal};
    use super::normalize;

    /// Composer's VersionParserTest (`successfulNormalizedVersions`): each input and the
    /// normal form Composer gives it.
    #[test]
    fn composer_normalisation() {
        for (input, normal) in [
            ("1.0.0", "1.0.0.0"),
            ("1.2.3.4", "1.2.3.4"),
            ("1.0.0RC1dev", "1.0.0.0-RC1-dev"),
            ("1.0.0-rC15-dev", "1.0.0.0-RC15-dev"),
            ("1.0.0.RC.15-dev", "1.0.0.0-RC15-dev"),
            ("1.0.0-rc", "1.0.0.0-RC"),
            ("10.4.13-beta", "10.4.13.0-beta"),
            ("10.4.13beta2", "10.4.13.0-beta2"),
            ("10.4.13beta.2", "10.4.13.0-beta2"),
            ("v1.13.11-beta.0", "1.13.11.0-beta0"),
            ("10.4.13-b", "10.4.13.0-beta"),
            ("10.4.13-b5", "10.4.13.0-beta5"),
            ("v1.0.0", "1.0.0.0"),
            ("2010.01", "2010.01.0.0"),
            ("2010.01.02", "2010.01.02.0"),
            ("1.0.0-patch", "1.0.0.0-patch"),
            ("1.0.0pl3", "1.0.0.0-patch3"),
            ("1.0.0-stable", "1.0.0.0"),
            ("1.0.0+foo.bar", "1.0.0.0"),
            ("1.0-dev", "1.0.0.0-dev"),
        ] {
            assert_eq!(normalize(input).as_deref(), Some(normal), "{input}");
        }
        assert_eq!(normalize("dev-main"), None, "branches have no order");
        assert_eq!(normalize("1.0.0-foo"), None);
    }

    /// Composer's stabilities in order (dev < alpha < beta < RC < stable < patch), as PHP's
    /// `version_compare` documents them, and numbers as numbers.
    #[test]
    fn stabilities_and_numbers() {
        assert_ascending(
            Order::Packagist,
            &[
                "1.0.0-dev",
                "1.0.0-alpha1-dev",
                "1.0.0-alpha1",
                "1.0.0-alpha2",
                "1.0.0-beta1",
                "1.0.0-beta.2",
                "1.0.0-RC1",
                "1.0.0-rc10",
                "1.0.0",
                "1.0.0-patch1",
                "1.0.1",
                "1.2",
                "1.10",
                "v2.0.0",
            ],
        );
        assert_equal(
            Order::Packagist,
            &[
                ("1.0", "1.0.0.0"),
                ("v1.0.0", "1.0.0"),
                ("1.0.0-b1", "1.0.0-beta1"),
                ("1.0.0pl3", "1.0.0-p3"),
            ],
        );
    }
}
