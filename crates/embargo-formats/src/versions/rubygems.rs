//! RubyGems: `Gem::Version`'s order, written from its definition (no crate implements it).
//! A version is numbers and words (`1.2.b1` → 1, 2, "b", 1); a `-` starts a pre-release
//! (`1.0-1` is `1.0.pre.1`); a word makes a pre-release (`1.0.a` < `1.0`); trailing zeros
//! of the release part and of the pre-release part are dropped (`1.0` = `1`).

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg<'a> {
    /// Digits without leading zeros (zero is empty).
    Num(&'a str),
    Word(&'a str),
}

const ZERO: Seg<'static> = Seg::Num("");

/// Whether `s` matches `Gem::Version`'s pattern:
/// `[0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?`.
fn valid(s: &str) -> bool {
    let (release, pre) = match s.split_once('-') {
        Some((r, p)) => (r, Some(p)),
        None => (s, None),
    };
    let mut parts = release.split('.');
    let first_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    first_ok
        && parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()))
        && pre.is_none_or(|p| {
            p.split('.')
                .all(|q| !q.is_empty() && q.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        })
}

/// `Gem::Version#canonical_segments`: the segments, with trailing zeros dropped from the
/// release part and from the pre-release part.
fn canonical(s: &str) -> Vec<Seg<'_>> {
    // `1.0-beta` is `1.0.pre.beta`: every `-` reads as a `pre` word.
    let mut segs = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let Some(&b) = bytes.get(i) else { break };
        let run = |pred: fn(&u8) -> bool| bytes.iter().skip(i).take_while(|c| pred(c)).count();
        if b.is_ascii_digit() {
            let n = run(u8::is_ascii_digit);
            segs.push(Seg::Num(
                s.get(i..i + n).unwrap_or_default().trim_start_matches('0'),
            ));
            i += n;
        } else if b.is_ascii_alphabetic() {
            let n = run(u8::is_ascii_alphabetic);
            segs.push(Seg::Word(s.get(i..i + n).unwrap_or_default()));
            i += n;
        } else {
            if b == b'-' {
                segs.push(Seg::Word("pre"));
            }
            i += 1;
        }
    }
    let split = segs
        .iter()
        .position(|s| matches!(s, Seg::Word(_)))
        .unwrap_or(segs.len());
    let pre = segs.split_off(split);
    let mut out = trim_zeros(segs);
    out.extend(trim_zeros(pre));
    out
}

fn trim_zeros(mut v: Vec<Seg<'_>>) -> Vec<Seg<'_>> {
    while v.last() == Some(&ZERO) {
        v.pop();
    }
    v
}

/// Orders two gem versions; `None` where either is not one.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    if !valid(a) || !valid(b) {
        return None;
    }
    let (x, y) = (canonical(a), canonical(b));
    for i in 0..x.len().max(y.len()) {
        let o = match (x.get(i).unwrap_or(&ZERO), y.get(i).unwrap_or(&ZERO)) {
            (Seg::Num(m), Seg::Num(n)) => m.len().cmp(&n.len()).then_with(|| m.cmp(n)),
            (Seg::Word(_), Seg::Num(_)) => Ordering::Less,
            (Seg::Num(_), Seg::Word(_)) => Ordering::Greater,
            (Seg::Word(m), Seg::Word(n)) => m.cmp(n),
        };
        if o.is_ne() {
            return Some(o);
        }
    }
    Some(Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use super::super::{Order, assert_ascending, assert_equal};

    /// RubyGems' test/rubygems/test_gem_version.rb: `test_spaceship` and `test_semver`.
    #[test]
    fn test_gem_version_cases() {
        let cmp = |a, b| Order::RubyGems.compare(a, b);
        assert_eq!(cmp("1.0", "1.0.0"), Some(Ordering::Equal));
        assert_eq!(cmp("1.0", "1.0.a"), Some(Ordering::Greater));
        assert_eq!(cmp("1.8.2", "0.0.0"), Some(Ordering::Greater));
        assert_eq!(cmp("1.8.2", "1.8.2.a"), Some(Ordering::Greater));
        assert_eq!(cmp("1.8.2.b", "1.8.2.a"), Some(Ordering::Greater));
        assert_eq!(cmp("1.8.2.a", "1.8.2"), Some(Ordering::Less));
        assert_eq!(cmp("1.8.2.a10", "1.8.2.a9"), Some(Ordering::Greater));
        assert_eq!(cmp("0.beta.1", "0.0.beta.1"), Some(Ordering::Equal));
        assert_eq!(cmp("0.0.beta", "0.0.beta.1"), Some(Ordering::Less));
        assert_eq!(cmp("0.0.beta", "0.beta.1"), Some(Ordering::Less));
        assert_eq!(cmp("5.a", "5.0.0.rc2"), Some(Ordering::Less));
        assert_eq!(cmp("5.x", "5.0.0.rc2"), Some(Ordering::Greater));
        assert_eq!(cmp("1.0", "whatever"), None);
        assert_ascending(
            Order::RubyGems,
            &[
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0-1",
                "1",
            ],
        );
        assert_equal(
            Order::RubyGems,
            &[
                ("1.2.b1", "1.2.b.1"),
                ("1.2", "1.2.0"),
                ("1.0-rc1", "1.0.pre.rc1"),
            ],
        );
        assert_ascending(Order::RubyGems, &["1.9.3", "1.9.10", "10.0.0"]);
    }
}
