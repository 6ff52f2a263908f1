//! Maven: the order of maven-artifact's `ComparableVersion` (Maven 3.6 and later), written
//! from its description since no crate implements it. A version is split into numbers and
//! qualifiers at `.`, `-` and changes between digits and letters; a `-` (or a letter after
//! a number) opens a sub-list; trailing "null" parts (`0`, `ga`, `final`, `release`, empty)
//! are dropped from each list. Qualifiers order `alpha` < `beta` < `milestone` < `rc` =
//! `cr` < `snapshot` < release < `sp` < any other word (alphabetically); `a1`, `b1`, `m1`
//! are `alpha-1`, `beta-1`, `milestone-1`. Every string is a Maven version.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// A number, without leading zeros (zero is empty).
    Int(String),
    /// A qualifier, lower case, with its aliases resolved.
    Str(String),
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const RELEASE: usize = 5;

/// A qualifier's place: known ones by their index, others after them by name.
fn rank(q: &str) -> (usize, &str) {
    match QUALIFIERS.iter().position(|k| *k == q) {
        Some(i) => (i, ""),
        None => (QUALIFIERS.len(), q),
    }
}

fn int(digits: &str) -> Item {
    Item::Int(digits.trim_start_matches('0').to_owned())
}

fn word(q: &str, followed_by_digit: bool) -> Item {
    let q = match (q, followed_by_digit) {
        ("a", true) => "alpha",
        ("b", true) => "beta",
        ("m", true) => "milestone",
        ("ga" | "final" | "release", _) => "",
        ("cr", _) => "rc",
        (q, _) => q,
    };
    Item::Str(q.to_owned())
}

fn item(digit: bool, s: &str) -> Item {
    if digit { int(s) } else { word(s, false) }
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Self::Int(n) => n.is_empty(),
            Self::Str(q) => rank(q).0 == RELEASE,
            Self::List(l) => l.is_empty(),
        }
    }

    /// `ComparableVersion`'s `compareTo`; `None` stands for a missing item.
    fn cmp_to(&self, other: Option<&Item>) -> Ordering {
        match (self, other) {
            (Self::Int(n), None) => {
                if n.is_empty() {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            (Self::Int(m), Some(Self::Int(n))) => m.len().cmp(&n.len()).then_with(|| m.cmp(n)),
            (Self::Int(_), Some(_)) => Ordering::Greater,
            (Self::Str(q), None) => rank(q).cmp(&(RELEASE, "")),
            (Self::Str(_), Some(Self::Int(_) | Self::List(_))) => Ordering::Less,
            (Self::Str(p), Some(Self::Str(q))) => rank(p).cmp(&rank(q)),
            (Self::List(l), None) => l
                .iter()
                .map(|i| i.cmp_to(None))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal),
            (Self::List(_), Some(Self::Int(_))) => Ordering::Less,
            (Self::List(_), Some(Self::Str(_))) => Ordering::Greater,
            (Self::List(l), Some(Self::List(r))) => {
                for i in 0..l.len().max(r.len()) {
                    let o = match (l.get(i), r.get(i)) {
                        (Some(x), y) => x.cmp_to(y),
                        (None, Some(y)) => y.cmp_to(None).reverse(),
                        (None, None) => Ordering::Equal,
                    };
                    if o.is_ne() {
                        return o;
                    }
                }
                Ordering::Equal
            }
        }
    }
}

/// Drops trailing null items, looking past sub-lists (which are kept unless empty).
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        match list.get(i) {
            Some(x) if x.is_null() => {
                list.remove(i);
            }
            Some(Item::List(_)) => {}
            _ => break,
        }
    }
}

fn parse(version: &str) -> Item {
    let v = version.to_lowercase();
    // The lists being filled: each new one is the last item of the one below it.
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let mut digit = false;
    let mut start = 0;
    let push = |stack: &mut Vec<Vec<Item>>, it: Item| {
        if let Some(top) = stack.last_mut() {
            top.push(it);
        }
    };
    let top_empty = |stack: &Vec<Vec<Item>>| stack.last().is_none_or(Vec::is_empty);
    for (i, c) in v.char_indices() {
        let piece = v.get(start..i).unwrap_or_default();
        if c == '.' || c == '-' {
            push(
                &mut stack,
                if i == start {
                    int("0")
                } else {
                    item(digit, piece)
                },
            );
            start = i + 1;
            if c == '-' {
                stack.push(Vec::new());
            }
        } else if c.is_ascii_digit() {
            if !digit && i > start {
                // `1.0.0.X1` < `1.0.0-X2`: a qualifier after a dot opens a list too.
                if !top_empty(&stack) {
                    stack.push(Vec::new());
                }
                push(&mut stack, word(piece, true));
                start = i;
                stack.push(Vec::new());
            }
            digit = true;
        } else {
            if digit && i > start {
                push(&mut stack, int(piece));
                start = i;
                stack.push(Vec::new());
            }
            digit = false;
        }
    }
    if let Some(rest) = v.get(start..).filter(|r| !r.is_empty()) {
        if !digit && !top_empty(&stack) {
            stack.push(Vec::new());
        }
        push(&mut stack, item(digit, rest));
    }
    // Close the lists from the innermost: each, normalised, ends the one below it.
    let mut inner: Option<Vec<Item>> = None;
    while let Some(mut list) = stack.pop() {
        if let Some(i) = inner.take() {
            list.push(Item::List(i));
        }
        normalize(&mut list);
        inner = Some(list);
    }
    Item::List(inner.unwrap_or_default())
}

