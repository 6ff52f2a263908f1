//! Alpine and the apk distributions (Wolfi, Chainguard, MinimOS, Alpaquita, BellSoft
//! Hardened Containers): apk-tools' version order, written from its description
//! (`apk_version_compare` in apk-tools 2): numbers separated by `.`, one optional letter,
//! suffixes `_alpha` < `_beta` < `_pre` < `_rc` < none < `_cvs` < `_svn` < `_git` < `_hg`
//! < `_p` (each with an optional number), then `-rN`. No crate implements it.

use std::cmp::Ordering;

/// What the next part of a version is; the order matters (apk-tools' `TOKEN_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Token {
    Invalid,
    DigitOrZero,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    RevisionNo,
    End,
}

const PRE: [&[u8]; 4] = [b"alpha", b"beta", b"pre", b"rc"];
const POST: [&[u8]; 5] = [b"cvs", b"svn", b"git", b"hg", b"p"];

/// One version being read: where it is, and what comes next.
struct Reader<'a> {
    rest: &'a [u8],
    next: Token,
}

impl Reader<'_> {
    /// Decides what the next part is after a separator or a change of kind.
    fn advance(&mut self) {
        let was = self.next;
        let mut n = Token::Invalid;
        match self.rest.first().copied() {
            None => n = Token::End,
            Some(c)
                if matches!(was, Token::Digit | Token::DigitOrZero) && c.is_ascii_lowercase() =>
            {
                n = Token::Letter;
            }
            Some(c) if was == Token::Letter && c.is_ascii_digit() => n = Token::Digit,
            Some(c) if was == Token::Suffix && c.is_ascii_digit() => n = Token::SuffixNo,
            Some(c) => {
                let mut skip = 1;
                match c {
                    b'.' => n = Token::DigitOrZero,
                    b'_' => n = Token::Suffix,
                    b'-' if self.rest.get(1) == Some(&b'r') => {
                        n = Token::RevisionNo;
                        skip = 2;
                    }
                    _ => {}
                }
                self.rest = self.rest.get(skip..).unwrap_or_default();
            }
        }
        // Parts come in order; only these steps back are allowed.
        if n < was
            && !matches!(
                (n, was),
                (Token::DigitOrZero, Token::Digit)
                    | (Token::Suffix, Token::SuffixNo)
                    | (Token::Digit, Token::Letter)
            )
        {
            n = Token::Invalid;
        }
        self.next = n;
    }

    /// Reads the next part's value and decides what follows it.
    fn value(&mut self) -> i64 {
        let s = self.rest;
        if s.is_empty() {
            self.next = Token::End;
            return 0;
        }
        let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
        let number = |d: &[u8]| {
            d.iter().fold(0_i64, |v, b| {
                v.saturating_mul(10).saturating_add(i64::from(b - b'0'))
            })
        };
        let mut then = None;
        let (v, len) = match self.next {
            // Leading zeros after a dot count against the number (`1.01` < `1.1`).
            Token::DigitOrZero if s.first() == Some(&b'0') => {
                let zeros = s.iter().take_while(|&&b| b == b'0').count();
                then = Some(Token::Digit);
                (-i64::try_from(zeros).unwrap_or(i64::MAX), zeros)
            }
            Token::DigitOrZero | Token::Digit | Token::SuffixNo | Token::RevisionNo => {
                (number(s.get(..digits).unwrap_or_default()), digits)
            }
            Token::Letter => (s.first().map_or(0, |&b| i64::from(b)), 1),
            Token::Suffix => {
                let pre = PRE.iter().position(|p| s.starts_with(p));
                let post = POST.iter().position(|p| s.starts_with(p));
                match (pre, post) {
                    (Some(i), _) => (
                        i as i64 - PRE.len() as i64,
                        PRE.get(i).map_or(0, |p| p.len()),
                    ),
                    (None, Some(i)) => (i as i64, POST.get(i).map_or(0, |p| p.len())),
                    (None, None) => {
                        self.next = Token::Invalid;
                        return -1;
                    }
                }
            }
            Token::Invalid | Token::End => {
                self.next = Token::Invalid;
                return -1;
            }
        };
        self.rest = s.get(len..).unwrap_or_default();
        if self.rest.is_empty() {
            self.next = Token::End;
        } else if let Some(t) = then {
            self.next = t;
        } else {
            self.advance();
        }
        v
    }
}

