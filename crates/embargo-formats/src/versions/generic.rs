//! A general order for ecosystems without one of their own (Linux, Android, GitHub Actions,
//! ConanCenter, FreeBSD, ...): numbers compare as numbers, a word where the other version
//! has ended or has a number marks a pre-release (`1.0rc1` < `1.0` < `1.0.1`), except
//! post-release words (`1.0.post1` > `1.0`); words compare case-insensitively. It agrees
//! with most ecosystems' common versions, and never fails.

use std::cmp::Ordering;

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

/// Orders two versions by the general order.
pub fn compare(a: &str, b: &str) -> Ordering {
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
                // Post-release words after the others, so the order stays total.
                let o = post(m)
                    .cmp(&post(n))
                    .then_with(|| m.to_ascii_lowercase().cmp(&n.to_ascii_lowercase()));
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
    use super::super::{Order, assert_ascending};

    #[test]
    fn numbers_words_and_post_releases() {
        assert_ascending(
            Order::Generic,
            &[
                "0.9",
                "1.2a1",
                "1.2rc1",
                "1.2",
                "1.2.post1",
                "1.2.1",
                "1.10",
                "v2.0.0",
            ],
        );
    }
}