/// Orders two Maven versions.
pub fn compare(a: &str, b: &str) -> Ordering {
    parse(a).cmp_to(Some(&parse(b)))
}

#[cfg(test)]
mod tests {
    use super::super::{Order, assert_ascending, assert_equal};

    /// maven-artifact's ComparableVersionTest: `VERSIONS_QUALIFIER` and `VERSIONS_NUMBER`,
    /// each in ascending order.
    #[test]
    fn comparable_version_test_lists() {
        assert_ascending(
            Order::Maven,
            &[
                "1-alpha2snapshot",
                "1-alpha2",
                "1-alpha-123",
                "1-beta-2",
                "1-beta123",
                "1-m2",
                "1-m11",
                "1-rc",
                "1-cr2",
                "1-rc123",
                "1-SNAPSHOT",
                "1",
                "1-sp",
                "1-sp2",
                "1-sp123",
                "1-abc",
                "1-def",
                "1-pom-1",
                "1-1-snapshot",
                "1-1",
                "1-2",
                "1-123",
            ],
        );
        assert_ascending(
            Order::Maven,
            &[
                "2.0", "2.0.a", "2-1", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b", "2.1-c",
                "2.1-1", "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11", "11.m2",
                "11.m11", "11", "11.a", "11b", "11c", "11m",
            ],
        );
    }

    /// ComparableVersionTest's `testVersionsEqual` and `testVersionComparing`.
    #[test]
    fn comparable_version_test_pairs() {
        assert_equal(
            Order::Maven,
            &[
                ("1", "1.0"),
                ("1", "1.0.0"),
                ("1.0", "1.0.0"),
                ("1", "1-0"),
                ("1", "1.0-0"),
                ("1.0", "1.0-0"),
                ("1a", "1-a"),
                ("1a", "1.0-a"),
                ("1a", "1.0.0-a"),
                ("1.0a", "1-a"),
                ("1.0.0a", "1-a"),
                ("1x", "1-x"),
                ("1x", "1.0-x"),
                ("1x", "1.0.0-x"),
                ("1.0x", "1-x"),
                ("1.0.0x", "1-x"),
                ("1ga", "1"),
                ("1release", "1"),
                ("1final", "1"),
                ("1cr", "1rc"),
                ("1a1", "1-alpha-1"),
                ("1b2", "1-beta-2"),
                ("1m3", "1-milestone-3"),
                ("1X", "1x"),
                ("1A", "1a"),
                ("1B", "1b"),
                ("1M", "1m"),
                ("1Ga", "1"),
                ("1GA", "1"),
                ("1RELEASE", "1"),
                ("1FINAL", "1"),
                ("1Cr", "1Rc"),
                ("1cR", "1rC"),
                ("1m3", "1Milestone3"),
                ("1m3", "1MileStone3"),
                ("1m3", "1MILESTONE3"),
            ],
        );
        for (a, b) in [
            ("1", "2"),
            ("1.5", "2"),
            ("1", "2.5"),
            ("1.0", "1.1"),
            ("1.1", "1.2"),
            ("1.0.0", "1.1"),
            ("1.0.1", "1.1"),
            ("1.1", "1.2.0"),
            ("1.0-alpha-1", "1.0"),
            ("1.0-alpha-1", "1.0-alpha-2"),
            ("1.0-alpha-1", "1.0-beta-1"),
            ("1.0-beta-1", "1.0-SNAPSHOT"),
            ("1.0-SNAPSHOT", "1.0"),
            ("1.0-alpha-1-SNAPSHOT", "1.0-alpha-1"),
            ("1.0", "1.0-1"),
            ("1.0-1", "1.0-2"),
            ("1.0.0", "1.0-1"),
            ("2.0-1", "2.0.1"),
            ("2.0.1-klm", "2.0.1-lmn"),
            ("2.0.1", "2.0.1-xyz"),
            ("2.0.1", "2.0.1-123"),
            ("2.0.1-xyz", "2.0.1-123"),
            ("1.0.0.X1", "1.0.0-X2"),
        ] {
            assert_ascending(Order::Maven, &[a, b]);
        }
    }

    /// The POM reference's "Version Order Specification" examples, and big numbers.
    #[test]
    fn pom_reference_examples() {
        assert_ascending(Order::Maven, &["1-snapshot", "1", "1-sp"]);
        assert_ascending(Order::Maven, &["1-foo2", "1-foo10"]);
        assert_ascending(Order::Maven, &["1.foo", "1-1", "1.1"]);
        assert_equal(
            Order::Maven,
            &[
                ("1.foo", "1-foo"),
                ("1.ga", "1-ga"),
                ("1-ga", "1-0"),
                ("1-0", "1.0"),
                ("1-a1", "1-alpha-1"),
            ],
        );
        assert_ascending(Order::Maven, &["1-ga.1", "1-sp.1"]);
        assert_ascending(
            Order::Maven,
            &[
                "2.0.0",
                "99999999999999999999999",
                "100000000000000000000000",
            ],
        );
    }
}