fn reader(s: &str) -> Reader<'_> {
    Reader {
        rest: s.as_bytes(),
        next: Token::Digit,
    }
}

/// Whether apk accepts `s` as a version.
fn valid(s: &str) -> bool {
    let mut r = reader(s);
    while !matches!(r.next, Token::End | Token::Invalid) {
        r.value();
    }
    r.next == Token::End
}

/// Orders two apk versions; `None` where either is not one (`1.0bc`, `1.0!`).
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    if !valid(a) || !valid(b) {
        return None;
    }
    let (mut x, mut y) = (reader(a), reader(b));
    let (mut xv, mut yv) = (0, 0);
    while x.next == y.next && !matches!(x.next, Token::End | Token::Invalid) && xv == yv {
        xv = x.value();
        yv = y.value();
    }
    if xv != yv {
        return Some(xv.cmp(&yv));
    }
    if x.next == y.next {
        return Some(Ordering::Equal);
    }
    // Equal so far: the longer version is newer, unless what it goes on with is a
    // pre-release suffix (read on, without moving on: the kinds decide after that).
    let (xn, yn) = (x.next, y.next);
    if xn == Token::Suffix && x.value() < 0 {
        return Some(Ordering::Less);
    }
    if yn == Token::Suffix && y.value() < 0 {
        return Some(Ordering::Greater);
    }
    Some(yn.cmp(&xn))
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use super::compare;

    /// Cases from apk-tools' own test data (test/version.data), as `a op b`.
    const VERSION_DATA: &[(&str, char, &str)] = &[
        ("2.34", '>', "0.1.0_alpha"),
        ("0.1.0_alpha", '=', "0.1.0_alpha"),
        ("0.1.0_alpha", '<', "0.1.3_alpha"),
        ("0.1.0_alpha2", '>', "0.1.0_alpha"),
        ("0.1.0_alpha", '<', "2.2.39-r1"),
        ("2.2.39-r1", '>', "1.0.4-r3"),
        ("1.0.4-r3", '<', "1.0.4-r4"),
        ("1.0.4-r4", '<', "1.6"),
        ("1.0.2", '>', "0.7-r1"),
        ("1.0.1", '<', "1.1"),
        ("1.1", '>', "1.1_alpha1"),
        ("1.2.1", '>', "1.2"),
        ("1.3_alpha", '<', "1.3_alpha2"),
    ];

    #[test]
    fn apk_tools_version_data() {
        for (a, op, b) in VERSION_DATA {
            let want = match op {
                '<' => Ordering::Less,
                '=' => Ordering::Equal,
                _ => Ordering::Greater,
            };
            assert_eq!(compare(a, b), Some(want), "{a} {op} {b}");
            assert_eq!(compare(b, a), Some(want.reverse()), "{b} vs {a}");
        }
    }

    /// The suffix order the apk documentation gives, and letters, revisions and zeros.
    #[test]
    fn suffixes_letters_revisions() {
        let list = [
            "1.2_alpha",
            "1.2_alpha1",
            "1.2_beta",
            "1.2_pre1",
            "1.2_rc1",
            "1.2",
            "1.2-r1",
            "1.2-r2",
            "1.2-r10",
            "1.2_cvs",
            "1.2_svn",
            "1.2_git20240101",
            "1.2_hg",
            "1.2_p1",
            "1.2_p2",
            "1.2a",
            "1.2b",
            "1.2.0",
            "1.2.01",
            "1.2.1",
            "1.3",
            "2",
        ];
        for (i, a) in list.iter().enumerate() {
            for (j, b) in list.iter().enumerate() {
                assert_eq!(compare(a, b), Some(i.cmp(&j)), "{a} vs {b}");
            }
        }
        assert_eq!(compare("1.0", "1.0bc"), None, "two letters");
        assert_eq!(compare("1.0", "1.0!"), None);
        assert_eq!(compare("1.0", "1.0_foo"), None, "unknown suffix");
    }
}
